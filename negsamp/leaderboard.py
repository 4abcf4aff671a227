"""The leaderboard: validated, re-scored submissions, rendered as a table, a static page and an app.

The leaderboard folder (`leaderboard/` in the repository)::

    ROOT/releases.json              registry of dataset releases a submission may name
    ROOT/releases/<name>-<version>/ each release's dataset folder (the rows re-scoring needs)
    ROOT/submissions/*.json         one `negsamp.submission.Submission` per file
    ROOT/README.md                  generated: the table, per release (also a Hugging Face Space card)
    ROOT/site/index.html            generated: static page, works offline from the file system
    ROOT/site/leaderboard.json      generated: the table data the page embeds and app.py reads
    ROOT/app.py                     Gradio app over leaderboard.json (hand-written)

Trust. A submission is data from a stranger. `validate_submission` reads it with
size and length caps, refuses NaN and infinities and wrong JSON types (strict
schema), checks that it names a known release (name, version, content hash,
config, model), that it has exactly one prediction per negative and control
sample, and then **recomputes every figure from the predictions** with the
evaluator's own scoring (`Evaluation.score`, `summarise`): a negative is
recovered, and a control sample retained, iff `b * (1 - t) < o`. The figures the
submitter claims are never shown; each one is compared with the recomputed one
(tolerance `TOLERANCE`) and any disagreement rejects the submission, naming the
field, the claim and the recomputed value. Two numbers cannot be recomputed and
are shown as the submitter's measurements: KV bytes after prefill (per sample,
against the release's measured baseline bytes) and the throughput ratio.
Output lengths are the submitted `output_tokens` against the baseline's.

Rendering escapes every submitted string (HTML and Markdown), embeds the table
data as JSON with `<`, `>`, `&` escaped, and uses no external resource; the
page carries a Content-Security-Policy that allows only its own inline script
and style. Output is deterministic: the same submissions give the same bytes.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
import math
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from negsamp.errors import InputError
from negsamp.evaluator import GroupFigures, length_shift, summarise
from negsamp.submission import Submission

REGISTRY_NAME = "releases.json"
SUBMISSIONS_DIR = "submissions"
RELEASES_DIR = "releases"
README_NAME = "README.md"
SITE_DIR = "site"
INDEX_NAME = "index.html"
DATA_NAME = "leaderboard.json"
TABLE_VERSION = 1

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
"""A submission file larger than this is refused before it is read."""
MAX_STRING = 100_000
"""No string anywhere in a submission may be longer (a prediction is the longest legitimate one)."""
MAX_METHOD_SPEC = 500
MAX_MODEL = 200
MAX_SAMPLE_ID = 200
MAX_ENV_ENTRIES = 200
MAX_ENV_TEXT = 1000
MAX_THROUGHPUT_JSON = 100_000
MAX_PROBLEMS = 20
"""At most this many problems are listed for one submission (the rest are counted)."""
TOLERANCE = 1e-9
"""A claimed figure agrees with the recomputed one iff they are within this (absolute or relative)."""

_HASH_RE = re.compile(r"[0-9a-f]{64}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_URL_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission: the field (a path such as `predictions[3].sample_id`) and what."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class SubmissionRejected(InputError):
    """A submission failed validation; `problems` lists every failure found (field and problem)."""

    def __init__(self, source: str, problems: list[Problem], more: int = 0) -> None:
        self.source = source
        self.problems = problems
        self.more = more
        text = "; ".join(str(p) for p in problems)
        if more:
            text += f"; and {more} more problem(s)"
        super().__init__(f"{source}: rejected: {text}")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.more = 0

    def add(self, where: str, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, problem))
        else:
            self.more += 1

    def raise_if_any(self, source: str) -> None:
        if self.problems:
            raise SubmissionRejected(source, self.problems, self.more)


def _show(value: Any, limit: int = 60) -> str:
    """A short repr of a submitted value, for messages (never the whole of a huge string)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(submission)"


# --------------------------------------------------------------------------- releases


