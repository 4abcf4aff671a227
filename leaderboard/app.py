"""The negsamp leaderboard as a Gradio app (a Hugging Face Space: this folder's README.md is its card).

It shows `site/leaderboard.json`, the table `negsamp leaderboard build` writes from
validated, re-scored submissions: the same data as `site/index.html`, which
needs none of this. Imports gradio and the standard library only, so the Space
needs neither negsamp nor its dependencies. Locally: `pip install 'negsamp[leaderboard]'`,
then `python leaderboard/app.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

HERE = Path(__file__).resolve().parent
DATA = HERE / "site" / "leaderboard.json"

HEADERS = ["#", "Method", "Type", "Spec", "Model", "Dataset", "Negatives recovered (%)", "Control retention (%)",
           "Relative score", "KV kept (%, claimed unless verified)", "Output length ratio",
           "Throughput ratio (claimed)", "Verified", "Notes", "Date", "Paper"]
TYPES = ["number", "str", "str", "str", "str", "str", "number", "number", "number", "number", "number", "number",
         "str", "str", "str", "str"]
TASK_HEADERS = ["Task", "Negatives", "Recovered", "Recovered (%)", "Control", "Retained", "Retention (%)",
                "Relative score", "KV kept (%)", "Output length ratio"]
TASK_TYPES = ["str", "number", "number", "number", "number", "number", "number", "number", "number", "number"]


def load() -> dict:
    if not DATA.is_file():
        return {"entries": [], "releases": []}
    return json.loads(DATA.read_text(encoding="utf-8"))


def pct(value):
    return None if value is None else round(100 * value, 1)


def num(value):
    return None if value is None else round(value, 3)


def label(entry: dict) -> str:
    return f"{entry['rank'] or '—'}. {entry['name']} [{entry['method']}] on {entry['release']}"


def board_rows(entries: list[dict], query: str = "") -> list[list]:
    q = (query or "").strip().lower()
    rows = []
    for e in entries:
        haystack = "\n".join([e["name"], e["method"], e["model"], e["release"], e["source"]]).lower()
        if q and q not in haystack:
            continue
        rows.append([e["rank"], e["name"], e["method_type"], e["method"], e["model"], e["release"],
                     pct(e["recovery_rate"]), pct(e["control_retention"]), num(e["relative_score"]),
                     pct(e["kv_kept_shown"]), num(e["output_length_ratio"]), num(e["throughput_ratio"]),
                     "✓ verified" if e["verified"] else "claimed", "; ".join(e["notes"]), e["submitted"],
                     e["link"] or ""])
    return rows


def charts(releases: list[dict]) -> list[tuple[str, str]]:
    """(PNG path, caption) of each release's score-vs-KV-kept chart that `negsamp leaderboard build` wrote."""
    out = []
    for r in releases:
        path = HERE / r["chart"] if r.get("chart") else None
        if path is not None and path.is_file():
            out.append((str(path), f"{r['label']} ({r['config']})"))
    return out


def task_rows(entries: list[dict], choice: str | None) -> list[list]:
    entry = next((e for e in entries if label(e) == choice), None)
    if entry is None:
        return []
    return [[g["group"], g["negatives"], g["recovered"], pct(g["recovery_rate"]), g["control"],
             g["control_retained"], pct(g["control_retention"]), num(g["relative_score"]), pct(g["kv_kept"]),
             num(g["output_length_ratio"])] for g in entry["by_task"]]


def build_app() -> gr.Blocks:
    data = load()
    entries = data["entries"]
    releases = "; ".join(f"{r['label']} (config {r['config']}, model {r['model']})" for r in data["releases"])
    with gr.Blocks(title="negsamp leaderboard") as app:
        gr.Markdown(
            "# negsamp leaderboard\n\n"
            "Does a KV-cache compression method fix the samples that known methods break, and at what cost? "
            "Negatives recovered and control retention are recomputed from each submission's predictions "
            "with the release's rule `b * (1 - t) < o`; relative score is the method's mean score over "
            "negatives and control divided by the baseline's. KV kept is measured here for ✓ verified rows and "
            "claimed otherwise; throughput is always the submitter's claim. Click a column header to sort."
        )
        gr.Textbox(value=releases or "none registered", label="Releases", interactive=False)
        query = gr.Textbox(label="Filter", placeholder="method, spec, model or dataset")
        board = gr.Dataframe(value=board_rows(entries), headers=HEADERS, datatype=TYPES, interactive=False,
                             wrap=True)
        query.change(lambda q: board_rows(entries, q), inputs=query, outputs=board)
        gr.Markdown("## Per task")
        pick = gr.Dropdown(choices=[label(e) for e in entries], label="Submission")
        breakdown = gr.Dataframe(headers=TASK_HEADERS, datatype=TASK_TYPES, interactive=False)
        pick.change(lambda c: task_rows(entries, c), inputs=pick, outputs=breakdown)
        gr.Markdown("## Relative score vs KV kept\n\nFilled markers: verified (KV measured here); hollow: "
                    "KV as claimed.")
        gr.Gallery(value=charts(data["releases"]), columns=1, label="Per release", show_label=False)
    return app


demo = build_app()

if __name__ == "__main__":
    demo.launch()
