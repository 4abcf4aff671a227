"""Measured throughput points: read from the paper's CSVs or from our throughput.json.

A point is one measurement: `method, bsz, prompt_len, stage, thr` with `stage` `prefill`
(prompt tokens per second over the batch) or `decoding` (generated tokens per second, one
per sequence per step, at a KV length of `prompt_len`), the paper's format. Repeated
measurements of the same key are kept as separate points: they carry the run-to-run spread.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from negsamp.errors import InputError

STAGES = ("prefill", "decoding")


@dataclass(frozen=True)
class Point:
    method: str
    bsz: int
    prompt_len: int
    stage: str
    thr: float = float("nan")
    model: str = ""

    @property
    def seconds(self) -> float:
        """Time of one batch: the prefill forward, or one decode step."""
        tokens = self.bsz * self.prompt_len if self.stage == "prefill" else self.bsz
        return tokens / self.thr


def _int(path: Path, row: int, field: str, value: str | None) -> int:
    try:
        number = int(float(value or ""))
    except ValueError:
        raise InputError(f"{path}, row {row}: field {field!r}: {value!r} is not a number") from None
    if number < 1:
        raise InputError(f"{path}, row {row}: field {field!r}: must be at least 1, got {number}")
    return number


def check_width(path: Path, row: int, record: dict) -> None:
    """csv puts surplus fields under the key None: most often an unquoted spec like kivi:bits=2,group=32."""
    if record.get(None):
        raise InputError(f"{path}, row {row}: more fields than the header ({record[None]!r} left over); "
                         "quote method specs that contain commas, e.g. \"kivi:bits=2,group=32\"")


def _row(path: Path, row: int, record: dict, need_thr: bool) -> Point:
    check_width(path, row, record)
    for field in ("method", "bsz", "prompt_len", "stage") + (("thr",) if need_thr else ()):
        if not (record.get(field) or "").strip():
            raise InputError(f"{path}, row {row}: field {field!r} is missing or empty")
    stage = record["stage"].strip()
    if stage not in STAGES:
        raise InputError(f"{path}, row {row}: field 'stage': {stage!r} is not prefill or decoding")
    thr = float("nan")
    if need_thr:
        try:
            thr = float(record["thr"])
        except ValueError:
            raise InputError(f"{path}, row {row}: field 'thr': {record['thr']!r} is not a number") from None
        if not thr > 0:
            raise InputError(f"{path}, row {row}: field 'thr': must be positive, got {thr}")
    return Point(method=record["method"].strip(), bsz=_int(path, row, "bsz", record["bsz"]),
                 prompt_len=_int(path, row, "prompt_len", record["prompt_len"]), stage=stage, thr=thr,
                 model=(record.get("model") or "").strip())


def csv_records(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header, as dicts; an unreadable file is one line."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None


def read_csv(path: str | Path, *, need_thr: bool = True) -> list[Point]:
    """Points from a CSV with columns `method,bsz,prompt_len,stage[,thr][,model]` (row 1 = first data row)."""
    path = Path(path)
    records = csv_records(path)
    points = [_row(path, i, rec, need_thr) for i, rec in enumerate(records, start=1)]
    if not points:
        raise InputError(f"{path}: no rows")
    return points


def _narrow_report(path: Path) -> dict:
    """The few fields we use, from the raw JSON: older (or newer) report versions stay readable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: cannot read a throughput report ({err})") from None
    for field in ("model", "method", "baseline", "prompt_len", "gen_len", "runs"):
        if field not in data:
            raise InputError(f"{path}: field {field!r} is missing: not a throughput report")
    for i, run in enumerate(data["runs"]):
        for field in ("warmup", "side", "batch_size", "prefill_s", "decode_s"):
            if field not in run:
                raise InputError(f"{path}: field 'runs.{i}.{field}' is missing")
    return data


def read_throughput_json(path: str | Path) -> list[Point]:
    """Points from a `negsamp throughput` report: every measured run, both sides, both stages.

    Read through `negsamp.throughput.load_throughput` when the file is of the current schema,
    else narrowly (only the fields below), so reports of earlier versions still fit.
    Decoding is recorded at KV length `prompt_len` (the paper's convention), although our decode
    steps run from `prompt_len` to `prompt_len + gen_len`: a constant offset the fit absorbs.
    """
    from negsamp.throughput import load_throughput

    path = Path(path)
    try:
        data = load_throughput(path).model_dump()
    except Exception:  # noqa: BLE001 - any schema or read problem: fall back to the narrow read
        data = _narrow_report(path)
    label = {"baseline": data["baseline"], "method": data["method"]}
    points = []
    for run in data["runs"]:
        if run["warmup"]:
            continue
        b, n = int(run["batch_size"]), int(data["prompt_len"])
        common = dict(method=label.get(run["side"], str(run["side"])), bsz=b, prompt_len=n, model=data["model"])
        points.append(Point(stage="prefill", thr=b * n / run["prefill_s"], **common))
        points.append(Point(stage="decoding", thr=b * (int(data["gen_len"]) - 1) / run["decode_s"], **common))
    if not points:
        raise InputError(f"{path}: no measured runs")
    return points


def read_points(paths: list[str | Path]) -> list[Point]:
    """Fit data from any mix of CSV and throughput.json files."""
    points: list[Point] = []
    for path in paths:
        reader = read_throughput_json if str(path).endswith(".json") else read_csv
        points.extend(reader(path))
    return points


def write_predictions(path: str | Path, queries: list[Point], thr: list[float]) -> None:
    """The query rows plus `thr`, as CSV, atomically."""
    import io

    from negsamp.atomic import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "bsz", "prompt_len", "stage", "thr"])
    for q, value in zip(queries, thr, strict=True):
        writer.writerow([q.method, q.bsz, q.prompt_len, q.stage, f"{value:.6g}"])
    atomic_write_text(path, buffer.getvalue())