class Release(BaseModel):
    """One dataset release submissions may be scored against."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(min_length=1)
    """Dataset name (its manifest's `name`)."""
    dataset_version: str = Field(min_length=1)
    """Dataset version (its manifest's `dataset_version`)."""
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The dataset's content hash: submissions must name exactly this one."""
    config: str = Field(min_length=1)
    """The config (model) of the dataset that is ranked."""
    model: str = Field(min_length=1)
    """The config's model: submissions must use it."""
    path: str = Field(min_length=1)
    """Dataset folder, relative to the leaderboard folder (POSIX separators)."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.dataset_version}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.dataset_version, self.config)


class ReleaseRegistry(BaseModel):
    """`releases.json`."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = 1
    """Schema version of the registry."""
    releases: list[Release] = Field(default_factory=list)
    """Known releases, one per (name, dataset_version, config)."""


class Registry:
    """The releases of a leaderboard folder, with each release's rows loaded on first use."""

    def __init__(self, root: str | Path, releases: list[Release]) -> None:
        self.root = Path(root)
        self.releases = sorted(releases, key=lambda r: r.key)
        keys = [r.key for r in self.releases]
        if len(set(keys)) != len(keys):
            raise InputError(f"{self.root / REGISTRY_NAME}: a (name, dataset_version, config) is listed twice")
        self._evaluations: dict[tuple[str, str, str], Any] = {}

    @classmethod
    def load(cls, root: str | Path) -> Registry:
        root = Path(root)
        path = root / REGISTRY_NAME
        if not path.is_file():
            raise InputError(f"{path}: no release registry (is {root} a leaderboard folder?)")
        try:
            data = ReleaseRegistry.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as err:
            first = err.errors()[0]
            raise InputError(f"{path}: field {_path(first['loc'])!r}: {first['msg']}") from err
        return cls(root, data.releases)

    def save(self) -> Path:
        from negsamp.runs import atomic_write_text

        path = self.root / REGISTRY_NAME
        data = ReleaseRegistry(releases=self.releases)
        atomic_write_text(path, data.model_dump_json(indent=2) + "\n")
        return path

    def find(self, name: str, dataset_version: str) -> list[Release]:
        return [r for r in self.releases if r.name == name and r.dataset_version == dataset_version]

    def folder(self, release: Release) -> Path:
        rel = PurePosixPath(release.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise InputError(f"{self.root / REGISTRY_NAME}: release {release.label}: path {release.path!r} "
                             "must be relative to the leaderboard folder, without '..'")
        return self.root / Path(*rel.parts)

    def evaluation(self, release: Release):
        """The release's rows and rule as a `negsamp.evaluator.Evaluation` (verified against the registry)."""
        if release.key not in self._evaluations:
            from negsamp.evaluator import Evaluation

            folder = self.folder(release)
            where = f"{self.root / REGISTRY_NAME}: release {release.label}"
            if not (folder / "manifest.json").is_file():
                raise InputError(f"{where}: {folder} is not a dataset folder (no manifest.json)")
            evaluation = Evaluation(folder, config=release.config)
            manifest = evaluation.manifest
            for what, theirs, ours in (("name", manifest.name, release.name),
                                       ("dataset_version", manifest.dataset_version, release.dataset_version),
                                       ("content_hash", manifest.content_hash, release.content_hash),
                                       ("model", evaluation.entry.model, release.model)):
                if theirs != ours:
                    raise InputError(f"{where}: the registry says {what} {ours!r}, the dataset folder {theirs!r}")
            self._evaluations[release.key] = evaluation
        return self._evaluations[release.key]


def add_release(root: str | Path, dataset_dir: str | Path, *, config: str | None = None,
                replace: bool = False) -> Release:
    """Copy a dataset folder into `ROOT/releases/<name>-<version>/` and register it; returns the release.

    The folder is verified first. A release with the same name and version but
    other content is refused unless `replace` (its submissions become stale:
    they name the old content hash and are rejected until re-submitted).
    """
    from negsamp.dataset import verify_dataset

    root, source = Path(root), Path(dataset_dir)
    manifest = verify_dataset(source, config=config)
    if config is None:
        names = manifest.config_names()
        if len(names) != 1:
            raise InputError(f"{source} has configs {names}: choose one")
        config = names[0]
    registry = Registry.load(root) if (root / REGISTRY_NAME).is_file() else Registry(root, [])
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{manifest.name}-{manifest.dataset_version}").strip("-.")
    release = Release(name=manifest.name, dataset_version=manifest.dataset_version,
                      content_hash=manifest.content_hash, config=config,
                      model=manifest.configs[config].model, path=f"{RELEASES_DIR}/{slug}")
    existing = [r for r in registry.releases if r.key == release.key]
    if existing and existing[0] == release and (registry.folder(release) / "manifest.json").is_file():
        verify_dataset(registry.folder(release), config=config)
        return release
    if existing and not replace:
        raise InputError(f"{root / REGISTRY_NAME} already has {release.label} [{config}] with content hash "
                         f"{existing[0].content_hash[:12]}…, this folder has {release.content_hash[:12]}…; "
                         "pass replace to overwrite it")
    target = registry.folder(release)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    verify_dataset(target, config=config)
    releases = [r for r in registry.releases if r.key != release.key and r.path != release.path] + [release]
    Registry(root, releases).save()
    return release


# --------------------------------------------------------------------------- reading a submission safely


MAX_INT = 2**53
"""Integers beyond this (in absolute value) are refused: no count or byte size is that large, and
larger ones would lose precision or overflow when averaged."""


class _BadNumber:
    """Stands in for a JSON number that is refused (NaN, Infinity, 1e999, 10**400), to report where it was."""

    def __init__(self, text: str, why: str) -> None:
        self.text = text if len(text) <= 40 else text[:20] + "…"
        self.why = why


def _parse_float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text, "is not a finite number")


def _parse_constant(text: str) -> _BadNumber:
    return _BadNumber(text, "is not a finite number (NaN and infinities are refused)")


def _parse_int(text: str) -> int | _BadNumber:
    if len(text) > 20:  # before int(): Python refuses to convert over 4300 digits, and it is slow
        return _BadNumber(text, f"is out of range (more than {MAX_INT})")
    value = int(text)
    return value if abs(value) <= MAX_INT else _BadNumber(text, f"is out of range (more than {MAX_INT})")


def _scan(data: Any, problems: _Collector) -> None:
    """Walk the parsed JSON (iteratively): non-finite numbers, over-long strings and keys."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, _BadNumber):
            problems.add(_path(loc), f"{value.text} {value.why}")
        elif isinstance(value, str):
            if len(value) > MAX_STRING:
                problems.add(_path(loc), f"text of {len(value)} characters, over the limit of {MAX_STRING}")
        elif isinstance(value, dict):
            for key in reversed(list(value)):
                if len(key) > MAX_STRING:
                    problems.add(_path(loc), f"a key of {len(key)} characters, over the limit of {MAX_STRING}")
                    continue
                stack.append((value[key], (*loc, key)))
        elif isinstance(value, list):
            for index in reversed(range(len(value))):
                stack.append((value[index], (*loc, index)))


def parse_submission(raw: bytes, source: str = "submission") -> Submission:
    """Bytes of a submission file -> `Submission`, or SubmissionRejected naming each bad field.

    Refuses: files over `MAX_SUBMISSION_BYTES`, non-UTF-8, invalid JSON, NaN and
    infinite numbers, strings over `MAX_STRING`, wrong JSON types (strict: no
    "1" for 1, no true for 1, no 1.0 for an integer), unknown fields.
    """
    problems = _Collector()
    if len(raw) > MAX_SUBMISSION_BYTES:
        problems.add("(file)", f"{len(raw)} bytes, over the limit of {MAX_SUBMISSION_BYTES}")
        problems.raise_if_any(source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        problems.add("(file)", f"not UTF-8 ({err.reason} at byte {err.start})")
        problems.raise_if_any(source)
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, parse_constant=_parse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except json.JSONDecodeError as err:
        problems.add("(file)", f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})")
        problems.raise_if_any(source)
    except RecursionError:
        problems.add("(file)", "JSON nested too deeply")
        problems.raise_if_any(source)
    if not isinstance(data, dict):
        problems.add("(file)", f"expected a JSON object, got {type(data).__name__}")
        problems.raise_if_any(source)
    _scan(data, problems)
    problems.raise_if_any(source)
    for loc in (("version",), ("report", "version")):
        value: Any = data
        for part in loc:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, bool):
            problems.add(_path(loc), "must be the integer 1, not a boolean")
    problems.raise_if_any(source)
    try:
        submission = Submission.model_validate(data, strict=True)
    except ValidationError as err:
        errors = err.errors(include_url=False, include_input=False)
        for error in errors:
            problems.add(_path(error["loc"]), error["msg"])
        problems.raise_if_any(source)
    _check_fields(submission, problems)
    problems.raise_if_any(source)
    return submission


def _single_line(problems: _Collector, where: str, value: str, limit: int) -> None:
    if len(value) > limit:
        problems.add(where, f"{len(value)} characters, over the limit of {limit}")
    elif _CONTROL_RE.search(value):
        problems.add(where, "contains control characters or line breaks")
    elif not value.strip():
        problems.add(where, "is blank")


def _check_fields(s: Submission, problems: _Collector) -> None:
    """What the schema alone does not say: lengths, one-line text, URL scheme, date, empty samples."""
    _single_line(problems, "name", s.name, 200)
    if s.paper_url is not None and not _URL_RE.fullmatch(s.paper_url):
        problems.add("paper_url", "must be an http:// or https:// URL without spaces, quotes or brackets")
    if not _DATE_RE.fullmatch(s.submitted):
        problems.add("submitted", f"{_show(s.submitted)} is not a date of the form YYYY-MM-DD")
    else:
        try:
            _dt.date.fromisoformat(s.submitted)
        except ValueError:
            problems.add("submitted", f"{_show(s.submitted)} is not a valid date")
    r = s.report
    _single_line(problems, "report.method", r.method, MAX_METHOD_SPEC)
    _single_line(problems, "report.model", r.model, MAX_MODEL)
    if r.samples:
        problems.add("report.samples", "must be empty: per-sample results are recomputed from `predictions`")
    if len(r.environment) > MAX_ENV_ENTRIES:
        problems.add("report.environment", f"{len(r.environment)} entries, over the limit of {MAX_ENV_ENTRIES}")
    for key, value in r.environment.items():
        if len(key) > MAX_ENV_TEXT or len(value) > MAX_ENV_TEXT:
            problems.add(f"report.environment.{_show(key, 40)}", f"over {MAX_ENV_TEXT} characters")
    if r.throughput is not None:
        if len(json.dumps(r.throughput, default=str)) > MAX_THROUGHPUT_JSON:
            problems.add("report.throughput", f"over {MAX_THROUGHPUT_JSON} characters of JSON")
        ratio = _throughput_value(r.throughput)
        if isinstance(ratio, str):
            problems.add(ratio, "must be a positive finite number (method / baseline tokens per second)")
    for index, p in enumerate(s.predictions):
        if len(p.sample_id) > MAX_SAMPLE_ID:
            problems.add(f"predictions[{index}].sample_id", f"over {MAX_SAMPLE_ID} characters")


def _throughput_value(throughput: dict) -> float | str | None:
    """The submitted throughput ratio (`ratio` or `throughput_ratio` key); the field path if it is bad."""
    for key in ("ratio", "throughput_ratio"):
        if key in throughput:
            value = throughput[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or value <= 0:
                return f"report.throughput.{key}"
            return float(value)
    return None


def read_submission(path: str | Path) -> Submission:
    """Read and parse a submission file with the caps of `parse_submission` (size checked before reading)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionRejected(str(path), [Problem("(file)", "no such file")])
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise SubmissionRejected(str(path), [Problem("(file)", f"{size} bytes, over the limit of "
                                                               f"{MAX_SUBMISSION_BYTES}")])
    with open(path, "rb") as handle:
        raw = handle.read(MAX_SUBMISSION_BYTES + 1)
    return parse_submission(raw, str(path))


# --------------------------------------------------------------------------- validation and re-scoring


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
    overall: GroupFigures
    by_category: list[GroupFigures]
    by_task: list[GroupFigures]
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
            **_figures_json(o), "throughput_ratio": self.throughput_ratio,
            "by_task": [{"group": g.group, **_figures_json(g)} for g in self.by_task],
            "by_category": [{"group": g.group, **_figures_json(g)} for g in self.by_category],
        }


