"""`manifest.json`: the `Manifest` model (configs, splits, figures, hashes) and `read_manifest`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from negsamp.dataset.common import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    MANIFEST_VERSIONS,
    ROW_VERSION,
    SPLITS,
    NonNegInt,
)
from negsamp.dataset.context import CardContext
from negsamp.dataset.paths import read_text_file
from negsamp.errors import InputError
from negsamp.formats import first_error


class SplitInfo(BaseModel):
    """One split file of a config."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: str
    """Path of the parquet file, relative to the dataset folder (POSIX separators)."""
    rows: NonNegInt
    """Number of rows."""
    num_bytes: NonNegInt
    """Size of the rows as an in-memory arrow table (the Hub's `num_bytes`; informative only)."""
    content_hash: str
    """`split_hash` of its rows."""


class Figure(BaseModel):
    """A figure the card embeds."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    caption: str
    """Caption (and alt text)."""
    path: str
    """Path relative to the dataset folder."""


class ConfigManifest(CardContext):
    """One config (one model): the card context plus its files and hashes."""

    splits: dict[str, SplitInfo]
    """`negative` and `control`."""
    content_hash: str
    """The splits' hashes, the card context (rule, model, settings, ...) and the figures (`hashing.config_hash`)."""
    figures: list[Figure] = Field(default_factory=list)
    """Figures of this config, in the order the card shows them."""
    negsamp_version: str
    """negsamp version that wrote this config."""

    @model_validator(mode="after")
    def _splits(self) -> ConfigManifest:
        if set(self.splits) != set(SPLITS):
            raise ValueError(f"splits must be {list(SPLITS)}, got {sorted(self.splits)}")
        return self


class Manifest(BaseModel):
    """`manifest.json`: what the folder holds and the hash that identifies it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1, 2] = MANIFEST_VERSION
    """Schema version of this manifest; it also says what `content_hash` covers (`negsamp.dataset.hashing`)."""
    name: str
    """Dataset name (the card's title)."""
    dataset_version: str
    """Version of the build recipe that produced the dataset."""
    row_version: Literal[1] = ROW_VERSION
    """Version of `DatasetRow` the parquet files hold."""
    content_hash: str
    """Identifies the data: the config hashes, name, version and the card's configs (`hashing.folder_hash`)."""
    negsamp_version: str
    """negsamp version that last wrote the folder."""
    configs: dict[str, ConfigManifest]
    """One entry per config (model)."""

    def config_names(self) -> list[str]:
        return sorted(self.configs)


def read_manifest(directory: str | os.PathLike) -> Manifest:
    """Parse DIR/manifest.json (no data check; `verify_dataset` does that)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: no such dataset folder")
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{path}: missing: not a negsamp dataset folder")
    text = read_text_file(path, "manifest")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise InputError(f"{path}: not valid JSON ({type(err).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if data.get("version") not in (None, *MANIFEST_VERSIONS):
        raise InputError(f"{path}: manifest version {data.get('version')!r} is not one this negsamp reads")
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        raise InputError(f"{path}: {first_error(err)}") from None
