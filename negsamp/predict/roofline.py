"""Roofline costs of one prefill or decode step: FLOPs and bytes moved, per model and method.

Everything here is arithmetic on a model's shape and a method's parameters; nothing is
measured. The throughput predictor turns these into features (seconds at the hardware's
peak) and fits how far from the peak a real engine runs.

KV bytes per token per method (fp16 = 2 bytes per element, `E = 2 * layers * kv_heads * head_dim`
elements per token for keys and values):

- `none`: `2 * E`.
- `kivi:bits=b,group=g,residual=R`: the last `R` tokens in fp16; older ones at `b` bits plus
  one fp16 scale and one fp16 zero point per `g` elements (keys per channel over `g` tokens,
  values per token over `g` channels: the same count per token either way).
- `gear:bits=b`: KIVI-style `b`-bit codes and scales, plus GEAR's sparse outliers (2% of the
  entries, each an fp16 value and an int32 index) and its low-rank error term (rank 4 per head,
  an fp16 vector of `rank` per token for keys and values). GEAR's own defaults; approximate.
- eviction (`streamingllm`, `h2o`, `snapkv`, ...): fp16 for the tokens kept, `budget` tokens
  (`min(L, budget)`) or `(1 - ratio) * L`.

The paper's method labels in its throughput CSVs map onto these (`PAPER_METHODS`); the
paper caps StreamingLLM's and H2O's decoding KV at 512 tokens (its data's README). Its labels
do not say whether KIVI-4/GEAR-4 kept a full-precision residual window under LMDeploy; we map
them to none (every token quantized, as a serving engine's quantized KV cache stores it):
with a 128-token fp16 window the fitted per-sequence decode term of KIVI-4 comes out negative
on the fit data (-1.09), a sign that the window's bytes are not there.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from negsamp.errors import InputError

FP16 = 2
EVICTION = {"streamingllm", "h2o", "snapkv", "tova", "knorm", "pyramidkv", "expected_attention", "press"}
QUANTIZED = {"kivi", "gear"}
# Methods that need the attention weights themselves run eager attention (materialised scores).
EAGER = {"h2o"}
GEAR_OUTLIER_FRACTION = 0.02
GEAR_RANK = 4
PAPER_METHODS = {
    "None-16": "none",
    "KIVI-4": "kivi:bits=4,group=32,residual=0",
    "KIVI-2": "kivi:bits=2,group=32,residual=0",
    "GEAR-4": "gear:bits=4",
    "GEAR-2": "gear:bits=2",
    "H2O-16": "h2o:budget=512",
    "StreamingLLM-16": "streamingllm:budget=512",
}


@dataclass(frozen=True)
class Hardware:
    """Peak dense fp16 tensor FLOP/s and memory bandwidth of one accelerator."""

    name: str
    peak_flops: float
    bandwidth: float
    memory_bytes: float


# Datasheet figures: dense fp16/bf16 tensor throughput (the RTX A6000 does not halve it for
# fp32 accumulation, unlike GeForce parts), HBM/GDDR bandwidth and memory size.
HARDWARE = {
    "a6000": Hardware("a6000", 154.8e12, 768e9, 48e9),
    "a100-80g": Hardware("a100-80g", 312e12, 2.039e12, 80e9),
    "h100": Hardware("h100", 989e12, 3.35e12, 80e9),
    "h200": Hardware("h200", 989e12, 4.8e12, 141e9),
    # A nominal small CPU (2 cores with AVX2 FMA, dual-channel DDR4): only sets the units of a
    # fit on CPU measurements; pass --memory-gb for the real budget.
    "cpu": Hardware("cpu", 100e9, 20e9, 24e9),
}


def hardware(name: str) -> Hardware:
    try:
        return HARDWARE[name.lower()]
    except KeyError:
        raise InputError(f"unknown hardware {name!r}; known: {', '.join(sorted(HARDWARE))}") from None


@dataclass(frozen=True)
class ModelShape:
    """What the roofline needs from a decoder-only transformer's config."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool = False

    @property
    def layer_params(self) -> int:
        attn = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        return attn + 3 * self.hidden * self.intermediate

    @property
    def params(self) -> int:
        embed = self.vocab * self.hidden * (1 if self.tied else 2)
        return self.layers * self.layer_params + embed

    @property
    def kv_elements(self) -> int:
        """Key + value elements per token over all layers."""
        return 2 * self.layers * self.kv_heads * self.head_dim

    def weight_bytes(self, dtype_bytes: int = FP16) -> int:
        return self.params * dtype_bytes


KNOWN_SHAPES = {
    "llama-2-7b": ModelShape("llama-2-7b", 32, 4096, 32, 32, 128, 11008, 32000),
    "llama-2-13b": ModelShape("llama-2-13b", 40, 5120, 40, 40, 128, 13824, 32000),
    "llama-3.1-8b": ModelShape("llama-3.1-8b", 32, 4096, 32, 8, 128, 14336, 128256),
    "llama-3-8b": ModelShape("llama-3-8b", 32, 4096, 32, 8, 128, 14336, 128256),
    "smollm2-135m": ModelShape("smollm2-135m", 30, 576, 9, 3, 64, 1536, 49152, tied=True),
}


