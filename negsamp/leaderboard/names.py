"""Display names: NFKC, no invisible or control characters, and a skeleton to catch look-alikes.

A name is shown to people, so two names that look the same are the same name.
`name_problem` refuses what cannot be shown honestly: control and format
characters (zero-width spaces, a right-to-left override), private-use and
unassigned code points, stacks of combining marks (Zalgo), leading or trailing
space. `skeleton` maps a name to a form where look-alikes coincide: NFKC,
case-folded, combining marks dropped, common Cyrillic and Greek homoglyphs
mapped to Latin, spaces, `-` and `_` removed. The board refuses an entry whose
skeleton equals an earlier entry's on the same release.
"""

from __future__ import annotations

import unicodedata

MAX_COMBINING = 2
"""More combining marks than this on one character is refused (Zalgo text)."""

# Cyrillic and Greek letters that render like Latin ones (a subset of Unicode's confusables.txt,
# the letters that occur in lower-case method names after case folding).
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "γ": "y", "ѵ": "v", "ɡ": "g", "ı": "i", "ℓ": "l", "0": "o", "1": "l",
})
_BAD_CATEGORIES = {"Cc": "a control character", "Cf": "an invisible format character",
                   "Co": "a private-use character", "Cn": "an unassigned code point",
                   "Cs": "a surrogate", "Zl": "a line separator", "Zp": "a paragraph separator"}


def normalise(name: str) -> str:
    """The name as shown and compared: NFKC."""
    return unicodedata.normalize("NFKC", name)


def name_problem(name: str) -> str | None:
    """Why `name` cannot be shown as is, or None."""
    text = normalise(name)
    if text != text.strip():
        return "has leading or trailing space"
    run = 0
    for ch in text:
        category = unicodedata.category(ch)
        if category in _BAD_CATEGORIES:
            return f"contains {_BAD_CATEGORIES[category]} (U+{ord(ch):04X})"
        run = run + 1 if category.startswith("M") else 0
        if run > MAX_COMBINING:
            return f"stacks more than {MAX_COMBINING} combining marks on one character"
    return None


def skeleton(name: str) -> str:
    """A form in which names that look alike are equal."""
    text = unicodedata.normalize("NFKD", normalise(name).casefold())
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))
    text = text.translate(_HOMOGLYPHS)
    return "".join(ch for ch in text if ch.isalnum() or ch in ":=.,")
