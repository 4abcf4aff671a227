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
sha256 over the canonical JSON of the rows (see `canonical_row`), which does
not depend on the parquet writer's version.

This module reads and writes files; it imports no model code.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import statistics
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from negsamp import __version__
from negsamp.errors import InputError
from negsamp.mining import MiningRule
from negsamp.records import Prediction, Sample, SampleFields

if TYPE_CHECKING:  # heavy imports stay inside the functions that need them
    import datasets
    import polars as pl

ROW_VERSION = 1
MANIFEST_VERSION = 1
SPLITS = ("negative", "control")
"""The two splits every config has, in the order the card lists them."""
MANIFEST_NAME = "manifest.json"
CARD_NAME = "README.md"
TEMPLATE = "negsamp.md.j2"
"""Card template, shipped inside the package at `negsamp/dataset_cards/negsamp.md.j2`."""
ROW_GROUP_SIZE = 128
"""Rows per parquet row group: small groups keep the Hub's viewer fast on long-context rows."""
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp")
CITATION = """@inproceedings{gao2025rethinking,
  title     = {Rethinking Key-Value Cache Compression Techniques for Large Language Model Serving},
  author    = {Gao, Wei and Zhou, Xinyu and Sun, Peng and Zhang, Tianwei and Wen, Yonggang},
  booktitle = {Proceedings of Machine Learning and Systems (MLSys)},
  year      = {2025},
  url       = {https://arxiv.org/abs/2503.24000}
}"""

_CONFIG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]


# --------------------------------------------------------------------------- rows


class Outcome(BaseModel):
    """What one method produced on the sample, and its score (the `baseline` column)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    method: str
    """Canonical method spec, e.g. `none` or `snapkv:ratio=0.5,window=8`."""
    prediction: str
    """Decoded output text."""
    score: Finite
    """Per-sample task score (LongBench-compatible metric, 0 to 1)."""
    output_tokens: NonNegInt
    """Generated tokens, EOS included when it was produced."""
    hit_eos: bool
    """Whether generation stopped at end-of-sequence (else at max_new_tokens)."""
    prompt_tokens: NonNegInt
    """Tokens in the prompt."""
    kv_bytes_prefill: NonNegInt
    """Bytes held by the KV cache right after prefill, measured from its tensors."""
    kv_bytes_end: NonNegInt
    """Bytes held by the KV cache at the end of generation, measured from its tensors."""

    @classmethod
    def from_prediction(cls, prediction: Prediction, score: float, **extra: Any) -> Outcome:
        """The outcome of one `Prediction`, scored."""
        return cls(
            method=prediction.method,
            prediction=prediction.prediction,
            score=score,
            output_tokens=prediction.output_tokens,
            hit_eos=prediction.hit_eos,
            prompt_tokens=prediction.prompt_tokens,
            kv_bytes_prefill=prediction.kv_bytes_prefill,
            kv_bytes_end=prediction.kv_bytes_end,
            **extra,
        )


class MethodOutcome(Outcome):
    """A compressed method's outcome on the sample (one entry of the `methods` column)."""

    negative: bool
    """Whether the sample is negative for this method: `not (b * (1 - t) < o)` with b the
    baseline score and o this method's score, in float64."""

    @classmethod
    def from_prediction(cls, prediction: Prediction, score: float, *, negative: bool) -> MethodOutcome:  # type: ignore[override]
        """The outcome of one compressed-method `Prediction`, scored and flagged."""
        return super().from_prediction(prediction, score, negative=negative)  # type: ignore[return-value]


