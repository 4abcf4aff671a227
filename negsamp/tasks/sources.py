"""Task-source strings, as the CLI and build recipes write them.

    FAMILY[:key=value,...]              a synthetic family (negsamp.tasks.synthetic)
    longbench:TASK[:key=value,...]      a LongBench v1 task (negsamp.tasks.longbench)

Synthetic parameters: ``lengths`` (token counts joined by ``+``, default 1000), ``count``
(samples per length, default 10), ``seed`` (default 0), ``depths`` (fractions joined by
``+``; default: spread evenly), ``chat`` (``true``/``false``; default: the family's, raw).
LongBench parameters: ``path`` (a local JSONL/parquet file or folder; without it the
Hub is used), ``limit`` (first N rows).

Examples::

    passkey:lengths=500+1000,count=10,seed=0
    multikey:lengths=1000,count=5,depths=0.1+0.5+0.9
    longbench:gov_report:path=../shared/data/longbench_sample/gov_report.jsonl,limit=5
    longbench:hotpotqa

`validate_task_spec` checks a string without a tokenizer or model (and reads a local
LongBench file through, row by row), so a recipe fails before anything slow starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negsamp.errors import InputError, UnknownNameError
from negsamp.records import Sample
from negsamp.tasks import longbench, synthetic

_SYNTHETIC_PARAMS = ("lengths", "count", "seed", "depths", "chat")
_LONGBENCH_PARAMS = ("path", "limit")
_DEFAULT_LENGTHS = (1000,)
_DEFAULT_COUNT = 10
_DEFAULT_SEED = 0
# Parameters are separated by commas that start a new `key=`, so a path may hold commas.
_PARAM_SPLIT = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)")


@dataclass(frozen=True)
class TaskSource:
    """A parsed task-source string."""

    spec: str
    """The string as given."""
    kind: str
    """"synthetic" or "longbench"."""
    task: str
    """Family or LongBench task name (the samples' `task`)."""
    lengths: tuple[int, ...] = ()
    count: int = _DEFAULT_COUNT
    seed: int = _DEFAULT_SEED
    depths: tuple[float, ...] | None = None
    chat_template: bool | None = None
    path: Path | None = None
    """Local LongBench file or folder (resolved against `base_dir`); None: the Hub."""
    limit: int | None = None


def parse_task_spec(spec: str, *, base_dir: str | Path | None = None) -> TaskSource:
    """Parse a task-source string (names and parameter values only; no file is touched).

    UnknownNameError for an unknown family or LongBench task (listing the known ones),
    InputError for a malformed string or parameter."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"a task source must be a non-empty string such as 'passkey:lengths=1000', got {spec!r}")
    text = spec.strip()
    head, _, rest = text.partition(":")
    head = head.strip()
    if head == "longbench":
        task, _, params_text = rest.partition(":")
        task = task.strip()
        if not task:
            raise InputError(f"task source {spec!r}: name the LongBench task, e.g. 'longbench:hotpotqa'; "
                             f"known: {', '.join(longbench.longbench_tasks())}")
        longbench.check_task(task)
        params = _parse_params(spec, params_text, _LONGBENCH_PARAMS)
        path = None
        if "path" in params:
            path = Path(params["path"]).expanduser()
            if base_dir is not None and not path.is_absolute():
                path = Path(base_dir) / path
        limit = _int(spec, "limit", params["limit"], minimum=0) if "limit" in params else None
        return TaskSource(spec=spec, kind="longbench", task=task, path=path, limit=limit)
    if head not in synthetic.FAMILIES:
        hint = (f" (LongBench tasks are written 'longbench:{head}')"
                if head in longbench.LONGBENCH_PROMPTS else "")
        raise UnknownNameError(
            f"unknown task source {head!r} in {spec!r}{hint}; known: synthetic families "
            f"{', '.join(synthetic.known_families())}, and longbench:TASK with TASK one of "
            f"{', '.join(longbench.longbench_tasks())}"
        )
    params = _parse_params(spec, rest, _SYNTHETIC_PARAMS)
    lengths = tuple(_int(spec, "lengths", item, minimum=1, maximum=synthetic.MAX_LENGTH)
                    for item in _plus_list(spec, "lengths", params["lengths"])) \
        if "lengths" in params else _DEFAULT_LENGTHS
    depths = None
    if "depths" in params:
        depths = tuple(_fraction(spec, item) for item in _plus_list(spec, "depths", params["depths"]))
        if not synthetic.get_family(head).uses_depth:
            raise InputError(f"task source {spec!r}: {head} has no needle, so it takes no depths")
    return TaskSource(
        spec=spec,
        kind="synthetic",
        task=head,
        lengths=lengths,
        count=_int(spec, "count", params["count"], minimum=1) if "count" in params else _DEFAULT_COUNT,
        seed=_int(spec, "seed", params["seed"]) if "seed" in params else _DEFAULT_SEED,
        depths=depths,
        chat_template=_bool(spec, "chat", params["chat"]) if "chat" in params else None,
    )


def validate_task_spec(spec: str, *, max_length: int | None = None,
                       base_dir: str | Path | None = None) -> TaskSource:
    """Check a task-source string without a tokenizer: names, parameters, and for a local
    LongBench file that it exists and every row is valid. With `max_length`, synthetic
    lengths must fit in it. Returns the parsed source."""
    source = parse_task_spec(spec, base_dir=base_dir)
    if source.kind == "synthetic":
        _check_fits(source, max_length)
    elif source.path is not None:
        file = longbench.resolve_local_file(source.task, source.path)
        for index, (where, line, row) in enumerate(longbench.read_rows(file)):
            if source.limit is not None and index >= source.limit:
                break
            longbench.validate_row(row, task=source.task, where=where, line=line)
    return source


def load_task_samples(spec: str, *, tokenizer: Any, max_length: int,
                      base_dir: str | Path | None = None) -> list[Sample]:
    """The samples a task-source string names, with prompts for `tokenizer`.

    `max_length`: the model's prompt budget in tokens: LongBench prompts longer than it are
    cut in the middle (as LongBench's pred.py does); synthetic lengths above it are refused.
    `base_dir`: folder that relative LongBench paths are resolved against (default: the
    working directory)."""
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
        raise InputError(f"max_length must be an integer >= 2, got {max_length!r}")
    source = parse_task_spec(spec, base_dir=base_dir)
    if source.kind == "synthetic":
        _check_fits(source, max_length)
        return synthetic.make_samples(
            source.task, tokenizer=tokenizer, lengths=list(source.lengths), count=source.count,
            seed=source.seed, depths=list(source.depths) if source.depths is not None else None,
            chat_template=source.chat_template,
        )
    return longbench.load_longbench(source.task, path=source.path, tokenizer=tokenizer,
                                    max_length=max_length, limit=source.limit)


# --------------------------------------------------------------------------- parsing helpers


def _check_fits(source: TaskSource, max_length: int | None) -> None:
    if max_length is None:
        return
    too_long = [length for length in source.lengths if length > max_length]
    if too_long:
        raise InputError(f"task source {source.spec!r}: length {too_long[0]} exceeds the model's "
                         f"max_length of {max_length} tokens")


def _parse_params(spec: str, text: str, known: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    if not text.strip():
        return params
    for piece in _PARAM_SPLIT.split(text):
        key, sep, value = piece.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise InputError(f"task source {spec!r}: expected key=value, got {piece.strip()!r} "
                             f"(parameters: {', '.join(known)})")
        if key not in known:
            raise InputError(f"task source {spec!r}: unknown parameter {key!r}; parameters: {', '.join(known)}")
        if key in params:
            raise InputError(f"task source {spec!r}: parameter {key!r} is given twice")
        if not value:
            raise InputError(f"task source {spec!r}: parameter {key!r} has no value")
        params[key] = value
    return params


def _plus_list(spec: str, key: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split("+")]
    if any(not item for item in items):
        raise InputError(f"task source {spec!r}: {key}={value!r} has an empty item; join values with '+'")
    return items


def _int(spec: str, key: str, value: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if not re.fullmatch(r"[+-]?\d+", value):
        raise InputError(f"task source {spec!r}: {key} must be an integer, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise InputError(f"task source {spec!r}: {key} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise InputError(f"task source {spec!r}: {key} must be at most {maximum}, got {number}")
    return number


def _fraction(spec: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"task source {spec!r}: depths must be numbers from 0 to 1, got {value!r}") from None
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise InputError(f"task source {spec!r}: depths must be fractions from 0 to 1, got {value!r}")
    return number


def _bool(spec: str, key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise InputError(f"task source {spec!r}: {key} must be true or false, got {value!r}")
