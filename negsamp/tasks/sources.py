"""Task-source strings, as the CLI and build recipes write them, and the source registry.

    FAMILY[:key=value,...]              a synthetic family (negsamp.tasks.synthetic_source)
    longbench:TASK[:key=value,...]      a LongBench v1 task (negsamp.tasks.longbench_source)
    NAME[:ARG][:key=value,...]          any source registered under NAME

The grammar is `negsamp.specs` (shared with method specs). Sources are classes found
through the entry-point group `negsamp.task_sources`; negsamp's own pyproject.toml
registers the built-ins there exactly as a plug-in would, and `register_source` adds one
at run time (tests, notebooks).

Examples::

    passkey:lengths=500+1000,count=10,seed=0
    multikey:lengths=1000,count=5,depths=0.1+0.5+0.9
    longbench:gov_report:path=../shared/data/longbench_sample/gov_report.jsonl,limit=5
    longbench:gov_report:protocol=rethink

`validate_task_spec` checks a string without a tokenizer or model (and reads a local
LongBench file through, row by row), so a recipe fails before anything slow starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from negsamp.errors import InputError, UnknownNameError
from negsamp.plugins import load_entry_points
from negsamp.records import Sample
from negsamp.specs import parse_spec
from negsamp.tasks.longbench_table import LONGBENCH_TASKS
from negsamp.tasks.source import TaskSource

ENTRY_POINT_GROUP = "negsamp.task_sources"

_extra: dict[str, type[TaskSource]] = {}


@cache
def _entry_point_sources() -> dict[str, type[TaskSource]]:
    return load_entry_points(ENTRY_POINT_GROUP, "task source", _check_class)


def _check_class(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, TaskSource)):
        raise TypeError(f"negsamp task source {name!r} must be a class subclassing negsamp.tasks.TaskSource")


def register_source(name: str, cls: type[TaskSource]) -> type[TaskSource]:
    """Register a task source class under `name` at run time."""
    _check_class(name, cls)
    _extra[name] = cls
    return cls


def available_sources() -> Mapping[str, type[TaskSource]]:
    """Every registered task source class by name, sorted by name."""
    sources = dict(_entry_point_sources())
    sources.update(_extra)
    return dict(sorted(sources.items()))


def parse_task_spec(spec: str, *, base_dir: str | Path | None = None) -> TaskSource:
    """Parse a task-source string (names and parameter values only; no file is touched).

    UnknownNameError for an unknown source or task (listing the known ones), InputError
    for a malformed string or parameter."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"a task source must be a non-empty string such as 'passkey:lengths=1000', got {spec!r}")
    parsed = parse_spec(spec, kind="task source", allow_arg=True)
    sources = available_sources()
    cls = sources.get(parsed.name)
    if cls is None:
        hint = f" (LongBench tasks are written 'longbench:{parsed.name}')" if parsed.name in LONGBENCH_TASKS else ""
        raise UnknownNameError(f"unknown task source {parsed.name!r} in {spec!r}{hint}; "
                               f"known sources: {', '.join(sources)}")
    return cls.from_spec(parsed, spec=spec, base_dir=Path(base_dir) if base_dir is not None else None)


def validate_task_spec(spec: str, *, max_length: int | None = None,
                       base_dir: str | Path | None = None) -> TaskSource:
    """Check a task-source string without a tokenizer: names, parameters, and for a local
    file that it exists and every row is valid. With `max_length`, synthetic lengths must
    fit in it. Returns the parsed source."""
    source = parse_task_spec(spec, base_dir=base_dir)
    source.validate(max_length=max_length)
    return source


def load_task_samples(spec: str, *, tokenizer: Any, max_length: int,
                      base_dir: str | Path | None = None) -> list[Sample]:
    """The samples a task-source string names, with prompts for `tokenizer`.

    `max_length`: the model's prompt budget in tokens: LongBench prompts longer than it are
    cut in the middle (as the source's protocol does); synthetic lengths above it are
    refused. `base_dir`: folder that relative paths are resolved against (default: the
    working directory)."""
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise InputError(f"max_length must be an integer >= 2, got {max_length!r}")
    return parse_task_spec(spec, base_dir=base_dir).load(tokenizer=tokenizer, max_length=max_length)
