"""Checks `write_dataset` runs on its inputs: rows against the card context, names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from negsamp.dataset.common import _CONFIG_RE
from negsamp.dataset.context import CardContext
from negsamp.dataset.rows import DatasetRow
from negsamp.errors import InputError
from negsamp.formats import first_error


def _as_rows(rows: Iterable[DatasetRow | Mapping[str, Any]], what: str) -> list[DatasetRow]:
    out = []
    for index, row in enumerate(rows):
        if isinstance(row, DatasetRow):
            out.append(row)
            continue
        try:
            out.append(DatasetRow.model_validate(row))
        except ValidationError as err:
            raise InputError(f"{what} row {index}: {first_error(err)}") from err
    return out


def _check_rows(split: str, rows: list[DatasetRow], ctx: CardContext) -> None:
    """Refuse rows that do not follow the context's rule, methods and thresholds."""
    rule = ctx.rule
    seen: set[tuple[str, str]] = set()
    for row in rows:
        where = f"{split} row (task {row.task!r}, sample {row.sample_id!r})"
        if row.key in seen:
            raise InputError(f"{where} appears twice")
        seen.add(row.key)
        task = ctx.task(row.task)
        if task is None:
            raise InputError(f"{where}: task is not in card_context.tasks")
        if row.category != task.category:
            raise InputError(f"{where}: category {row.category!r}, card_context says {task.category!r}")
        if row.threshold != task.threshold:
            raise InputError(f"{where}: threshold {row.threshold!r}, card_context says {task.threshold!r}")
        if row.baseline.method != rule.baseline:
            raise InputError(
                f"{where}: baseline method {row.baseline.method!r}, the rule's is {rule.baseline!r}"
            )
        names = [m.method for m in row.methods]
        if names != ctx.methods:
            raise InputError(f"{where}: methods {names}, expected {ctx.methods} (recipe order)")
        b = row.baseline.score
        if not rule.is_good(b, row.threshold):
            raise InputError(f"{where}: baseline score {b!r} is not baseline-good (THR {row.threshold!r})")
        for m in row.methods:
            expected = rule.is_negative(b, m.score)
            if m.negative != expected:
                raise InputError(
                    f"{where}: method {m.method!r} negative={m.negative}, but the rule "
                    f"not (b*(1-t) < o) with b={b!r}, o={m.score!r}, t={rule.t!r} gives {expected}"
                )
        flags = [m.negative for m in row.methods]
        if split == "negative" and not (all(flags) if rule.mode == "all" else any(flags)):
            raise InputError(f"{where}: not negative under mode {rule.mode!r}")
        if split == "control" and any(flags):
            raise InputError(f"{where}: a control sample must be negative for no method")


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise InputError(f"{what} must be a non-empty single line, got {value!r}")
    return value


def check_config_name(config: str) -> str:
    """A config name the Hub and file systems accept: letters, digits, `.`, `_`, `-`."""
    if not isinstance(config, str) or not _CONFIG_RE.fullmatch(config):
        raise InputError(
            f"config name {config!r} must start with a letter or digit and use only letters, digits, "
            "'.', '_' or '-' (at most 64 characters)"
        )
    return config
