"""`none`: the uncompressed baseline (full-precision DynamicCache, no eviction)."""

from __future__ import annotations

from dataclasses import dataclass

from negsamp.methods.base import Method


@dataclass(frozen=True)
class Baseline(Method):
    name = "none"
    description = "No compression: the full KV cache (the baseline every method is compared with)."
    family = "baseline"
