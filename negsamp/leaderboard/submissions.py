"""Reading a submission file safely: size and length caps, no NaN or infinities, strict types.

`read_submission` / `parse_submission` turn bytes from a stranger into a
`negsamp.submission.Submission`, or raise `SubmissionRejected` naming each bad
field. `_check_fields` holds the checks the schema alone does not make.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from negsamp.leaderboard.names import name_problem
from negsamp.leaderboard.problems import Problem, SubmissionRejected, _Collector, _path, _show
from negsamp.submission import Submission

MAX_SUBMISSION_BYTES = 16 * 1024 * 1024
"""A submission file larger than this is refused before it is read. Predictions must fit the release's
`max_new_tokens`, so a real submission for a few thousand samples takes a few MB."""
MAX_JSON_VALUES = 1_000_000
"""At most this many JSON values (counted on the raw bytes before parsing, so memory stays bounded)."""
MAX_DEPTH = 64
"""At most this deep nesting of arrays and objects (a submission needs 5)."""
MAX_PREDICTIONS = 100_000
"""At most this many predictions."""
MAX_STRING = 100_000
"""No string anywhere in a submission may be longer (a prediction is the longest legitimate one)."""
MAX_METHOD_SPEC = 500
MAX_MODEL = 200
MAX_SAMPLE_ID = 200
MAX_ENV_ENTRIES = 200
MAX_ENV_TEXT = 1000
MAX_THROUGHPUT_JSON = 100_000
MAX_THROUGHPUT_RATIO = 1000.0
"""A throughput ratio above this (method / baseline) is refused as implausible."""

_HASH_RE = re.compile(r"[0-9a-f]{64}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_URL_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def _prescan(raw: bytes, problems: _Collector) -> None:
    """Count values and nesting on the bytes, before any object is built.

    Strings are blanked first (a bracket inside one is not structure); then the
    count of `,` `[` `{` bounds the number of values and a cumulative sum of
    brackets gives the depth. Parsing a file of ten million tiny numbers would
    otherwise take gigabytes before any check could look at it.
    """
    import numpy as np

    bare = _STRING_RE.sub(b'""', raw)
    values = bare.count(b",") + bare.count(b"[") + bare.count(b"{")
    if values > MAX_JSON_VALUES:
        problems.add("(file)", f"about {values} JSON values, over the limit of {MAX_JSON_VALUES}")
        return
    codes = np.frombuffer(bare, dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    depth = int(np.cumsum(opens.astype(np.int32) - closes.astype(np.int32)).max(initial=0))
    if depth > MAX_DEPTH:
        problems.add("(file)", f"JSON nested too deeply ({depth} levels, over the limit of {MAX_DEPTH})")


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
    _prescan(raw, problems)
    problems.raise_if_any(source)
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
    if isinstance(data.get("predictions"), list) and len(data["predictions"]) > MAX_PREDICTIONS:
        problems.add("predictions", f"{len(data['predictions'])} entries, over the limit of {MAX_PREDICTIONS}")
        problems.raise_if_any(source)
    _scan(data, problems)
    problems.raise_if_any(source)
    for loc in (("version",), ("report", "version")):
        value: Any = data
        for part in loc:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, bool):
            problems.add(_path(loc), "must be the integer 1, not a boolean")
    ratio = _get(data, ("report", "throughput", "ratio"))
    number = isinstance(ratio, int | float) and not isinstance(ratio, bool)
    if ratio is not None and not (number and 0 < ratio <= MAX_THROUGHPUT_RATIO):
        # checked on the raw data, first, so it is reported even when the rest of the record is incomplete;
        # 1e300 is valid JSON and a valid float, and breaks tables
        problems.add("report.throughput.ratio", f"must be a positive finite number up to "
                                                f"{MAX_THROUGHPUT_RATIO:g} (method / baseline tokens per second)")
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


def _get(data: Any, loc: tuple[str, ...]) -> Any:
    for part in loc:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _single_line(problems: _Collector, where: str, value: str, limit: int) -> None:
    if len(value) > limit:
        problems.add(where, f"{len(value)} characters, over the limit of {limit}")
    elif _CONTROL_RE.search(value):
        problems.add(where, "contains control characters or line breaks")
    elif not value.strip():
        problems.add(where, "is blank")
    elif (why := name_problem(value)) is not None:
        problems.add(where, why)


def _check_fields(s: Submission, problems: _Collector) -> None:
    """What the schema alone does not say: lengths, one-line text, URL scheme, date, empty samples."""
    _single_line(problems, "name", s.name, 200)
    if s.paper_url is not None and not _URL_RE.fullmatch(s.paper_url):
        problems.add("paper_url", "must be an http:// or https:// URL without spaces, quotes or brackets")
    if not _DATE_RE.fullmatch(s.submitted):
        problems.add("submitted", f"{_show(s.submitted)} is not a date of the form YYYY-MM-DD")
    else:
        try:
            day = _dt.date.fromisoformat(s.submitted)
        except ValueError:
            problems.add("submitted", f"{_show(s.submitted)} is not a valid date")
        else:
            if day > _dt.date.today() + _dt.timedelta(days=1):  # a day of slack for time zones
                problems.add("submitted", f"{s.submitted} is in the future")
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
        if len(r.throughput.model_dump_json()) > MAX_THROUGHPUT_JSON:
            problems.add("report.throughput", f"over {MAX_THROUGHPUT_JSON} characters of JSON")
        if r.throughput.ratio is not None and r.throughput.ratio > MAX_THROUGHPUT_RATIO:
            problems.add("report.throughput.ratio", f"over {MAX_THROUGHPUT_RATIO:g}")
    for index, p in enumerate(s.predictions):
        if len(p.sample_id) > MAX_SAMPLE_ID:
            problems.add(f"predictions[{index}].sample_id", f"over {MAX_SAMPLE_ID} characters")


def _throughput_value(throughput: Any) -> float | None:
    """The submitted throughput ratio (`AttachedThroughput.ratio`, already checked positive and finite)."""
    return throughput.ratio


def read_submission(path: str | Path) -> Submission:
    """Read and parse a submission file with the caps of `parse_submission` (size checked before reading).

    A symlink is refused: a submission folder is a pull request's files, and a link could make the
    board read anything the builder can.
    """
    path = Path(path)
    if path.is_symlink():
        raise SubmissionRejected(str(path), [Problem("(file)", "is a symbolic link; links are refused")])
    if not path.is_file():
        raise SubmissionRejected(str(path), [Problem("(file)", "no such file")])
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise SubmissionRejected(str(path), [Problem("(file)", f"{size} bytes, over the limit of "
                                                               f"{MAX_SUBMISSION_BYTES}")])
    with open(path, "rb") as handle:
        raw = handle.read(MAX_SUBMISSION_BYTES + 1)
    return parse_submission(raw, str(path))
