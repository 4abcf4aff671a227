"""The negative-sample dataset on disk, in the Hugging Face Hub layout.

A dataset folder (what `write_dataset` writes and `negsamp publish` uploads)::

    DIR/
      README.md                      dataset card: YAML header (configs, features) + prose
      manifest.json                  `Manifest`: name, version, content hash, configs
      data/<config>/negative.parquet samples negative under the dataset's rule
      data/<config>/control.parquet  baseline-good samples no compared method broke
      figures/<config>/<name>.png    figures the card embeds (optional)

One config per model. Both splits share `ROW_SCHEMA` (one `DatasetRow` per
sample), so `datasets.load_dataset(DIR, CONFIG, split="negative")` gives typed
features without a loading script.

Determinism: rows are sorted by (task, sample_id) and written with an explicit
schema and fixed parquet options, so the same rows give the same bytes in one
environment. The dataset's identity, though, is `Manifest.content_hash`, a
sha256 over the canonical JSON of the rows (see `canonical_row`) and, from
manifest version 2, over the rule, model, settings, figures and the card's
YAML configs (see `hashing`); it does not depend on the parquet writer's version.

This package reads and writes files; it imports no model code. Everything
below is importable from `negsamp.dataset` itself; the submodules are:

- `common`: file names, versions, `SPLITS`, `TEMPLATE`, `CITATION`, `REPO_ID_RE`,
  the `Finite` / `NonNegInt` field types.
- `rows`: `Outcome`, `MethodOutcome`, `DatasetRow`, `ROW_SCHEMA`, `canonical_row`,
  `split_hash` (the hash of a split's rows).
- `context`: `CardContext`, `TaskSummary`, `LengthSummary` (what the builder tells
  `write_dataset` beyond the rows).
- `manifest`: `Manifest`, `ConfigManifest`, `SplitInfo`, `Figure`, `read_manifest`.
- `parquet`: `rows_table`, `parquet_bytes` (deterministic writer) and reading a
  split file back into rows.
- `checks`: checks of rows against the card context, `check_config_name`.
- `header`: the card's YAML header: `card_header`, `hub_features`, `listed_splits`,
  `read_card_header`.
- `card`: `render_card` (template `negsamp/dataset_cards/negsamp.md.j2`).
- `read`: `read_rows`, `load_rows` (polars), `load` (`datasets`).
- `paths`: `inside`, `regular_file`: every path a manifest or card names stays in the folder.
- `hashing`: what the content hash covers, per manifest version (`config_hash`, `folder_hash`).
- `verify`: `verify_dataset`, `verified_rows`, `dataset_files`.
- `write`: `write_dataset`; `attach_figures` (figures and notes measured after a build).
"""

from negsamp.dataset.card import render_card
from negsamp.dataset.checks import check_config_name
from negsamp.dataset.common import (
    CARD_NAME,
    CITATION,
    FIGURE_SUFFIXES,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    MANIFEST_VERSIONS,
    REPO_ID_RE,
    ROW_GROUP_SIZE,
    ROW_VERSION,
    SPLITS,
    TEMPLATE,
    Finite,
    NonNegInt,
)
from negsamp.dataset.context import CardContext, LengthSummary, TaskSummary
from negsamp.dataset.hashing import combine_hashes, config_hash, folder_hash
from negsamp.dataset.header import card_header, hub_features, listed_splits, read_card_header
from negsamp.dataset.manifest import ConfigManifest, Figure, Manifest, SplitInfo, read_manifest
from negsamp.dataset.parquet import parquet_bytes, rows_table
from negsamp.dataset.paths import inside, read_text_file, regular_file
from negsamp.dataset.read import load, load_rows, read_rows
from negsamp.dataset.rows import (
    ROW_SCHEMA,
    DatasetRow,
    MethodOutcome,
    Outcome,
    canonical_row,
    split_hash,
)
from negsamp.dataset.verify import dataset_files, verified_rows, verify_dataset
from negsamp.dataset.write import attach_figures, write_dataset

__all__ = [
    "CARD_NAME",
    "CITATION",
    "FIGURE_SUFFIXES",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "MANIFEST_VERSIONS",
    "REPO_ID_RE",
    "ROW_GROUP_SIZE",
    "ROW_SCHEMA",
    "ROW_VERSION",
    "SPLITS",
    "TEMPLATE",
    "CardContext",
    "ConfigManifest",
    "DatasetRow",
    "Figure",
    "Finite",
    "LengthSummary",
    "Manifest",
    "MethodOutcome",
    "NonNegInt",
    "Outcome",
    "SplitInfo",
    "TaskSummary",
    "canonical_row",
    "card_header",
    "combine_hashes",
    "config_hash",
    "dataset_files",
    "folder_hash",
    "check_config_name",
    "hub_features",
    "inside",
    "listed_splits",
    "load",
    "load_rows",
    "parquet_bytes",
    "read_card_header",
    "read_manifest",
    "read_rows",
    "read_text_file",
    "regular_file",
    "render_card",
    "rows_table",
    "split_hash",
    "verified_rows",
    "verify_dataset",
    "attach_figures",
    "write_dataset",
]
