"""`streamingllm`: StreamingLLM (Xiao et al., 2024): attention sinks plus recent tokens.

Keeps the first `sink` tokens and the most recent `budget - sink`, as the paper's
artifact configured KVCache-Factory's `StreamingLLMKVCluster` (window = budget - 4).
No scores: which tokens are kept depends only on positions, so grouped-query models
keep one copy per KV head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from negsamp.methods.base import COMPRESS_HELP, Compress, check_positive, param
from negsamp.methods.kv_eviction import (
    BUDGET_HELP,
    DEFAULT_RATIO,
    RATIO_HELP,
    KVFactoryEviction,
)

if TYPE_CHECKING:
    import torch

    from negsamp.methods.kv_scores import Queries


@dataclass(frozen=True)
class StreamingLLM(KVFactoryEviction):
    name = "streamingllm"
    paper_url = "https://arxiv.org/abs/2309.17453"
    description = "StreamingLLM: keep the first `sink` tokens and the most recent ones."

    ratio: float = param(DEFAULT_RATIO, RATIO_HELP)
    budget: int = param(0, BUDGET_HELP)
    sink: int = param(4, "attention-sink tokens always kept at the start")
    compress: Compress = param("context+question", COMPRESS_HELP)

    def __post_init__(self) -> None:
        check_positive(self.name, "sink", self.sink, minimum=0)
        self.check_common()

    @property
    def window(self) -> int:  # no field: the recent window is whatever the sinks leave
        return 0

    @property
    def gqa(self) -> str:
        # Positions only: every query head of a group would keep the same tokens, so
        # repeating the KV heads (as the artifact did) would change the memory, not the output.
        return "mean"

    def window_size(self, capacity: int) -> int:
        return max(capacity - self.sink, 0)

    def scores(self, queries: Queries, keys: torch.Tensor, window: int) -> torch.Tensor:
        import torch

        # Earlier positions score higher, so the top `sink` are positions 0..sink-1.
        n = keys.shape[-2] - window
        order = -torch.arange(n, dtype=torch.float32, device=keys.device)
        return order.expand(*keys.shape[:2], n)
