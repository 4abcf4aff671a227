"""`TaskSource`: the base class of task sources, and helpers to read their parameters.

A task source turns a spec string (`negsamp.specs` grammar) into samples. Sources are
found through the entry-point group `negsamp.task_sources` (see `negsamp.tasks.sources`);
the entry point's name is the spec's name: `passkey:...` is the source registered as
`passkey`, `longbench:TASK:...` the one registered as `longbench`. A plug-in declares

    [project.entry-points."negsamp.task_sources"]
    mysource = "mypkg.tasks:MySource"

where `MySource` subclasses `TaskSource` and implements `from_spec` and `load`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from negsamp.errors import InputError
from negsamp.records import Sample
from negsamp.specs import ParsedSpec


@dataclass(frozen=True)
class TaskSource:
    """A parsed task-source string. Subclasses add their parameters as fields."""

    spec: str
    """The string as given."""
    task: str
    """The task its samples belong to (their `task`)."""

    kind: ClassVar[str] = ""
    """What kind of source this is (`synthetic`, `longbench`, a plug-in's name)."""
    params_known: ClassVar[tuple[str, ...]] = ()
    """The parameters the spec may give."""

    @classmethod
    def from_spec(cls, parsed: ParsedSpec, *, spec: str, base_dir: Path | None) -> TaskSource:
        """Build the source from a parsed spec (names and values only; no file is read)."""
        raise NotImplementedError

    def validate(self, *, max_length: int | None = None) -> None:
        """Check what can be checked without a tokenizer (local files, lengths vs max_length)."""

    def load(self, *, tokenizer: Any, max_length: int) -> list[Sample]:
        """The samples, with prompts for `tokenizer` and at most `max_length` prompt tokens."""
        raise NotImplementedError

    @classmethod
    def check_params(cls, parsed: ParsedSpec, spec: str) -> dict[str, str]:
        """The spec's parameters as a dict; InputError for an unknown one."""
        params = parsed.param_dict()
        for key in params:
            if key not in cls.params_known:
                raise InputError(f"task source {spec!r}: unknown parameter {key!r}; "
                                 f"parameters: {', '.join(cls.params_known) or 'none'}")
        return params


def int_param(spec: str, key: str, value: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer parameter, within bounds."""
    if not re.fullmatch(r"[+-]?\d+", value):
        raise InputError(f"task source {spec!r}: {key} must be an integer, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise InputError(f"task source {spec!r}: {key} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise InputError(f"task source {spec!r}: {key} must be at most {maximum}, got {number}")
    return number


def plus_list(spec: str, key: str, value: str) -> list[str]:
    """A list parameter: items joined with `+`."""
    items = [item.strip() for item in value.split("+")]
    if any(not item for item in items):
        raise InputError(f"task source {spec!r}: {key}={value!r} has an empty item; join values with '+'")
    return items


def fraction_param(spec: str, key: str, value: str) -> float:
    """A number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"task source {spec!r}: {key} must be numbers from 0 to 1, got {value!r}") from None
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise InputError(f"task source {spec!r}: {key} must be fractions from 0 to 1, got {value!r}")
    return number


def bool_param(spec: str, key: str, value: str) -> bool:
    """`true`/`yes`/`1` or `false`/`no`/`0`."""
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise InputError(f"task source {spec!r}: {key} must be true or false, got {value!r}")


def choice_param(spec: str, key: str, value: str, choices: tuple[str, ...]) -> str:
    """One of `choices`."""
    if value not in choices:
        raise InputError(f"task source {spec!r}: {key} must be one of {', '.join(choices)}, got {value!r}")
    return value
