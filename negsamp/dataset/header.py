"""The dataset card's YAML header (what the Hub reads): build it and parse it back.

`card_header` lists each config's non-empty splits (`listed_splits`) and the
Hub features YAML of `ROW_SCHEMA` (`hub_features`); `read_card_header` parses
the header of an existing README.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from negsamp.dataset.common import CARD_NAME, SPLITS
from negsamp.dataset.manifest import ConfigManifest, Manifest
from negsamp.dataset.paths import read_text_file
from negsamp.dataset.rows import ROW_SCHEMA
from negsamp.errors import InputError


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    for bound, label in bounds:
        if n < bound:
            return label
    return "1M<n<10M"


def _feature_yaml(dtype: pa.DataType) -> dict[str, Any]:
    """The Hub's features YAML entry (minus `name`) for an arrow type, as `datasets` writes it."""
    if pa.types.is_struct(dtype):
        return {"struct": [{"name": f.name, **_feature_yaml(f.type)} for f in dtype]}
    if pa.types.is_list(dtype):
        inner = _feature_yaml(dtype.value_type)
        return {"list": inner["dtype"] if set(inner) == {"dtype"} else next(iter(inner.values()))}
    names = {
        pa.string(): "string",
        pa.int64(): "int64",
        pa.float64(): "float64",
        pa.bool_(): "bool",
    }
    if dtype not in names:
        raise TypeError(f"no Hub feature type for {dtype}")
    return {"dtype": names[dtype]}


def hub_features(schema: pa.Schema = ROW_SCHEMA) -> list[dict[str, Any]]:
    """`dataset_info.features` for the card header, mirroring `schema`."""
    return [{"name": f.name, **_feature_yaml(f.type)} for f in schema]


def listed_splits(config: ConfigManifest) -> list[str]:
    """The splits the card lists for `datasets`: the non-empty ones.

    `datasets` cannot load a split with no rows ("corresponds to no data"), so an
    empty split keeps its (empty) parquet file and manifest entry, for
    `negsamp.load`, but is left out of the card's `configs`.
    """
    return [s for s in SPLITS if config.splits[s].rows > 0]


def card_header(manifest: Manifest) -> dict[str, Any]:
    """The card's YAML header (what the Hub reads)."""
    total = sum(s.rows for c in manifest.configs.values() for s in c.splits.values())
    languages = sorted({lang for c in manifest.configs.values() for lang in c.languages})
    configs, infos = [], []
    for name in manifest.config_names():
        config = manifest.configs[name]
        listed = listed_splits(config)
        configs.append(
            {
                "config_name": name,
                "data_files": [{"split": s, "path": config.splits[s].path} for s in listed],
            }
        )
        infos.append(
            {
                "config_name": name,
                "features": hub_features(),
                "splits": [
                    {
                        "name": s,
                        "num_bytes": config.splits[s].num_bytes,
                        "num_examples": config.splits[s].rows,
                    }
                    for s in listed
                ],
                "dataset_size": sum(config.splits[s].num_bytes for s in listed),
            }
        )
    return {
        "pretty_name": manifest.name,
        "license": "apache-2.0",
        "language": languages,
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(total)],
        "tags": ["kv-cache", "compression", "long-context", "negative-samples"],
        "configs": configs,
        "dataset_info": infos,
    }


def read_card_header(directory: str | os.PathLike) -> dict[str, Any]:
    """Parse the YAML header of DIR/README.md; InputError if missing or malformed."""
    path = Path(directory) / CARD_NAME
    if not path.is_file():
        raise InputError(f"{path}: missing dataset card")
    text = read_text_file(path, "dataset card")
    match = re.match(r"---\n(.*?\n)---\n", text, flags=re.S)
    if not match:
        raise InputError(f"{path}: no YAML header (the card must start with a '---' block)")
    try:
        header = yaml.safe_load(match.group(1))
    except (yaml.YAMLError, RecursionError, ValueError) as err:
        raise InputError(f"{path}: YAML header does not parse ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: YAML header is not a mapping")
    return header
