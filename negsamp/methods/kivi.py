"""`kivi`: KIVI-style KV-cache quantization (keys per channel, values per token).

The cache itself is `negsamp.methods.kivi_cache.KiviCache` (our own, storing packed
integer codes; see its docstring for why not transformers' quanto-backed cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from negsamp.errors import InputError
from negsamp.methods.base import Method, check_positive, param


@dataclass(frozen=True)
class KIVI(Method):
    name = "kivi"
    description = (
        "KIVI: quantize keys per channel and values per token to `bits` bits, keeping the last "
        "`residual` tokens in full precision (our packed-integer cache)."
    )
    family = "quantization"

    bits: int = param(2, "bits per quantized key/value: 2, 4 or 8")
    group: int = param(32, "tokens per key block (one scale per channel each); channels per value group")
    residual: int = param(128, "most recent tokens kept in full precision")

    def __post_init__(self) -> None:
        if self.bits not in (2, 4, 8) or isinstance(self.bits, bool):
            raise InputError(f"method 'kivi': bits={self.bits!r} must be 2, 4 or 8")
        check_positive(self.name, "group", self.group)
        check_positive(self.name, "residual", self.residual, minimum=0)

    def make_cache(self, model: Any, batch_size: int) -> Any:
        from negsamp.methods.kivi_cache import KiviCache

        return KiviCache(model.config, bits=self.bits, group=self.group, residual=self.residual)