def shape_from_config(name: str, config: dict) -> ModelShape:
    try:
        heads = int(config["num_attention_heads"])
        hidden = int(config["hidden_size"])
        return ModelShape(
            name=name, layers=int(config["num_hidden_layers"]), hidden=hidden, heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
            intermediate=int(config["intermediate_size"]), vocab=int(config["vocab_size"]),
            tied=bool(config.get("tie_word_embeddings", False)),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{name}: config.json lacks a usable field ({err})") from None


def model_shape(name: str) -> ModelShape:
    """A known shape by (fuzzy) name, or the config.json of a local model folder."""
    key = re.sub(r"[^a-z0-9.]+", "-", name.lower())
    for known, shape in KNOWN_SHAPES.items():
        if known in key:
            return shape
    config = Path(name) / "config.json"
    if config.is_file():
        return shape_from_config(name, json.loads(config.read_text(encoding="utf-8")))
    raise InputError(f"model {name!r}: no known shape ({', '.join(KNOWN_SHAPES)}) and no "
                     f"{config} to read one from; pass a local model folder")


@dataclass(frozen=True)
class MethodCost:
    """How a method stores KV: its kind and the parameters that set the bytes."""

    label: str
    kind: str
    params: dict

    @property
    def attention(self) -> str:
        """`eager` for methods that read attention weights, else `fused`."""
        return "eager" if self.kind in EAGER else "fused"

    def kv_tokens(self, length: int) -> float:
        """Tokens whose KV is kept (per layer and head) at a KV length of `length`."""
        if "budget" in self.params and float(self.params["budget"]) > 0:
            return float(min(length, float(self.params["budget"])))
        if self.kind in EVICTION:
            return length * (1.0 - float(self.params.get("ratio", 0.5)))
        return float(length)

    def kv_bytes(self, shape: ModelShape, length: int) -> float:
        """Bytes of one sequence's KV cache at a KV length of `length`."""
        full = shape.kv_elements * FP16
        if self.kind not in QUANTIZED:
            return self.kv_tokens(length) * full
        bits = float(self.params.get("bits", 4))
        group = float(self.params.get("group", 32))
        quant = shape.kv_elements * (bits / 8 + 2 * FP16 / group)
        residual = float(self.params.get("residual", 128 if self.kind == "kivi" else 0))
        if self.kind == "gear":
            quant += shape.kv_elements * GEAR_OUTLIER_FRACTION * (FP16 + 4)
            quant += 2 * shape.layers * shape.kv_heads * GEAR_RANK * FP16
        kept = min(length, residual)
        return kept * full + (length - kept) * quant


def method_cost(label: str) -> MethodCost:
    """Parse a method spec (`kivi:bits=4`) or a paper label (`KIVI-4`)."""
    spec = PAPER_METHODS.get(label, label)
    kind, _, rest = spec.partition(":")
    params: dict = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise InputError(f"method {label!r}: parameter {part!r} is not key=value")
        params[key.strip()] = value.strip()
    for key in ("bits", "group", "residual", "budget", "ratio"):
        if key in params:
            try:
                float(params[key])
            except ValueError:
                raise InputError(f"method {label!r}: {key}={params[key]!r} is not a number") from None
    return MethodCost(label=label, kind=kind.strip().lower(), params=params)


def prefill_flops(shape: ModelShape, batch: int, length: int) -> tuple[float, float]:
    """(GEMM FLOPs, attention FLOPs) of prefilling `batch` prompts of `length` tokens.

    Attention is counted as QK^T plus PV over the full square (4 * L^2 * heads * head_dim per
    layer); how much of that a kernel really does (causal skipping, materialised scores) is
    what the predictor's fitted attention factor absorbs.
    """
    gemm = 2.0 * shape.layers * shape.layer_params * batch * length
    attn = 4.0 * shape.layers * shape.heads * shape.head_dim * batch * float(length) ** 2
    return gemm, attn


def decode_step_costs(shape: ModelShape, method: MethodCost, batch: int, length: int) -> tuple[float, float]:
    """(GEMM FLOPs, KV bytes read) of one decode step for `batch` sequences at KV length `length`."""
    gemm = 2.0 * shape.layers * shape.layer_params * batch
    return gemm, batch * method.kv_bytes(shape, length)


def batch_that_fits(shape: ModelShape, method: MethodCost, length: int, memory_bytes: float,
                    reserve: float = 0.1) -> int:
    """Largest batch whose weights + KV at `length` fit in `memory_bytes` (minus a `reserve` fraction).

    The reserve stands for activations and the allocator's slack; 10% is vLLM's default
    (gpu_memory_utilization = 0.9).
    """
    free = memory_bytes * (1.0 - reserve) - shape.weight_bytes()
    per_seq = method.kv_bytes(shape, length)
    return max(0, math.floor(free / per_seq)) if per_seq > 0 else 0
