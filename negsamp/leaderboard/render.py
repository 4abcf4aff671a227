"""Rendering as text: number formats, Markdown escaping, the table data (`leaderboard.json`), README.md."""

from __future__ import annotations

import json
from typing import Any

from negsamp.formats import num, pct
from negsamp.leaderboard.problems import Rejection
from negsamp.leaderboard.registry import Release
from negsamp.leaderboard.submissions import _CONTROL_RE
from negsamp.leaderboard.validate import ValidatedEntry

TABLE_VERSION = 1


def _count(recovered: int, total: int, rate: float | None) -> str:
    return "—" if rate is None else f"{pct(rate)} ({recovered}/{total})"


_MD_SPECIAL = set("\\`*_[]|~")


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


def _status(e: ValidatedEntry) -> str:
    parts = [e.status] + (["mined with: not held out"] if e.mined else []) + list(e.warnings)
    return md_text("; ".join(parts))


def table_data(entries: list[ValidatedEntry], releases: list[Release]) -> dict[str, Any]:
    """The table as JSON-ready data (what `leaderboard.json` holds and the page embeds)."""
    rows = [entry.to_json(rank) for entry, rank in zip(entries, ranks(entries), strict=True)]
    return {
        "version": TABLE_VERSION,
        "releases": [r.model_dump(exclude={"path"}) | {"label": r.label} for r in releases],
        "entries": rows,
    }



def _release_table(rows: list[ValidatedEntry]) -> list[str]:
    lines = [
        "| # | class | method | spec | negatives recovered | control retention | KV kept "
        "| output length ratio | throughput ratio (claimed) | status | date |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for rank, e in zip(ranks(rows), rows, strict=True):
        o = e.overall
        name = md_text(e.name)
        if e.paper_url:
            name = f"[{name}]({_md_url(e.paper_url)})"
        kv = pct(e.kv_kept_measured) if e.verified else f"claimed {pct(o.kv_kept)}"
        lines.append(
            f"| {rank or '—'} | {e.budget_class or '—'} | {name} | {md_text(e.method)} "
            f"| {_count(o.recovered, o.negatives, o.recovery_rate)} "
            f"| {_count(o.control_retained, o.control, o.control_retention)} | {kv} "
            f"| {num(o.output_length_ratio)} | {num(e.throughput_ratio)} | {_status(e)} | {md_text(e.submitted)} |"
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
        "- Both are **recomputed** here from the submitted predictions and the release's rows; a submission "
        "whose claimed figures disagree with the recomputation is rejected.",
        "- **Verified** rows were re-run here by `negsamp leaderboard verify`: the same predictions, exactly, "
        "and **KV kept** (KV bytes after prefill / the baseline's, mean over samples) is our measurement. "
        "Every other row is an **unverified claim**: its predictions were made elsewhere and its KV is the "
        "submitter's word, shown as \"claimed\".",
        "- **Ranking**: only verified rows are ranked, within classes of measured KV kept (≤ 25%, ≤ 50%, "
        "≤ 75%, < 100%), by negatives recovered, then control retention. A row whose KV is unknown or not "
        "compressed, or that is unverified, is shown but not ranked. Methods the release was mined with are "
        "labelled: their negatives are their own failures, not held out.",
        "- **Throughput ratio** (method / baseline) is always the submitter's claim. **Output length ratio** "
        "is the submitted output tokens over the baseline's.",
        "- Interactive table: `site/index.html` (opens offline) or the Space's `app.py`.",
        "",
    ]


def render_markdown(entries: list[ValidatedEntry], releases: list[Release],
                    rejected: list[Rejection] | None = None) -> str:
    """`README.md`: per release, the table sorted by negatives recovered; rejected files with reasons.

    The header makes the folder a Hugging Face Space card (Gradio, app.py).
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
        rows = [e for e in entries if e.release.key == release.key]
        lines += [
            f"## {md_text(release.label)} — config {md_text(release.config)}",
            "",
            f"Model {md_text(release.model)}; content hash {md_text(release.content_hash)}.",
            "",
        ]
        if not rows:
            lines += ["No accepted submission yet.", ""]
            continue
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
