"""The dataset card (README.md): header from `negsamp.dataset.header`, prose from the template.

The template ships at `negsamp/dataset_cards/negsamp.md.j2`; `_config_view`
computes everything it shows, so the template only formats.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from negsamp.dataset.common import CITATION, SPLITS, TEMPLATE
from negsamp.dataset.header import card_header
from negsamp.dataset.manifest import ConfigManifest, Manifest
from negsamp.dataset.rows import DatasetRow, Outcome
from negsamp.errors import InputError


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


def task_families(rows: Mapping[str, Mapping[str, list[DatasetRow]]]) -> dict[str, list[str]]:
    """Tasks by the kind of source they came from (`synthetic`, `longbench`, ...), from the rows'
    `source` field: the card's limitations speak only of the kinds the dataset holds."""
    kinds: dict[str, set[str]] = {}
    for splits in rows.values():
        for split_rows in splits.values():
            for row in split_rows:
                kinds.setdefault(row.source.split(":", 1)[0], set()).add(row.task)
    return {kind: sorted(tasks) for kind, tasks in sorted(kinds.items())}


def dataset_citation(manifest: Manifest) -> str:
    """A BibTeX entry for the dataset release itself (the paper has its own)."""
    key = re.sub(r"[^A-Za-z0-9]+", "_", f"{manifest.name}_{manifest.dataset_version}").strip("_").lower()
    return "\n".join([
        f"@misc{{{key},",
        f"  title        = {{{{{manifest.name}}}: negative samples of KV-cache compression, "
        f"version {manifest.dataset_version}}},",
        "  author       = {{negsamp contributors}},",
        f"  note         = {{Built with negsamp {manifest.negsamp_version}; content hash "
        f"sha256:{manifest.content_hash}}},",
        "  howpublished = {Dataset in the Hugging Face Hub layout, built with negsamp}",
        "}",
    ])


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
            dataset_citation=dataset_citation(manifest),
            families=task_families(rows),
            first_config=manifest.config_names()[0],
        )
    except jinja2.TemplateError as err:
        raise InputError(f"card template: {err}") from err
    return text.rstrip("\n") + "\n"
