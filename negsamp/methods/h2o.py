"""`h2o`: Heavy-Hitter Oracle (Zhang et al., 2023) as a prefill-time budget.

`variant=paper` (default) is H2O as its paper defines it: a token's score is the
attention it received from every prompt query (causal), accumulated; the top
`budget - window` tokens are kept with the last `window` tokens (KVCache-Factory's
later `H2OKVCluster`, checked against its outputs).

`variant=rethink` is what the paper we reproduce (Gao et al., MLSys 2025) actually ran,
mid-2024 KVCache-Factory: scores come from the last `window` (8) queries only, with no
pooling, i.e. SnapKV without the max-pool; there is no decode-time eviction in either.
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


@dataclass(frozen=True)
class H2O(KVFactoryEviction):
    name = "h2o"
    paper_url = "https://arxiv.org/abs/2306.14048"
    description = (
        "H2O: keep the tokens with the most accumulated attention from all prompt queries, plus a "
        "recent window (variant=rethink: only the last `window` queries, as the paper's artifact ran)."
    )

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    variant: Literal["paper", "rethink"] = param(
        "paper", "'paper': accumulated causal attention of all prompt queries; 'rethink': last-window queries only"
    )
    window: int = param(8, "recent tokens always kept (and, for variant=rethink, the scoring queries)")
    gqa: GQA = param("mean", GQA_HELP)
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        self.check_common()
        check_positive(self.name, "window", self.window)

    def scores(self, queries: Queries, keys: torch.Tensor, window: int) -> torch.Tensor:
        from negsamp.methods.kv_scores import causal_scores, window_scores

        if self.variant == "rethink":
            return window_scores(queries(window), keys, window)
        return causal_scores(queries, keys, window)
