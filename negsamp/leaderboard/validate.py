"""Validating one submission: the release it names, its predictions, and every claim re-scored.

`validate_submission` recomputes every figure from the predictions with the
evaluator's own scoring and compares each claim with it (`TOLERANCE`); it
returns a `ValidatedEntry` or raises `SubmissionRejected`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from negsamp.errors import InputError
from negsamp.evaluator import GroupStats, group_results, length_shift
from negsamp.leaderboard.problems import _Collector, _show
from negsamp.leaderboard.registry import Registry, Release
from negsamp.leaderboard.submissions import _check_fields, _throughput_value, read_submission
from negsamp.submission import Submission

TOLERANCE = 1e-9
"""A claimed figure agrees with the recomputed one iff they are within this (absolute or relative)."""


@dataclass(frozen=True)
class ValidatedEntry:
    """A submission that passed validation, with the figures recomputed from its predictions."""

    id: str
    """The submission's file name without `.json` (unique in the folder)."""
    name: str
    paper_url: str | None
    method: str
    """The method spec as submitted (`report.method`)."""
    source: str
    """`method` (negsamp ran it) or `predictions` (scored predictions made elsewhere)."""
    model: str
    release: Release
    submitted: str
    overall: GroupStats
    by_category: list[GroupStats]
    by_task: list[GroupStats]
    throughput_ratio: float | None
    """The submitter's throughput measurement (method / baseline), when submitted."""
    claims_checked: int
    """How many claimed figures were compared with the recomputed ones (all agreed)."""

    def sort_key(self) -> tuple:
        o = self.overall
        return (self.release.key, _desc(o.recovery_rate), _desc(o.control_retention), self.name, self.id)

    def to_json(self, rank: int) -> dict[str, Any]:
        o = self.overall
        return {
            "id": self.id, "rank": rank, "name": self.name, "paper_url": self.paper_url, "method": self.method,
            "source": self.source, "model": self.model, "release": self.release.label,
            "config": self.release.config, "submitted": self.submitted,
            **_stats_json(o), "throughput_ratio": self.throughput_ratio,
            "by_task": [{"group": g.group, **_stats_json(g)} for g in self.by_task],
            "by_category": [{"group": g.group, **_stats_json(g)} for g in self.by_category],
        }


def _desc(value: float | None) -> float:
    return -value if value is not None else math.inf


def _stats_json(g: GroupStats) -> dict[str, Any]:
    return {
        "negatives": g.negatives, "recovered": g.recovered, "recovery_rate": g.recovery_rate,
        "control": g.control, "control_retained": g.control_retained, "control_retention": g.control_retention,
        "relative_score": g.relative_score, "kv_kept": g.kv_kept, "output_length_ratio": g.output_length_ratio,
    }


