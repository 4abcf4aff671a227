"""The `Method` base class, the method registry and spec parsing.

A method is a frozen dataclass whose fields are its parameters. Its canonical spec
string names it and every parameter, defaults included, in declaration order:

    snapkv:ratio=0.5,window=8,kernel=5,compress=context+question

`parse_method(text)` builds the method from a spec (missing parameters take their
defaults) and `parse_method(m.spec) == m` always holds. Bad input raises
`negsamp.errors.InputError` / `UnknownNameError` here, before any model is loaded.

Methods are found through the Python entry-point group `negsamp.methods` (the
built-ins are registered there by negsamp's own pyproject.toml, exactly like a
plug-in would be). A plug-in package declares, in its pyproject.toml:

    [project.entry-points."negsamp.methods"]
    mymethod = "mypkg.negsamp_plugin:MyMethod"

where `MyMethod` subclasses `negsamp.methods.Method`. A kvpress-style press needs no
plug-in at all: `press:cls=mypkg.module:MyPress,compression_ratio=0.5`.

What the runner needs from a method lives on the class (no type checks in the
backend): `compression(model)` is the context manager the compressed part of the
prefill runs under, `make_cache(model, batch_size)` the KV cache to generate with,
`attn_implementation` the attention the model must be loaded with,
`split_prefill` whether the question is prefilled after compressing the context
only, `pad_prefill` whether a batch may be prefilled left-padded, and
`supports_batching` / `batching_note` whether samples may share a batch at all.

This module imports neither torch nor transformers, so listing methods is instant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal

from negsamp.errors import InputError, UnknownNameError
from negsamp.plugins import load_entry_points
from negsamp.specs import format_spec, parse_spec

ENTRY_POINT_GROUP = "negsamp.methods"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

Compress = Literal["context+question", "context"]
"""What a prefill-time eviction method compresses.

- `context+question` (default): the whole prompt is prefilled under the method, as the
  methods' authors and the paper we reproduce (Gao et al., MLSys 2025) run them. The
  question is then inside the observation window of question-aware methods (SnapKV,
  PyramidKV, TOVA, H2O score the context by the attention the prompt's last tokens pay
  it), and the ratio is the fraction of the whole prompt's KV evicted, question
  tokens included.
- `context`: only `prompt[:question_start]` is prefilled under the method; the
  question is then prefilled uncompressed and decoding starts. This is kvpress's
  pipeline protocol: question-agnostic compression (the context could be cached before
  the question is known, as with prefix caching), the question is never evicted, and
  the ratio is the fraction of the context's KV evicted.

Why the default: negative samples are the samples the methods break *as deployed by
their authors*; in `context` mode question-aware methods score the context with
filler tokens instead of the question (on our pass-key prompts SnapKV, H2O and
Expected Attention lose the key at ratio 0.5 in `context` mode and keep it in
`context+question` mode), which would mine failures of a protocol, not of the method.
"""

COMPRESS_HELP = (
    "what is compressed: 'context+question' (the whole prompt, as the methods' papers do) or "
    "'context' (the context, then the question uncompressed: kvpress's protocol)"
)


def param(default: Any, help: str) -> Any:
    """A method parameter: a dataclass field with a default and a one-line help."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a method, for listings and parsing."""

    name: str
    type: Any
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        if typing.get_origin(self.type) is Literal:
            return "|".join(str(c) for c in typing.get_args(self.type))
        return getattr(self.type, "__name__", str(self.type))


