"""A KIVI quantized KV cache for transformers (Liu et al., 2024, "KIVI"), with the
reference implementation's residual bookkeeping (jy-yuan/KIVI `LlamaAttention_KIVI`,
checked against its outputs in tests/test_method_fixtures.py).

Quantizer: asymmetric min/max, `scale = (max - min) / (2^b - 1)`,
`code = round(clamp((x - min) / scale, 0, 2^b - 1))` (torch's half-to-even round),
dequantized as `code * scale + min`. Keys are quantized per channel over groups of
`group` consecutive tokens; values per token over groups of `group` channels.

Residual bookkeeping (the reference's, which is not a sliding window for keys):

- Prefill, keys: the first `T - T % residual` tokens are quantized and only the last
  `T % residual` stay in full precision (all T are quantized when T is a multiple of
  `residual`; none when T < residual). Values: all but the last `residual` tokens are
  quantized (none when T <= residual). The prefill attention itself uses the
  unquantized keys and values.
- Each decoding step attends to the dequantized part, the full-precision part and its
  own new token, and only *then* updates the cache: when the full-precision keys reach
  `residual` tokens, all of them are quantized as one block (so right after a flush
  every key, the newest included, is quantized); the full-precision values are a
  sliding window of exactly `residual` tokens, whose oldest token is quantized each step.

Codes are stored packed in uint8 (4 a byte at 2 bits, 2 at 4 bits, 1 at 8 bits);
scales and minimums are kept in the model's dtype, as KIVI does. `kv_bytes` counts
exactly these tensors plus the full-precision windows.

We use this rather than transformers' `QuantizedCache` (quanto backend) because the
latter quantizes the whole prompt at prefill with no full-precision window, re-quantizes
the entire cache every time its window fills, quantizes keys and values along the same
axis, keeps its codes inside quanto tensor subclasses, and compiles a C++ extension on
first use.
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


def quantize(x: torch.Tensor, dim: int, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric min/max quantization reducing over `dim`: (uint8 codes, scale, minimum)."""
    xf = x.float()
    lo = xf.amin(dim, keepdim=True)
    hi = xf.amax(dim, keepdim=True)
    top = (1 << bits) - 1
    scale = (hi - lo) / top
    # A constant group has scale 0: the reference would divide by zero (NaN codes); every
    # code is then 0 and dequantizes to the minimum, which is the exact value.
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = ((xf - lo) / safe).clamp_(0, top).round_().to(torch.uint8)
    return codes, scale.squeeze(dim).to(x.dtype), lo.squeeze(dim).to(x.dtype)


class KiviLayer(CacheLayerMixin):
    """One layer's KIVI cache. `keys` / `values` hold the full-precision parts."""

    is_sliding = False
    is_compileable = False

    def __init__(self, bits: int, group: int, residual: int):
        super().__init__()
        if bits not in (2, 4, 8):
            raise ValueError(f"KIVI bits must be 2, 4 or 8, not {bits}")
        if residual < group or residual % group:
            raise ValueError(f"KIVI residual ({residual}) must be a positive multiple of group ({group})")
        self.bits, self.group, self.residual = bits, group, residual
        self.n_quantized_keys = 0
        self.n_quantized_values = 0

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

    def dequantized(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The quantized keys and values, dequantized, in token order."""
        b, h, d = self.keys.shape[0], self.keys.shape[1], self.head_dim
        nk, nv = self.n_quantized_keys, self.n_quantized_values
        kq = unpack(self.key_codes, self.bits).view(b, h, nk // self.group, self.group, d).to(self.dtype)
        keys = (kq * self.key_scale.unsqueeze(3) + self.key_min.unsqueeze(3)).view(b, h, nk, d)
        vg = self.value_group
        vq = unpack(self.value_codes, self.bits).view(b, h, nv, d // vg, vg).to(self.dtype)
        values = (vq * self.value_scale.unsqueeze(-1) + self.value_min.unsqueeze(-1)).view(b, h, nv, d)
        return keys, values

    def _quantize_keys(self, n: int) -> None:
        """Move the oldest `n` (a multiple of `group`) full-precision keys to the quantized part."""
        if n <= 0:
            return
        b, h, _, d = self.keys.shape
        codes, scale, low = quantize(self.keys[:, :, :n].reshape(b, h, n // self.group, self.group, d), 3, self.bits)
        self.key_codes = torch.cat([self.key_codes, pack(codes.reshape(b, h, n, d), self.bits)], dim=-2)
        self.key_scale = torch.cat([self.key_scale, scale], dim=-2)
        self.key_min = torch.cat([self.key_min, low], dim=-2)
        self.n_quantized_keys += n
        self.keys = self.keys[:, :, n:].clone()  # clone: a slice would keep the old storage alive

    def _quantize_values(self, n: int) -> None:
        """Move the oldest `n` full-precision values to the quantized part (per token)."""
        if n <= 0:
            return
        b, h, _, d = self.values.shape
        vg = self.value_group
        codes, scale, low = quantize(self.values[:, :, :n].reshape(b, h, n, d // vg, vg), -1, self.bits)
        self.value_codes = torch.cat([self.value_codes, pack(codes.reshape(b, h, n, d), self.bits)], dim=-2)
        self.value_scale = torch.cat([self.value_scale, scale], dim=-2)
        self.value_min = torch.cat([self.value_min, low], dim=-2)
        self.n_quantized_values += n
        self.values = self.values[:, :, n:].clone()

    # -- CacheLayerMixin ------------------------------------------------------------------

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, cache_kwargs: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        prefill = self.get_seq_length() == 0
        if prefill:
            keys_out, values_out = key_states, value_states
        else:
            dk, dv = self.dequantized()
            keys_out = torch.cat([dk, self.keys, key_states], dim=-2)
            values_out = torch.cat([dv, self.values, value_states], dim=-2)
        self.keys = torch.cat([self.keys, key_states], dim=-2)
        self.values = torch.cat([self.values, value_states], dim=-2)
        full_keys = self.keys.shape[-2]
        if prefill:  # the reference keeps only T % residual prompt keys in full precision
            self._quantize_keys(full_keys - full_keys % self.residual)
        else:  # block flush whenever `residual` full-precision keys have accumulated
            self._quantize_keys(full_keys // self.residual * self.residual)
        self._quantize_values(self.values.shape[-2] - self.residual)
        return keys_out, values_out

    def get_seq_length(self) -> int:
        if not self.is_initialized:
            return 0
        return self.n_quantized_keys + self.keys.shape[-2]

    def get_mask_sizes(self, cache_position: torch.Tensor) -> tuple[int, int]:
        return self.get_seq_length() + cache_position.shape[0], 0

    def get_max_cache_shape(self) -> int:
        return -1

    def reset(self) -> None:
        self.is_initialized = False
        self.n_quantized_keys = 0
        self.n_quantized_values = 0


class KiviCache(Cache):
    """KIVI-quantized KV cache: one `KiviLayer` per decoder layer."""

    def __init__(self, config: Any, bits: int = 4, group: int = 32, residual: int = 128):
        num_layers = config.get_text_config(decoder=True).num_hidden_layers
        super().__init__(layers=[KiviLayer(bits, group, residual) for _ in range(num_layers)])
