"""`pyramidkv`: PyramidKV (Cai et al., 2024): SnapKV scores with a per-layer budget.

Layer l of L keeps `k_l = max - l * steps` tokens by (pooled) score plus the window,
with `min = (N-W) // beta`, `max = 2(N-W) - min` (capped at T-W, then `min` mirrored)
and `steps = (max - min) // D`, as KVCache-Factory computes it; below 2(N-W) prompt
tokens every layer keeps N-W, as SnapKV.

`variant=paper` (default) divides by D = L - 1, so the budgets run from `max` down to
`min` and average N-W (KVCache-Factory after 2024-09-30). `variant=rethink` divides by
D = L, as the mid-2024 code the paper's artifact copied: the budgets never reach `min`,
and layer 0 keeps more than N tokens (with Llama-3-8B, N=1024, W=8: 1990 ... 130, about
1060 a layer on average instead of 1024).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from negsamp.methods.base import COMPRESS_HELP, Compress, check_positive, param
from negsamp.methods.kv_eviction import (
    BUDGET_HELP,
    DEFAULT_RATIO,
    GQA,
    GQA_HELP,
    RATIO_HELP,
    KVFactoryEviction,
)

if TYPE_CHECKING:
    import torch

    from negsamp.methods.kv_scores import Queries
from negsamp.methods.snapkv import Pool


@dataclass(frozen=True)
class PyramidKV(KVFactoryEviction):
    name = "pyramidkv"
    paper_url = "https://arxiv.org/abs/2406.02069"
    description = (
        "PyramidKV: SnapKV scores with a per-layer budget, more KV in lower layers "
        "(variant=rethink: the paper artifact's per-layer step, which over-allocates)."
    )

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    variant: Literal["paper", "rethink"] = param(
        "paper", "'paper': per-layer step (max-min)//(L-1); 'rethink': //L, as the paper's artifact"
    )
    window: int = param(8, "observation window: the last tokens, which score the others and are always kept")
    pool: Pool = param("max", "pooling of the scores along the tokens: max, avg or none")
    kernel: int = param(7, "width of the pooling")
    beta: int = param(20, "steepness of the pyramid: the last layer keeps about (N-W)/beta")
    gqa: GQA = param("mean", GQA_HELP)
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        self.check_common()
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

    def top_k(self, capacity: int, tokens: int, window: int, layer: int, layers: int) -> int:
        from negsamp.methods.kv_scores import pyramid_budget

        divisor = layers if self.variant == "rethink" else layers - 1
        return pyramid_budget(capacity, window, tokens, layer, layers, self.beta, divisor)

    def scores(self, queries: Queries, keys: torch.Tensor, window: int) -> torch.Tensor:
        from negsamp.methods.kv_scores import pool_scores, window_scores

        return pool_scores(window_scores(queries(window), keys, window), self.pool, self.kernel)