def _desc(value: float | None) -> float:
    return -value if value is not None else math.inf


def _figures_json(g: GroupFigures) -> dict[str, Any]:
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


def _compare_groups(prefix: str, claimed: list[GroupFigures], recomputed: list[GroupFigures],
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
    overall, by_category, by_task = summarise(results)
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
        throughput_ratio=throughput if isinstance(throughput, float) else None, claims_checked=checked,
    )


# --------------------------------------------------------------------------- build


@dataclass
class Rejection:
    """A submission file that failed validation: never rendered, listed with its reasons."""

    file: str
    problems: list[Problem]
    more: int = 0

    @property
    def reason(self) -> str:
        text = "; ".join(str(p) for p in self.problems)
        return text + (f"; and {self.more} more problem(s)" if self.more else "")


@dataclass
class BuildResult:
    entries: list[ValidatedEntry]
    """Accepted submissions, in table order (release, then recovery, best first)."""
    rejected: list[Rejection]
    """Rejected submission files, by file name."""
    releases: list[Release]
    files: dict[str, str] = field(default_factory=dict)
    """Rendered files: path relative to the leaderboard folder -> content."""
    changed: list[str] = field(default_factory=list)
    """Files whose content on disk differs from the rendered content (before writing)."""


def collect(root: str | Path) -> tuple[Registry, list[ValidatedEntry], list[Rejection]]:
    """Validate every `ROOT/submissions/*.json`; accepted entries in table order and rejections."""
    root = Path(root)
    registry = Registry.load(root)
    for release in registry.releases:  # a broken release is the maintainers' error, not a rejection
        registry.evaluation(release)
    entries: list[ValidatedEntry] = []
    rejected: list[Rejection] = []
    folder = root / SUBMISSIONS_DIR
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in files:
        try:
            entries.append(validate_submission(path, registry))
        except SubmissionRejected as err:
            rejected.append(Rejection(path.name, err.problems, err.more))
        except InputError as err:
            if str(err).startswith(str(root / REGISTRY_NAME)):
                raise  # the release itself is broken: not the submitter's fault
            rejected.append(Rejection(path.name, [Problem("(file)", str(err))]))
        except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as err:
            # A case no check foresaw must not take the whole board down: reject that file alone.
            rejected.append(Rejection(path.name, [Problem("(file)", f"could not be validated "
                                                                    f"({type(err).__name__})")]))
    entries.sort(key=ValidatedEntry.sort_key)
    return registry, entries, rejected


