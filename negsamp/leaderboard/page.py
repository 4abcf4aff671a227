"""Rendering `site/index.html`: a static page, offline, every submitted string escaped, CSP-hashed."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

from negsamp.formats import num, pct
from negsamp.leaderboard.page_assets import _CSS, _JS
from negsamp.leaderboard.render import _count, chart_title, verified_badge

_COLUMNS = [
    # key, label, kind ("num" or "text"), title
    ("rank", "#", "num", "Rank within the release and KV-kept class (verified rows only)"),
    ("budget_class", "Class", "text", "KV-kept class of our measurement (verified rows only)"),
    ("name", "Method", "text", "Display name; links to the submitter's paper or code, else the method's paper"),
    ("method_type", "Type", "text", "eviction, quantization, baseline, or other (unregistered method or "
                                    "predictions made elsewhere)"),
    ("method", "Spec", "text", "Method spec as submitted"),
    ("model", "Model", "text", "Model the predictions came from"),
    ("release", "Dataset", "text", "Release (name and version) the method was scored on"),
    ("recovery_rate", "Negatives recovered", "num", "Negatives with b·(1−t) < o, recomputed"),
    ("control_retention", "Control retention", "num", "Control samples still good, recomputed"),
    ("relative_score", "Relative score", "num", "Mean score / the baseline's mean score over negatives and "
                                                "control, recomputed"),
    ("kv_kept", "KV kept", "num", "KV bytes after prefill / baseline's: measured here when verified, else claimed"),
    ("output_length_ratio", "Output length ratio", "num", "Output tokens / baseline's (submitted tokens)"),
    ("throughput_ratio", "Throughput ratio", "num", "Method / baseline throughput (submitter's claim)"),
    ("verified", "Verified", "text", "✓ verified: re-run here with the same predictions, KV measured here; "
                                     "claimed: not re-run here"),
    ("notes", "Notes", "text", "Why a row is a claim or not ranked; mining methods; warnings"),
    ("submitted", "Date", "text", "Date of submission"),
]


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` left to end or confuse it."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _cell(key: str, entry: dict[str, Any]) -> str:
    value = entry.get(key)
    if key == "name":
        name = _e(entry["name"])
        if entry.get("link"):
            name = f'<a href="{_e(entry["link"])}" rel="noopener noreferrer nofollow">{name}</a>'
        return f'<td class="name">{name}</td>'
    if key == "method_type":
        return f'<td><span class="badge type-{_e(value)}">{_e(value)}</span></td>'
    if key == "verified":
        badge = "verified" if value else "claimed"
        return f'<td><span class="badge {badge}">{_e(verified_badge(bool(value)))}</span></td>'
    if key == "notes":
        return f'<td class="notes-cell">{_e("; ".join(value or [])) or "—"}</td>'
    if key == "recovery_rate":
        return (f'<td class="num">{pct(value)}<div class="sub">{entry["recovered"]}/{entry["negatives"]}'
                "</div></td>")
    if key == "control_retention":
        return (f'<td class="num">{pct(value)}<div class="sub">{entry["control_retained"]}/{entry["control"]}'
                "</div></td>")
    if key == "kv_kept":
        if entry.get("verified"):
            return f'<td class="num">{pct(value)}</td>'
        return f'<td class="num">claimed {pct(entry.get("kv_kept_claimed"))}</td>'
    if key == "budget_class":
        return f"<td>{_e(value or '—')}</td>"
    if key in ("output_length_ratio", "throughput_ratio", "relative_score"):
        return f'<td class="num">{num(value)}</td>'
    if key == "rank":
        return f'<td class="num">{"—" if value is None else int(value)}</td>'
    css = {"method": "spec", "model": "model", "release": "release", "submitted": "date"}.get(key, "")
    return f'<td class="{css}">{_e(value)}</td>' if css else f"<td>{_e(value)}</td>"


def _task_table(entry: dict[str, Any]) -> str:
    head = ("<tr><th>Task</th><th>Negatives recovered</th><th>Control retention</th><th>Relative score</th>"
            "<th>KV kept</th><th>Output length ratio</th></tr>")
    rows = []
    for g in entry["by_task"]:
        rows.append(
            f"<tr><td>{_e(g['group'])}</td><td>{_count(g['recovered'], g['negatives'], g['recovery_rate'])}</td>"
            f"<td>{_count(g['control_retained'], g['control'], g['control_retention'])}</td>"
            f"<td>{num(g['relative_score'])}</td><td>{pct(g['kv_kept'])}</td>"
            f"<td>{num(g['output_length_ratio'])}</td></tr>"
        )
    return f'<table class="tasks"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _release_section(data: dict[str, Any], release: dict[str, Any]) -> str:
    """A release's heading, sample counts, and its chart (or why it has none yet)."""
    from negsamp.leaderboard.chart import chart_points, release_entries
    from negsamp.leaderboard.chart_svg import render_svg

    label = _e(release["label"])
    counts = ""
    if "negatives" in release:
        counts = (f'{release["negatives"]} negatives and {release["control"]} control samples '
                  f'({_e(", ".join(release["tasks"]))}); ')
    head = (f'<h3>{label} <span class="sub">config {_e(release["config"])}, model {_e(release["model"])}</span>'
            f'</h3><p class="sub">{counts}content hash {_e(release["content_hash"][:12])}</p>')
    rows = release_entries(data, release)
    if not rows:
        note = ""
        if release.get("scores_only"):
            note = (" Scores only: no predictions ship with this release and prompts are rebuilt with the "
                    f"evaluating model's tokenizer; an entry needs a run of {_e(release['model'])}.")
        return f'<section class="release">{head}<p class="empty">No submission yet.{note}</p></section>'
    _, skipped = chart_points(rows)
    caption = f"<figcaption>Not in the chart: {_e('; '.join(skipped))}.</figcaption>" if skipped else ""
    svg = render_svg(rows, chart_title(release["label"]))
    return f'<section class="release">{head}<figure class="chart">{svg}{caption}</figure></section>'


