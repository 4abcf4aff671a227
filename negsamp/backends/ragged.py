"""Joining KV caches of rows that were prefilled apart into one batch for decoding.

Compressed methods cannot be prefilled with left padding: an eviction press would
score the padding, and KIVI's key blocks would straddle it. So the engine prefills
rows with the same length (and the same context/question split) together, without
padding, one group after the other, and then joins the groups' caches here, each
row left-padded to the widest row's kept length and masked, so that decoding runs as
one batch while every row attends to exactly the KV it kept alone.

- Plain `DynamicCache`s (every eviction press leaves one) are joined once, by padding
  and concatenating their tensors: decoding then reads one contiguous cache.
- Any other cache (e.g. KIVI's) is wrapped in a `RowsCache`: each step, every group's
  own cache layer is updated with its rows and the results are padded and stacked.
  Each group keeps its own quantization blocks, as it would alone.
- A cache whose layers hold different lengths (PyramidKV) cannot be joined: transformers
  builds one attention mask for all layers. `join` then returns None.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, CacheLayerMixin, DynamicLayer

from negsamp.kvcache import kv_tokens


def uniform_length(cache: Any) -> int | None:
    """The cache's length when every layer holds the same number of tokens, else None."""
    lengths = set(kv_tokens(cache))
    return lengths.pop() if len(lengths) == 1 else None


def left_pad(t: torch.Tensor, width: int) -> torch.Tensor:
    """Zeros prepended along the token axis (-2) up to `width` tokens."""
    missing = width - t.shape[-2]
    return torch.nn.functional.pad(t, (0, 0, missing, 0)) if missing > 0 else t


def _is_plain_dynamic(cache: Any) -> bool:
    return type(cache) is DynamicCache and all(type(layer) is DynamicLayer for layer in cache.layers)


def join(caches: list[Any], sizes: list[int]) -> Any | None:
    """One cache for the rows of `caches` (in order; `sizes[i]` rows each), padded on the left; None if impossible."""
    if len(caches) == 1:
        return caches[0]
    widths = [uniform_length(c) for c in caches]
    if any(w is None for w in widths) or len({len(c.layers) for c in caches}) != 1:
        return None
    width = max(widths)
    if all(_is_plain_dynamic(c) for c in caches):
        joined = caches[0]
        for index, layer in enumerate(joined.layers):
            layer.keys = torch.cat([left_pad(c.layers[index].keys, width) for c in caches])
            layer.values = torch.cat([left_pad(c.layers[index].values, width) for c in caches])
        return joined
    return RowsCache(caches, sizes)


class RowsLayer(CacheLayerMixin):
    """One decoder layer over several groups' own layers, each holding some rows of the batch."""

    is_sliding = False
    is_compileable = False

    def __init__(self, parts: list[CacheLayerMixin], sizes: list[int]) -> None:
        super().__init__()
        self.parts = parts
        self.sizes = sizes
        self.is_initialized = True

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        pass

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor,
               cache_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [
            part.update(k, v, cache_kwargs)
            for part, k, v in zip(self.parts, key_states.split(self.sizes), value_states.split(self.sizes))
        ]
        width = max(k.shape[-2] for k, _ in outs)
        keys = torch.cat([left_pad(k, width) for k, _ in outs])
        values = torch.cat([left_pad(v, width) for _, v in outs])
        return keys, values

    def get_seq_length(self) -> int:
        return max(part.get_seq_length() for part in self.parts)

    def get_mask_sizes(self, cache_position: torch.Tensor) -> tuple[int, int]:
        return self.get_seq_length() + cache_position.shape[0], 0

    def get_max_cache_shape(self) -> int:
        return -1


class RowsCache(Cache):
    """Several groups' caches decoded as one left-padded batch (see the module docstring)."""

    def __init__(self, groups: list[Any], sizes: list[int]) -> None:
        self.groups = groups
        layers = [RowsLayer([g.layers[i] for g in groups], sizes) for i in range(len(groups[0].layers))]
        super().__init__(layers=layers)

