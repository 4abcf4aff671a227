"""A fixed token budget for any kvpress scorer press: keep `budget` KV pairs per layer and head.

kvpress presses evict a fixed *fraction* of the prompt; the paper (and H2O,
StreamingLLM) state a fixed cache *budget* in tokens (e.g. 2048), which on
LongBench's prompts of varying length means a different fraction per sample.
This wrapper sets the wrapped press's ratio from the prompt length at each
prefill: `ratio = max(0, 1 - budget / prompt_tokens)`, so prompts at or under the
budget are not compressed at all (exactly as a budgeted cache behaves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvpress.presses.base_press import BasePress


@dataclass
class FixedBudgetPress(BasePress):
    """Wraps a press that has a `compression_ratio`; keeps at most `budget` tokens."""

    press: Any
    budget: int

    def post_init_from_model(self, model: Any) -> None:
        hook = getattr(self.press, "post_init_from_model", None)
        if hook is not None:
            hook(model)

    def forward_hook(self, module: Any, input: Any, kwargs: dict, output: Any) -> Any:
        prompt_tokens = kwargs["hidden_states"].shape[1]
        original = self.press.compression_ratio
        # kvpress keeps int(n * (1 - ratio)) tokens; aiming half a token above the budget
        # keeps exactly `budget` despite float rounding (1 - (1 - b/n) is not always b/n).
        self.press.compression_ratio = max(0.0, (prompt_tokens - self.budget - 0.5) / prompt_tokens)
        try:
            return self.press.forward_hook(module, input, kwargs, output)
        finally:
            self.press.compression_ratio = original

    @property
    def compression_ratio(self) -> float:
        return self.press.compression_ratio

    @compression_ratio.setter
    def compression_ratio(self, value: float) -> None:
        self.press.compression_ratio = value
