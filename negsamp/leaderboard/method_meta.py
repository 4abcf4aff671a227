"""What the board shows about a submission's method: its type badge, its paper, its canonical spec.

Everything comes from the method class (`Method.family`, `Method.paper_url`), found by the spec's
name in the method registry. A submitted spec is a stranger's text, so it is split with the spec
grammar only: a `press:cls=module:Class` spec is never parsed into a method here, because parsing it
imports `module` (only `negsamp leaderboard verify`, run by a maintainer, does that).
"""

from __future__ import annotations

from dataclasses import dataclass

from negsamp.errors import NegsampError

METHOD_TYPES = ("eviction", "quantization", "baseline", "other")
"""The type badges, in legend order. `other`: a method not registered here, or predictions made
elsewhere (their spec is the submitter's label for a run we did not see)."""


@dataclass(frozen=True)
class MethodMeta:
    type: str
    """One of `METHOD_TYPES`."""
    paper_url: str | None
    """The method's paper (`Method.paper_url`), or None."""
    canonical: str | None
    """The canonical spec when it can be built without importing submitted names, else None."""


def method_meta(spec: str, source: str) -> MethodMeta:
    """The badge, paper and canonical spec of a submitted method spec (`source`: `method` or `predictions`).

    Type and paper are given only for `source == "method"` (negsamp ran a registered method); the
    canonical spec is given for any source, so a predictions label such as `kivi:bits=4` still
    matches the methods a release was mined with.
    """
    from negsamp.methods import available_methods, parse_method
    from negsamp.specs import parse_spec

    try:
        cls = available_methods().get(parse_spec(spec, kind="method").name)
        canonical = parse_method(spec).spec if cls is not None and cls.name != "press" else None
    except NegsampError:  # malformed, or parameters the method does not take
        return MethodMeta("other", None, None)
    if cls is None or source != "method":
        return MethodMeta("other", None, canonical)
    kind = cls.family if cls.family in METHOD_TYPES else "other"
    return MethodMeta(kind, cls.paper_url or None, canonical)
