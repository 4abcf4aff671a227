"""The content hash of a dataset folder: what it covers, per manifest version.

Version 1 (manifests written before 0.2) hashed the rows only: a config's hash
combines its two split hashes, the folder's combines the config hashes. The
rule, the model, the generation settings, the figures and the card's YAML were
outside it, so editing `t` in the manifest changed every result under the same
hash. Version-1 folders still verify with that scheme, so releases and the
submissions that name them stay valid; they are not re-hashed behind their back.

Version 2 hashes everything that changes a result or what a reader loads:

- config: the split hashes, the canonical JSON of the card context (model,
  methods, rule, generation settings, tasks and thresholds, ...), and every
  figure's path, caption and sha256 of its bytes;
- folder: the config hashes, the dataset name and version, and the canonical
  JSON of the card's YAML `configs` (which files `datasets.load_dataset` reads).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from negsamp.dataset.context import CardContext
from negsamp.dataset.paths import regular_file


def combine_hashes(named_hashes: Mapping[str, str]) -> str:
    """sha256 over `"<name>\\t<hash>\\n"` lines sorted by name."""
    text = "".join(f"{name}\t{value}\n" for name, value in sorted(named_hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json_hash(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (sorted keys, no whitespace, UTF-8, NaN refused)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def context_hash(context: CardContext) -> str:
    """Hash of the card-context fields of a config (a `ConfigManifest` or a `CardContext`)."""
    return canonical_json_hash(context.model_dump(mode="json", include=set(CardContext.model_fields)))


def figures_hash(directory: str | Path, figures: Iterable[tuple[str, str]]) -> str:
    """Hash of (path, caption, sha256 of the file's bytes) of each figure, in card order."""
    entries = []
    for path, caption in figures:
        data = regular_file(directory, path, "figure").read_bytes()
        entries.append([path, caption, hashlib.sha256(data).hexdigest()])
    return canonical_json_hash(entries)


def config_hash(version: int, split_hashes: Mapping[str, str], *, context: CardContext | None = None,
                figures: str | None = None) -> str:
    """A config's content hash under manifest `version` (`figures` is `figures_hash`)."""
    if version == 1:
        return combine_hashes(split_hashes)
    if context is None or figures is None:
        raise ValueError("a version-2 config hash needs the context and the figures' hash")
    return combine_hashes({**{f"split:{k}": v for k, v in split_hashes.items()},
                           "context": context_hash(context), "figures": figures})


def folder_hash(version: int, config_hashes: Mapping[str, str], *, name: str = "", dataset_version: str = "",
                card_configs: Any = None) -> str:
    """The folder's content hash under manifest `version` (`card_configs`: the card's YAML `configs`)."""
    if version == 1:
        return combine_hashes(config_hashes)
    return combine_hashes({**{f"config:{k}": v for k, v in config_hashes.items()},
                           "name": canonical_json_hash(name), "dataset_version": canonical_json_hash(dataset_version),
                           "card_configs": canonical_json_hash(card_configs)})