class DatasetRow(SampleFields):
    """One sample of the dataset: the sample's fields (`SampleFields`), the baseline's
    outcome and every compared method's.

    Version `ROW_VERSION`, recorded in the manifest and in each parquet file's metadata
    (not as a column). `ROW_SCHEMA` is its exact parquet schema.
    """

    threshold: Finite
    """The task's baseline threshold THR (median or mean of its baseline scores)."""
    baseline: Outcome
    """The uncompressed model's outcome."""
    methods: list[MethodOutcome]
    """One entry per compressed method the dataset was mined with, in recipe order."""

    @classmethod
    def from_sample(
        cls, sample: Sample, *, threshold: float, baseline: Outcome, methods: Sequence[MethodOutcome]
    ) -> DatasetRow:
        """A row from a `Sample` plus the outcomes (the builder's usual path)."""
        fields = sample.model_dump(exclude={"version"})
        return cls(**fields, threshold=threshold, baseline=baseline, methods=list(methods))

    @property
    def key(self) -> tuple[str, str]:
        """Sort key of rows in a split."""
        return (self.task, self.sample_id)


def _outcome_fields(negative: bool) -> list[pa.Field]:
    fields = [
        pa.field("method", pa.string()),
        pa.field("prediction", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("hit_eos", pa.bool_()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("kv_bytes_prefill", pa.int64()),
        pa.field("kv_bytes_end", pa.int64()),
    ]
    if negative:
        fields.append(pa.field("negative", pa.bool_()))
    return fields


ROW_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string()),
        pa.field("task", pa.string()),
        pa.field("category", pa.string()),
        pa.field("source", pa.string()),
        pa.field("source_index", pa.int64()),
        pa.field("context", pa.string()),
        pa.field("input", pa.string()),
        pa.field("answers", pa.list_(pa.string())),
        pa.field("all_classes", pa.list_(pa.string())),
        pa.field("length", pa.int64()),
        pa.field("prompt", pa.string()),
        pa.field("question_start", pa.int64()),
        pa.field("max_new_tokens", pa.int64()),
        pa.field("chat_template", pa.bool_()),
        pa.field("threshold", pa.float64()),
        pa.field("baseline", pa.struct(_outcome_fields(negative=False))),
        pa.field("methods", pa.list_(pa.struct(_outcome_fields(negative=True)))),
    ]
)
"""The exact parquet schema of both splits (field order = `DatasetRow` field order)."""


def canonical_row(config: str, split: str, row: DatasetRow) -> str:
    """The canonical text of one row, as hashed into `Manifest.content_hash`.

    One line of JSON: `{"config": ..., "row": {...}, "split": ...}` with sorted keys,
    no whitespace, UTF-8 kept as is (ensure_ascii off), floats in Python's shortest
    round-trip form, NaN refused. Rows are hashed in (task, sample_id) order.
    """
    payload = {"config": config, "split": split, "row": row.model_dump(mode="json")}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def split_hash(config: str, split: str, rows: Iterable[DatasetRow]) -> str:
    """sha256 over the canonical lines of a split's rows, sorted by (task, sample_id)."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.key):
        digest.update((canonical_row(config, split, row) + "\n").encode("utf-8"))
    return digest.hexdigest()


def _combine(named_hashes: Mapping[str, str]) -> str:
    text = "".join(f"{name}\t{value}\n" for name, value in sorted(named_hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- card context


class TaskSummary(BaseModel):
    """Numbers about one task over the whole sample pool the build ran (not just the splits)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    task: str
    """Task name."""
    category: str
    """Task category (QA, Summarization, Few-shot, Synthetic, Code)."""
    samples: NonNegInt
    """Samples of this task in the pool (all run with the baseline and every method)."""
    baseline_accuracy: Finite
    """Mean baseline per-sample score over the pool (metric scale, 0 to 1)."""
    threshold: Finite
    """THR: the median or mean of the task's baseline scores (see the rule)."""
    baseline_good: NonNegInt
    """Samples with `b >= THR` (and `b >= min_baseline` when set)."""
    negatives_by_method: dict[str, NonNegInt]
    """Per compared method: baseline-good samples negative for that method alone."""


