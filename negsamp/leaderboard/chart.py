"""The score-vs-KV-kept chart of a release: its points and their layout, shared by the SVG and the PNG.

x is KV kept as the board shows it (our measurement for verified rows, the submitter's claim
otherwise), y the relative score (`mean(o) / mean(b)` over negatives and control). Filled
markers are verified, hollow ones claimed; colour is the method type. Everything is laid out
here in pixels of a `WIDTH` x `HEIGHT` canvas, so the page's inline SVG and the README's PNG
(`chart_png`) show the same picture, and both are deterministic: same rows, same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 680, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 48, 56
"""Plot area margins (pixels): axis labels on the left and bottom, the title on top."""
X_CAP = Y_CAP = 2.0
"""Axes stop here; a point beyond (a claim of more KV than the baseline's twice over, say) is listed
under the chart instead of squashing every other point into a corner."""
FONT_PX = 11
CHAR_PX = 6.3
"""Approximate width of a label character at `FONT_PX` (DejaVu Sans), for collision avoidance."""
MAX_LABEL = 26
COLOURS = {"eviction": "#0b5cad", "quantization": "#c2410c", "baseline": "#57606a", "other": "#8250df"}
"""Marker colour per method type (`method_meta.METHOD_TYPES`)."""


@dataclass(frozen=True)
class ChartPoint:
    label: str
    """The display name, shortened to `MAX_LABEL` characters."""
    name: str
    method: str
    x: float
    y: float
    verified: bool
    type: str


@dataclass(frozen=True)
class Placed:
    point: ChartPoint
    px: float
    py: float
    """The marker's centre on the canvas."""
    tx: float
    ty: float
    """The label's text anchor (start, baseline)."""
    anchor: str
    """`start` (label right of the marker) or `end` (left of it)."""
    leader: bool
    """The label was moved off its marker's row: draw a line to it."""


@dataclass(frozen=True)
class Layout:
    placed: list[Placed]
    x_max: float
    y_max: float
    x_ticks: list[float]
    y_ticks: list[float]
    skipped: list[str]
    """`name (why)` of each row not in the chart."""

    def px(self, x: float) -> float:
        return LEFT + x / self.x_max * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return HEIGHT - BOTTOM - y / self.y_max * (HEIGHT - TOP - BOTTOM)


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def chart_points(entries: list[dict[str, Any]]) -> tuple[list[ChartPoint], list[str]]:
    """One release's rows of the table data (`table_data(...)["entries"]`) -> points, and the rows left out."""
    points, skipped = [], []
    for e in entries:
        x, y = e.get("kv_kept_shown"), e.get("relative_score")
        if x is None or y is None:
            skipped.append(f"{e['name']} (no {'KV kept' if x is None else 'relative score'} figure)")
        elif x > X_CAP or y > Y_CAP:
            skipped.append(f"{e['name']} (off the axes: KV kept {x:.3g}, relative score {y:.3g})")
        else:
            points.append(ChartPoint(_short(e["name"]), e["name"], e["method"], x, y, bool(e["verified"]),
                                     e.get("method_type", "other")))
    return points, skipped


def _axis_max(values: list[float], floor: float) -> float:
    """`floor` unless a value is above it, then the next quarter (at most the cap)."""
    top = max([floor, *values])
    return min(math.ceil(top * 4 - 1e-9) / 4, X_CAP) if top > floor else floor


def _ticks(top: float) -> list[float]:
    step = 0.25 if top <= 1.25 else 0.5
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def _overlaps(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def _place(point: ChartPoint, px: float, py: float, boxes: list) -> Placed:
    """Right of the marker, else left of it, moved up or down by whole lines until it collides with
    no label or marker placed so far; where nothing is free it stays on its row (overlapping)."""
    width = len(point.label) * CHAR_PX
    for shift in (0, 1, -1, 2, -2, 3, -3, 4, -4):
        ty = py + 4 + shift * (FONT_PX + 2)
        for anchor, x0 in (("start", px + 7), ("end", px - 7 - width)):
            box = (x0, ty - FONT_PX, x0 + width, ty + 2)
            inside = LEFT <= x0 and x0 + width <= WIDTH - 2 and TOP <= box[1] and box[3] <= HEIGHT - BOTTOM
            if inside and not _overlaps(box, boxes):
                boxes.append(box)
                tx = px + 7 if anchor == "start" else px - 7
                return Placed(point, px, py, tx, ty, anchor, shift != 0)
    return Placed(point, px, py, px + 7, py + 4, "start", False)


def layout(entries: list[dict[str, Any]]) -> Layout:
    """Points, axes and label positions of one release's chart."""
    points, skipped = chart_points(entries)
    # x up to the baseline's KV; y a little above the baseline's score, so its line and points on it show
    x_max, y_max = _axis_max([p.x for p in points], 1.0), _axis_max([p.y for p in points], 1.1)
    frame = Layout([], x_max, y_max, _ticks(x_max), _ticks(y_max), skipped)
    # Markers are obstacles for every label; labels are placed top to bottom, left to right.
    centres = [(frame.px(p.x), frame.py(p.y)) for p in points]
    boxes = [(cx - 5, cy - 5, cx + 5, cy + 5) for cx, cy in centres]
    order = sorted(range(len(points)), key=lambda i: (centres[i][1], centres[i][0], points[i].name))
    placed = {i: _place(points[i], *centres[i], boxes) for i in order}
    return Layout([placed[i] for i in range(len(points))], x_max, y_max, frame.x_ticks, frame.y_ticks, skipped)


def release_entries(data: dict[str, Any], release: dict[str, Any]) -> list[dict[str, Any]]:
    """The table data's rows of one release (table data release record)."""
    return [e for e in data["entries"] if e["release"] == release["label"] and e["config"] == release["config"]]
