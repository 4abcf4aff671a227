"""Driving the vLLM worker from negsamp's environment: find it, hand it a request, follow it.

vLLM runs in its own environment (`.venv-vllm`, made by `make vllm`) because it pins
a transformers release that kvpress cannot share. negsamp never imports vllm: it
writes a request file (`VllmRequest`), starts `negsamp/backends/vllm_worker.py` under
that environment's Python, shows the worker's `PROGRESS` lines as a progress bar and
reads back what the worker wrote (run-store JSONL rows or one result JSON).

Methods vLLM itself runs: the baseline `none`, and `vllm_kv:dtype=D`, the baseline
with vLLM's quantized KV cache (`kv_cache_dtype=D`). Which `D` an engine accepts
depends on the build and the machine (`negsamp.backends.vllm.probe` finds out; see
docs/vllm.md for what the CPU build does).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from negsamp.errors import InputError, NegsampError

REQUEST_VERSION = 1
WORKER = Path(__file__).with_name("vllm_worker.py")
VENV_ENV = "NEGSAMP_VLLM_VENV"
"""Environment variable naming the vLLM environment's folder (default: `.venv-vllm` at the checkout's root)."""
KV_METHOD = "vllm_kv"
KV_CACHE_DTYPES = ("auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2")
"""The values `--kv-cache-dtype` may take (vLLM's own list, less the MLA/INC-only ones)."""


class VllmError(NegsampError):
    """The vLLM worker failed; the message gives its last error line and its log file."""


class VllmRequest(BaseModel):
    """The request file handed to the vLLM worker (`vllm_worker.py`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = REQUEST_VERSION
    """Schema version of the request."""
    mode: Literal["generate", "load", "probe"]
    """`generate` (run-store rows), `load` (offline/served/replay settings) or `probe` (kv dtypes)."""
    model_name: str
    """Model name as given by the user, recorded in each prediction."""
    model_path: str
    """Plain Hugging Face folder vLLM loads (never a .gguf)."""
    tokenizer_path: str | None = None
    """Folder of the tokenizer as negsamp loads it (`save_tokenizer`); None: the model's own."""
    dtype: str = "float32"
    """Weights and activations dtype."""
    kv_cache_dtype: str = "auto"
    """vLLM's `kv_cache_dtype` (`auto`: the model dtype)."""
    kv_cache_space_gib: int = 1
    """KV-cache size on the CPU build (VLLM_CPU_KVCACHE_SPACE); the GPU build ignores it."""
    max_model_len: int = 4096
    """Longest sequence (prompt + output) the engine accepts."""
    max_num_seqs: int = 64
    """Most requests the engine schedules together (continuous batching)."""
    seed: int = 0
    """Engine seed and seed of synthetic prompts."""
    enforce_eager: bool = True
    """No graph capture / compilation: the CPU build's compile step costs minutes on 2 cores."""
    method: str = "none"
    """Canonical method spec recorded in each prediction."""
    samples: list[dict[str, Any]] = []
    """`generate`: sample_id, task, prompt_ids, max_new_tokens of each pending sample."""
    stop_token_ids: list[int] = []
    """`generate`: end-of-sequence ids (the model's generation config, as the transformers backend uses)."""
    batch_note: str | None = None
    """`generate`: recorded in each prediction's `batch_note`."""
    predictions_path: str | None = None
    """`generate`: the run store's predictions.jsonl the worker appends to."""
    prompt_len: int = 0
    """`load`: tokens of the synthetic prompt."""
    special_ids: list[int] = []
    """`load`: token ids never drawn into a synthetic prompt."""
    settings: list[dict[str, Any]] = []
    """`load`: each setting's name, output_tokens per request and arrival offsets (s)."""
    kv_cache_dtypes: list[str] = []
    """`probe`: the dtypes to try (`load` runs one engine, `kv_cache_dtype`)."""
    result_path: str
    """Where the worker writes its JSON result."""


def venv_dir() -> Path:
    """The vLLM environment: $NEGSAMP_VLLM_VENV, else `.venv-vllm` at the checkout's root."""
    configured = os.environ.get(VENV_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".venv-vllm"


def worker_python() -> Path:
    """The vLLM environment's Python; one line naming `make vllm` when it is missing."""
    python = venv_dir() / "bin" / "python"
    if not python.is_file():
        raise InputError(f"the vLLM backend needs its own environment, and {venv_dir()} has none: "
                         "run `make vllm` to create it")
    return python


def parse_vllm_method(spec: str) -> tuple[str, str]:
    """(canonical spec, kv_cache_dtype) of a method vLLM runs itself: `none` or `vllm_kv:dtype=D`."""
    text = spec.strip()
    if text == "none":
        return "none", "auto"
    name, _, params = text.partition(":")
    key, _, value = params.partition("=")
    if name == KV_METHOD and key.strip() == "dtype" and value.strip() in KV_CACHE_DTYPES[1:]:
        dtype = value.strip()
        return f"{KV_METHOD}:dtype={dtype}", dtype
    raise InputError(f"method {spec!r}: the vLLM backend runs only `none` and "
                     f"`{KV_METHOD}:dtype=D` with D one of {', '.join(KV_CACHE_DTYPES[1:])}; "
                     "run compression methods with the transformers backend")


def run_worker(request: VllmRequest, request_path: Path, *, progress: bool = True, desc: str = "vllm") -> dict:
    """Write the request, run the worker to completion, return its JSON result.

    The worker's stderr (vLLM's logs) goes to REQUEST.log beside the request; on failure
    the error names its last error line and that log.
    """
    import json

    from tqdm.auto import tqdm

    from negsamp.atomic import atomic_write_text

    python = worker_python()
    atomic_write_text(request_path, request.model_dump_json(indent=1) + "\n")
    log_path = request_path.with_suffix(".log")
    bar = tqdm(total=None, desc=desc, unit="req", disable=not progress)
    tail: deque[str] = deque(maxlen=40)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([str(python), "-P", str(WORKER), str(request_path)], stdout=subprocess.PIPE,
                                stderr=log, text=True, env=_worker_env())
        try:
            for line in proc.stdout or ():
                _follow(line, bar, tail)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            bar.close()
    if code != 0:
        raise VllmError(f"vLLM worker failed ({_last_error(log_path)}); full log: {log_path}")
    return json.loads(Path(request.result_path).read_text(encoding="utf-8"))


def _follow(line: str, bar: Any, tail: deque[str]) -> None:
    parts = line.split()
    if len(parts) == 3 and parts[0] == "PROGRESS":
        bar.total = int(parts[2])
        bar.n = int(parts[1])
        bar.refresh()
    else:
        tail.append(line.rstrip())
        print(line.rstrip(), file=sys.stderr)


def _worker_env() -> dict[str, str]:
    """The worker's environment, without the main venv's paths leaking into the other one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def _last_error(log_path: Path) -> str:
    lines = [ln.strip() for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error:" in ln]
    return ((errors or lines or ["no output"])[-1])[-300:]


def save_tokenizer(tokenizer: Any, folder: Path, model_path: str) -> Path:
    """The tokenizer negsamp uses, saved for vLLM (written aside, then renamed into place).

    Why: the bundled model's converted folder says `tokenizer_class: CodeLlamaTokenizer`
    (a GGUF conversion leftover); the transformers in the vLLM environment honours it and
    builds a tokenizer that decodes byte-level tokens as `Ġ...`. Saved from our loaded
    tokenizer, the folder names the tokenizers backend and carries our eos fix. The
    model's config.json goes beside it: vLLM reads a tokenizer folder's config too.
    """
    import shutil
    import tempfile

    if (folder / "tokenizer_config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tokenizer.save_pretrained(tmp)
        if (Path(model_path) / "config.json").is_file():
            shutil.copyfile(Path(model_path) / "config.json", tmp / "config.json")
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def probe(model_name: str, kv_cache_dtypes: list[str], out_dir: Path, *, progress: bool = True) -> dict:
    """Which kv_cache_dtypes start an engine and generate here: {dtype: outcome}."""
    from negsamp.models import resolve

    out_dir.mkdir(parents=True, exist_ok=True)
    request = VllmRequest(mode="probe", model_name=model_name, model_path=resolve(model_name),
                          kv_cache_dtypes=kv_cache_dtypes, result_path=str(out_dir / "probe.json"),
                          max_model_len=512, max_num_seqs=4)
    return run_worker(request, out_dir / "probe_request.json", progress=progress, desc="probe")["outcomes"]