class LengthSummary(BaseModel):
    """Output-length statistics of one method over the whole pool."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    method: str
    """The baseline method or a compared method."""
    samples: NonNegInt
    """Samples the statistics are over."""
    mean_output_tokens: Finite
    """Mean generated tokens."""
    median_output_tokens: Finite
    """Median generated tokens."""
    eos_rate: Finite | None = None
    """Fraction of samples that stopped at end-of-sequence (else at max_new_tokens)."""


class CardContext(BaseModel):
    """What the builder knows about one config (one model) that the rows alone do not tell.

    `write_dataset` checks the rows against it (methods, thresholds, the rule) and
    renders the card from it plus counts it computes from the rows. It is stored in
    the manifest, so writing a second config re-renders the card with both.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: str
    """Model name or Hub id, as given to `negsamp.models.load_model`."""
    methods: list[str] = Field(min_length=1)
    """Compared (compressed) method specs, in recipe order: the order of the `methods` column."""
    rule: MiningRule
    """The mining rule (baseline method name, statistic, t, mode, min_baseline)."""
    generation: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """Generation settings shown in the card, e.g. backend, decoding ("greedy"), dtype, batch_size."""
    sample_pool: str
    """One sentence naming where the samples came from, e.g. "synthetic tasks, seed 0, 16 per task"."""
    tasks: list[TaskSummary] = Field(min_length=1)
    """One entry per task of the pool."""
    output_lengths: list[LengthSummary] = Field(default_factory=list)
    """Pool-wide output lengths: the baseline first, then each compared method."""
    summary: str | None = None
    """Optional paragraph about this build, shown at the top of the config's section."""
    notes: list[str] = Field(default_factory=list)
    """Extra remarks or limitations (e.g. mining warnings), one sentence each."""
    languages: list[str] = Field(default_factory=lambda: ["en"])
    """Language codes of the samples, for the card's header."""

    @model_validator(mode="after")
    def _consistent(self) -> CardContext:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods {self.methods} name a method twice")
        if self.rule.baseline in self.methods:
            raise ValueError(f"the baseline {self.rule.baseline!r} is also listed as a compared method")
        names = [t.task for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"tasks {names} name a task twice")
        for task in self.tasks:
            if set(task.negatives_by_method) != set(self.methods):
                raise ValueError(
                    f"task {task.task!r}: negatives_by_method has {sorted(task.negatives_by_method)}, "
                    f"expected one count per method {self.methods}"
                )
        known = {self.rule.baseline, *self.methods}
        for entry in self.output_lengths:
            if entry.method not in known:
                raise ValueError(f"output_lengths: unknown method {entry.method!r}; known: {sorted(known)}")
        return self

    def task(self, name: str) -> TaskSummary | None:
        return next((t for t in self.tasks if t.task == name), None)

    @property
    def thresholds(self) -> dict[str, float]:
        """Per-task THR."""
        return {t.task: t.threshold for t in self.tasks}


# --------------------------------------------------------------------------- manifest


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
    """sha256 over `"<split>\\t<split hash>\\n"` lines of its splits, sorted by split name."""
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

    version: Literal[1] = MANIFEST_VERSION
    """Schema version of this manifest."""
    name: str
    """Dataset name (the card's title)."""
    dataset_version: str
    """Version of the build recipe that produced the dataset."""
    row_version: Literal[1] = ROW_VERSION
    """Version of `DatasetRow` the parquet files hold."""
    content_hash: str
    """sha256 over `"<config>\\t<config hash>\\n"` lines, sorted by config: identifies the data."""
    negsamp_version: str
    """negsamp version that last wrote the folder."""
    configs: dict[str, ConfigManifest]
    """One entry per config (model)."""

    def config_names(self) -> list[str]:
        return sorted(self.configs)


# --------------------------------------------------------------------------- helpers


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(value)"
    return f"field {where!r}: {first['msg']}"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file via a temp file + os.replace (readers see old or new, never half).

    The file is made world-readable (0644): mkstemp's 0600 would hide a shared dataset folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rows_table(rows: Sequence[DatasetRow]) -> pa.Table:
    """`rows` sorted by (task, sample_id) as an arrow table of `ROW_SCHEMA`."""
    ordered = sorted(rows, key=lambda r: r.key)
    return pa.Table.from_pylist([r.model_dump() for r in ordered], schema=ROW_SCHEMA)


