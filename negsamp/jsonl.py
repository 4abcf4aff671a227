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


def iter_jsonl(where: str | Path, data: bytes) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of `data`, read from `where`."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{where}, line {number}: not valid UTF-8 (byte {err.start + 1} of the line)") from None
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{where}, line {number}: invalid JSON: {err.msg} (column {err.colno})") from None
        yield number, value
