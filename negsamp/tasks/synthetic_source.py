"""The synthetic families as a task source: `FAMILY[:lengths=...,count=...,seed=...,depths=...,chat=...]`.

`lengths`: token counts joined by `+` (default 1000); `count`: samples per length
(default 10); `seed` (default 0); `depths`: needle depths as fractions joined by `+`
(default: spread evenly); `chat`: `true`/`false` (default: the family's, raw).
Registered once per family in the `negsamp.task_sources` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negsamp.errors import InputError
from negsamp.records import Sample
from negsamp.specs import ParsedSpec
from negsamp.tasks import synthetic
from negsamp.tasks.source import TaskSource, bool_param, fraction_param, int_param, plus_list


@dataclass(frozen=True)
class SyntheticSource(TaskSource):
    """A synthetic family at chosen lengths, depths and seed."""

    lengths: tuple[int, ...] = (1000,)
    """Prompt lengths in tokens."""
    count: int = 10
    """Samples per length."""
    seed: int = 0
    """Seed of the samples' content."""
    depths: tuple[float, ...] | None = None
    """Needle depths (None: spread evenly)."""
    chat_template: bool | None = None
    """Wrap in the chat template (None: the family's default)."""

    kind = "synthetic"
    params_known = ("lengths", "count", "seed", "depths", "chat")

    @classmethod
    def from_spec(cls, parsed: ParsedSpec, *, spec: str, base_dir: Path | None) -> SyntheticSource:
        family = synthetic.get_family(parsed.name)
        if parsed.arg is not None:
            raise InputError(f"task source {spec!r}: expected key=value, got {parsed.arg!r} ({parsed.name} takes no argument)")
        params = cls.check_params(parsed, spec)
        fields: dict[str, Any] = {}
        if "lengths" in params:
            fields["lengths"] = tuple(int_param(spec, "lengths", item, minimum=1, maximum=synthetic.MAX_LENGTH)
                                      for item in plus_list(spec, "lengths", params["lengths"]))
        if "depths" in params:
            fields["depths"] = tuple(fraction_param(spec, "depths", item)
                                     for item in plus_list(spec, "depths", params["depths"]))
            if not family.uses_depth:
                raise InputError(f"task source {spec!r}: {family.name} has no needle, so it takes no depths")
        if "count" in params:
            fields["count"] = int_param(spec, "count", params["count"], minimum=1)
        if "seed" in params:
            fields["seed"] = int_param(spec, "seed", params["seed"])
        if "chat" in params:
            fields["chat_template"] = bool_param(spec, "chat", params["chat"])
        return cls(spec=spec, task=family.name, **fields)

    def validate(self, *, max_length: int | None = None) -> None:
        if max_length is None:
            return
        too_long = [length for length in self.lengths if length > max_length]
        if too_long:
            raise InputError(f"task source {self.spec!r}: length {too_long[0]} exceeds the model's "
                             f"max_length of {max_length} tokens")

    def load(self, *, tokenizer: Any, max_length: int) -> list[Sample]:
        self.validate(max_length=max_length)
        return synthetic.make_samples(
            self.task, tokenizer=tokenizer, lengths=list(self.lengths), count=self.count, seed=self.seed,
            depths=list(self.depths) if self.depths is not None else None, chat_template=self.chat_template,
        )
