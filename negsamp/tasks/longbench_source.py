"""LongBench v1 as a task source: `longbench:TASK[:path=...,limit=...,protocol=...]`.

`path`: a local JSONL/parquet file or folder in THUDM/LongBench's schema (relative paths
are resolved against the recipe's folder; without it the Hub is used); `limit`: the first
N rows; `protocol`: `longbench` (LongBench's pred.py, default) or `rethink` (the paper's
evaluator), see `negsamp.tasks.longbench_prompts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negsamp.errors import InputError
from negsamp.records import Sample
from negsamp.specs import ParsedSpec
from negsamp.tasks import longbench
from negsamp.tasks.longbench_prompts import PROTOCOLS
from negsamp.tasks.source import TaskSource, choice_param, int_param


@dataclass(frozen=True)
class LongBenchSource(TaskSource):
    """One LongBench v1 task, from the Hub or a local file."""

    path: Path | None = None
    """Local file or folder (resolved against `base_dir`); None: the Hub."""
    limit: int | None = None
    """Keep only the first `limit` rows."""
    protocol: str = "longbench"
    """How prompts are built: `longbench` (pred.py) or `rethink` (the paper's evaluator)."""

    kind = "longbench"
    params_known = ("path", "limit", "protocol")

    @classmethod
    def from_spec(cls, parsed: ParsedSpec, *, spec: str, base_dir: Path | None) -> LongBenchSource:
        if not parsed.arg:
            raise InputError(f"task source {spec!r}: name the LongBench task, e.g. 'longbench:hotpotqa'; "
                             f"known: {', '.join(longbench.longbench_tasks())}")
        longbench.check_task(parsed.arg)
        params = cls.check_params(parsed, spec)
        path = None
        if "path" in params:
            path = Path(params["path"]).expanduser()
            if base_dir is not None and not path.is_absolute():
                path = Path(base_dir) / path
        limit = int_param(spec, "limit", params["limit"], minimum=0) if "limit" in params else None
        protocol = choice_param(spec, "protocol", params.get("protocol", "longbench"), PROTOCOLS)
        return cls(spec=spec, task=parsed.arg, path=path, limit=limit, protocol=protocol)

    def validate(self, *, max_length: int | None = None) -> None:
        if self.path is None:
            return
        file = longbench.resolve_local_file(self.task, self.path)
        for index, (where, line, row) in enumerate(longbench.read_rows(file)):
            if self.limit is not None and index >= self.limit:
                break
            longbench.validate_row(row, task=self.task, where=where, line=line)

    def load(self, *, tokenizer: Any, max_length: int) -> list[Sample]:
        return longbench.load_longbench(self.task, path=self.path, tokenizer=tokenizer, max_length=max_length,
                                        limit=self.limit, protocol=self.protocol)
