"""Reading JSON-lines files with errors that name the file and the line.

The one place negsamp turns bytes of a JSONL file into objects: every reader of
user files (predictions, LongBench task files, score tables) goes through it, so
a bad byte or a broken line reads the same everywhere: `FILE, line N: problem`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from negsamp.errors import InputError


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror or err}") from None


MAX_INT_DIGITS = 18
"""Integers with more digits are refused: no field of ours needs one, int64 columns cannot hold one, and
Python refuses to convert over 4,300 digits anyway (with a traceback, not a message)."""


class _TooLong(Exception):
    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _TooLong(digits)
    return int(text)


def loads(text: str) -> Any:
    """`json.loads` with integers capped at `MAX_INT_DIGITS` digits; raises ValueError with one line."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except _TooLong as err:
        raise ValueError(f"an integer of {err.digits} digits is out of range (at most {MAX_INT_DIGITS})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg} (column {err.colno})") from None


def iter_jsonl(where: str | Path, data: bytes) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of `data`, read from `where`.

    Integers over `MAX_INT_DIGITS` digits and nesting too deep for Python's parser are
    refused as one line naming the file and line.
    """
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{where}, line {number}: not valid UTF-8 (byte {err.start + 1} of the line)") from None
        if not text.strip():
            continue
        try:
            value = loads(text)
        except ValueError as err:
            raise InputError(f"{where}, line {number}: {err}") from None
        yield number, value
