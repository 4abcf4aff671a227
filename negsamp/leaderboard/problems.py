"""What is wrong with a submission: `Problem`, `SubmissionRejected`, `Rejection`, and the collector.

Every check in `submissions` and `validate` adds `Problem`s (field path and
what) to a `_Collector`, which raises `SubmissionRejected` listing at most
`MAX_PROBLEMS` of them. `build` turns a rejected file into a `Rejection`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from negsamp.errors import InputError
from negsamp.formats import loc_path

MAX_PROBLEMS = 20
"""At most this many problems are listed for one submission (the rest are counted)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission: the field (a path such as `predictions[3].sample_id`) and what."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class SubmissionRejected(InputError):
    """A submission failed validation; `problems` lists every failure found (field and problem)."""

    def __init__(self, source: str, problems: list[Problem], more: int = 0) -> None:
        self.source = source
        self.problems = problems
        self.more = more
        text = "; ".join(str(p) for p in problems)
        if more:
            text += f"; and {more} more problem(s)"
        super().__init__(f"{source}: rejected: {text}")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.more = 0

    def add(self, where: str, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, problem))
        else:
            self.more += 1

    def raise_if_any(self, source: str) -> None:
        if self.problems:
            raise SubmissionRejected(source, self.problems, self.more)


def _show(value: Any, limit: int = 60) -> str:
    """A short repr of a submitted value, for messages (never the whole of a huge string)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(loc: Iterable[Any]) -> str:
    """A field path for a problem; the submission as a whole when the location is empty."""
    return loc_path(loc) or "(submission)"


@dataclass
class Rejection:
    """A submission file that failed validation: never rendered, listed with its reasons."""

    file: str
    problems: list[Problem]
    more: int = 0

    @property
    def reason(self) -> str:
        text = "; ".join(str(p) for p in self.problems)
        return text + (f"; and {self.more} more problem(s)" if self.more else "")
