"""Building the leaderboard folder: validate every submission, render and write the three outputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from negsamp.errors import InputError
from negsamp.leaderboard.names import skeleton
from negsamp.leaderboard.page import render_html
from negsamp.leaderboard.problems import Problem, Rejection, SubmissionRejected
from negsamp.leaderboard.registry import REGISTRY_NAME, Registry, Release
from negsamp.leaderboard.render import render_markdown, table_data, table_json
from negsamp.leaderboard.validate import ValidatedEntry, validate_submission
from negsamp.leaderboard.verify import load_verification

SUBMISSIONS_DIR = "submissions"
README_NAME = "README.md"
SITE_DIR = "site"
INDEX_NAME = "index.html"
DATA_NAME = "leaderboard.json"


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


def build_leaderboard(root: str | Path = "leaderboard", *, write: bool = True) -> BuildResult:
    """Validate every submission and render README.md, site/index.html and site/leaderboard.json.

    With `write=False` nothing is written; `changed` still lists the files that
    differ from what is on disk (for a "generated files are up to date" check).
    """
    from negsamp.atomic import atomic_write_text

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
