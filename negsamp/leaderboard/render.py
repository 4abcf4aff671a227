"""Rendering as text: number formats, Markdown escaping, the table data (`leaderboard.json`), README.md."""

from __future__ import annotations

import json
import re
from typing import Any

from negsamp.formats import num, pct
from negsamp.leaderboard.chart import chart_points
from negsamp.leaderboard.problems import Rejection
from negsamp.leaderboard.registry import Release
from negsamp.leaderboard.submissions import _CONTROL_RE
from negsamp.leaderboard.validate import ValidatedEntry

TABLE_VERSION = 2
"""2: entries carry method_type, link, notes and kv_kept_shown; releases carry their sample counts and chart."""


def _count(recovered: int, total: int, rate: float | None) -> str:
    return "—" if rate is None else f"{pct(rate)} ({recovered}/{total})"


_MD_SPECIAL = set("\\`*_[]|~")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._/-]+")


def md_text(text: str) -> str:
    """Submitted text as inert inline Markdown: `&<>"` as entities; `\\ ` * _ [ ] | ~` backslash-escaped.

    Enough for inline text in a table cell or after a heading marker: no link, image, emphasis,
    code span, HTML or cell break can start. Line breaks and control characters become spaces.
    """
    text = _CONTROL_RE.sub(" ", text)
    out = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _md_url(url: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in "()[]<>|'\"` \\" else c for c in url)


def table_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1, allow_nan=False) + "\n"


def ranks(entries: list[ValidatedEntry]) -> list[int | None]:
    """Rank within (release, KV-kept class), in table order; None for an entry that is not ranked
    (unverified, KV unknown or not compressed)."""
    counters: dict[tuple, int] = {}
    out: list[int | None] = []
    for entry in entries:
        klass = entry.budget_class
        if klass is None:
            out.append(None)
            continue
        key = (entry.release.key, klass)
        counters[key] = counters.get(key, 0) + 1
        out.append(counters[key])
    return out


def chart_title(label: str) -> str:
    return f"{label}: relative score vs KV kept"


VERIFIED_BADGE = "✓ verified"
CLAIMED_BADGE = "claimed"


def verified_badge(verified: bool) -> str:
    """The verified column: re-run here with the same predictions, or the submitter's claim."""
    return VERIFIED_BADGE if verified else CLAIMED_BADGE


