"""Resumable, append-only run store: one row per (sample, model, method).

Layout under a runs folder::

    RUNS_DIR/
      <model>__<method-key>/
        manifest.json       model, method, generation config, versions, sample-set hash
        predictions.jsonl   one `Prediction` per line, appended as samples finish
      samples/
        <sample-set-hash>.jsonl   the samples a run was asked for, one `Sample` per line

Predictions hold no answers; the samples files do, so `negsamp score RUNS_DIR`
can score a store without regenerating prompts. A samples file is named by the
hash of its content's ids and written atomically, so two runs asking for the
same set write the same bytes and never clash.

Why JSONL and not parquet: a row is appended and fsync'ed as soon as its batch
finishes, so a run killed at any point (kill -9 included) loses at most the
batch in flight. On reopening, a torn last line (the remains of a killed write)
is cut off; every complete line is kept, and the run continues with the samples
that have no row yet. Every sample therefore ends up exactly once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from negsamp.atomic import atomic_write_text
from negsamp.errors import InputError
from negsamp.formats import first_error, slug
from negsamp.records import Prediction, Sample, content_id

MANIFEST_VERSION = 1


def sample_set_hash(samples: Iterable[Sample]) -> str:
    """Hash over the sample ids in order: names the exact sample set a run was asked for."""
    return content_id([s.sample_id for s in samples], length=32)


def run_key(model: str, method_spec: str) -> str:
    """Folder name of a run: readable, plus a hash so two specs never collide after slugging."""
    model_part = run_slug(Path(model).name if os.sep in model else model)
    return f"{model_part}__{run_slug(method_spec)}__{content_id(model, method_spec, length=8)}"


def run_slug(text: str) -> str:
    """The readable part of a run key: letters, digits and `._=+-`, case kept (older stores keep resuming)."""
    return slug(text, limit=80, keep="._=+-", sep="_", lower=False)


@dataclass
class Run:
    """One (model, method) run in a store."""

    directory: Path
    model: str
    method: str

    @property
    def predictions_path(self) -> Path:
        return self.directory / "predictions.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def manifest(self) -> dict | None:
        if not self.manifest_path.exists():
            return None
        return read_run_manifest(self.manifest_path)

    def write_manifest(self, **fields: object) -> None:
        manifest = {"version": MANIFEST_VERSION, "model": self.model, "method": self.method, **fields}
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    def _repair_torn_tail(self) -> None:
        """Cut a last line that has no newline: a write killed half-way."""
        path = self.predictions_path
        if not path.exists():
            return
        data = path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())

    def predictions(self) -> list[Prediction]:
        """Every stored prediction, in the order written. Refuses duplicate sample ids."""
        self._repair_torn_tail()
        path = self.predictions_path
        if not path.exists():
            return []
        rows: list[Prediction] = []
        seen: set[str] = set()
        with open(path, "rb") as handle:
            for line_no, line in enumerate(handle, start=1):
                try:
                    row = Prediction.model_validate_json(line.decode("utf-8"))
                except UnicodeDecodeError as err:
                    raise InputError(f"{path}, line {line_no}: not valid UTF-8 (byte {err.start + 1} of the line); "
                                     "`negsamp runs repair` drops it") from None
                except ValidationError as err:
                    raise InputError(f"{path}, line {line_no}: {first_error(err)}") from None
                if row.sample_id in seen:
                    raise InputError(f"{path}, line {line_no}: sample {row.sample_id} appears twice "
                                     "(two writers?); `negsamp runs repair` keeps the first")
                if row.model != self.model or row.method != self.method:
                    raise InputError(
                        f"{path}, line {line_no}: row is for model {row.model!r} method {row.method!r}, "
                        f"but this run is {self.model!r} / {self.method!r}"
                    )
                seen.add(row.sample_id)
                rows.append(row)
        return rows

    def done_ids(self) -> set[str]:
        return {p.sample_id for p in self.predictions()}

    def append(self, predictions: Iterable[Prediction]) -> None:
        """Append rows and make them durable before returning."""
        lines = "".join(p.model_dump_json() + "\n" for p in predictions)
        if not lines:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.predictions_path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())


class RunStore:
    """A folder of runs. Opening a run never loads a model."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def samples_path(self, set_hash: str) -> Path:
        return self.root / "samples" / f"{set_hash}.jsonl"

    def record_samples(self, samples: Sequence[Sample]) -> Path:
        """Keep the sample set a run was asked for (once per set), so the store can be scored later."""
        path = self.samples_path(sample_set_hash(samples))
        if not path.exists():
            atomic_write_text(path, "".join(s.model_dump_json() + "\n" for s in samples))
        return path

    def recorded_samples(self, run: Run) -> dict[str, Sample]:
        """Every sample recorded for `run`'s sample sets, by id."""
        hashes = (run.manifest() or {}).get("sample_set_hashes", [])
        found: dict[str, Sample] = {}
        for set_hash in hashes:
            path = self.samples_path(set_hash)
            if not path.exists():
                continue
            for line_no, line in enumerate(path.read_bytes().splitlines(), start=1):
                try:
                    sample = Sample.model_validate_json(line.decode("utf-8"))
                except UnicodeDecodeError as err:
                    raise InputError(f"{path}, line {line_no}: not valid UTF-8 (byte {err.start + 1})") from None
                except ValidationError as err:
                    raise InputError(f"{path}, line {line_no}: not a sample ({first_error(err)})") from None
                found[sample.sample_id] = sample
        if not found:
            raise InputError(f"{run.directory}: its samples were not recorded (a run store written before "
                             "negsamp recorded them); run the same `negsamp run`/`build` command again to "
                             "record them (finished runs generate nothing)")
        return found

    def run(self, model: str, method_spec: str) -> Run:
        return Run(self.root / run_key(model, method_spec), model, method_spec)

    def runs(self) -> list[Run]:
        found = []
        for manifest in sorted(self.root.glob("*/manifest.json")):
            data = read_run_manifest(manifest)
            for key in ("model", "method"):
                if not isinstance(data.get(key), str):
                    raise InputError(f"{manifest}: field {key!r} missing or not a string")
            found.append(Run(manifest.parent, data["model"], data["method"]))
        return found


def read_run_manifest(path: Path) -> dict:
    """A run's manifest.json as a dict, or one InputError line (not UTF-8, not JSON, not an object)."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 (byte {err.start})") from None
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise InputError(f"{path}: not valid JSON ({type(err).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def find_runs(path: str | os.PathLike) -> tuple[RunStore, list[Run]]:
    """The store and runs that `path` names: a run store, one run folder, or a run's predictions.jsonl."""
    path = Path(path)
    if path.is_file() and path.name == "predictions.jsonl":
        path = path.parent
    if (path / "manifest.json").is_file():
        store = RunStore(path.parent)
        data = Run(path, "", "").manifest() or {}
        return store, [Run(path, data.get("model", ""), data.get("method", ""))]
    if not path.exists():
        raise InputError(f"{path}: no such run store, run folder or predictions file")
    runs = RunStore(path).runs()
    if not runs:
        raise InputError(f"{path}: not a run store (no <run>/manifest.json inside)")
    return RunStore(path), runs
