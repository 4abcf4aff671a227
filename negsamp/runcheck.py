"""`negsamp runs check|repair`: find and fix what a crash or two writers left in a run store.

`check` reads every run's predictions line by line and reports, per run: torn
last line, lines that are not UTF-8 / JSON / a `Prediction`, rows of another
model or method, and duplicate sample ids (identical or conflicting). `repair`
takes each run's lock (`negsamp.runlock`), keeps the first valid row of each
sample and rewrites the file atomically; a dropped sample is generated again
by the next `negsamp run`, so nothing is lost that a re-run cannot restore.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from negsamp.errors import InputError
from negsamp.records import Prediction
from negsamp.runs import Run, RunStore


@dataclass
class RunHealth:
    """What `check` found in one run."""

    run: Run
    rows: int = 0
    """Valid rows kept (one per sample)."""
    torn_tail: bool = False
    bad_lines: list[str] = field(default_factory=list)
    """`line N: problem` for each unreadable or foreign line."""
    duplicates: int = 0
    """Extra rows of a sample already seen, identical to the first."""
    conflicts: int = 0
    """Extra rows of a sample already seen, with other content."""
    kept: list[str] = field(default_factory=list)
    """The kept lines, in file order (what `repair` writes)."""

    @property
    def healthy(self) -> bool:
        return not (self.torn_tail or self.bad_lines or self.duplicates or self.conflicts)

    def summary(self) -> str:
        name = self.run.directory.name
        if self.healthy:
            return f"ok       {name}: {self.rows} rows"
        parts = [f"{self.rows} good rows"]
        parts += ["a torn last line"] if self.torn_tail else []
        parts += [f"{len(self.bad_lines)} bad line(s) ({self.bad_lines[0]})"] if self.bad_lines else []
        parts += [f"{self.duplicates} duplicate row(s)"] if self.duplicates else []
        parts += [f"{self.conflicts} conflicting duplicate(s) (first kept)"] if self.conflicts else []
        return f"PROBLEM  {name}: " + ", ".join(parts)


def _line_problem(run: Run, raw: bytes) -> tuple[Prediction | None, str]:
    try:
        row = Prediction.model_validate_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        return None, f"not a prediction ({first['msg']})"
    if row.model != run.model or row.method != run.method:
        return None, f"row of model {row.model!r} method {row.method!r}"
    return row, ""


def check_run(run: Run) -> RunHealth:
    """Read a run's predictions without changing anything."""
    health = RunHealth(run)
    path = run.predictions_path
    data = path.read_bytes() if path.is_file() else b""
    lines = data.split(b"\n")
    if lines and lines[-1]:
        health.torn_tail = True
    seen: dict[str, str] = {}
    for number, raw in enumerate(lines[:-1], start=1):
        if not raw.strip():
            continue
        row, problem = _line_problem(run, raw)
        if row is None:
            health.bad_lines.append(f"line {number}: {problem}")
            continue
        text = raw.decode("utf-8")
        if row.sample_id in seen:
            if seen[row.sample_id] == text:
                health.duplicates += 1
            else:
                health.conflicts += 1
            continue
        seen[row.sample_id] = text
        health.kept.append(text)
    health.rows = len(health.kept)
    return health


def check_store(root: str | os.PathLike) -> list[RunHealth]:
    """`check_run` for every run of the store."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such run store")
    return [check_run(run) for run in RunStore(root).runs()]


def repair_store(root: str | os.PathLike) -> list[RunHealth]:
    """Rewrite every unhealthy run with its first valid row per sample, under the run's lock."""
    from negsamp.atomic import atomic_write_text
    from negsamp.runlock import run_lock

    results = []
    for health in check_store(root):
        if not health.healthy:
            with run_lock(health.run.directory):
                health = check_run(health.run)  # re-read under the lock: no writer can add rows now
                atomic_write_text(health.run.predictions_path, "".join(line + "\n" for line in health.kept))
        results.append(health)
    return results
