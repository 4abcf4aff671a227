"""Prefill-time eviction as KVCache-Factory does it (H2O, SnapKV, PyramidKV, StreamingLLM).

A method is a frozen dataclass with one required method, `scores(queries, keys, window)`:
one score per prompt token before the observation window, per query head. This base
class turns it into a cache budget and hooks: while `with method.compression(model):`
is active, every attention layer's prefill forward is followed by a selection of
`k` tokens by score plus the last `window` tokens, per head, written back into the
layer's cache (the layout KVCache-Factory's `update_kv` returns; decoding then runs on it).

Budget: `budget` tokens per layer and head (the paper's `max_capacity_prompt`; prompts
of at most that many tokens are not compressed), or `int(T * (1 - ratio))` of a
T-token prompt. The window counts towards it: `k = budget - window`.

GQA (`gqa`): the paper-era code repeats the KV heads to the query heads *before*
`update_kv` (`repeat_kv` in its llama patch), so every query head selects its own copy
(`gqa=repeat`: the cache holds num_attention_heads heads, g times the KV memory of an
uncompressed cache per kept token; the model must run `negsamp_per_head` attention,
see `negsamp.methods.per_head_attention`). `gqa=mean` averages the query heads' scores
within each group and selects per KV head (kvpress's and later KVCache-Factory's
choice), keeping the cache's shape. Models without GQA are unaffected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from negsamp.errors import InputError
from negsamp.methods.base import Method, check_positive, check_ratio

if TYPE_CHECKING:  # torch is imported only when a model runs, so listing methods stays cheap
    import torch

    from negsamp.methods.kv_scores import Queries

GQA = Literal["mean", "repeat"]
GQA_HELP = (
    "grouped-query models: 'mean' selects per KV head (query heads' scores averaged), "
    "'repeat' per query head on repeated KV heads, as the paper's artifact (g x the KV memory)"
)
RATIO_HELP = "fraction of the prompt's KV pairs evicted, in [0, 1) (ignored when budget > 0)"
BUDGET_HELP = (
    "if > 0: keep this many tokens per layer and head, window included (the paper's cache budget, "
    "e.g. 2048; prompts this short are not compressed); ratio must then be left out"
)
DEFAULT_RATIO = 0.5


@dataclass(frozen=True)
class KVFactoryEviction(Method):
    """Base of the KVCache-Factory-style methods. Subclasses declare the fields `ratio`,
    `budget`, `window`, `gqa` and `compress`, and implement `scores`."""

    family = "eviction"

    # ---- what a method defines ---------------------------------------------------------

    def scores(self, queries: Queries, keys: torch.Tensor, window: int) -> torch.Tensor:
        """`[B, H, T - window]` scores of the tokens before the window (higher: kept)."""
        raise NotImplementedError

    def window_size(self, capacity: int) -> int:
        """Recent tokens always kept, given the layer's budget."""
        return self.window  # type: ignore[attr-defined]

    def top_k(self, capacity: int, tokens: int, window: int, layer: int, layers: int) -> int:
        """Tokens kept by score in `layer` (the rest of the budget is the window)."""
        return capacity - window

    # ---- shared behaviour ----------------------------------------------------------------

    def check_common(self) -> None:
        """Validate ratio / budget / window; with a budget the canonical spec records ratio=0.0."""
        check_ratio(self.name, self.ratio)  # type: ignore[attr-defined]
        check_positive(self.name, "budget", self.budget, minimum=0)  # type: ignore[attr-defined]
        check_positive(self.name, "window", self.window, minimum=0)  # type: ignore[attr-defined]
        if self.budget:  # type: ignore[attr-defined]
            if self.ratio not in (DEFAULT_RATIO, 0.0):  # type: ignore[attr-defined]
                raise InputError(f"method {self.name!r}: give either ratio or budget, not both")
            object.__setattr__(self, "ratio", 0.0)

    def capacity(self, tokens: int) -> int:
        """Tokens a layer may keep of a `tokens`-long prompt, before per-layer adjustments."""
        if self.budget:  # type: ignore[attr-defined]
            return self.budget  # type: ignore[attr-defined]
        return max(1, int(tokens * (1 - self.ratio)))  # type: ignore[attr-defined]

    def select(self, queries: Queries, keys: torch.Tensor, layer: int = 0, layers: int = 1,
               groups: int = 1) -> torch.Tensor | None:
        """Positions to keep, `[B, H', n]` in KVCache-Factory's stored order, or None (keep all).

        `keys` has one head per query head (KV heads repeated); with `groups` > 1 and
        gqa=mean, scores are averaged over each group and H' is the number of KV heads.
        """
        import torch

        from negsamp.methods.kv_scores import keep_positions

        tokens = keys.shape[-2]
        capacity = self.capacity(tokens)
        if capacity >= tokens:
            return None  # KVCache-Factory returns short prompts unchanged (at q_len == N it keeps all N)
        window = min(self.window_size(capacity), capacity, tokens)
        k = min(self.top_k(capacity, tokens, window, layer, layers), tokens - window)
        if k <= 0:  # nothing kept by score (e.g. PyramidKV's top layers at a small budget): the window only
            # ... for as many heads as a scored selection would have: per KV head under gqa=mean, so
            # the cache keeps the model's KV heads (decoding appends those) and is not stored repeated.
            heads = keys.shape[1] // groups if self.gqa == "mean" else keys.shape[1]  # type: ignore[attr-defined]
            return torch.arange(tokens - window, tokens, device=keys.device).expand(keys.shape[0], heads, window)
        scores = self.scores(queries, keys, window)
        if groups > 1 and self.gqa == "mean":  # type: ignore[attr-defined]
            b, h, n = scores.shape
            scores = scores.view(b, h // groups, groups, n).mean(2)
        return keep_positions(scores, k, tokens)

    # ---- runner interface ----------------------------------------------------------------

    @property
    def split_prefill(self) -> bool:
        return self.compress == "context"  # type: ignore[attr-defined]

    @property
    def attn_implementation(self) -> str | None:
        if self.gqa == "repeat":  # type: ignore[attr-defined]
            from negsamp.methods.per_head_attention import register

            return register()
        return None

    def make_cache(self, model: Any, batch_size: int) -> Any:
        if self.gqa != "repeat":  # type: ignore[attr-defined]
            return super().make_cache(model, batch_size)
        from transformers.cache_utils import Cache

        from negsamp.methods.per_head_attention import PerHeadLayer

        layers = model.config.get_text_config(decoder=True).num_hidden_layers
        return Cache(layers=[PerHeadLayer() for _ in range(layers)])

    def compression(self, model: Any) -> contextlib.AbstractContextManager:
        return _hooks(self, model)


@contextlib.contextmanager
def _hooks(method: KVFactoryEviction, model: Any) -> Iterator[None]:
    inner = model.model.language_model if hasattr(model.model, "language_model") else model.model
    layers = len(inner.layers)
    handles = [
        layer.self_attn.register_forward_hook(_make_hook(method, layers), with_kwargs=True)
        for layer in inner.layers
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _make_hook(method: KVFactoryEviction, layers: int) -> Any:
    def hook(module: Any, args: Any, kwargs: dict, output: Any) -> Any:
        hidden = kwargs["hidden_states"]
        cache = kwargs["past_key_values"]
        position = kwargs.get("cache_position")
        if position is not None and int(position[-1]) + 1 != hidden.shape[1]:
            return output  # not the prefill (KVCache-Factory's update_kv runs only there)
        evict_layer(method, module, cache.layers[module.layer_idx], hidden, kwargs["position_embeddings"], layers)
        return output

    return hook


def evict_layer(method: KVFactoryEviction, module: Any, layer: Any, hidden: torch.Tensor,
                position_embeddings: tuple[torch.Tensor, torch.Tensor], layers: int) -> None:
    """Select and keep the tokens of one layer's freshly prefilled cache."""
    from transformers.models.llama.modeling_llama import repeat_kv

    keys, values = layer.keys, layer.values
    groups = module.config.num_attention_heads // keys.shape[1]

    def queries(last: int | None) -> torch.Tensor:
        return _post_rope_queries(module, hidden, position_embeddings, last)

    repeated = repeat_kv(keys, groups)
    kept = method.select(queries, repeated, module.layer_idx, layers, groups)
    if kept is None:
        return
    if kept.shape[1] != keys.shape[1]:  # per query head
        keys, values = repeated, repeat_kv(values, groups)
    index = kept.unsqueeze(-1).expand(-1, -1, -1, keys.shape[-1])
    layer.keys = keys.gather(2, index)
    layer.values = values.gather(2, index)


def _post_rope_queries(module: Any, hidden: torch.Tensor, position_embeddings: tuple[torch.Tensor, torch.Tensor],
                       last: int | None) -> torch.Tensor:
    from kvpress.utils import get_prerope_query_states
    from transformers.models.llama.modeling_llama import rotate_half

    if last is not None:
        hidden = hidden[:, -last:]
    query = get_prerope_query_states(module, hidden)
    cos, sin = position_embeddings
    n = query.shape[-2]
    cos, sin = cos[:, -n:].unsqueeze(1), sin[:, -n:].unsqueeze(1)
    return query * cos + rotate_half(query) * sin
