"""`gear`: GEAR KV-cache compression (Kang et al., 2024), as the paper's artifact ran it.

Uniform quantization of the whole K (and V) tensor of a layer, sparse exact outliers and
a low-rank correction of the quantization error, re-compressed every `gap` decoding
steps. The cache is `negsamp.methods.gear_cache.GearCache`; its docstring lists the
reference's quirks. Paper settings: `gear:bits=8` and `gear:bits=4` (outlier 0.02,
rank 0.02, loop 3, gap 20: the defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from negsamp.errors import InputError
from negsamp.methods.base import Method, check_positive, param


@dataclass(frozen=True)
class GEAR(Method):
    name = "gear"
    paper_url = "https://arxiv.org/abs/2403.05527"
    description = (
        "GEAR: quantize K/V (one min/max per layer tensor) plus exact outliers and a low-rank "
        "error correction, re-compressed every `gap` decoding steps (the reference's gear_batch)."
    )
    family = "quantization"

    bits: int = param(4, "bits per quantized entry: 4 or 8")
    outlier: float = param(0.02, "fraction of entries kept exactly as outliers (half smallest, half largest)")
    rank: float = param(0.02, "rank of the error correction, as a fraction of min(tokens, heads x head_dim)")
    loop: int = param(3, "power iterations for the low-rank factors")
    gap: int = param(20, "decoding steps between full re-compressions (tokens in between stay full precision)")
    seed: int = param(0, "seed of the power iterations' random start (the reference's is unseeded)")

    def __post_init__(self) -> None:
        if self.bits not in (4, 8) or isinstance(self.bits, bool):
            raise InputError(f"method 'gear': bits={self.bits!r} must be 4 or 8")
        for field in ("outlier", "rank"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise InputError(f"method 'gear': {field}={value!r} must be in [0, 1)")
        check_positive(self.name, "loop", self.loop)
        check_positive(self.name, "gap", self.gap)
        check_positive(self.name, "seed", self.seed, minimum=0)

    def make_cache(self, model: Any, batch_size: int) -> Any:
        from negsamp.methods.gear_cache import GearCache

        return GearCache(model.config, bits=self.bits, outlier=self.outlier, rank=self.rank, loop=self.loop,
                         gap=self.gap, seed=self.seed)
