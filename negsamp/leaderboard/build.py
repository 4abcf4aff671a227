"""Building the leaderboard folder: validate every submission, render and write the three outputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from negsamp.errors import InputError
from negsamp.formats import slug
from negsamp.leaderboard.names import skeleton
from negsamp.leaderboard.page import render_html
from negsamp.leaderboard.problems import Problem, Rejection, SubmissionRejected
from negsamp.leaderboard.registry import REGISTRY_NAME, Registry, Release
from negsamp.leaderboard.render import chart_title, render_markdown, table_data, table_json
from negsamp.leaderboard.validate import ValidatedEntry, validate_submission
from negsamp.leaderboard.verify import load_verification

SUBMISSIONS_DIR = "submissions"
README_NAME = "README.md"
SITE_DIR = "site"
INDEX_NAME = "index.html"
DATA_NAME = "leaderboard.json"
CHARTS_DIR = "charts"
"""`ROOT/charts/<release>-<config>.png`: each release's score-vs-KV-kept chart, shown by README.md."""


@dataclass
class BuildResult:
    entries: list[ValidatedEntry]
    """Accepted submissions, in table order (release, then recovery, best first)."""
    rejected: list[Rejection]
    """Rejected submission files, by file name."""
    releases: list[Release]
    files: dict[str, str | bytes] = field(default_factory=dict)
    """Rendered files: path relative to the leaderboard folder -> content (text, or bytes for a PNG)."""
    changed: list[str] = field(default_factory=list)
    """Files whose content on disk differs from the rendered content (before writing), and stale charts
    (charts of releases that no longer have one), which are deleted."""


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
    entries, duplicates = refuse_duplicates(entries)
    entries = [_with_verification(root, e) for e in entries]
    rejected = sorted(rejected + duplicates, key=lambda r: r.file)
    entries.sort(key=ValidatedEntry.sort_key)
    return registry, entries, rejected


def _with_verification(root: Path, entry: ValidatedEntry) -> ValidatedEntry:
    """The entry marked verified, with our KV measurement, when `ROOT/verified/<id>.json` still applies."""
    record = load_verification(root, entry.id, root / SUBMISSIONS_DIR / f"{entry.id}.json",
                               entry.release.content_hash)
    if record is None:
        return entry
    return dataclasses.replace(entry, verified=True, kv_kept_measured=record.kv_kept)


def refuse_duplicates(entries: list[ValidatedEntry]) -> tuple[list[ValidatedEntry], list[Rejection]]:
    """Keep the first entry (by file name) of each look-alike name and of each set of identical predictions
    on a release; the later ones are rejected, naming the earlier file.

    File order is the only order not chosen by the submitter's own claims (the date is self-declared).
    """
    kept: list[ValidatedEntry] = []
    rejected: list[Rejection] = []
    names: dict[tuple, ValidatedEntry] = {}
    digests: dict[tuple, ValidatedEntry] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        name_key, digest_key = (entry.release.key, skeleton(entry.name)), (entry.release.key, entry.predictions_digest)
        if name_key in names:
            other = names[name_key]
            rejected.append(Rejection(f"{entry.id}.json", [Problem("name", f"{entry.name!r} looks the same as "
                                                                             f"{other.name!r} ({other.id}.json)")]))
        elif digest_key in digests:
            other = digests[digest_key]
            rejected.append(Rejection(f"{entry.id}.json", [Problem("predictions", "identical to the predictions "
                                                                                  f"of {other.id}.json")]))
        else:
            names[name_key], digests[digest_key] = entry, entry
            kept.append(entry)
    return kept, rejected


def chart_name(release: Release) -> str:
    """`charts/<slug of name-version-config>.png` (a config such as `meta-llama-3-8b-instruct` is one)."""
    return f"{CHARTS_DIR}/{slug(f'{release.name}-{release.dataset_version}-{release.config}', limit=160)}.png"


def release_details(registry: Registry, release: Release, entries: list[ValidatedEntry]) -> dict[str, Any]:
    """What the board says about a release beyond the registry: sample counts, tasks, whether it ships
    scores only (prompts rebuilt per evaluating model, no predictions), and its chart (None without rows)."""
    evaluation = registry.evaluation(release)
    rows = [row for _, row in evaluation.all_rows()]
    plotted = any(e.release.key == release.key and e.kv_kept_shown is not None for e in entries)
    return {
        "negatives": len(evaluation.rows["negative"]), "control": len(evaluation.rows["control"]),
        "tasks": sorted({row.task for row in rows}), "scores_only": evaluation.rebuild_prompts,
        "chart": chart_name(release) if plotted else None,
    }


def render_files(registry: Registry, entries: list[ValidatedEntry], rejected: list[Rejection]) -> dict:
    """Every generated file, path relative to the leaderboard folder -> text or bytes."""
    from negsamp.leaderboard.chart import release_entries
    from negsamp.leaderboard.chart_png import render_png

    details = {r.key: release_details(registry, r, entries) for r in registry.releases}
    data = table_data(entries, registry.releases, details)
    files: dict[str, str | bytes] = {
        README_NAME: render_markdown(entries, registry.releases, rejected, details),
        f"{SITE_DIR}/{INDEX_NAME}": render_html(data),
        f"{SITE_DIR}/{DATA_NAME}": table_json(data),
    }
    for release in data["releases"]:
        if release["chart"]:
            files[release["chart"]] = render_png(release_entries(data, release), chart_title(release["label"]))
    return files


def build_leaderboard(root: str | Path = "leaderboard", *, write: bool = True) -> BuildResult:
    """Validate every submission and render README.md, site/index.html, site/leaderboard.json and
    charts/*.png.

    With `write=False` nothing is written; `changed` still lists the files that
    differ from what is on disk (for a "generated files are up to date" check).
    """
    from negsamp.atomic import atomic_write_bytes

    root = Path(root)
    registry, entries, rejected = collect(root)
    files = render_files(registry, entries, rejected)
    changed = []
    for rel, content in files.items():
        raw = content.encode("utf-8") if isinstance(content, str) else content
        path = root / rel
        if not path.is_file() or path.read_bytes() != raw:
            changed.append(rel)
            if write:
                atomic_write_bytes(path, raw)
                path.chmod(0o644)
    charts = root / CHARTS_DIR
    stale = sorted(f"{CHARTS_DIR}/{p.name}" for p in charts.glob("*.png")) if charts.is_dir() else []
    for rel in [s for s in stale if s not in files]:
        changed.append(rel)
        if write:
            (root / rel).unlink()
    return BuildResult(entries, rejected, registry.releases, files, changed)


# --------------------------------------------------------------------------- rendering: formats
