"""The one spec grammar shared by methods and task sources.

    SPEC   := NAME [":" ARG] [":" PARAMS]     (ARG only where the kind takes one)
    PARAMS := KEY "=" VALUE ("," KEY "=" VALUE)*

Examples: `none`, `snapkv:ratio=0.5,window=8`, `passkey:lengths=500+1000,count=10`,
`longbench:gov_report:path=data/a,b.jsonl,limit=5`, `press:cls=mypkg.mod:MyPress,compression_ratio=0.5`.

Rules (the same for every kind of spec):
- A comma separates parameters only where it is followed by `KEY=` (KEY a Python-style
  identifier), so a value may hold commas (file paths) and colons (import paths).
- `ARG` is the text between the first and the second colon when it holds no `=`
  (`longbench:gov_report:...`); otherwise everything after the first colon is PARAMS.
- Whitespace around names, keys and values is ignored; an empty value, a repeated key,
  a piece without `=` and a trailing comma are refused.
- Lists inside one value are joined with `+` (`lengths=500+1000`); parsing them is the
  kind's business.

`format_spec` writes the canonical form, and `parse_spec(format_spec(...))` gives the
same parts back. Errors are `InputError`s naming the spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from negsamp.errors import InputError

_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_PARAM_SPLIT = re.compile(rf",(?=\s*{_KEY}\s*=)")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class ParsedSpec:
    """A spec string split into its parts (values still text)."""

    name: str
    """The part before the first colon."""
    arg: str | None
    """The positional argument (e.g. the LongBench task), or None."""
    params: tuple[tuple[str, str], ...]
    """`(key, raw value)` pairs, in the order given."""

    def param_dict(self) -> dict[str, str]:
        return dict(self.params)


def parse_spec(text: str, *, kind: str = "spec", allow_arg: bool = False) -> ParsedSpec:
    """Split `text` by the grammar above. `kind` names the spec in errors ("method",
    "task source"); `allow_arg`: whether `NAME:ARG:...` is meaningful for this kind."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"empty {kind} spec; expected e.g. 'name' or 'name:key=value'")
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if not _NAME_RE.match(name):
        raise InputError(f"{kind} spec {text!r}: {name!r} is not a valid name")
    arg = None
    first, colon, after = rest.partition(":")
    if rest.strip() and "=" not in first:
        if not allow_arg:
            raise InputError(f"{kind} spec {text!r}: expected key=value after {name!r}, got {first.strip()!r}")
        arg = first.strip()
        if not arg:
            raise InputError(f"{kind} spec {text!r}: empty argument after {name!r}")
        rest = after if colon else ""
    return ParsedSpec(name=name, arg=arg, params=_split_params(text, kind, rest))


def _split_params(text: str, kind: str, rest: str) -> tuple[tuple[str, str], ...]:
    if not rest.strip():
        return ()
    pairs: list[tuple[str, str]] = []
    for piece in _PARAM_SPLIT.split(rest):
        key, eq, value = piece.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise InputError(f"{kind} spec {text!r}: expected key=value, got {piece.strip()!r}")
        if not re.fullmatch(_KEY, key):
            raise InputError(f"{kind} spec {text!r}: {key!r} is not a valid parameter name")
        if any(key == seen for seen, _ in pairs):
            raise InputError(f"{kind} spec {text!r}: parameter {key!r} is given twice")
        if not value:
            raise InputError(f"{kind} spec {text!r}: parameter {key!r} has no value")
        if re.search(r",\s*=", value):
            raise InputError(f"{kind} spec {text!r}: a parameter has no name in {piece.strip()!r}")
        if value.endswith(","):
            raise InputError(f"{kind} spec {text!r}: trailing comma after {key}={value[:-1]!r}")
        pairs.append((key, value))
    return tuple(pairs)


def format_spec(name: str, params: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
                *, arg: str | None = None) -> str:
    """The canonical text of a spec: `name[:arg][:k=v,...]`."""
    head = f"{name}:{arg}" if arg is not None else name
    body = ",".join(f"{key}={value}" for key, value in params)
    return f"{head}:{body}" if body else head