def parquet_bytes(rows: Sequence[DatasetRow]) -> bytes:
    """The parquet file of `rows` (sorted by (task, sample_id)), with fixed writer options.

    An empty split is written with no row group at all: `datasets`' parquet reader
    fails on a file whose only row group has 0 rows.
    """
    schema = ROW_SCHEMA.with_metadata({b"negsamp.row_version": str(ROW_VERSION).encode()})
    table = rows_table(rows).replace_schema_metadata(schema.metadata)
    sink = io.BytesIO()
    with pq.ParquetWriter(
        sink,
        schema,
        version="2.6",
        data_page_version="1.0",
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        write_page_index=False,
        store_schema=True,
    ) as writer:
        if table.num_rows:
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    return sink.getvalue()


def _as_rows(rows: Iterable[DatasetRow | Mapping[str, Any]], what: str) -> list[DatasetRow]:
    out = []
    for index, row in enumerate(rows):
        if isinstance(row, DatasetRow):
            out.append(row)
            continue
        try:
            out.append(DatasetRow.model_validate(row))
        except ValidationError as err:
            raise InputError(f"{what} row {index}: {_first_error(err)}") from err
    return out


def _check_rows(split: str, rows: list[DatasetRow], ctx: CardContext) -> None:
    """Refuse rows that do not follow the context's rule, methods and thresholds."""
    rule = ctx.rule
    seen: set[tuple[str, str]] = set()
    for row in rows:
        where = f"{split} row (task {row.task!r}, sample {row.sample_id!r})"
        if row.key in seen:
            raise InputError(f"{where} appears twice")
        seen.add(row.key)
        task = ctx.task(row.task)
        if task is None:
            raise InputError(f"{where}: task is not in card_context.tasks")
        if row.category != task.category:
            raise InputError(f"{where}: category {row.category!r}, card_context says {task.category!r}")
        if row.threshold != task.threshold:
            raise InputError(f"{where}: threshold {row.threshold!r}, card_context says {task.threshold!r}")
        if row.baseline.method != rule.baseline:
            raise InputError(
                f"{where}: baseline method {row.baseline.method!r}, the rule's is {rule.baseline!r}"
            )
        names = [m.method for m in row.methods]
        if names != ctx.methods:
            raise InputError(f"{where}: methods {names}, expected {ctx.methods} (recipe order)")
        b = row.baseline.score
        good = b >= row.threshold and (rule.min_baseline is None or b >= rule.min_baseline)
        if not good:
            raise InputError(f"{where}: baseline score {b!r} is not baseline-good (THR {row.threshold!r})")
        for m in row.methods:
            expected = not (b * (1.0 - rule.t) < m.score)
            if m.negative != expected:
                raise InputError(
                    f"{where}: method {m.method!r} negative={m.negative}, but the rule "
                    f"not (b*(1-t) < o) with b={b!r}, o={m.score!r}, t={rule.t!r} gives {expected}"
                )
        flags = [m.negative for m in row.methods]
        if split == "negative" and not (all(flags) if rule.mode == "all" else any(flags)):
            raise InputError(f"{where}: not negative under mode {rule.mode!r}")
        if split == "control" and any(flags):
            raise InputError(f"{where}: a control sample must be negative for no method")


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise InputError(f"{what} must be a non-empty single line, got {value!r}")
    return value


def check_config_name(config: str) -> str:
    """A config name the Hub and file systems accept: letters, digits, `.`, `_`, `-`."""
    if not isinstance(config, str) or not _CONFIG_RE.fullmatch(config):
        raise InputError(
            f"config name {config!r} must start with a letter or digit and use only letters, digits, "
            "'.', '_' or '-' (at most 64 characters)"
        )
    return config


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.").lower()[:60] or "figure"


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    for bound, label in bounds:
        if n < bound:
            return label
    return "1M<n<10M"


# --------------------------------------------------------------------------- Hub features YAML


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


