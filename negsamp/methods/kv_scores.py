"""Attention scores the KVCache-Factory eviction methods rank prompt tokens by.

Pure tensor functions on `[batch, heads, tokens, head_dim]` post-RoPE states, shared
by the methods' cache hooks and the reference-fixture tests. They follow
KVCache-Factory's `pyramidkv_utils.py` (the paper artifact's copy, mid-2024): scores
are softmax attention probabilities in float32, cast back to the query dtype, summed
over the scoring queries, for the keys *before* the observation window only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

Queries = Callable[[int | None], torch.Tensor]
"""`queries(n)`: post-RoPE query states of the last n prompt tokens (all of them if None)."""

QUERY_CHUNK = 256
"""Queries scored at once by `causal_scores` (bounds its memory to chunk x tokens per head)."""


def window_scores(query: torch.Tensor, key: torch.Tensor, window: int) -> torch.Tensor:
    """Attention of the last `window` queries to the first T - window keys: `[B, H, T - window]`.

    The softmax runs over all T keys; only the window x window block at the end is causally
    masked (earlier keys are all in the past of every window query). `query` holds at
    least the last `window` queries; `key` all T keys (heads already matched to the queries).
    """
    q = query[..., -window:, :]
    weights = torch.matmul(q, key.transpose(2, 3)) / math.sqrt(key.shape[-1])
    # The reference adds finfo.min (not -inf) above the diagonal of the last block.
    block = torch.full((window, window), torch.finfo(weights.dtype).min, device=weights.device)
    block = torch.triu(block, diagonal=1)
    weights[..., -window:, -window:] += block
    probs = torch.softmax(weights, dim=-1, dtype=torch.float32).to(q.dtype)
    return probs[..., :-window].sum(dim=-2)


def causal_scores(queries: Queries, key: torch.Tensor, window: int, chunk: int = QUERY_CHUNK) -> torch.Tensor:
    """H2O's accumulated attention: every prompt query's causal attention, summed, for the
    first T - window keys: `[B, H, T - window]`. Computed `chunk` queries at a time."""
    query = queries(None)
    t = key.shape[-2]
    scale = math.sqrt(key.shape[-1])
    total = torch.zeros(*key.shape[:2], t - window, dtype=query.dtype, device=key.device)
    positions = torch.arange(t, device=key.device)
    for start in range(0, t, chunk):
        q = query[..., start : start + chunk, :]
        weights = torch.matmul(q, key.transpose(2, 3)) / scale
        rows = positions[start : start + q.shape[-2]].unsqueeze(-1)
        future = positions.unsqueeze(0) > rows
        weights = weights.masked_fill(future, torch.finfo(weights.dtype).min)
        probs = torch.softmax(weights, dim=-1, dtype=torch.float32).to(q.dtype)
        total += probs[..., : t - window].sum(dim=-2)
    return total


def pool_scores(scores: torch.Tensor, pool: str, kernel: int) -> torch.Tensor:
    """SnapKV's smoothing along the token axis (stride 1, padding kernel // 2), or none."""
    if pool == "none" or kernel <= 1:
        return scores
    shape = scores.shape
    flat = scores.reshape(-1, 1, shape[-1])
    if pool == "max":
        out = F.max_pool1d(flat, kernel_size=kernel, padding=kernel // 2, stride=1)
    else:
        out = F.avg_pool1d(flat, kernel_size=kernel, padding=kernel // 2, stride=1)
    return out.reshape(*shape[:-1], out.shape[-1])


def keep_positions(scores: torch.Tensor, k: int, total: int) -> torch.Tensor:
    """Top-`k` positions by score (descending), then the window `scores.shape[-1]..total-1`
    in position order: the order KVCache-Factory stores the kept tokens in."""
    b, h, n = scores.shape
    top = scores.topk(k, dim=-1).indices
    window = torch.arange(n, total, device=scores.device).expand(b, h, total - n)
    return torch.cat([top, window], dim=-1)


def pyramid_budget(capacity: int, window: int, tokens: int, layer: int, layers: int, beta: int,
                   divisor: int) -> int:
    """Tokens PyramidKV keeps before the window in `layer` (KVCache-Factory's arithmetic).

    `divisor` is the number of layers in the paper-era code and layers - 1 later (see
    PyramidKV.variant). Below 2(N-W) prompt tokens every layer keeps N-W, as SnapKV.
    """
    base = capacity - window
    if tokens < 2 * base:
        return base
    low = base // beta
    high = 2 * base - low
    if high >= tokens - window:
        high = tokens - window
        low = 2 * base - high
    steps = (high - low) // max(divisor, 1)
    return high - layer * steps
