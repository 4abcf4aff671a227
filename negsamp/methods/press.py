"""`press`: any kvpress-style press, named by import path. No plug-in needed.

    press:cls=mypkg.module:MyPress,compression_ratio=0.5,my_param=3
    press:cls=kvpress:KnormPress,compress=context,compression_ratio=0.25

`cls` is `module:Class` (or `module.Class`). Every other key is a keyword argument
of the press (its dataclass fields / `__init__` parameters), except the reserved
keys `compress` (what is compressed, as for the built-in eviction methods) and
`attn` (`auto`, `eager` or `sdpa`: the attention the model must be loaded with; a
press reading attention weights, like kvpress's ObservedAttentionPress, needs
`eager`). The press must be usable as kvpress presses are: `with press(model): ...`
compresses the cache during the prefill forward.

The canonical spec lists `cls`, `compress`, `attn`, then every scalar (bool, int,
float, str) argument of the press in its declaration order, defaults included.
Parsing imports the class and builds the press once, so a wrong name or argument
fails here, before any model is loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from negsamp.errors import InputError, UnknownNameError
from negsamp.methods.base import (
    COMPRESS_HELP,
    Compress,
    ParamInfo,
    check_ratio,
    convert_value,
    format_value,
    param,
)
from negsamp.methods.eviction import PressMethod

Attn = Literal["auto", "eager", "sdpa"]
RESERVED = ("cls", "compress", "attn")
_SCALARS = (bool, int, float, str)


def import_press_class(path: str) -> type:
    """Import `module:Class` or `module.Class`."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise InputError(f"method 'press': cls={path!r} must be 'module:Class', e.g. kvpress:KnormPress")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise InputError(f"method 'press': cannot import cls={path!r}: {err}") from err
    if not isinstance(obj, type) or not callable(getattr(obj, "__call__", None)):  # noqa: B004
        raise InputError(f"method 'press': cls={path!r} is not a press class")
    return obj


def _press_arguments(press_cls: type) -> list[tuple[str, Any, Any]]:
    """(name, default or MISSING, annotation) for each init argument of the press."""
    try:
        hints = typing.get_type_hints(press_cls)
    except Exception:
        hints = {}
    if dataclasses.is_dataclass(press_cls):
        return [
            (f.name, f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING, hints.get(f.name))
            for f in dataclasses.fields(press_cls)
            if f.init
        ]
    out = []
    for p in list(inspect.signature(press_cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = p.default if p.default is not p.empty else dataclasses.MISSING
        out.append((p.name, default, hints.get(p.name, p.annotation if p.annotation is not p.empty else None)))
    return out


def _scalar_type(default: Any, annotation: Any) -> type | None:
    if isinstance(default, _SCALARS):
        return type(default)
    if annotation in _SCALARS:
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1 and inner[0] in _SCALARS:
            return inner[0]
    return None


def _guess(raw: str) -> Any:
    for conv in (int, float):
        try:
            return conv(raw)
        except ValueError:
            pass
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def _canonical_class_path(path: str) -> str:
    """`module.Class` and `module:Class` name the same press; the spec uses the latter."""
    if ":" in path:
        return path
    module_name, _, attr = path.rpartition(".")
    return f"{module_name}:{attr}"


@dataclass(frozen=True)
class Press(PressMethod):
    name = "press"
    description = (
        "Any kvpress-style press by import path: press:cls=module:Class,<press arguments> "
        "(reserved keys: compress, attn)."
    )

    cls: str = dataclasses.field(metadata={"help": "the press class, 'module:Class' (required)"})
    compress: Compress = param("context+question", COMPRESS_HELP)
    attn: Attn = param("auto", "attention to load the model with: auto, eager (press reads attention weights), sdpa")
    kwargs: tuple[tuple[str, Any], ...] = param((), "the press's own arguments, key=value")

    def __post_init__(self) -> None:
        press_cls = import_press_class(self.cls)
        given = dict(self.kwargs)
        arguments = _press_arguments(press_cls)
        names = [a[0] for a in arguments]
        for key in given:
            if key not in names:
                raise UnknownNameError(
                    f"press {self.cls!r} has no argument {key!r}; its arguments: {', '.join(names) or 'none'}"
                )
        canonical: list[tuple[str, Any]] = []
        for arg, default, _annotation in arguments:
            if arg in given:
                canonical.append((arg, given[arg]))
            elif isinstance(default, _SCALARS):
                canonical.append((arg, default))
        if "compression_ratio" in given:
            check_ratio(self.name, given["compression_ratio"])
        object.__setattr__(self, "cls", _canonical_class_path(self.cls))
        object.__setattr__(self, "kwargs", tuple(canonical))
        self.build_press()  # fail now, not after the model is loaded

    @classmethod
    def params(cls) -> list[ParamInfo]:
        return [p for p in super().params() if p.name != "kwargs"]

    @classmethod
    def from_params(cls, params: list[tuple[str, str]]) -> Press:
        own = dict(params)
        if "cls" not in own:
            raise InputError("method 'press' needs cls=module:Class, e.g. press:cls=kvpress:KnormPress,compression_ratio=0.5")
        press_cls = import_press_class(own["cls"])
        arguments = {a[0]: a for a in _press_arguments(press_cls)}
        reserved: dict[str, Any] = {"cls": own["cls"]}
        infos = {p.name: p for p in cls.params()}
        kwargs: list[tuple[str, Any]] = []
        for key, raw in params:
            if key == "cls":
                continue
            if key in RESERVED:
                reserved[key] = convert_value(cls.name, key, raw, infos[key].type)
                continue
            if key not in arguments:
                raise UnknownNameError(
                    f"press {own['cls']!r} has no argument {key!r}; its arguments: "
                    f"{', '.join(arguments) or 'none'} (and the reserved keys {', '.join(RESERVED)})"
                )
            _, default, annotation = arguments[key]
            typ = _scalar_type(default, annotation)
            kwargs.append((key, convert_value(cls.name, key, raw, typ) if typ else _guess(raw)))
        return cls(**reserved, kwargs=tuple(kwargs))

    @property
    def spec(self) -> str:
        items = [f"cls={self.cls}", f"compress={self.compress}", f"attn={self.attn}"]
        items += [f"{k}={format_value(v)}" for k, v in self.kwargs]
        return f"{self.name}:{','.join(items)}"

    @property
    def attn_implementation(self) -> str | None:
        return None if self.attn == "auto" else self.attn

    def build_press(self) -> Any:
        press_cls = import_press_class(self.cls)
        try:
            return press_cls(**dict(self.kwargs))
        except Exception as err:
            raise InputError(f"method 'press': cannot build {self.cls}({self._kwargs_text()}): {err}") from err

    def _kwargs_text(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs)

    def compression(self, model: Any) -> contextlib.AbstractContextManager:
        return self.build_press()(model)