def table_data(entries: list[ValidatedEntry], releases: list[Release],
               details: dict[tuple, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The table as JSON-ready data (what `leaderboard.json` holds and the page embeds).

    `details`: per release key, what `negsamp.leaderboard.build.release_details` found (sample
    counts, tasks, whether it ships scores only, its chart file).
    """
    rows = [entry.to_json(rank) for entry, rank in zip(entries, ranks(entries), strict=True)]
    details = details or {}
    return {
        "version": TABLE_VERSION,
        "releases": [r.model_dump(exclude={"path"}) | {"label": r.label} | details.get(r.key, {})
                     for r in releases],
        "entries": rows,
    }



def _release_table(rows: list[ValidatedEntry]) -> list[str]:
    lines = [
        "| # | class | method | type | spec | negatives recovered | control retention | relative score "
        "| KV kept | output length ratio | throughput ratio (claimed) | verified | notes | date |",
        "|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for rank, e in zip(ranks(rows), rows, strict=True):
        o = e.overall
        name = md_text(e.name)
        if e.link:
            name = f"[{name}]({_md_url(e.link)})"
        kv = pct(e.kv_kept_measured) if e.verified else f"claimed {pct(o.kv_kept)}"
        lines.append(
            f"| {rank or '—'} | {e.budget_class or '—'} | {name} | `{e.method_type}` | {md_text(e.method)} "
            f"| {_count(o.recovered, o.negatives, o.recovery_rate)} "
            f"| {_count(o.control_retained, o.control, o.control_retention)} | {num(o.relative_score)} | {kv} "
            f"| {num(o.output_length_ratio)} | {num(e.throughput_ratio)} | {verified_badge(e.verified)} "
            f"| {md_text('; '.join(e.notes)) or '—'} | {md_text(e.submitted)} |"
        )
    return [*lines, ""]


def _intro() -> list[str]:
    return [
        "# negsamp leaderboard",
        "",
        "Does a KV-cache compression method fix the samples that known methods break, and at what "
        "real compression and cost? Each release is a negative-sample dataset: its `negative` split holds "
        "samples the mined methods broke, its `control` split samples none of them broke.",
        "",
        "- **Negatives recovered**: negatives where the method's score `o` beats the baseline's `b` "
        "by the release's rule, `b * (1 - t) < o`. **Control retention**: control samples that stay good "
        "by the same test.",
        "- **Relative score**: the method's mean score over the release's negative and control samples "
        "divided by the baseline's mean score over the same samples (`mean(o) / mean(b)`, per-sample "
        "LongBench or string-match scores; not capped, so above 1 means better than the baseline on "
        "average).",
        "- These three are **recomputed** here from the submitted predictions and the release's rows; a "
        "submission whose claimed figures disagree with the recomputation is rejected.",
        "- **✓ verified** rows were re-run here by `negsamp leaderboard verify`: the same predictions, "
        "exactly, and **KV kept** (KV bytes after prefill / the baseline's, mean over samples) is our "
        "measurement. Every other row is **claimed**: it was not re-run here (or its predictions were made "
        "elsewhere) and its KV kept is the submitter's word. The notes column says which, and flags methods "
        "the release was mined with (their negatives are their own failures, not held out) and collapsed "
        "control retention.",
        "- **Type**: `eviction` (drops KV entries; kvpress presses included), `quantization` (stores them in "
        "fewer bits), `baseline` (no compression) or `other` (a method not registered here, or predictions "
        "made elsewhere). The method's name links to the submitter's paper, else to the paper of the method "
        "its spec names.",
        "- **Ranking**: only verified rows are ranked, within classes of measured KV kept (≤ 25%, ≤ 50%, "
        "≤ 75%, < 100%), by negatives recovered, then control retention. A row whose KV is unknown or not "
        "compressed, or that is claimed, is shown but not ranked.",
        "- **Throughput ratio** (method / baseline, end to end at batch size 1 with each side's output "
        "lengths, from `negsamp evaluate --throughput`) is always the submitter's claim: verification "
        "re-runs predictions, not timings. **Output length ratio** is the submitted output tokens over the "
        "baseline's.",
        "- **Chart** (per release): relative score against KV kept, filled markers for verified rows (our "
        "KV measurement), hollow ones for claimed KV; rows without a KV figure are listed under it.",
        "- Interactive table and charts: `site/index.html` (opens offline) or the Space's `app.py`.",
        "",
    ]


def _release_intro(release: Release, info: dict[str, Any]) -> list[str]:
    """The lines under a release's heading: model, samples, hash; what an empty release needs."""
    counts = ""
    if "negatives" in info:
        counts = (f"; {info['negatives']} negatives and {info['control']} control samples "
                  f"({md_text(', '.join(info['tasks']))})")
    lines = [f"Model {md_text(release.model)}{counts}; content hash {md_text(release.content_hash)}.", ""]
    if info.get("scores_only"):
        # inside a code span nothing can be escaped: show the folder only when it is a plain path
        folder = f"leaderboard/{release.path}" if _PLAIN_PATH.fullmatch(release.path) else "DATASET"
        lines += [f"Scores only: the baseline and mined methods' per-sample scores, no predictions; prompts "
                  f"are rebuilt with the evaluating model's tokenizer (`negsamp evaluate --dataset {folder} "
                  f"--method SPEC`). An entry needs a machine that runs {md_text(release.model)}.",
                  ""]
    return lines


def render_markdown(entries: list[ValidatedEntry], releases: list[Release],
                    rejected: list[Rejection] | None = None,
                    details: dict[tuple, dict[str, Any]] | None = None) -> str:
    """`README.md`: per release, its chart and the table sorted by negatives recovered; rejected files.

    The header makes the folder a Hugging Face Space card (Gradio, app.py). `details` as for `table_data`.
    """
    lines = [
        "---",
        "title: negsamp leaderboard",
        "sdk: gradio",
        "app_file: app.py",
        "pinned: false",
        "license: apache-2.0",
        "---",
        "",
        "<!-- Generated by `negsamp leaderboard build` from submissions/ and releases.json: do not edit. -->",
        "",
        *_intro(),
    ]
    if not releases:
        lines += ["No release is registered yet.", ""]
    for release in releases:
        info = (details or {}).get(release.key, {})
        rows = [e for e in entries if e.release.key == release.key]
        lines += [f"## {md_text(release.label)} — config {md_text(release.config)}", "",
                  *_release_intro(release, info)]
        if not rows:
            lines += ["No submission yet.", ""]
            continue
        if info.get("chart"):
            lines += [f"![{md_text(chart_title(release.label))}]({_md_url(info['chart'])})", ""]
        _, skipped = chart_points([e.to_json(None) for e in rows])
        if skipped:
            lines += [f"Not in the chart: {md_text('; '.join(skipped))}.", ""]
        lines += _release_table(rows)
    if rejected:
        lines += ["## Rejected submissions", "",
                  "Not ranked until fixed (`negsamp leaderboard validate FILE` tells the same):", ""]
        for item in rejected:
            lines.append(f"- {md_text(item.file)}: {md_text(item.reason[:2000])}")
        lines.append("")
    lines += [
        "## Submitting",
        "",
        "1. Evaluate on a release: `negsamp evaluate --dataset DATASET --method SPEC --out OUT "
        "--submission leaderboard/submissions/NAME.json --name \"Display name\" --paper-url URL` "
        "(or `--predictions FILE` for predictions made with another framework).",
        "2. Check it: `negsamp leaderboard validate leaderboard/submissions/NAME.json`.",
        "3. Get it verified (only verified rows are ranked): `negsamp leaderboard verify "
        "leaderboard/submissions/NAME.json` re-runs the method here when its spec runs here (built-in methods, "
        "kvpress presses that import) and writes `leaderboard/verified/NAME.json`.",
        "4. Re-render: `negsamp leaderboard build`, and open a pull request with the files.",
        "",
    ]
    return "\n".join(lines)
