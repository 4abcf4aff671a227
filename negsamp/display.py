"""Short names for the screen; files keep the full canonical spec.

A canonical method spec names every parameter, defaults included, so that it
identifies a run exactly (`expected_attention:ratio=0.5,future=512,sink=4,
covariance=true,vnorm=true,compress=context+question`). Progress bars and
summary tables show `short_method(spec)` instead: the method's name, its first
parameter (the one a reader looks for: ratio, bits, cls) and every parameter
that differs from its default. A fixed-budget eviction spec drops its unused
ratio. Anything that does not parse (an external predictions label, a plug-in
that is not installed) is shown as given, cut to `MAX_WIDTH`.
"""

from __future__ import annotations

MAX_WIDTH = 48
"""Longest name shown; longer ones end in an ellipsis."""


def _cut(text: str, width: int = MAX_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_method(spec: str) -> str:
    """`snapkv:ratio=0.5,window=8,kernel=5,compress=context+question` -> `snapkv:ratio=0.5`."""
    from negsamp.errors import NegsampError
    from negsamp.methods.base import format_value, parse_method

    try:
        method = parse_method(spec)
    except NegsampError:  # e.g. a press whose module is not importable here: shorten the text only
        name, _, rest = spec.partition(":")
        items = [item.partition("=") for item in rest.split(",")] if rest else []
        text = ",".join(f"{k}={_short_value(k, v)}" if eq else k for k, eq, v in items)
        return _cut(f"{name}:{text}" if text else name)
    params = method.params()
    shown = []
    for index, info in enumerate(params):
        value = getattr(method, info.name)
        if index == 0 or value != info.default:
            shown.append((info.name, value))
    if any(name == "budget" and value for name, value in shown):
        shown = [(name, value) for name, value in shown if name != "ratio"]
    items = [f"{name}={_short_value(name, format_value(value))}" for name, value in shown]
    return _cut(f"{method.name}:{','.join(items)}" if items else method.name)


def _short_value(name: str, value: str) -> str:
    # A press class is named by import path (`pkg.module:Class`); the class name is enough on screen.
    return value.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if name == "cls" else value


def short_names(specs: list[str]) -> dict[str, str]:
    """Short names for several specs at once, falling back to the full spec where two would collide."""
    short = {spec: short_method(spec) for spec in specs}
    counts: dict[str, int] = {}
    for name in short.values():
        counts[name] = counts.get(name, 0) + 1
    return {spec: name if counts[name] == 1 else _cut(spec, 2 * MAX_WIDTH) for spec, name in short.items()}
