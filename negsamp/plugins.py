"""Plug-ins found through entry points: compression methods (`negsamp.methods`) and task
sources (`negsamp.task_sources`). The built-ins are registered the same way, in
pyproject.toml, so there is one list of them (see docs/architecture.md)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


def load_entry_points(group: str, kind: str, check: Callable[[str, Any], None]) -> dict[str, Any]:
    """Every entry point of `group`, loaded and checked with `check(name, obj)`.

    A broken or invalid plug-in is left out with a warning naming it, so that one bad
    package cannot take the others (and the built-ins) down; a name registered twice keeps
    the first registration.
    """
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        if ep.name in found:
            warnings.warn(f"negsamp {kind} {ep.name!r} is registered twice; keeping the first", stacklevel=3)
            continue
        try:
            obj = ep.load()
            check(ep.name, obj)
        except Exception as err:
            warnings.warn(f"cannot load negsamp {kind} {ep.name!r} ({ep.value}): {err}", stacklevel=3)
            continue
        found[ep.name] = obj
    return found
