"""`verify_dataset`: recompute every hash of a folder and check its manifest and card."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from negsamp.dataset.common import CARD_NAME, MANIFEST_NAME, SPLITS
from negsamp.dataset.header import read_card_header
from negsamp.dataset.manifest import Manifest, read_manifest
from negsamp.dataset.parquet import _rows_of
from negsamp.dataset.read import _pick_config, _split_path
from negsamp.dataset.rows import DatasetRow, _combine, split_hash
from negsamp.errors import InputError


@dataclass
class _Checked:
    manifest: Manifest
    rows: dict[str, dict[str, list[DatasetRow]]]


def _verify(directory: Path, config: str | None = None, *, check_card: bool = True) -> _Checked:
    manifest = read_manifest(directory)
    if config is not None:
        _pick_config(manifest, config, directory)
    all_rows: dict[str, dict[str, list[DatasetRow]]] = {}
    config_hashes = {}
    for name in manifest.config_names():
        entry = manifest.configs[name]
        split_hashes = {}
        all_rows[name] = {}
        for split in SPLITS:
            info = entry.splits[split]
            expected_path = f"data/{name}/{split}.parquet"
            if info.path != expected_path:
                raise InputError(
                    f"{directory / MANIFEST_NAME}: config {name!r} split {split!r} path {info.path!r}, expected {expected_path!r}"
                )
            path = _split_path(directory, manifest, name, split)
            rows = _rows_of(path)
            if len(rows) != info.rows:
                raise InputError(f"{path}: {len(rows)} rows, the manifest says {info.rows}")
            digest = split_hash(name, split, rows)
            if digest != info.content_hash:
                raise InputError(f"{path}: rows do not match the manifest's content hash (file changed?)")
            split_hashes[split] = digest
            all_rows[name][split] = rows
        if _combine(split_hashes) != entry.content_hash:
            raise InputError(
                f"{directory / MANIFEST_NAME}: content hash of config {name!r} does not match its splits"
            )
        config_hashes[name] = entry.content_hash
        for figure in entry.figures:
            if not (directory / figure.path).is_file():
                raise InputError(f"{directory / figure.path}: missing figure of config {name!r}")
    if _combine(config_hashes) != manifest.content_hash:
        raise InputError(f"{directory / MANIFEST_NAME}: content_hash does not match the configs' hashes")
    if check_card:
        _verify_card(directory, manifest)
    return _Checked(manifest, all_rows)


def _verify_card(directory: Path, manifest: Manifest) -> None:
    header = read_card_header(directory)
    card = directory / CARD_NAME
    configs = header.get("configs")
    if not isinstance(configs, list) or not configs:
        raise InputError(f"{card}: YAML header has no `configs` list")
    listed = {}
    for entry in configs:
        if (
            not isinstance(entry, dict)
            or "config_name" not in entry
            or not isinstance(entry.get("data_files"), list)
        ):
            raise InputError(f"{card}: malformed `configs` entry {entry!r}")
        listed[entry["config_name"]] = entry["data_files"]
    if set(listed) != set(manifest.configs):
        raise InputError(
            f"{card}: configs {sorted(listed)} differ from the manifest's {manifest.config_names()} (re-render the card)"
        )
    for name, files in listed.items():
        for item in files:
            path = item.get("path") if isinstance(item, dict) else None
            if not isinstance(path, str) or not (directory / path).is_file():
                raise InputError(f"{card}: config {name!r} data file {path!r} does not exist")


def verify_dataset(directory: str | os.PathLike, *, config: str | None = None) -> Manifest:
    """Check a dataset folder and return its manifest.

    Recomputes every split's hash from its parquet rows and checks it against the
    manifest; checks the schema, the row counts, the figures and that the card's
    YAML header parses and lists exactly the manifest's configs with existing
    data files. `config`, when given, must be one of the folder's. Raises
    InputError naming the file at fault.
    """
    return _verify(Path(directory), config).manifest


def verified_rows(
    directory: str | os.PathLike, *, config: str | None = None
) -> tuple[Manifest, dict[str, dict[str, list[DatasetRow]]]]:
    """`verify_dataset`, also returning the rows it read and checked: {config: {split: rows}}.

    For readers that need the rows anyway, so the parquet files are read once, not twice.
    """
    checked = _verify(Path(directory), config)
    return checked.manifest, checked.rows
