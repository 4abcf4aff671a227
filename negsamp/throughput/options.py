"""Checking a throughput run's arguments: batch sizes, integers, device, dtype, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from negsamp.errors import InputError


def parse_batch_sizes(text: str | Sequence[int]) -> list[int]:
    """`"1,4,16"` (or a sequence) -> sorted unique positive ints; InputError otherwise."""
    items: list[Any]
    if isinstance(text, str):
        items = [p.strip() for p in text.split(",") if p.strip()]
    else:
        items = list(text)
    if not items:
        raise InputError("batch sizes: give at least one, e.g. 1,4,16")
    sizes = []
    for item in items:
        if isinstance(item, bool):
            raise InputError(f"batch size {item!r} must be a positive integer")
        try:
            value = int(item)
        except (TypeError, ValueError):
            raise InputError(f"batch size {item!r} is not an integer (expected e.g. 1,4,16)") from None
        if isinstance(item, float) and item != value:
            raise InputError(f"batch size {item!r} is not an integer")
        if value < 1:
            raise InputError(f"batch size {value} must be >= 1")
        sizes.append(value)
    return sorted(set(sizes))


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


def _reporter(progress: bool | Callable[[str], Any] | None) -> Callable[[str], Any]:
    if callable(progress):
        return progress
    if progress:
        return lambda message: print(message, file=sys.stderr, flush=True)
    return lambda message: None


def _resolve_device(device: str) -> Any:
    from negsamp.models import resolve_device

    return resolve_device(device)


def _resolve_dtype(dtype: str, device: Any) -> Any:
    from negsamp.models import resolve_dtype

    return resolve_dtype(dtype, device)
