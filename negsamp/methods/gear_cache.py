"""A GEAR compressed KV cache (Kang et al., 2024, "GEAR") for transformers.

What the paper's artifact ran: GEAR's `CompressUnion` with `compress_mode="gear_batch"`
(opengear-project/GEAR, `TrueCompression/old_models/CompressUtils`), checked against
its outputs in tests/test_method_fixtures.py. For each of K and V, per layer and per
sequence, treating `[heads, tokens, head_dim]` as one flat tensor:

1. Outliers: the `n = int(numel * outlier / 2)` smallest and n largest entries are kept
   exactly (values in the model dtype, int64 flat indices, as the reference holds them)
   and zeroed.
2. Uniform quantization of the rest with ONE min/max for the whole tensor:
   `step = (max - min) / (2^b - 1)`, `code = round((x - min) / step)` (no clamp), codes
   packed two a byte at 4 bits.
3. Low rank: the quantization residual `E = x - dequant(x)` (0 at outliers), seen as a
   `[tokens, heads * head_dim]` matrix, is approximated with rank
   `r = int(rank * min(tokens, heads * head_dim))` by `loop` power iterations (QR on
   the last), started from uniform random `p` (a random `q` is drawn too and discarded,
   as the reference does); the factors are stored in float16.

Reconstruction: `dequant + outliers + q_fp16 @ p_fp16^T`.

Streaming (the artifact's `stream=True, streaming_gap=20`): the prompt is compressed at
prefill (its attention uses the exact K/V); each decoding step attends to the
reconstruction plus the tokens since the last compression, kept in full precision, plus
its own token; after every `gap`-th step the *whole* cache is compressed again from
that reconstruction (so errors compound, as in the reference).

Quirks kept from the reference: quantization is per whole tensor (all heads, tokens
and channels share one min/step); `compress` draws its power-iteration start from a
random generator. Unlike the reference (global unseeded `torch.rand`), each layer's K
and V draw from their own generator seeded from `seed`, so runs are byte-identical;
the reference's error moves by about 0.2 % relative across seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

from negsamp.methods.kivi_cache import pack, unpack


@dataclass
class Compressed:
    """One GEAR-compressed tensor `[batch=1, heads, tokens, head_dim]` (all of it is held)."""

    codes: torch.Tensor
    """uint8 quantization codes of the flattened tensor, packed (2 a byte at 4 bits)."""
    low: torch.Tensor
    """Scalar quantization minimum (float32 at 8 bits, else the model dtype, as the reference)."""
    step: torch.Tensor
    """Scalar quantization step (same dtype as `low`)."""
    outlier_values: torch.Tensor
    """The exact outlier entries (model dtype): n smallest, then n largest."""
    outlier_index: torch.Tensor
    """int64 flat indices of the outliers."""
    p: torch.Tensor
    """float16 `[1, heads * head_dim, r]` low-rank factor."""
    q: torch.Tensor
    """float16 `[1, tokens, r]` low-rank factor."""
    shape: tuple[int, ...]
    bits: int


def compress(x: torch.Tensor, bits: int, outlier: float, rank: float, loop: int,
             generator: torch.Generator | None) -> Compressed:
    """Compress one `[1, H, T, D]` tensor (left unchanged, unlike the reference)."""
    batch, heads, tokens, dim = x.shape
    flat = x.reshape(batch, -1).clone()
    n = int(flat.shape[-1] * outlier / 2)
    small = flat.topk(n, dim=-1, largest=False)
    large = flat.topk(n, dim=-1, largest=True)
    values = torch.cat([small.values, large.values], dim=-1)
    index = torch.cat([small.indices, large.indices], dim=-1)
    flat.scatter_(1, index, 0.0)
    work = flat.float() if bits == 8 else flat  # the reference upcasts only at 8 bits (max - min = inf)
    low, high = work.min(), work.max()
    step = (high - low) / ((1 << bits) - 1)
    step = torch.where(step > 0, step, torch.ones_like(step))  # a constant tensor: every code 0, exact
    codes = ((work - low) / step).round_().to(torch.uint8)
    residual = flat - (codes.to(flat.dtype) * step + low)
    residual.scatter_(1, index, 0.0)
    r = int(rank * min(tokens, heads * dim))
    p, q = _power_iteration(residual.reshape(x.shape), loop, r, generator)
    return Compressed(pack(codes, bits) if bits == 4 else codes, low, step, values, index, p, q,
                      tuple(x.shape), bits)


def _power_iteration(error: torch.Tensor, loop: int, r: int,
                     generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    batch, heads, tokens, dim = error.shape
    matrix = error.permute(0, 2, 1, 3).reshape(batch, tokens, heads * dim).float()
    p = torch.rand(batch, heads * dim, r, generator=generator).to(matrix.device)
    q = torch.rand(batch, tokens, r, generator=generator).to(matrix.device)  # drawn and unused, as the reference
    for i in range(loop):
        if i == loop - 1:
            p = torch.linalg.qr(p).Q
        q = matrix @ p
        if i == loop - 1:
            q = torch.linalg.qr(q).Q
        p = matrix.transpose(1, 2) @ q
    return p.half(), q.half()


def decompress(c: Compressed, dtype: torch.dtype) -> torch.Tensor:
    """The reconstruction `dequant + outliers + q p^T`, shaped `[1, H, T, D]`."""
    batch, heads, tokens, dim = c.shape
    codes = unpack(c.codes, 4) if c.bits == 4 else c.codes
    if c.bits == 8:
        flat = (codes.float() * c.step + c.low).to(dtype)
    else:
        flat = codes.to(dtype) * c.step + c.low
    flat = flat.scatter(1, c.outlier_index, c.outlier_values.to(flat.dtype))
    out = flat.reshape(c.shape)
    if c.p.shape[-1]:
        low_rank = (c.q @ c.p.transpose(1, 2)).reshape(batch, tokens, heads, dim).permute(0, 2, 1, 3)
        out = out + low_rank
    return out.to(dtype)


def _empty(like: torch.Tensor) -> torch.Tensor:
    # Not `like[:, :, :0]`: a view would keep (and be charged for) the whole storage.
    return like.new_empty(*like.shape[:2], 0, like.shape[-1])


class GearLayer(CacheLayerMixin):
    """One layer's GEAR cache, per sequence: `compressed[i]` (K, V) plus full-precision buffers."""

    is_sliding = False
    is_compileable = False

    def __init__(self, bits: int, outlier: float, rank: float, loop: int, gap: int, seed: int):
        super().__init__()
        self.bits, self.outlier, self.rank, self.loop, self.gap = bits, outlier, rank, loop, gap
        self.seed = seed
        self.steps = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        batch = key_states.shape[0]
        # One generator per sequence and per K/V, all seeded alike, so a row draws exactly
        # what it would draw alone, whichever batch and position it runs in.
        self.generators = [
            (torch.Generator().manual_seed(self.seed), torch.Generator().manual_seed(self.seed + 1))
            for _ in range(batch)
        ]
        self.compressed: list[tuple[Compressed, Compressed]] = []
        self.keys, self.values = _empty(key_states), _empty(value_states)
        self.length = 0
        self.is_initialized = True

    def _compress_all(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        args = (self.bits, self.outlier, self.rank, self.loop)
        self.compressed = [
            (compress(keys[row : row + 1], *args, gk), compress(values[row : row + 1], *args, gv))
            for row, (gk, gv) in enumerate(self.generators)
        ]
        self.keys, self.values = _empty(keys), _empty(values)

    def reconstructed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """What the next step attends to before its own token: reconstruction + buffer."""
        ks = torch.cat([decompress(k, self.dtype) for k, _ in self.compressed], dim=0)
        vs = torch.cat([decompress(v, self.dtype) for _, v in self.compressed], dim=0)
        return torch.cat([ks, self.keys], dim=-2), torch.cat([vs, self.values], dim=-2)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor,
               cache_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.length += key_states.shape[-2]
        if not self.compressed:  # prefill: attend exactly, then compress the prompt
            self._compress_all(key_states, value_states)
            return key_states, value_states
        keys, values = self.reconstructed()
        keys = torch.cat([keys, key_states], dim=-2)
        values = torch.cat([values, value_states], dim=-2)
        self.steps += 1
        if self.steps % self.gap == 0:  # re-compress everything, the lossy prefix included
            self._compress_all(keys, values)
        else:
            self.keys = torch.cat([self.keys, key_states], dim=-2)
            self.values = torch.cat([self.values, value_states], dim=-2)
        return keys, values

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def get_mask_sizes(self, cache_position: torch.Tensor) -> tuple[int, int]:
        return self.get_seq_length() + cache_position.shape[0], 0

    def get_max_cache_shape(self) -> int:
        return -1

    def reset(self) -> None:
        self.is_initialized = False
        self.steps = 0


class GearCache(Cache):
    """GEAR-compressed KV cache: one `GearLayer` per decoder layer, each seeded from `seed`."""

    def __init__(self, config: Any, bits: int = 4, outlier: float = 0.02, rank: float = 0.02, loop: int = 3,
                 gap: int = 20, seed: int = 0):
        num_layers = config.get_text_config(decoder=True).num_hidden_layers
        layers = [GearLayer(bits, outlier, rank, loop, gap, seed + 1000 * i) for i in range(num_layers)]
        super().__init__(layers=layers)
