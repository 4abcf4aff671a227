"""Small shared helpers: number formats, ratios, slugs, and pydantic errors as one line.

One copy of each, so a percentage or a folder name reads the same in a report,
a card and the leaderboard.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

_SLUG_RE = re.compile(r"[^a-z0-9._-]+")


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is unknown or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def pct(value: float | None, missing: str = "—") -> str:
    """A fraction as a percentage with one decimal (`missing` for None)."""
    return missing if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 3, missing: str = "—") -> str:
    """A number with `digits` decimals; scientific notation beyond 1e6, so no cell can grow without bound."""
    if value is None:
        return missing
    if abs(value) >= 1e6:
        return f"{value:.{digits}e}"
    return f"{value:.{digits}f}"


def slug(text: str, fallback: str | None = None, limit: int = 60, *, keep: str = "._-", sep: str = "-",
         lower: bool = True) -> str:
    """A file-name-safe form of `text`: NFKC, ASCII letters, digits and the characters in `keep`.

    Runs of anything else become one `sep`; leading and trailing `sep` and `.`
    go. Lower-cased unless `lower` is off (run-store keys keep their case, so
    existing stores still resume). An empty result gives `fallback`, or an empty
    string for the caller to refuse.
    """
    text = unicodedata.normalize("NFKC", text)
    if lower:
        text = text.lower()
    pattern = _SLUG_RE if (keep, lower) == ("._-", True) else re.compile(f"[^A-Za-z0-9{re.escape(keep)}]+")
    out = pattern.sub(sep, text).strip(sep + ".")[:limit].strip(sep + ".")
    return out or (fallback or "")


def loc_path(loc: Iterable[Any]) -> str:
    """A pydantic error location as a field path: `predictions[3].sample_id`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def first_error(err: ValidationError) -> str:
    """The first error of a pydantic validation as one line: `field 'a.b': message`."""
    first = err.errors(include_url=False)[0]
    where = loc_path(first["loc"]) or "(value)"
    return f"field {where!r}: {first['msg']}"