def table_data(entries: list[ValidatedEntry], releases: list[Release]) -> dict[str, Any]:
    """The table as JSON-ready data (what `leaderboard.json` holds and the page embeds)."""
    ranks: dict[tuple, int] = {}
    rows = []
    for entry in entries:
        rank = ranks[entry.release.key] = ranks.get(entry.release.key, 0) + 1
        rows.append(entry.to_json(rank))
    return {
        "version": TABLE_VERSION,
        "releases": [r.model_dump(exclude={"path"}) | {"label": r.label} for r in releases],
        "entries": rows,
    }


def build_leaderboard(root: str | Path = "leaderboard", *, write: bool = True) -> BuildResult:
    """Validate every submission and render README.md, site/index.html and site/leaderboard.json.

    With `write=False` nothing is written; `changed` still lists the files that
    differ from what is on disk (for a "generated files are up to date" check).
    """
    from negsamp.runs import atomic_write_text

    root = Path(root)
    registry, entries, rejected = collect(root)
    data = table_data(entries, registry.releases)
    files = {
        README_NAME: render_markdown(entries, registry.releases, rejected),
        f"{SITE_DIR}/{INDEX_NAME}": render_html(data),
        f"{SITE_DIR}/{DATA_NAME}": table_json(data),
    }
    changed = []
    for rel, text in files.items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            changed.append(rel)
            if write:
                atomic_write_text(path, text)
                path.chmod(0o644)
    return BuildResult(entries, rejected, registry.releases, files, changed)


