"""`verify_dataset`: recompute every hash of a folder and check its manifest and card.

Every path the manifest or the card names is checked with `paths.inside`
(relative, no `..`, no symlink, inside the folder) before it is read. The card's
YAML `configs` must be exactly what `card_header` makes from the manifest: that
list decides which files `datasets.load_dataset` reads, so a card pointing at
another parquet than the one negsamp verified is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from negsamp.dataset.common import CARD_NAME, FIGURE_SUFFIXES, MANIFEST_NAME, SPLITS
from negsamp.dataset.hashing import config_hash, figures_hash, folder_hash
from negsamp.dataset.header import card_header, read_card_header
from negsamp.dataset.manifest import ConfigManifest, Manifest, read_manifest
from negsamp.dataset.parquet import _rows_of
from negsamp.dataset.paths import regular_file
from negsamp.dataset.read import _pick_config
from negsamp.dataset.rows import DatasetRow, split_hash
from negsamp.errors import InputError


@dataclass
class _Checked:
    manifest: Manifest
    rows: dict[str, dict[str, list[DatasetRow]]]


def dataset_files(directory: str | os.PathLike, manifest: Manifest) -> list[str]:
    """Every file the folder consists of (card, manifest, split files, figures), relative POSIX paths.

    Each is checked to be a regular file inside the folder (no `..`, no absolute
    path, no symlink). What `publish` uploads and `add-release` copies.
    """
    paths = [CARD_NAME, MANIFEST_NAME]
    for name in manifest.config_names():
        config = manifest.configs[name]
        paths += [config.splits[s].path for s in SPLITS]
        paths += [f.path for f in config.figures]
    for rel in paths:
        regular_file(directory, rel, "dataset file")
    return paths


def _check_figure_paths(directory: Path, name: str, entry: ConfigManifest) -> None:
    for figure in entry.figures:
        parts = figure.path.split("/")
        if len(parts) != 3 or parts[:2] != ["figures", name] or not figure.path.lower().endswith(FIGURE_SUFFIXES):
            raise InputError(f"{directory / MANIFEST_NAME}: config {name!r} figure path {figure.path!r} must be "
                             f"figures/{name}/<file> with an image suffix")
        regular_file(directory, figure.path, f"figure of config {name!r}")


def _verify_config(directory: Path, manifest: Manifest, name: str) -> tuple[str, dict[str, list[DatasetRow]]]:
    entry = manifest.configs[name]
    split_hashes, rows_of = {}, {}
    for split in SPLITS:
        info = entry.splits[split]
        expected_path = f"data/{name}/{split}.parquet"
        if info.path != expected_path:
            raise InputError(f"{directory / MANIFEST_NAME}: config {name!r} split {split!r} path {info.path!r}, "
                             f"expected {expected_path!r}")
        path = regular_file(directory, info.path, f"data file of config {name!r} split {split!r}")
        rows = _rows_of(path)
        if len(rows) != info.rows:
            raise InputError(f"{path}: {len(rows)} rows, the manifest says {info.rows}")
        digest = split_hash(name, split, rows)
        if digest != info.content_hash:
            raise InputError(f"{path}: rows do not match the manifest's content hash (file changed?)")
        split_hashes[split] = digest
        rows_of[split] = rows
    _check_figure_paths(directory, name, entry)
    figures = None
    if manifest.version >= 2:
        figures = figures_hash(directory, [(f.path, f.caption) for f in entry.figures])
    if config_hash(manifest.version, split_hashes, context=entry, figures=figures) != entry.content_hash:
        raise InputError(f"{directory / MANIFEST_NAME}: content hash of config {name!r} does not match its "
                         "splits, rule, model, settings and figures (manifest edited?)")
    return entry.content_hash, rows_of


def _verify(directory: Path, config: str | None = None, *, check_card: bool = True) -> _Checked:
    manifest = read_manifest(directory)
    if config is not None:
        _pick_config(manifest, config, directory)
    all_rows: dict[str, dict[str, list[DatasetRow]]] = {}
    config_hashes = {}
    for name in manifest.config_names():
        config_hashes[name], all_rows[name] = _verify_config(directory, manifest, name)
    expected = folder_hash(manifest.version, config_hashes, name=manifest.name,
                           dataset_version=manifest.dataset_version, card_configs=card_header(manifest)["configs"])
    if expected != manifest.content_hash:
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
    expected = card_header(manifest)["configs"]
    if configs != expected:
        raise InputError(f"{card}: the YAML `configs` (the files `datasets.load_dataset` reads) differ from the "
                         "manifest's split files: the card was edited (re-render it)")
    for entry in expected:
        for item in entry["data_files"]:
            regular_file(directory, item["path"], f"data file of config {entry['config_name']!r}")


def verify_dataset(directory: str | os.PathLike, *, config: str | None = None) -> Manifest:
    """Check a dataset folder and return its manifest.

    Recomputes every split's hash from its parquet rows and every config's and
    the folder's hash (what they cover depends on the manifest version: see
    `negsamp.dataset.hashing`); checks the schema, the row counts, that every
    named file is a regular file inside the folder, and that the card's YAML
    `configs` are exactly the manifest's split files. `config`, when given,
    must be one of the folder's. Raises InputError naming the file at fault.
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
