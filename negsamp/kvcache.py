"""KV-cache memory, measured from the tensors a cache actually holds.

`kv_bytes(cache)` sums the bytes of every tensor reachable from the cache's layers:
full-precision keys and values, packed quantized codes, scales, minimums/zero points,
full-precision residual windows, and the inner tensors of tensor subclasses (e.g.
quanto's QTensor). It counts each underlying storage once, at its full size, so a
view that keeps a larger buffer alive is charged for that buffer. Nothing is
computed from a method's nominal ratio.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


def _tensors(obj: Any, depth: int = 0):
    """Yield the plain tensors reachable from a cache object (layers, containers, subclasses)."""
    if depth > 6 or obj is None:
        return
    if isinstance(obj, torch.Tensor):
        if hasattr(obj, "__tensor_flatten__") and type(obj) is not torch.Tensor:
            names, _ = obj.__tensor_flatten__()
            for name in names:
                yield from _tensors(getattr(obj, name), depth + 1)
        else:
            yield obj
        return
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value, depth + 1)
        return
    if isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors(value, depth + 1)
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):  # e.g. one compressed tensor's parts
        for value in vars(obj).values():
            yield from _tensors(value, depth + 1)
        return
    if depth == 0 and hasattr(obj, "layers"):  # a transformers Cache
        for layer in obj.layers:
            yield from _tensors(layer, depth + 1)
        return
    if depth <= 1 and hasattr(obj, "__dict__"):  # a cache layer
        for value in vars(obj).values():
            yield from _tensors(value, depth + 1)


def _storage_key(t: torch.Tensor) -> tuple[str, int, int]:
    storage = t.untyped_storage()
    return (str(t.device), storage.data_ptr(), storage.nbytes())


def kv_bytes(cache: Any) -> int:
    """Bytes held by a KV cache's tensors (every storage counted once)."""
    seen: set[tuple[str, int, int]] = set()
    total = 0
    for t in _tensors(cache):
        try:
            key = _storage_key(t)
        except (RuntimeError, NotImplementedError):  # storage-less tensor: count its own bytes
            total += t.nelement() * t.element_size()
            continue
        if key[2] == 0 or key in seen:
            continue
        seen.add(key)
        total += key[2]
    return total


def kv_tokens(cache: Any) -> list[int]:
    """Cached sequence length of each layer (they differ for per-layer budgets like PyramidKV)."""
    return [layer.get_seq_length() for layer in getattr(cache, "layers", [])]
