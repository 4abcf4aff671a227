"""Validating one submission: the release it names, its predictions, and every claim re-scored.

`validate_submission` recomputes every figure from the predictions with the
evaluator's own scoring and compares each claim with it (`TOLERANCE`); it
returns a `ValidatedEntry` or raises `SubmissionRejected`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from negsamp.errors import InputError
from negsamp.evaluator import GroupStats, control_warning, coverage_problems, group_results, length_shift
from negsamp.leaderboard.budget import budget_problems
from negsamp.leaderboard.method_meta import method_meta
from negsamp.leaderboard.names import normalise
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
    predictions_digest: str = ""
    """sha256 of the submitted predictions (sample id and text, in sample-id order): finds exact duplicates."""
    mined: bool = False
    """The release was mined with this method: its negatives are its own failures, not held out."""
    warnings: tuple[str, ...] = ()
    """Warnings shown with the row (e.g. control retention collapsed)."""
    verified: bool = False
    """`negsamp leaderboard verify` re-ran the method here and got exactly these predictions."""
    kv_kept_measured: float | None = None
    """KV kept as measured by our verifying run (None unless verified)."""
    method_type: str = "other"
    """The method-type badge (`negsamp.leaderboard.method_meta.METHOD_TYPES`)."""
    method_paper_url: str | None = None
    """The paper of the method the spec names (`Method.paper_url`), for a submission without `paper_url`."""

    @property
    def link(self) -> str | None:
        """Where the name links: the submission's own `paper_url`, else the method's paper."""
        return self.paper_url or self.method_paper_url

    @property
    def kv_kept_shown(self) -> float | None:
        """KV kept as the board shows it: our measurement when verified, else the submitter's claim."""
        return self.kv_kept_measured if self.verified else self.overall.kv_kept

    @property
    def budget_class(self) -> str | None:
        """The KV-kept class the entry is ranked in; None when it is not ranked (see `ranking`)."""
        return budget_class(self.kv_kept_measured) if self.verified else None

    def sort_key(self) -> tuple:
        o = self.overall
        klass = self.budget_class
        order = BUDGET_CLASSES.index(klass) if klass else len(BUDGET_CLASSES)
        return (self.release.key, order, _desc(o.recovery_rate), _desc(o.control_retention), self.name, self.id)

    @property
    def status(self) -> str:
        """One phrase for the row: verified and ranked, or why not."""
        if not self.verified:
            return "unverified claim (predictions made elsewhere)" if self.source == "predictions" \
                else "unverified claim (not re-run here)"
        if self.budget_class is None:
            return "verified; not ranked (KV not compressed)"
        return "verified"

    @property
    def notes(self) -> list[str]:
        """Short remarks beside the verified/claimed badge: why a row is a claim or not ranked, warnings."""
        out = []
        if not self.verified:
            out.append("predictions made elsewhere" if self.source == "predictions" else "not re-run here")
        elif self.budget_class is None:
            out.append("not ranked: KV not compressed")
        if self.mined:
            out.append("mined with: not held out")
        return out + list(self.warnings)

    def to_json(self, rank: int | None) -> dict[str, Any]:
        o = self.overall
        return {
            "id": self.id, "rank": rank, "name": self.name, "paper_url": self.paper_url, "link": self.link,
            "method_paper_url": self.method_paper_url, "method": self.method, "method_type": self.method_type,
            "source": self.source, "model": self.model, "release": self.release.label,
            "config": self.release.config, "submitted": self.submitted,
            **_stats_json(o), "throughput_ratio": self.throughput_ratio,
            "kv_kept": self.kv_kept_measured if self.verified else None, "kv_kept_claimed": o.kv_kept,
            "verified": self.verified, "budget_class": self.budget_class, "mined": self.mined,
            "kv_kept_shown": self.kv_kept_shown, "status": self.status, "notes": self.notes,
            "warnings": list(self.warnings),
            "by_task": [{"group": g.group, **_stats_json(g)} for g in self.by_task],
            "by_category": [{"group": g.group, **_stats_json(g)} for g in self.by_category],
        }


BUDGET_CLASSES = ("KV ≤ 25%", "KV ≤ 50%", "KV ≤ 75%", "KV < 100%")
"""Entries are ranked only against others that keep a similar share of the KV cache, so keeping
everything (or claiming to keep nothing) cannot win."""


def budget_class(kv_kept: float | None) -> str | None:
    """The class of a measured KV-kept fraction; None when unknown or not compressed (>= 100%)."""
    if kv_kept is None or kv_kept >= 1.0:
        return None
    for bound, name in zip((0.25, 0.5, 0.75), BUDGET_CLASSES, strict=False):
        if kv_kept <= bound:
            return name
    return BUDGET_CLASSES[-1]


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


def _release_of(submission: Submission, registry: Registry, problems: _Collector, where: str) -> Release:
    """The registered release the submission names, with its content hash and model; rejects otherwise."""
    r = submission.report
    ref = r.dataset
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

    return release


def _check_predictions(submission: Submission, evaluation, count, problems: _Collector, where: str) -> None:
    """Exactly one prediction per negative and control sample, each within its sample's budget
    (checked before scoring: this bounds the scoring cost)."""
    known = {row.sample_id for _, row in evaluation.all_rows()}
    for index, problem in coverage_problems([p.sample_id for p in submission.predictions], known):
        problems.add("predictions" if index is None else f"predictions[{index}].sample_id", problem)
    problems.raise_if_any(where)
    budgets = {row.sample_id: row.max_new_tokens for _, row in evaluation.all_rows()}
    for field, problem in budget_problems(submission.predictions, budgets, count):
        problems.add(field, problem)
    problems.raise_if_any(where)


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
    release = _release_of(submission, registry, problems, where)
    evaluation = registry.evaluation(release)
    if r.rule != evaluation.rule:
        problems.add("report.rule", f"claimed {_show(r.rule.model_dump(), 200)}, the release's is "
                                    f"{evaluation.rule.model_dump()}")

    _check_predictions(submission, evaluation, registry.token_counter(release), problems, where)

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
    meta = method_meta(r.method, r.source)
    return ValidatedEntry(
        id=entry_id or "submission", name=normalise(submission.name), paper_url=submission.paper_url,
        method=r.method,
        source=r.source, model=r.model, release=release, submitted=submission.submitted, overall=overall,
        by_category=by_category, by_task=by_task,
        throughput_ratio=throughput, claims_checked=checked,
        predictions_digest=_digest(submission), mined=_is_mined(r.method, meta.canonical, evaluation.entry.methods),
        warnings=tuple(w for w in [control_warning(overall)] if w),
        method_type=meta.type, method_paper_url=meta.paper_url,
    )


def _is_mined(method: str, canonical: str | None, mined_with: list[str]) -> bool:
    return method in mined_with or (canonical is not None and canonical in mined_with)


def _digest(submission: Submission) -> str:
    pairs = sorted((p.sample_id, p.prediction) for p in submission.predictions)
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode("utf-8")).hexdigest()
