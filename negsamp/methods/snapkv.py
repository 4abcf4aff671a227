"""`snapkv`: SnapKV (Li et al., 2024), as configured in the paper's artifact.

The last `window` prompt queries score every earlier token (softmax attention, summed
over the window queries); scores are smoothed by a pooling of width `kernel`; the top
`budget - window` tokens are kept with the window. Defaults are the artifact's effective
setting (window 8 after its loader's override, max-pooling, kernel 7), checked against
KVCache-Factory's `SnapKVCluster` outputs. Max-pooling copies a local maximum to its
neighbours, so the k-th and (k+1)-th scores often tie; which tied token is kept is up
to `torch.topk`, exactly as in the reference.
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

Pool = Literal["max", "avg", "none"]


@dataclass(frozen=True)
class SnapKV(KVFactoryEviction):
    name = "snapkv"
    paper_url = "https://arxiv.org/abs/2404.14469"
    description = (
        "SnapKV: keep the tokens the last `window` prompt tokens attend to most (pooled scores), "
        "plus the window (defaults: the paper's window 8, max-pool, kernel 7)."
    )

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    window: int = param(8, "observation window: the last tokens, which score the others and are always kept")
    pool: Pool = param("max", "pooling of the scores along the tokens: max, avg or none")
    kernel: int = param(7, "width of the pooling")
    gqa: GQA = param("mean", GQA_HELP)
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        self.check_common()
        check_positive(self.name, "window", self.window)
        check_positive(self.name, "kernel", self.kernel)

    def scores(self, queries: Queries, keys: torch.Tensor, window: int) -> torch.Tensor:
        from negsamp.methods.kv_scores import pool_scores, window_scores

        return pool_scores(window_scores(queries(window), keys, window), self.pool, self.kernel)
