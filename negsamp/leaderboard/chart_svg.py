"""The chart as inline SVG for `site/index.html`: no script, no style attribute, no external reference.

Colours and strokes are SVG presentation attributes (not governed by the page's style-src), every
submitted string is escaped, and each marker carries a `<title>` (the full name, spec and figures)
that browsers show on hover.
"""

from __future__ import annotations

import html
from typing import Any

from negsamp.leaderboard.chart import (
    BOTTOM,
    COLOURS,
    FONT_PX,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    Layout,
    layout,
)
from negsamp.leaderboard.method_meta import METHOD_TYPES

_GRID = "#d0d7de"
_INK = "#1b1f24"
_MUTED = "#57606a"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = FONT_PX, fill: str = _INK,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{_e(text)}</text>")


def _axes(frame: Layout) -> list[str]:
    out = []
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    for t in frame.x_ticks:
        x = frame.px(t)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" stroke="{_GRID}" stroke-width="1"/>')
        out.append(_text(x, y1 + 16, f"{t * 100:.0f}%", anchor="middle", fill=_MUTED))
    for t in frame.y_ticks:
        y = frame.py(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{_GRID}" stroke-width="1"/>')
        out.append(_text(x0 - 6, y + 4, f"{t:.2f}", anchor="end", fill=_MUTED))
    base = frame.py(1.0)
    out.append(f'<line x1="{x0}" y1="{base:.1f}" x2="{x1}" y2="{base:.1f}" stroke="{_MUTED}" stroke-width="1" '
               'stroke-dasharray="4 3"/>')
    out.append(_text(x1 - 2, base - 4, "baseline", anchor="end", size=10, fill=_MUTED))
    out.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="{_MUTED}"/>')
    out.append(_text((x0 + x1) / 2, HEIGHT - 14, "KV kept (KV bytes after prefill / the baseline's)",
                     anchor="middle"))
    out.append(_text(16, (y0 + y1) / 2, "relative score (mean score / baseline's)", anchor="middle",
                     extra=f' transform="rotate(-90 16 {(y0 + y1) / 2:.1f})"'))
    return out


def _legend(types: list[str]) -> list[str]:
    out, x = [], LEFT
    for kind in [t for t in METHOD_TYPES if t in types]:
        out.append(f'<circle cx="{x + 5}" cy="{TOP - 14}" r="4.5" fill="{COLOURS[kind]}" stroke="{COLOURS[kind]}"/>')
        out.append(_text(x + 13, TOP - 10, kind))
        x += 22 + len(kind) * 6.3
    out.append(f'<circle cx="{x + 5}" cy="{TOP - 14}" r="4.5" fill="{_MUTED}" stroke="{_MUTED}"/>')
    out.append(_text(x + 13, TOP - 10, "verified (KV measured here)"))
    x += 190
    out.append(f'<circle cx="{x + 5}" cy="{TOP - 14}" r="4.5" fill="#fff" stroke="{_MUTED}" stroke-width="1.6"/>')
    out.append(_text(x + 13, TOP - 10, "claimed KV"))
    return out


def render_svg(entries: list[dict[str, Any]], title: str) -> str:
    """One release's chart (its rows of the table data) as an `<svg>` element."""
    frame = layout(entries)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{_e(title)}" class="chart" font-family="sans-serif">',
             f"<title>{_e(title)}</title>", *_axes(frame), *_legend(sorted({p.point.type for p in frame.placed}))]
    for p in frame.placed:
        point, colour = p.point, COLOURS.get(p.point.type, COLOURS["other"])
        fill = colour if point.verified else "#fff"
        tip = (f"{point.name} [{point.method}]: relative score {point.y:.3f}, KV kept {point.x * 100:.1f}% "
               f"({'verified' if point.verified else 'claimed'})")
        if p.leader:
            parts.append(f'<line x1="{p.px:.1f}" y1="{p.py:.1f}" x2="{p.tx:.1f}" y2="{p.ty - 4:.1f}" '
                         f'stroke="{_GRID}" stroke-width="1"/>')
        parts.append(f'<g class="point"><title>{_e(tip)}</title><circle cx="{p.px:.1f}" cy="{p.py:.1f}" r="5" '
                     f'fill="{fill}" stroke="{colour}" stroke-width="1.6"/></g>')
        # a white halo keeps a label readable where it crosses a grid or the baseline line
        parts.append(_text(p.tx, p.ty, point.label, anchor=p.anchor,
                           extra=' stroke="#fff" stroke-width="3" paint-order="stroke"'))
    parts.append("</svg>")
    return "".join(parts)
