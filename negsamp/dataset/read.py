"""Reading one split of a dataset folder: as rows, as a polars frame, or as a `datasets.Dataset`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from negsamp.dataset.common import SPLITS, local_folder_or_repo
from negsamp.dataset.manifest import Manifest, read_manifest
from negsamp.dataset.parquet import _read_table, _rows_of
from negsamp.dataset.paths import regular_file
from negsamp.dataset.rows import ROW_SCHEMA, DatasetRow
from negsamp.errors import InputError

if TYPE_CHECKING:  # heavy imports stay inside the functions that need them
    import datasets
    import polars as pl


def _pick_config(manifest: Manifest, config: str | None, where: Path) -> str:
    names = manifest.config_names()
    if config is None:
        if len(names) != 1:
            raise InputError(f"{where} has configs {names}: name one")
        return names[0]
    if config not in manifest.configs:
        raise InputError(f"{where}: unknown config {config!r}; known: {', '.join(names)}")
    return config


def _split_path(directory: Path, manifest: Manifest, config: str, split: str) -> Path:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    rel = manifest.configs[config].splits[split].path
    return regular_file(directory, rel, f"data file of config {config!r} split {split!r}")


def read_rows(
    directory: str | os.PathLike, config: str | None = None, split: str = "negative"
) -> list[DatasetRow]:
    """The rows of one split as `DatasetRow`s, in file order."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    config = _pick_config(manifest, config, directory)
    return _rows_of(_split_path(directory, manifest, config, split))


def load_rows(
    directory: str | os.PathLike, config: str | None = None, split: str = "negative"
) -> pl.DataFrame:
    """One split as a polars DataFrame (nested columns kept as lists/structs), for internal use."""
    import polars as pl

    directory = Path(directory)
    manifest = read_manifest(directory)
    config = _pick_config(manifest, config, directory)
    return pl.from_arrow(_read_table(_split_path(directory, manifest, config, split)))  # type: ignore[return-value]


def load(
    dir_or_repo: str | os.PathLike, *, config: str | None = None, split: str = "negative"
) -> datasets.Dataset:
    """One split as a `datasets.Dataset`.

    A local folder is read directly (offline, in memory, no cache written); anything
    else is taken as a Hub repo id and loaded with `datasets.load_dataset(repo, config, split=split)`.
    """
    import datasets

    found = local_folder_or_repo(dir_or_repo)
    if isinstance(found, Path):
        path = found
        manifest = read_manifest(path)
        config = _pick_config(manifest, config, path)
        table = _read_table(_split_path(path, manifest, config, split))
        info = datasets.DatasetInfo(
            description=f"{manifest.name} {manifest.dataset_version}, config {config}",
            features=datasets.Features.from_arrow_schema(ROW_SCHEMA),
            config_name=config,
            dataset_name=manifest.name,
        )
        table = table.replace_schema_metadata(None)
        return datasets.Dataset(
            datasets.table.InMemoryTable(table), info=info, split=datasets.NamedSplit(split)
        )
    repo = found
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    try:
        return datasets.load_dataset(repo, config, split=split)
    except (ConnectionError, OSError) as err:
        raise InputError(
            f"could not load {repo} from the Hugging Face Hub ({type(err).__name__}: {err})"
        ) from err