# --------------------------------------------------------------------------- rendering: formats


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _count(recovered: int, total: int, rate: float | None) -> str:
    return "—" if rate is None else f"{_pct(rate)} ({recovered}/{total})"


_MD_SPECIAL = set("\\`*_[]|~")


def md_text(text: str) -> str:
    """Submitted text as inert inline Markdown: `&<>"` as entities; `\\ ` * _ [ ] | ~` backslash-escaped.

    Enough for inline text in a table cell or after a heading marker: no link, image, emphasis,
    code span, HTML or cell break can start. Line breaks and control characters become spaces.
    """
    text = _CONTROL_RE.sub(" ", text)
    out = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _md_url(url: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in "()[]<>|'\"` \\" else c for c in url)


def table_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- rendering: Markdown


def render_markdown(entries: list[ValidatedEntry], releases: list[Release],
                    rejected: list[Rejection] | None = None) -> str:
    """`README.md`: per release, the table sorted by negatives recovered; rejected files with reasons.

    The header makes the folder a Hugging Face Space card (Gradio, app.py).
    """
    lines = [
        "---",
        "title: negsamp leaderboard",
        "sdk: gradio",
        "app_file: app.py",
        "pinned: false",
        "license: apache-2.0",
        "---",
        "",
        "<!-- Generated by `negsamp leaderboard build` from submissions/ and releases.json: do not edit. -->",
        "",
        "# negsamp leaderboard",
        "",
        "Does a KV-cache compression method fix the samples that known methods break, and at what "
        "real compression and cost? Each release is a negative-sample dataset: its `negative` split holds "
        "samples the mined methods broke, its `control` split samples none of them broke.",
        "",
        "- **Negatives recovered**: negatives where the method's score `o` beats the baseline's `b` "
        "by the release's rule, `b * (1 - t) < o`. **Control retention**: control samples that stay good "
        "by the same test.",
        "- Both are **recomputed** here from the submitted predictions and the release's rows; a submission "
        "whose claimed figures disagree with the recomputation is rejected.",
        "- **KV kept** (KV bytes after prefill / the baseline's, mean over samples) and **throughput ratio** "
        "(method / baseline) are the submitter's own measurements and are not re-checked. **Output length "
        "ratio** is the submitted output tokens over the baseline's.",
        "- Interactive table: `site/index.html` (opens offline) or the Space's `app.py`.",
        "",
    ]
    if not releases:
        lines += ["No release is registered yet.", ""]
    for release in releases:
        rows = [e for e in entries if e.release.key == release.key]
        lines += [
            f"## {md_text(release.label)} — config {md_text(release.config)}",
            "",
            f"Model {md_text(release.model)}; content hash {md_text(release.content_hash)}.",
            "",
        ]
        if not rows:
            lines += ["No accepted submission yet.", ""]
            continue
        lines += [
            "| # | method | spec | model | negatives recovered | control retention | KV kept "
            "| output length ratio | throughput ratio | date |",
            "|---:|---|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for rank, e in enumerate(rows, start=1):
            o = e.overall
            name = md_text(e.name)
            if e.paper_url:
                name = f"[{name}]({_md_url(e.paper_url)})"
            lines.append(
                f"| {rank} | {name} | {md_text(e.method)} | {md_text(e.model)} "
                f"| {_count(o.recovered, o.negatives, o.recovery_rate)} "
                f"| {_count(o.control_retained, o.control, o.control_retention)} | {_pct(o.kv_kept)} "
                f"| {_ratio(o.output_length_ratio)} | {_ratio(e.throughput_ratio)} | {md_text(e.submitted)} |"
            )
        lines.append("")
    if rejected:
        lines += ["## Rejected submissions", "",
                  "Not ranked until fixed (`negsamp leaderboard validate FILE` tells the same):", ""]
        for item in rejected:
            lines.append(f"- {md_text(item.file)}: {md_text(item.reason[:2000])}")
        lines.append("")
    lines += [
        "## Submitting",
        "",
        "1. Evaluate on a release: `negsamp evaluate --dataset DATASET --method SPEC --out OUT "
        "--submission leaderboard/submissions/NAME.json --name \"Display name\" --paper-url URL` "
        "(or `--predictions FILE` for predictions made with another framework).",
        "2. Check it: `negsamp leaderboard validate leaderboard/submissions/NAME.json`.",
        "3. Re-render: `negsamp leaderboard build`, and open a pull request with the three files.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- rendering: HTML

_COLUMNS = [
    # key, label, kind ("num" or "text"), title
    ("rank", "#", "num", "Rank by negatives recovered within the release"),
    ("name", "Method", "text", "Display name; links to the paper or code"),
    ("method", "Spec", "text", "Method spec as submitted"),
    ("model", "Model", "text", "Model the predictions came from"),
    ("release", "Dataset", "text", "Release (name and version) the method was scored on"),
    ("recovery_rate", "Negatives recovered", "num", "Negatives with b·(1−t) < o, recomputed"),
    ("control_retention", "Control retention", "num", "Control samples still good, recomputed"),
    ("kv_kept", "KV kept", "num", "KV bytes after prefill / baseline's (submitter's measurement)"),
    ("output_length_ratio", "Output length ratio", "num", "Output tokens / baseline's (submitted tokens)"),
    ("throughput_ratio", "Throughput ratio", "num", "Method / baseline throughput (submitter's measurement)"),
    ("submitted", "Date", "text", "Date of submission"),
]

_CSS = """
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa;
  --accent: #0b5cad; --good: #1a7f37; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); margin: 0; padding: 24px 32px; line-height: 1.45; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
p.lead { color: var(--muted); margin: 0 0 16px; max-width: 70rem; }
.controls { display: flex; gap: 12px; align-items: center; margin: 12px 0; flex-wrap: wrap; }
.controls input { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px;
  min-width: 18rem; }
#count { color: var(--muted); }
.scroll { overflow-x: auto; }
table.board { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
table.board th, table.board td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
table.board thead th { background: var(--head); vertical-align: bottom; }
table.board th.num, table.board td.num { text-align: right; font-variant-numeric: tabular-nums; }
th button.sort { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer;
  color: inherit; text-align: inherit; }
th button.sort::after { content: " \\2195"; color: #8c959f; }
th[aria-sort="ascending"] button.sort::after { content: " \\2191"; color: var(--accent); }
th[aria-sort="descending"] button.sort::after { content: " \\2193"; color: var(--accent); }
td.name a { color: var(--accent); }
td.name { min-width: 11rem; max-width: 24rem; overflow-wrap: anywhere; font-weight: 600; }
td.spec { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85rem;
  min-width: 11rem; max-width: 20rem; overflow-wrap: anywhere; }
td.model, td.release { min-width: 7rem; max-width: 16rem; overflow-wrap: anywhere; }
td.date { white-space: nowrap; }
.sub { color: var(--muted); font-size: 0.8rem; font-weight: normal; }
button.toggle { font: inherit; font-size: 0.8rem; padding: 2px 8px; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; cursor: pointer; white-space: nowrap; }
tr.detail > td { background: #fbfcfd; padding: 8px 16px 14px; }
table.tasks { border-collapse: collapse; font-size: 0.85rem; }
table.tasks th, table.tasks td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; }
table.tasks th:first-child, table.tasks td:first-child { text-align: left; }
.notes { color: var(--muted); font-size: 0.85rem; max-width: 70rem; margin-top: 20px; }
.empty { color: var(--muted); padding: 16px 0; }
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("leaderboard-data").textContent);
  var entries = data.entries;
  var body = document.getElementById("board-body");
  var filter = document.getElementById("filter");
  var count = document.getElementById("count");
  var state = { key: null, dir: 1 };

  function rowOf(i) { return document.getElementById("row-" + i); }
  function detailOf(i) { return document.getElementById("detail-" + i); }

  function compare(a, b) {
    var x = entries[a][state.key], y = entries[b][state.key];
    var xn = x === null || x === undefined, yn = y === null || y === undefined;
    if (xn || yn) { return xn && yn ? a - b : (xn ? 1 : -1); }
    var c;
    if (typeof x === "string") { c = x < y ? -1 : (x > y ? 1 : 0); } else { c = x - y; }
    return c !== 0 ? c * state.dir : a - b;
  }

  function sortBy(key) {
    if (state.key === key) { state.dir = -state.dir; } else { state.key = key; state.dir = 1; }
    var order = entries.map(function (_, i) { return i; }).sort(compare);
    order.forEach(function (i) { body.appendChild(rowOf(i)); body.appendChild(detailOf(i)); });
    document.querySelectorAll("th[data-key]").forEach(function (th) {
      var on = th.getAttribute("data-key") === key;
      th.setAttribute("aria-sort", on ? (state.dir > 0 ? "ascending" : "descending") : "none");
    });
  }

  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    entries.forEach(function (e, i) {
      var hay = [e.name, e.method, e.model, e.release, e.source].join("\\n").toLowerCase();
      var ok = q === "" || hay.indexOf(q) !== -1;
      rowOf(i).hidden = !ok;
      var toggle = rowOf(i).querySelector("button.toggle");
      detailOf(i).hidden = !ok || toggle.getAttribute("aria-expanded") !== "true";
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + entries.length + " shown";
  }

  document.querySelectorAll("th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th.getAttribute("data-key")); });
  });
  document.querySelectorAll("button.toggle").forEach(function (button) {
    button.addEventListener("click", function () {
      var i = button.getAttribute("data-i");
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? "Hide tasks" : "Per task";
      detailOf(i).hidden = !open || rowOf(i).hidden;
    });
  });
  filter.addEventListener("input", applyFilter);
  applyFilter();
})();
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` left to end or confuse it."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _cell(key: str, entry: dict[str, Any]) -> str:
    value = entry.get(key)
    if key == "name":
        name = _e(entry["name"])
        if entry.get("paper_url"):
            name = f'<a href="{_e(entry["paper_url"])}" rel="noopener noreferrer nofollow">{name}</a>'
        source = "" if entry["source"] == "method" else '<div class="sub">predictions made elsewhere</div>'
        return f'<td class="name">{name}{source}</td>'
    if key == "recovery_rate":
        return (f'<td class="num">{_pct(value)}<div class="sub">{entry["recovered"]}/{entry["negatives"]}'
                "</div></td>")
    if key == "control_retention":
        return (f'<td class="num">{_pct(value)}<div class="sub">{entry["control_retained"]}/{entry["control"]}'
                "</div></td>")
    if key == "kv_kept":
        return f'<td class="num">{_pct(value)}</td>'
    if key in ("output_length_ratio", "throughput_ratio"):
        return f'<td class="num">{_ratio(value)}</td>'
    if key == "rank":
        return f'<td class="num">{int(value)}</td>'
    css = {"method": "spec", "model": "model", "release": "release", "submitted": "date"}.get(key, "")
    return f'<td class="{css}">{_e(value)}</td>' if css else f"<td>{_e(value)}</td>"


def _task_table(entry: dict[str, Any]) -> str:
    head = ("<tr><th>Task</th><th>Negatives recovered</th><th>Control retention</th><th>Relative score</th>"
            "<th>KV kept</th><th>Output length ratio</th></tr>")
    rows = []
    for g in entry["by_task"]:
        rows.append(
            f"<tr><td>{_e(g['group'])}</td><td>{_count(g['recovered'], g['negatives'], g['recovery_rate'])}</td>"
            f"<td>{_count(g['control_retained'], g['control'], g['control_retention'])}</td>"
            f"<td>{_ratio(g['relative_score'])}</td><td>{_pct(g['kv_kept'])}</td>"
            f"<td>{_ratio(g['output_length_ratio'])}</td></tr>"
        )
    return f'<table class="tasks"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def render_html(data: dict[str, Any]) -> str:
    """`site/index.html` from `table_data(...)`: static, offline, no external resource, all text escaped."""
    entries = data["entries"]
    heads = []
    for key, label, kind, title in _COLUMNS:
        heads.append(f'<th scope="col" class="{kind}" data-key="{key}" aria-sort="none" title="{_e(title)}">'
                     f'<button type="button" class="sort">{_e(label)}</button></th>')
    heads.append('<th scope="col">Breakdown</th>')
    span = len(_COLUMNS) + 1
    rows = []
    for i, entry in enumerate(entries):
        cells = "".join(_cell(key, entry) for key, *_ in _COLUMNS)
        toggle = (f'<td><button type="button" class="toggle" data-i="{i}" aria-expanded="false" '
                  f'aria-controls="detail-{i}">Per task</button></td>')
        rows.append(f'<tr id="row-{i}" class="entry" data-id="{_e(entry["id"])}">{cells}{toggle}</tr>')
        rows.append(f'<tr id="detail-{i}" class="detail" hidden><td colspan="{span}">{_task_table(entry)}'
                    "</td></tr>")
    releases = "; ".join(
        f'{_e(r["label"])} (config {_e(r["config"])}, model {_e(r["model"])}, hash {_e(r["content_hash"][:12])})'
        for r in data["releases"]
    ) or "none registered"
    empty = "" if entries else '<p class="empty">No accepted submission yet.</p>'
    css, js = _CSS, _JS
    csp = (f"default-src 'none'; script-src '{_csp_hash(js)}'; style-src '{_csp_hash(css)}'; "
           "img-src 'none'; base-uri 'none'; form-action 'none'")
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        "<title>negsamp leaderboard</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        "<h1>negsamp leaderboard</h1>",
        '<p class="lead">Does a KV-cache compression method fix the samples that known methods break, and at '
        "what cost? Negatives recovered and control retention are recomputed from each submission's "
        "predictions with the release's rule (<code>b·(1−t) &lt; o</code>). Click a column to sort; "
        "<q>Per task</q> opens the breakdown.</p>",
        '<div class="controls"><label>Filter <input id="filter" type="search" '
        'placeholder="method, spec, model or dataset" autocomplete="off"></label>'
        '<span id="count" aria-live="polite"></span></div>',
        '<div class="scroll"><table class="board" id="board">',
        f"<thead><tr>{''.join(heads)}</tr></thead>",
        f'<tbody id="board-body">{"".join(rows)}</tbody>',
        "</table></div>",
        empty,
        f'<p class="notes">Releases: {releases}. KV kept (KV bytes after prefill relative to the baseline\'s) '
        "and the throughput ratio are the submitters' own measurements and are not re-checked; the output "
        "length ratio uses the submitted output tokens. Generated by <code>negsamp leaderboard build</code>."
        "</p>",
        f'<script type="application/json" id="leaderboard-data">{_script_json(data)}</script>',
        f"<script>{js}</script>",
        "</body>",
        "</html>",
        "",
    ])