def _table_rows(entries: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The board's header cells and body rows (each entry's row, then its hidden per-task row)."""
    heads = []
    for key, label, kind, title in _COLUMNS:
        heads.append(f'<th scope="col" class="{kind}" data-key="{key}" aria-sort="none" title="{_e(title)}">'
                     f'<button type="button" class="sort">{_e(label)}</button></th>')
    heads.append('<th scope="col">Breakdown</th>')
    span = len(_COLUMNS) + 1
    rows = []
    for i, entry in enumerate(entries):
        cells = "".join(_cell(key, entry) for key, *_ in _COLUMNS)
        toggle = (f'<td><button type="button" class="toggle" data-i="{i}" aria-expanded="false" '
                  f'aria-controls="detail-{i}">Per task</button></td>')
        rows.append(f'<tr id="row-{i}" class="entry" data-id="{_e(entry["id"])}">{cells}{toggle}</tr>')
        rows.append(f'<tr id="detail-{i}" class="detail" hidden><td colspan="{span}">{_task_table(entry)}'
                    "</td></tr>")
    return heads, rows


def render_html(data: dict[str, Any]) -> str:
    """`site/index.html` from `table_data(...)`: static, offline, no external resource, all text escaped."""
    entries = data["entries"]
    heads, rows = _table_rows(entries)
    releases = "; ".join(
        f'{_e(r["label"])} (config {_e(r["config"])}, model {_e(r["model"])}, hash {_e(r["content_hash"][:12])})'
        for r in data["releases"]
    ) or "none registered"
    empty = "" if entries else '<p class="empty">No accepted submission yet.</p>'
    css, js = _CSS, _JS
    csp = (f"default-src 'none'; script-src '{_csp_hash(js)}'; style-src '{_csp_hash(css)}'; "
           "img-src 'none'; base-uri 'none'; form-action 'none'")
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        "<title>negsamp leaderboard</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        "<h1>negsamp leaderboard</h1>",
        '<p class="lead">Does a KV-cache compression method fix the samples that known methods break, and at '
        "what cost? Negatives recovered and control retention are recomputed from each submission's "
        "predictions with the release's rule (<code>b·(1−t) &lt; o</code>). Click a column to sort; "
        "<q>Per task</q> opens the breakdown.</p>",
        '<div class="controls"><label>Filter <input id="filter" type="search" '
        'placeholder="method, spec, model or dataset" autocomplete="off"></label>'
        '<span id="count" aria-live="polite"></span></div>',
        '<div class="scroll"><table class="board" id="board">',
        f"<thead><tr>{''.join(heads)}</tr></thead>",
        f'<tbody id="board-body">{"".join(rows)}</tbody>',
        "</table></div>",
        empty,
        "<h2>Relative score vs KV kept, per release</h2>",
        '<p class="sub">Filled markers: verified rows, KV kept measured here; hollow: KV kept as claimed. '
        "Hover a marker for its name, spec and figures.</p>",
        *(_release_section(data, r) for r in data["releases"]),
        f'<p class="notes">Releases: {releases}. KV kept (KV bytes after prefill relative to the baseline\'s) '
        "is measured here for verified rows and is the submitter's claim for the others; the throughput ratio "
        "is always the submitter's claim (verification re-runs predictions, not timings); the output length "
        "ratio uses the submitted output tokens. Relative score: the method's mean score over negatives and "
        "control divided by the baseline's. Generated by <code>negsamp leaderboard build</code>.</p>",
        f'<script type="application/json" id="leaderboard-data">{_script_json(data)}</script>',
        f"<script>{js}</script>",
        "</body>",
        "</html>",
        "",
    ])
