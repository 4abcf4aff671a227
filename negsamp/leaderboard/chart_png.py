"""The chart as a PNG for README.md (which cannot hold inline SVG on the Hub): matplotlib, same layout.

The canvas is `chart.WIDTH` x `chart.HEIGHT` layout pixels drawn at `SCALE` times that, the plot
area sits exactly where the SVG has it, and labels go where `chart.layout` put them, so both
renderings agree. Submitted names are drawn with `parse_math=False`: matplotlib would otherwise read
`$...$` in a name as mathtext, and a malformed one (`a $x^{$`) would stop the whole build. The PNG carries no "Software" metadata (matplotlib's version) and Agg draws
deterministically, so the same rows give the same bytes and `leaderboard build --check` stays stable.
"""

from __future__ import annotations

import io
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

DPI = 100
SCALE = 1.5
"""Output pixels per layout pixel (a 1020 x 630 PNG)."""
_PT = 72 / DPI
"""Points per layout pixel at `DPI`."""


def _fx(x: float) -> float:
    return x / WIDTH


def _fy(y: float) -> float:
    return 1 - y / HEIGHT


def _frame(fig, frame: Layout):
    ax = fig.add_axes((_fx(LEFT), _fy(HEIGHT - BOTTOM), (WIDTH - LEFT - RIGHT) / WIDTH, (HEIGHT - TOP - BOTTOM) / HEIGHT))
    ax.set_xlim(0, frame.x_max)
    ax.set_ylim(0, frame.y_max)
    ax.set_xticks(frame.x_ticks, [f"{t * 100:.0f}%" for t in frame.x_ticks])
    ax.set_yticks(frame.y_ticks, [f"{t:.2f}" for t in frame.y_ticks])
    ax.tick_params(labelsize=FONT_PX * _PT, colors="#57606a", length=0)
    ax.grid(True, color="#d0d7de", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.axhline(1.0, color="#57606a", linewidth=0.8, linestyle=(0, (4, 3)))
    ax.text(frame.x_max * 0.995, 1.0, "baseline ", ha="right", va="bottom", fontsize=10 * _PT, color="#57606a")
    ax.set_xlabel("KV kept (KV bytes after prefill / the baseline's)", fontsize=FONT_PX * _PT)
    ax.set_ylabel("relative score (mean score / baseline's)", fontsize=FONT_PX * _PT)
    return ax


def _legend(fig, types: set[str]) -> None:
    x, y = LEFT, TOP - 14
    items = [(kind, COLOURS[kind], COLOURS[kind]) for kind in METHOD_TYPES if kind in types]
    items += [("verified (KV measured here)", "#57606a", "#57606a"), ("claimed KV", "white", "#57606a")]
    for text, face, edge in items:
        fig.lines.append(_marker(fig, x + 5, y, face, edge, 4.5))
        fig.text(_fx(x + 13), _fy(y + 4), text, fontsize=FONT_PX * _PT, color="#1b1f24")
        x += 22 + len(text) * 6.3 if text in METHOD_TYPES else 190


def _marker(fig, px: float, py: float, face: str, edge: str, radius: float):
    from matplotlib.lines import Line2D

    return Line2D([_fx(px)], [_fy(py)], transform=fig.transFigure, marker="o", markersize=2 * radius * _PT,
                  markerfacecolor=face, markeredgecolor=edge, markeredgewidth=1.6 * _PT, linestyle="none")


def render_png(entries: list[dict[str, Any]], title: str) -> bytes:
    """One release's chart (its rows of the table data) as PNG bytes."""
    from matplotlib import patheffects
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no backend switch
    from matplotlib.lines import Line2D

    halo = [patheffects.withStroke(linewidth=3 * _PT, foreground="white")]  # readable across grid lines
    frame = layout(entries)
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    _frame(fig, frame)
    fig.text(0.5, _fy(10), title, ha="center", va="top", fontsize=12 * _PT, weight="bold", parse_math=False)
    _legend(fig, {p.point.type for p in frame.placed})
    for p in frame.placed:
        colour = COLOURS.get(p.point.type, COLOURS["other"])
        if p.leader:
            fig.lines.append(Line2D([_fx(p.px), _fx(p.tx)], [_fy(p.py), _fy(p.ty - 4)],
                                    transform=fig.transFigure, color="#d0d7de", linewidth=0.8))
        fig.lines.append(_marker(fig, p.px, p.py, colour if p.point.verified else "white", colour, 5))
        fig.text(_fx(p.tx), _fy(p.ty), p.point.label, ha="left" if p.anchor == "start" else "right",
                 va="baseline", fontsize=FONT_PX * _PT, color="#1b1f24", path_effects=halo,
                 parse_math=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI * SCALE, metadata={"Software": None})
    return buffer.getvalue()