def format_value(value: Any) -> str:
    """A parameter value as it appears in a canonical spec."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def convert_value(method: str, name: str, raw: str, typ: Any) -> Any:
    """Convert the text of a parameter to its declared type (InputError if it does not fit)."""
    origin = typing.get_origin(typ)
    if origin is Literal:
        choices = typing.get_args(typ)
        for choice in choices:
            if raw == format_value(choice):
                return choice
        raise InputError(
            f"method {method!r}: parameter {name}={raw!r} must be one of {', '.join(map(format_value, choices))}"
        )
    try:
        if typ is bool:
            lowered = raw.lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        if typ is int:
            return int(raw)
        if typ is float:
            value = float(raw)
            if value != value:  # NaN
                raise ValueError(raw)
            return value
        if typ is str:
            return raw
    except ValueError:
        raise InputError(
            f"method {method!r}: parameter {name}={raw!r} is not a valid {typ.__name__}"
        ) from None
    raise TypeError(f"unsupported parameter type {typ!r} for {method}.{name}")


@dataclass(frozen=True)
class Method:
    """Base class of compression methods. Subclasses are frozen dataclasses; their fields
    (declared with `param(default, help)`) are the spec's parameters, in spec order."""

    name: ClassVar[str] = ""
    """Registry name, the part of the spec before ':'."""
    description: ClassVar[str] = ""
    """One line for `negsamp methods`."""
    family: ClassVar[str] = ""
    """'baseline', 'eviction' or 'quantization' (for reports, and the leaderboard's method-type badge)."""
    paper_url: ClassVar[str] = ""
    """The paper that named the method (an arXiv abstract page); the leaderboard links a submission's name
    to it when the submission gives no link of its own. Empty when there is none."""

    # ---- spec -------------------------------------------------------------------------

    @classmethod
    def params(cls) -> list[ParamInfo]:
        """The parameters, in spec order, with their types and defaults."""
        hints = typing.get_type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else None
            out.append(ParamInfo(f.name, hints[f.name], default, f.metadata.get("help", "")))
        return out

    @classmethod
    def from_params(cls, params: list[tuple[str, str]]) -> Method:
        """Build the method from (key, raw value) pairs; missing keys take defaults."""
        known = {p.name: p for p in cls.params()}
        kwargs: dict[str, Any] = {}
        for key, raw in params:
            info = known.get(key)
            if info is None:
                valid = ", ".join(known) or "none"
                raise UnknownNameError(
                    f"method {cls.name!r} has no parameter {key!r}; valid parameters: {valid}"
                )
            kwargs[key] = convert_value(cls.name, key, raw, info.type)
        return cls(**kwargs)

    @property
    def spec(self) -> str:
        """Canonical spec: name, then every parameter (defaults included) in declaration order."""
        return format_spec(self.name, [(p.name, format_value(getattr(self, p.name))) for p in self.params()])

    def __str__(self) -> str:
        return self.spec

    # ---- behaviour the runner uses ------------------------------------------------------

    @property
    def attn_implementation(self) -> str | None:
        """Attention the model must be loaded with (e.g. 'eager' to expose attention weights), or None."""
        return None

    @property
    def split_prefill(self) -> bool:
        """True: prefill `prompt[:question_start]` under `compression()`, then the rest without it."""
        return False

    @property
    def pad_prefill(self) -> bool:
        """Whether rows of different lengths may be prefilled together, left-padded.

        True when the method neither compresses nor brings its own cache (the baseline):
        padding then changes nothing. Otherwise the engine prefills rows of equal length
        together and pads only the caches it joins for decoding (`negsamp.backends.ragged`).
        """
        cls = type(self)
        return cls.compression is Method.compression and cls.make_cache is Method.make_cache

    @property
    def supports_batching(self) -> bool:
        """Whether samples may share a (left-padded) batch."""
        return self.batching_note is None

    @property
    def batching_note(self) -> str | None:
        """Why this method runs one sample at a time (None if it batches)."""
        return None

    def compression(self, model: Any) -> contextlib.AbstractContextManager:
        """Context manager the (compressed part of the) prefill runs under."""
        return contextlib.nullcontext()

    def make_cache(self, model: Any, batch_size: int) -> Any:
        """A fresh KV cache for one batch."""
        from transformers import DynamicCache

        return DynamicCache(config=model.config)

    def check_model(self, model: Any) -> None:
        """Raise InputError if the loaded model cannot run this method."""
        need = self.attn_implementation
        have = getattr(model.config, "_attn_implementation", None)
        if need is not None and have != need:
            raise InputError(
                f"method {self.spec!r} needs the model loaded with attn_implementation={need!r} "
                f"(it has {have!r}); load it with load_model(name, attn_implementation=method.attn_implementation)"
            )


def check_ratio(method: str, ratio: float) -> None:
    """Compression ratios are fractions evicted: 0 <= ratio < 1."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise InputError(f"method {method!r}: ratio={ratio!r} must be in [0, 1) (the fraction of KV evicted)")


def check_positive(method: str, name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"method {method!r}: {name}={value!r} must be an integer >= {minimum}")


# ---- registry --------------------------------------------------------------------------

_extra: dict[str, type[Method]] = {}


@cache
def _entry_point_methods() -> dict[str, type[Method]]:
    return load_entry_points(ENTRY_POINT_GROUP, "method", _check_class)


def _check_class(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Method) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"negsamp method {name!r} must be a dataclass subclassing negsamp.methods.Method")
    if cls.name != name:
        raise TypeError(f"negsamp method registered as {name!r} calls itself {cls.name!r}")
    if not _NAME_RE.match(name):
        raise TypeError(f"negsamp method name {name!r} must match {_NAME_RE.pattern}")


def register_method(cls: type[Method]) -> type[Method]:
    """Register a method class at run time (tests, notebooks). Usable as a decorator."""
    _check_class(cls.name, cls)
    _extra[cls.name] = cls
    return cls


def available_methods() -> Mapping[str, type[Method]]:
    """Every registered method class by name, sorted by name."""
    methods = dict(_entry_point_methods())
    methods.update(_extra)
    return dict(sorted(methods.items()))


def get_method_class(name: str) -> type[Method]:
    methods = available_methods()
    if name not in methods:
        raise UnknownNameError(f"unknown method {name!r}; known methods: {', '.join(methods)}")
    return methods[name]


def parse_method(spec: str | Method) -> Method:
    """Parse `name:key=value,...` into a method (a Method is returned unchanged)."""
    if isinstance(spec, Method):
        return spec
    parsed = parse_spec(spec, kind="method")  # the grammar task sources use too
    return get_method_class(parsed.name).from_params(list(parsed.params))