def _close(claimed: Any, recomputed: Any) -> bool:
    if claimed is None or recomputed is None:
        return claimed is None and recomputed is None
    if isinstance(recomputed, str):
        return claimed == recomputed
    if isinstance(recomputed, int) and not isinstance(recomputed, bool) and isinstance(claimed, int):
        return claimed == recomputed
    return math.isclose(float(claimed), float(recomputed), rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _compare(prefix: str, claimed: BaseModel | None, recomputed: BaseModel | None, problems: _Collector) -> int:
    """Compare every field of two figure records; add a problem per disagreement; return fields compared."""
    if claimed is None or recomputed is None:
        if (claimed is None) != (recomputed is None):
            problems.add(prefix, f"claimed {'nothing' if claimed is None else 'figures'}, recomputed "
                                 f"{'nothing' if recomputed is None else 'figures'}")
        return 1
    count = 0
    for name in type(recomputed).model_fields:
        a, b = getattr(claimed, name), getattr(recomputed, name)
        count += 1
        if not _close(a, b):
            problems.add(f"{prefix}.{name}", f"claimed {_show(a)}, recomputed {_show(b)}")
    return count


def _compare_groups(prefix: str, claimed: list[GroupStats], recomputed: list[GroupStats],
                    problems: _Collector) -> int:
    theirs = {g.group: (i, g) for i, g in enumerate(claimed)}
    if len(theirs) != len(claimed):
        problems.add(prefix, "names a group twice")
    count = 0
    for g in recomputed:
        if g.group not in theirs:
            problems.add(prefix, f"no figures for {_show(g.group)} (recomputed: {g.recovered}/{g.negatives} "
                                 "negatives recovered)")
            continue
        index, claim = theirs[g.group]
        count += _compare(f"{prefix}[{index}]", claim, g, problems)
    extra = sorted(set(theirs) - {g.group for g in recomputed})
    for name in extra[:3]:
        problems.add(f"{prefix}[{theirs[name][0]}]", f"group {_show(name)} is not in the release")
    return count


def validate_submission(source: str | Path | Submission, registry: Registry, *,
                        entry_id: str | None = None) -> ValidatedEntry:
    """Validate one submission against the registry and recompute its figures.

    `source` is a submission file or an already parsed `Submission`. Raises
    SubmissionRejected (an InputError) listing each failed check as field and
    problem; returns the entry with recomputed figures otherwise.
    """
    if isinstance(source, Submission):
        where = entry_id or "submission"
        submission = source
        problems = _Collector()
        _check_fields(submission, problems)
        problems.raise_if_any(where)
    else:
        where = str(source)
        submission = read_submission(source)
        entry_id = entry_id or Path(source).stem
    problems = _Collector()
    r = submission.report
    ref = r.dataset

    # --- the release
    candidates = registry.find(ref.name, ref.dataset_version)
    if not candidates:
        known = ", ".join(rel.label for rel in registry.releases) or "none"
        problems.add("report.dataset", f"{_show(ref.name)} version {_show(ref.dataset_version)} is not a known "
                                       f"release (known: {known})")
        problems.raise_if_any(where)
    release = next((c for c in candidates if c.config == ref.config), None)
    if release is None:
        problems.add("report.dataset.config", f"{_show(ref.config)} is not a config of {candidates[0].label} on "
                                              f"the leaderboard (ranked: {', '.join(c.config for c in candidates)})")
        problems.raise_if_any(where)
    if ref.content_hash != release.content_hash:
        problems.add("report.dataset.content_hash",
                     f"{_show(ref.content_hash[:64])} is not the content hash of {release.label} "
                     f"({release.content_hash}): a wrong or stale dataset; re-evaluate on the release")
    for what, value in (("report.model", r.model), ("report.dataset_model", r.dataset_model)):
        if value != release.model:
            problems.add(what, f"{_show(value)}, but {release.label} [{release.config}] is for model "
                               f"{release.model!r}")
    if r.model_mismatch:
        problems.add("report.model_mismatch", "must be false: the leaderboard ranks the release's model only")
    problems.raise_if_any(where)

    evaluation = registry.evaluation(release)
    if r.rule != evaluation.rule:
        problems.add("report.rule", f"claimed {_show(r.rule.model_dump(), 200)}, the release's is "
                                    f"{evaluation.rule.model_dump()}")

    # --- exactly one prediction per negative and control sample
    known = {row.sample_id for _, row in evaluation.all_rows()}
    seen: dict[str, int] = {}
    for index, p in enumerate(submission.predictions):
        if p.sample_id in seen:
            problems.add(f"predictions[{index}].sample_id",
                         f"{_show(p.sample_id)} appears twice (first at predictions[{seen[p.sample_id]}])")
        elif p.sample_id not in known:
            problems.add(f"predictions[{index}].sample_id", f"{_show(p.sample_id)} is not a sample of "
                                                           f"{release.label} [{release.config}]")
        else:
            seen[p.sample_id] = index
    missing = sorted(known - set(seen))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        problems.add("predictions", f"no prediction for {len(missing)} of the release's {len(known)} "
                                    f"negative and control samples: {shown}")
    problems.raise_if_any(where)

    # --- recompute, then compare every claim
    predictions = {p.sample_id: (p.prediction, p.output_tokens, p.kv_bytes_prefill)
                   for p in submission.predictions}
    try:
        results = evaluation.score(predictions)
    except InputError as err:
        problems.add("predictions", f"could not be scored: {err}")
        problems.raise_if_any(where)
    overall, by_category, by_task = group_results(results)
    checked = _compare("report.overall", r.overall, overall, problems)
    checked += _compare_groups("report.by_category", r.by_category, by_category, problems)
    checked += _compare_groups("report.by_task", r.by_task, by_task, problems)
    checked += _compare("report.length_shift", r.length_shift, length_shift(results), problems)
    problems.raise_if_any(where)

    throughput = _throughput_value(r.throughput) if r.throughput is not None else None
    return ValidatedEntry(
        id=entry_id or "submission", name=submission.name, paper_url=submission.paper_url, method=r.method,
        source=r.source, model=r.model, release=release, submitted=submission.submitted, overall=overall,
        by_category=by_category, by_task=by_task,
        throughput_ratio=throughput, claims_checked=checked,
    )
