"""Query rows for the length predictor: read from CSV, written back with the predicted ratio."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from negsamp.errors import InputError
from negsamp.predict.length import LengthRow
from negsamp.predict.points import check_width, csv_records

FIELDS = ("task", "prompt_tokens", "baseline_tokens", "method")


def _query_row(path: Path, row: int, record: dict) -> LengthRow:
    check_width(path, row, record)
    for field in FIELDS:
        if not (record.get(field) or "").strip():
            raise InputError(f"{path}, row {row}: field {field!r} is missing or empty")
    numbers = {}
    for field in ("prompt_tokens", "baseline_tokens"):
        try:
            numbers[field] = int(record[field])
        except ValueError:
            raise InputError(f"{path}, row {row}: field {field!r}: {record[field]!r} is not an integer") from None
        if numbers[field] < 1:
            raise InputError(f"{path}, row {row}: field {field!r}: must be at least 1")
    eos = (record.get("baseline_eos") or "true").strip().lower() in ("1", "true", "yes")
    return LengthRow(sample_id=f"query-{row}", model=(record.get("model") or "").strip(),
                     task=record["task"].strip(), method=record["method"].strip(),
                     prompt_tokens=numbers["prompt_tokens"], baseline_tokens=numbers["baseline_tokens"],
                     baseline_eos=eos)


def read_length_query(path: str | Path) -> list[LengthRow]:
    path = Path(path)
    records = csv_records(path)
    if not records:
        raise InputError(f"{path}: no rows")
    return [_query_row(path, i, rec) for i, rec in enumerate(records, start=1)]


def write_length_predictions(path: str | Path, rows: list[LengthRow], ratios) -> None:
    from negsamp.atomic import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIELDS, "ratio", "output_tokens"])
    for r, ratio in zip(rows, ratios, strict=True):
        writer.writerow([r.task, r.prompt_tokens, r.baseline_tokens, r.method, f"{ratio:.4f}",
                         f"{ratio * r.baseline_tokens:.1f}"])
    atomic_write_text(path, buffer.getvalue())
