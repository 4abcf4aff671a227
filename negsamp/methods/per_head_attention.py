"""Attention over a cache that holds one KV head per *query* head (`gqa=repeat`).

The paper's artifact repeats the KV heads of a grouped-query model to the query heads
before evicting, so each query head keeps its own tokens (Llama-3-8B: 32 selections
instead of 8). transformers' attention functions always repeat the cached heads by the
group size, which would fail on such a cache; the function registered here skips that
repeat when the cache already has one head per query head, and otherwise is sdpa.
New decoding tokens arrive with the model's KV heads; `PerHeadLayer` repeats them
before appending to a layer that was stored per query head.

Registration is explicit (`register()`, called by a method that needs it before the
model is loaded), never on import.
"""

from __future__ import annotations

import types
from typing import Any

import torch
from transformers.cache_utils import DynamicLayer

NAME = "negsamp_per_head"
"""The `attn_implementation` name of this attention (sdpa underneath)."""


def per_head_sdpa(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                  attention_mask: torch.Tensor | None, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if key.shape[1] == query.shape[1] and getattr(module, "num_key_value_groups", 1) != 1:
        # A stand-in with group size 1, so sdpa does not repeat the heads a second time.
        proxy = types.SimpleNamespace(num_key_value_groups=1, is_causal=getattr(module, "is_causal", True),
                                      training=module.training)
        return sdpa_attention_forward(proxy, query, key, value, attention_mask, *args, **kwargs)
    return sdpa_attention_forward(module, query, key, value, attention_mask, *args, **kwargs)


def register() -> str:
    """Make `NAME` a valid `attn_implementation` (with sdpa's masks); idempotent. Returns NAME."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(NAME, per_head_sdpa)
    AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    return NAME


class PerHeadLayer(DynamicLayer):
    """A DynamicLayer whose stored heads may be the query heads (after a per-head eviction)."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor,
               cache_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.is_initialized and self.keys.shape[1] != key_states.shape[1]:
            groups = self.keys.shape[1] // key_states.shape[1]
            key_states = key_states.repeat_interleave(groups, dim=1)
            value_states = value_states.repeat_interleave(groups, dim=1)
        return super().update(key_states, value_states, cache_kwargs)
