"""A KIVI-style quantized KV cache for transformers (Liu et al., 2024, "KIVI").

Keys are quantized per channel: each block of `group` consecutive tokens gets, for
every channel, its own scale and minimum. Values are quantized per token: each token's
head vector is split into groups of `group` channels (clamped to the head size), each
with its own scale and minimum. The most recent `residual` tokens (plus fewer than
`group` more, until a whole block is ready) stay in full precision; whenever the
full-precision window holds `residual + group` tokens or more, its oldest whole blocks
are quantized and moved out. Quantized codes are stored packed in uint8 tensors
(4 codes a byte at 2 bits, 2 at 4 bits, 1 at 8 bits); scales and minimums are kept
in the model's dtype, as KIVI does.

The prefill attends to the full-precision keys and values of the prompt (as in KIVI);
each decoding step attends to the dequantized blocks plus the full-precision window.

We use this rather than transformers' `QuantizedCache` (quanto backend) because the
latter quantizes the whole prompt at prefill with no full-precision window, re-quantizes
the entire cache every time its window fills, quantizes keys and values along the same
axis, keeps its codes inside quanto tensor subclasses, and compiles a C++ extension on
first use (1-2 minutes; a killed build leaves a stale `lock` file in its torch
extensions build folder that blocks later builds until deleted).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, CacheLayerMixin


def _shifts(bits: int, device: torch.device) -> torch.Tensor:
    return torch.arange(0, 8, bits, dtype=torch.uint8, device=device)


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack uint8 codes < 2**bits along the last dim, 8 // bits codes a byte."""
    if bits == 8:
        return codes.contiguous()
    per_byte = 8 // bits
    grouped = codes.reshape(*codes.shape[:-1], codes.shape[-1] // per_byte, per_byte)
    return (grouped << _shifts(bits, codes.device)).sum(-1, dtype=torch.uint8)


def unpack(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """Inverse of `pack`."""
    if bits == 8:
        return packed
    mask = (1 << bits) - 1
    codes = (packed.unsqueeze(-1) >> _shifts(bits, packed.device)) & mask
    return codes.reshape(*packed.shape[:-1], packed.shape[-1] * (8 // bits))


def _quantize(x: torch.Tensor, dim: int, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric min-max quantization reducing over `dim`: (codes, scale, minimum)."""
    xf = x.float()
    lo = xf.amin(dim, keepdim=True)
    hi = xf.amax(dim, keepdim=True)
    scale = (hi - lo) / ((1 << bits) - 1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = ((xf - lo) / scale).round_().clamp_(0, (1 << bits) - 1).to(torch.uint8)
    return codes, scale.squeeze(dim).to(x.dtype), lo.squeeze(dim).to(x.dtype)


class KiviLayer(CacheLayerMixin):
    """One layer's KIVI cache. `keys`/`values` hold the full-precision window."""

    is_sliding = False
    is_compileable = False

    def __init__(self, bits: int, group: int, residual: int):
        super().__init__()
        if bits not in (2, 4, 8):
            raise ValueError(f"KIVI bits must be 2, 4 or 8, not {bits}")
        self.bits = bits
        self.group = group
        self.residual = residual
        self.n_quantized = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        batch, heads, _, dim = key_states.shape
        if (dim * self.bits) % 8:
            raise ValueError(f"KIVI at {self.bits} bits needs a head size divisible by {8 // self.bits}, not {dim}")
        self.head_dim = dim
        self.value_group = self.group if self.group <= dim and dim % self.group == 0 else dim
        packed = dim * self.bits // 8

        def empty(last: int, dtype: torch.dtype) -> torch.Tensor:
            return torch.empty(batch, heads, 0, last, dtype=dtype, device=self.device)

        self.keys = empty(dim, self.dtype)
        self.values = empty(dim, self.dtype)
        self.key_codes = empty(packed, torch.uint8)
        self.key_scale = empty(dim, self.dtype)  # one row per block of `group` tokens
        self.key_min = empty(dim, self.dtype)
        self.value_codes = empty(packed, torch.uint8)
        self.value_scale = empty(dim // self.value_group, self.dtype)  # one row per token
        self.value_min = empty(dim // self.value_group, self.dtype)
        self.is_initialized = True

    # -- quantized storage --------------------------------------------------------------

    def _dequantized(self) -> tuple[torch.Tensor, torch.Tensor]:
        b, h, n, d = self.keys.shape[0], self.keys.shape[1], self.n_quantized, self.head_dim
        blocks = n // self.group
        kq = unpack(self.key_codes, self.bits).view(b, h, blocks, self.group, d).to(self.dtype)
        keys = (kq * self.key_scale.unsqueeze(3) + self.key_min.unsqueeze(3)).view(b, h, n, d)
        vg = self.value_group
        vq = unpack(self.value_codes, self.bits).view(b, h, n, d // vg, vg).to(self.dtype)
        values = (vq * self.value_scale.unsqueeze(-1) + self.value_min.unsqueeze(-1)).view(b, h, n, d)
        return keys, values

    def _flush(self) -> None:
        """Quantize the oldest whole blocks of the window beyond `residual` tokens."""
        window = self.keys.shape[-2]
        n = (window - self.residual) // self.group * self.group
        if n <= 0:
            return
        b, h, _, d = self.keys.shape
        old_k, old_v = self.keys[:, :, :n], self.values[:, :, :n]
        kc, ks, km = _quantize(old_k.reshape(b, h, n // self.group, self.group, d), 3, self.bits)
        vg = self.value_group
        vc, vs, vm = _quantize(old_v.reshape(b, h, n, d // vg, vg), -1, self.bits)
        self.key_codes = torch.cat([self.key_codes, pack(kc.reshape(b, h, n, d), self.bits)], dim=-2)
        self.key_scale = torch.cat([self.key_scale, ks], dim=-2)
        self.key_min = torch.cat([self.key_min, km], dim=-2)
        self.value_codes = torch.cat([self.value_codes, pack(vc.reshape(b, h, n, d), self.bits)], dim=-2)
        self.value_scale = torch.cat([self.value_scale, vs], dim=-2)
        self.value_min = torch.cat([self.value_min, vm], dim=-2)
        self.n_quantized += n
        # clone: a slice would keep the whole old window's storage alive
        self.keys = self.keys[:, :, n:].clone()
        self.values = self.values[:, :, n:].clone()

    # -- CacheLayerMixin ------------------------------------------------------------------

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, cache_kwargs: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if self.n_quantized == 0 and self.keys.shape[-2] == 0:
            keys_out, values_out = key_states, value_states  # prefill: full precision
        else:
            dk, dv = self._dequantized()
            keys_out = torch.cat([dk, self.keys, key_states], dim=-2)
            values_out = torch.cat([dv, self.values, value_states], dim=-2)
        self.keys = torch.cat([self.keys, key_states], dim=-2)
        self.values = torch.cat([self.values, value_states], dim=-2)
        self._flush()
        return keys_out, values_out

    def get_seq_length(self) -> int:
        if not self.is_initialized:
            return 0
        return self.n_quantized + self.keys.shape[-2]

    def get_mask_sizes(self, cache_position: torch.Tensor) -> tuple[int, int]:
        return self.get_seq_length() + cache_position.shape[0], 0

    def get_max_cache_shape(self) -> int:
        return -1

    def reset(self) -> None:
        self.is_initialized = False
        self.n_quantized = 0


class KiviCache(Cache):
    """KIVI-quantized KV cache: one `KiviLayer` per decoder layer."""

    def __init__(self, config: Any, bits: int = 2, group: int = 32, residual: int = 128):
        num_layers = config.get_text_config(decoder=True).num_hidden_layers
        super().__init__(layers=[KiviLayer(bits, group, residual) for _ in range(num_layers)])
