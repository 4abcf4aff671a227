"""Eviction methods built on kvpress presses (prefill-time KV eviction).

A press registers forward hooks on the attention layers while `with press(model):`
is active and evicts KV entries at the end of the prefill forward; decoding then
runs on the smaller cache. `compress` chooses what is prefilled under the press
(see `negsamp.methods.base.Compress`; default `context+question`, as the methods' papers).

kvpress is imported only when a press is built, so listing methods stays cheap.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from negsamp.errors import InputError
from negsamp.methods.base import (
    COMPRESS_HELP,
    Compress,
    Method,
    check_positive,
    check_ratio,
    param,
)

RATIO_HELP = "fraction of the compressed tokens' KV pairs evicted, in [0, 1)"
BUDGET_HELP = (
    "if > 0: keep at most this many tokens per layer and head instead of a ratio "
    "(the paper's 'cache budget'; shorter prompts are not compressed; ratio must be left out)"
)
DEFAULT_RATIO = 0.5


@dataclass(frozen=True)
class PressMethod(Method):
    """Shared behaviour of press-based methods. Subclasses define `build_press()` and
    the fields `ratio` and `compress`."""

    family = "eviction"

    def build_press(self) -> Any:
        raise NotImplementedError

    @property
    def split_prefill(self) -> bool:
        return self.compress == "context"  # type: ignore[attr-defined]

    def compression(self, model: Any) -> contextlib.AbstractContextManager:
        press = self.build_press()
        budget = getattr(self, "budget", 0)
        if budget:
            from negsamp.methods.budget import FixedBudgetPress

            press = FixedBudgetPress(press=press, budget=budget)
        return press(model)


def check_budget(method: PressMethod) -> None:
    """`budget` replaces `ratio`: with a budget, the canonical spec records ratio=0.0."""
    check_positive(method.name, "budget", method.budget, minimum=0)  # type: ignore[attr-defined]
    if method.budget:  # type: ignore[attr-defined]
        if method.ratio not in (DEFAULT_RATIO, 0.0):  # type: ignore[attr-defined]
            raise InputError(f"method {method.name!r}: give either ratio or budget, not both")
        object.__setattr__(method, "ratio", 0.0)


@dataclass(frozen=True)
class StreamingLLM(PressMethod):
    name = "streamingllm"
    description = (
        "StreamingLLM: keep the first `sink` tokens and the most recent ones (kvpress StreamingLLMPress)."
    )

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    sink: int = param(4, "attention-sink tokens always kept at the start")
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)
        check_budget(self)
        check_positive(self.name, "sink", self.sink, minimum=0)

    def build_press(self) -> Any:
        from kvpress import StreamingLLMPress

        return StreamingLLMPress(compression_ratio=self.ratio, n_sink=self.sink)


@dataclass(frozen=True)
class SnapKV(PressMethod):
    name = "snapkv"
    description = (
        "SnapKV: keep the tokens the last `window` prompt tokens attend to most (kvpress SnapKVPress; "
        "window 8, not kvpress's 64, which loses needles in ~1k-token prompts)."
    )

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    window: int = param(8, "observation window: the last tokens whose attention scores the others")
    kernel: int = param(5, "width of the average pooling over scores")
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)
        check_budget(self)
        check_positive(self.name, "window", self.window)
        check_positive(self.name, "kernel", self.kernel)

    def build_press(self) -> Any:
        from kvpress import SnapKVPress

        return SnapKVPress(compression_ratio=self.ratio, window_size=self.window, kernel_size=self.kernel)


@dataclass(frozen=True)
class PyramidKV(PressMethod):
    name = "pyramidkv"
    description = (
        "PyramidKV: SnapKV scores with a per-layer budget, more KV in lower layers (kvpress PyramidKVPress; "
        "with compress=context the question is prefilled a token at a time, as layers differ in length)."
    )

    ratio: float = param(0.5, RATIO_HELP)
    window: int = param(8, "observation window: the last tokens whose attention scores the others")
    kernel: int = param(5, "width of the average pooling over scores")
    beta: int = param(20, "steepness of the pyramid (larger: more difference between layers)")
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)
        check_positive(self.name, "window", self.window)
        check_positive(self.name, "kernel", self.kernel)
        check_positive(self.name, "beta", self.beta)

    @property
    def batching_note(self) -> str | None:
        return (
            "PyramidKV keeps a different number of tokens in each layer, and transformers builds one "
            "attention mask for all layers, so rows of different lengths cannot share a batch; "
            "samples run one at a time"
        )

    def build_press(self) -> Any:
        from kvpress import PyramidKVPress

        return PyramidKVPress(
            compression_ratio=self.ratio, window_size=self.window, kernel_size=self.kernel, beta=self.beta
        )


@dataclass(frozen=True)
class H2O(PressMethod):
    name = "h2o"
    description = (
        "H2O (heavy hitters): keep the tokens with the most attention received during prefill "
        "(kvpress ObservedAttentionPress; runs with eager attention)."
    )

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)
        check_budget(self)

    @property
    def attn_implementation(self) -> str | None:
        return "eager"

    def build_press(self) -> Any:
        from kvpress import ObservedAttentionPress

        return ObservedAttentionPress(compression_ratio=self.ratio)


@dataclass(frozen=True)
class TOVA(PressMethod):
    name = "tova"
    description = (
        "TOVA: keep the tokens the last prompt token attends to most, heads averaged (kvpress TOVAPress)."
    )

    ratio: float = param(0.5, RATIO_HELP)
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)

    def build_press(self) -> Any:
        from kvpress import TOVAPress

        return TOVAPress(compression_ratio=self.ratio)


@dataclass(frozen=True)
class Knorm(PressMethod):
    name = "knorm"
    description = "Knorm: keep the keys with the smallest L2 norm (kvpress KnormPress)."

    ratio: float = param(0.5, RATIO_HELP)
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)

    def build_press(self) -> Any:
        from kvpress import KnormPress

        return KnormPress(compression_ratio=self.ratio)


@dataclass(frozen=True)
class ExpectedAttention(PressMethod):
    name = "expected_attention"
    description = (
        "Expected Attention: keep the KV pairs future queries are expected to attend to "
        "(kvpress ExpectedAttentionPress)."
    )

    ratio: float = param(0.5, RATIO_HELP)
    future: int = param(512, "future positions the expected query statistics are averaged over")
    sink: int = param(4, "initial tokens always kept")
    covariance: bool = param(True, "use the queries' covariance, not only their mean")
    vnorm: bool = param(True, "rescale scores by the value norms")
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_ratio(self.name, self.ratio)
        check_positive(self.name, "future", self.future)
        check_positive(self.name, "sink", self.sink, minimum=0)

    def build_press(self) -> Any:
        from kvpress import ExpectedAttentionPress

        return ExpectedAttentionPress(
            compression_ratio=self.ratio,
            n_future_positions=self.future,
            n_sink=self.sink,
            use_covariance=self.covariance,
            use_vnorm=self.vnorm,
        )