# --------------------------------------------------------------------------- card


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mean(values: list[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def _config_view(name: str, config: ConfigManifest, rows: dict[str, list[DatasetRow]]) -> dict[str, Any]:
    """Everything the template shows for one config, computed here so the template only formats."""
    neg, ctrl = rows["negative"], rows["control"]
    tasks = []
    for task in config.tasks:
        tasks.append(
            {
                "task": task.task,
                "category": task.category,
                "samples": task.samples,
                "baseline_accuracy": task.baseline_accuracy,
                "threshold": task.threshold,
                "baseline_good": task.baseline_good,
                "by_method": [task.negatives_by_method[m] for m in config.methods],
                "negative": sum(r.task == task.task for r in neg),
                "control": sum(r.task == task.task for r in ctrl),
            }
        )
    pool = {entry.method: entry for entry in config.output_lengths}
    both = neg + ctrl

    def length_row(method: str, index: int | None) -> dict[str, Any]:
        def outcome(r: DatasetRow) -> Outcome:
            return r.baseline if index is None else r.methods[index]

        tokens = [float(outcome(r).output_tokens) for r in neg]
        ratios = [
            outcome(r).kv_bytes_prefill / r.baseline.kv_bytes_prefill
            for r in both
            if r.baseline.kv_bytes_prefill
        ]
        entry = pool.get(method)
        return {
            "method": method,
            "baseline": index is None,
            "negatives": sum(task.negatives_by_method[method] for task in config.tasks)
            if index is not None
            else None,
            "pool_mean": entry.mean_output_tokens if entry else None,
            "pool_median": entry.median_output_tokens if entry else None,
            "pool_eos": entry.eos_rate if entry else None,
            "neg_mean": _mean(tokens),
            "neg_median": _median(tokens),
            "neg_score": _mean([outcome(r).score for r in neg]),
            "kv_ratio": _mean(ratios),
        }

    methods = [length_row(config.rule.baseline, None)]
    methods += [length_row(m, i) for i, m in enumerate(config.methods)]
    return {
        "name": name,
        "c": config,
        "tasks": tasks,
        "methods": methods,
        "has_pool_lengths": bool(pool),
        "empty_splits": [s for s in SPLITS if not rows[s]],
        "negative_rows": len(neg),
        "control_rows": len(ctrl),
        "baseline_accuracy": _mean([t.baseline_accuracy for t in config.tasks]),
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


def _cell(value: Any) -> str:
    """A markdown table cell: pipes escaped, newlines flattened."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _template_text(template: str | os.PathLike | None) -> str:
    if template is not None:
        path = Path(template)
        if not path.is_file():
            raise InputError(f"card template {path}: no such file")
        return path.read_text(encoding="utf-8")
    return resources.files("negsamp").joinpath("dataset_cards", TEMPLATE).read_text(encoding="utf-8")


def render_card(
    manifest: Manifest,
    rows: Mapping[str, Mapping[str, list[DatasetRow]]],
    *,
    template: str | os.PathLike | None = None,
) -> str:
    """The README.md text: YAML header from `card_header`, prose from the template.

    `rows[config][split]` are the rows of every config in the manifest.
    """
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["fmt"] = _fmt
    env.filters["cell"] = _cell
    header = yaml.safe_dump(card_header(manifest), sort_keys=False, allow_unicode=True, width=1000)
    configs = [
        _config_view(name, manifest.configs[name], dict(rows[name])) for name in manifest.config_names()
    ]
    try:
        text = env.from_string(_template_text(template)).render(
            header=header,
            manifest=manifest,
            configs=configs,
            citation=CITATION,
            first_config=manifest.config_names()[0],
        )
    except jinja2.TemplateError as err:
        raise InputError(f"card template: {err}") from err
    return text.rstrip("\n") + "\n"


def read_card_header(directory: str | os.PathLike) -> dict[str, Any]:
    """Parse the YAML header of DIR/README.md; InputError if missing or malformed."""
    path = Path(directory) / CARD_NAME
    if not path.is_file():
        raise InputError(f"{path}: missing dataset card")
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?\n)---\n", text, flags=re.S)
    if not match:
        raise InputError(f"{path}: no YAML header (the card must start with a '---' block)")
    try:
        header = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        raise InputError(f"{path}: YAML header does not parse ({err})") from err
    if not isinstance(header, dict):
        raise InputError(f"{path}: YAML header is not a mapping")
    return header


# --------------------------------------------------------------------------- reading


def read_manifest(directory: str | os.PathLike) -> Manifest:
    """Parse DIR/manifest.json (no data check; `verify_dataset` does that)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: no such dataset folder")
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{path}: missing: not a negsamp dataset folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from err
    if isinstance(data, dict) and data.get("version") not in (None, MANIFEST_VERSION):
        raise InputError(f"{path}: manifest version {data.get('version')!r} is not one this negsamp reads")
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        raise InputError(f"{path}: {_first_error(err)}") from err


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
    path = directory / manifest.configs[config].splits[split].path
    if not path.is_file():
        raise InputError(f"{path}: missing data file of config {config!r} split {split!r}")
    return path


def _read_table(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"{path}: not a readable parquet file ({err})") from err
    if not table.schema.equals(ROW_SCHEMA, check_metadata=False):
        raise InputError(f"{path}: schema differs from negsamp's dataset row schema")
    version = (table.schema.metadata or {}).get(b"negsamp.row_version")
    if version is not None and version != str(ROW_VERSION).encode():
        raise InputError(f"{path}: row version {version.decode()} is not one this negsamp reads")
    return table


def _rows_of(path: Path) -> list[DatasetRow]:
    rows = []
    for index, data in enumerate(_read_table(path).to_pylist()):
        try:
            rows.append(DatasetRow.model_validate(data))
        except ValidationError as err:
            raise InputError(f"{path}: row {index}: {_first_error(err)}") from err
    return rows


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

    path = Path(dir_or_repo)
    if path.exists():
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
    repo = str(dir_or_repo)
    if not _REPO_RE.fullmatch(repo):
        raise InputError(f"{repo}: neither a dataset folder nor a Hub repo id (ORG/NAME)")
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    try:
        return datasets.load_dataset(repo, config, split=split)
    except (ConnectionError, OSError) as err:
        raise InputError(
            f"could not load {repo} from the Hugging Face Hub ({type(err).__name__}: {err})"
        ) from err


# --------------------------------------------------------------------------- verify


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


# --------------------------------------------------------------------------- write


def write_dataset(
    out_dir: str | os.PathLike,
    *,
    name: str,
    version: str,
    config: str,
    negative_rows: Iterable[DatasetRow | Mapping[str, Any]],
    control_rows: Iterable[DatasetRow | Mapping[str, Any]],
    card_context: CardContext | Mapping[str, Any],
    figures: Mapping[str, str | os.PathLike] | None = None,
    template: str | os.PathLike | None = None,
) -> Manifest:
    """Write (or replace) one config of a dataset folder; return the new manifest.

    An existing folder with a manifest keeps its other configs (it is verified
    first, and must have the same `name` and `version`). A folder without a
    manifest must not already hold a README.md or data/. `figures` maps a caption
    to an image file, copied to `figures/<config>/`. Files are written atomically,
    the manifest last, so a crash leaves a folder that `verify_dataset` rejects
    rather than one that looks whole.
    """
    out = Path(out_dir)
    name = _check_name(name, "dataset name")
    version = _check_name(version, "dataset version")
    config = check_config_name(config)
    try:
        ctx = (
            card_context
            if isinstance(card_context, CardContext)
            else CardContext.model_validate(card_context)
        )
    except ValidationError as err:
        raise InputError(f"card_context: {_first_error(err)}") from err
    if type(ctx) is not CardContext:  # e.g. a ConfigManifest passed back in: keep the context fields only
        ctx = CardContext.model_validate(ctx.model_dump(include=set(CardContext.model_fields)))
    split_rows = {
        "negative": _as_rows(negative_rows, "negative"),
        "control": _as_rows(control_rows, "control"),
    }
    for split, rows in split_rows.items():
        _check_rows(split, rows, ctx)
    if not split_rows["negative"] and not split_rows["control"]:
        raise InputError(f"config {config!r} has no rows in either split: nothing to write")
    overlap = {r.key for r in split_rows["negative"]} & {r.key for r in split_rows["control"]}
    if overlap:
        task, sample = sorted(overlap)[0]
        raise InputError(f"sample {sample!r} of task {task!r} is in both the negative and the control split")

    figure_sources: list[tuple[str, Path]] = []
    for caption, source in (figures or {}).items():
        source = Path(source)
        if not source.is_file():
            raise InputError(f"figure {caption!r}: {source}: no such file")
        if source.suffix.lower() not in FIGURE_SUFFIXES:
            raise InputError(f"figure {caption!r}: {source}: not an image ({', '.join(FIGURE_SUFFIXES)})")
        figure_sources.append((_check_name(caption, "figure caption"), source))

    existing: _Checked | None = None
    if (out / MANIFEST_NAME).exists():
        existing = _verify(out, check_card=False)  # the card is re-rendered below
        if existing.manifest.name != name or existing.manifest.dataset_version != version:
            raise InputError(
                f"{out} holds dataset {existing.manifest.name!r} version {existing.manifest.dataset_version!r}; "
                f"cannot add {name!r} version {version!r} to it (use another folder)"
            )
    elif (out / CARD_NAME).exists() or (out / "data").exists():
        raise InputError(
            f"{out} has a README.md or data/ but no {MANIFEST_NAME}: not a negsamp dataset folder"
        )

    # data files
    splits = {}
    for split in SPLITS:
        rel = f"data/{config}/{split}.parquet"
        rows = sorted(split_rows[split], key=lambda r: r.key)
        split_rows[split] = rows
        _atomic_write_bytes(out / rel, parquet_bytes(rows))
        splits[split] = SplitInfo(
            path=rel,
            rows=len(rows),
            num_bytes=rows_table(rows).nbytes,
            content_hash=split_hash(config, split, rows),
        )

    # figures: replace this config's folder content
    figure_dir = out / "figures" / config
    figure_entries = []
    used: set[str] = set()
    for caption, source in figure_sources:
        stem, n = _slug(caption), 1
        filename = f"{stem}{source.suffix.lower()}"
        while filename in used:
            n += 1
            filename = f"{stem}-{n}{source.suffix.lower()}"
        used.add(filename)
        _atomic_write_bytes(figure_dir / filename, source.read_bytes())
        figure_entries.append(Figure(caption=caption, path=f"figures/{config}/{filename}"))
    if figure_dir.is_dir():
        for stale in figure_dir.iterdir():
            if stale.name not in used:
                if stale.is_dir():
                    shutil.rmtree(stale)
                else:
                    stale.unlink()
        if not used:
            figure_dir.rmdir()

    entry = ConfigManifest(
        **ctx.model_dump(),
        splits=splits,
        content_hash=_combine({s: splits[s].content_hash for s in SPLITS}),
        figures=figure_entries,
        negsamp_version=__version__,
    )
    configs = dict(existing.manifest.configs) if existing else {}
    configs[config] = entry
    manifest = Manifest(
        name=name,
        dataset_version=version,
        content_hash=_combine({c: e.content_hash for c, e in configs.items()}),
        negsamp_version=__version__,
        configs=dict(sorted(configs.items())),
    )
    all_rows = dict(existing.rows) if existing else {}
    all_rows[config] = split_rows
    _atomic_write_bytes(out / CARD_NAME, render_card(manifest, all_rows, template=template).encode("utf-8"))
    _atomic_write_bytes(out / MANIFEST_NAME, (manifest.model_dump_json(indent=2) + "\n").encode("utf-8"))
    return manifest


def rerender_card(directory: str | os.PathLike, *, template: str | os.PathLike | None = None) -> Path:
    """Verify the folder's data and rewrite its README.md from the manifest (e.g. after a template change)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    rows = {
        name: {split: _rows_of(_split_path(directory, manifest, name, split)) for split in SPLITS}
        for name in manifest.config_names()
    }
    _atomic_write_bytes(directory / CARD_NAME, render_card(manifest, rows, template=template).encode("utf-8"))
    _verify(directory)
    return directory / CARD_NAME
