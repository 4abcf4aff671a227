"""The paper's method configurations (Gao et al., MLSys 2025) as our canonical specs.

The paper's artifact names each configuration in its result files, e.g.
`h2o_Meta-Llama-3-8B-instruct_8192_b1_c2048_w32_k7_maxpool` or, in the long score table,
`h2o_8192_b1_c2048_w32_k7_maxpool`. `paper_method(name)` returns the method that runs
what that configuration actually ran, which is not always what its name says:

- `cN` is the cache budget N (`max_capacity_prompt`), window included.
- `wW` is ignored: the artifact's `load_model_tokenizer.py` overrides the window after
  loading, to 8 for H2O / SnapKV / PyramidKV and to N - 4 for StreamingLLM (4 sinks).
- H2O, SnapKV and PyramidKV are the mid-2024 KVCache-Factory code the artifact copied
  (`variant=rethink` where that differs from the methods' papers), selecting per query
  head after `repeat_kv` (`gqa=repeat`); `kK` and the pooling apply to SnapKV/PyramidKV
  only (the paper-era H2O does not pool).
- KIVI `{b}bits_group{g}_residual{r}`; GEAR `{b}bits` with the artifact's outlier 0.02,
  rank 0.02, loop 3, streaming gap 20 (our defaults).
"""

from __future__ import annotations

import re

from negsamp.errors import InputError
from negsamp.methods.base import Method, parse_method

PAPER_CONFIGS: tuple[str, ...] = (
    "hf_8192_b1",
    "h2o_8192_b1_c256_w64_k7_maxpool",
    "h2o_8192_b1_c512_w32_k7_maxpool",
    "h2o_8192_b1_c512_w64_k7_maxpool",
    "h2o_8192_b1_c1024_w64_k7_maxpool",
    "h2o_8192_b1_c1536_w64_k7_maxpool",
    "h2o_8192_b1_c2048_w32_k7_maxpool",
    "h2o_8192_b1_c2048_w64_k7_maxpool",
    "streamingllm_8192_b1_c256_w32_k7_maxpool",
    "streamingllm_8192_b1_c256_w64_k7_maxpool",
    "streamingllm_8192_b1_c512_w32_k7_maxpool",
    "streamingllm_8192_b1_c512_w64_k7_maxpool",
    "streamingllm_8192_b1_c1024_w32_k7_maxpool",
    "streamingllm_8192_b1_c1024_w64_k7_maxpool",
    "streamingllm_8192_b1_c1536_w32_k7_maxpool",
    "streamingllm_8192_b1_c1536_w64_k7_maxpool",
    "streamingllm_8192_b1_c2048_w32_k7_maxpool",
    "streamingllm_8192_b1_c2048_w64_k7_maxpool",
    "kivi_8192_b1_4bits_group32_residual128",
    "kivi_8192_b1_2bits_group32_residual128",
    "gear_8192_b1_8bits",
    "gear_8192_b1_4bits",
)
"""The configurations of the paper's released per-sample scores (benchmark_neg), as
method keys of `negsamp.paper_scores.load_score_folder`'s table."""

_EVICTION = re.compile(r"_c(?P<budget>\d+)_w\d+_k(?P<kernel>\d+)(?:_(?P<pool>maxpool|avgpool))?$")
_KIVI = re.compile(r"_(?P<bits>\d+)bits_group(?P<group>\d+)_residual(?P<residual>\d+)$")
_GEAR = re.compile(r"_(?P<bits>\d+)bits$")


def paper_spec(name: str) -> str:
    """The canonical spec of a paper configuration name (with or without the model part)."""
    method = name.split("_", 1)[0]
    if method == "hf":
        return parse_method("none").spec
    if method in ("h2o", "snapkv", "pyramidkv", "streamingllm"):
        return _eviction_spec(name, method)
    match = (_KIVI if method == "kivi" else _GEAR).search(name) if method in ("kivi", "gear") else None
    if match is None:
        raise InputError(
            f"paper configuration {name!r}: expected e.g. h2o_8192_b1_c2048_w32_k7_maxpool, "
            "kivi_8192_b1_4bits_group32_residual128 or gear_8192_b1_8bits"
        )
    return parse_method(f"{method}:" + ",".join(f"{k}={v}" for k, v in match.groupdict().items())).spec


def _eviction_spec(name: str, method: str) -> str:
    match = _EVICTION.search(name)
    if match is None:
        raise InputError(f"paper configuration {name!r}: expected _c<budget>_w<window>_k<kernel>[_maxpool|_avgpool]")
    budget = int(match["budget"])
    if method == "streamingllm":  # the loader sets window = budget - 4: 4 sink tokens
        return parse_method(f"streamingllm:budget={budget},sink=4").spec
    if method == "h2o":  # the paper-era H2O ignores kernel and pooling
        return parse_method(f"h2o:budget={budget},variant=rethink,window=8,gqa=repeat").spec
    pool = "avg" if match["pool"] == "avgpool" else "max"
    variant = ",variant=rethink" if method == "pyramidkv" else ""
    return parse_method(f"{method}:budget={budget},window=8,pool={pool},kernel={match['kernel']},gqa=repeat"
                        f"{variant}").spec


def paper_method(name: str) -> Method:
    """The method of a paper configuration name, e.g. `gear_8192_b1_8bits` -> `gear:bits=8,...`."""
    return parse_method(paper_spec(name))
