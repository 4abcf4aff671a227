"""Write an `EvaluationReport` to disk: report.json, report.md and its figures."""

from __future__ import annotations

from pathlib import Path

from negsamp.atomic import atomic_write_text, save_figure
from negsamp.display import short_method
from negsamp.evaluator import EvaluationReport, GroupStats, control_warning
from negsamp.formats import num, pct

SOURCES = {
    "method": "negsamp ran the method here, with the dataset's prompts and model",
    "predictions": "predictions made elsewhere, scored here",
}
"""What the report's `source` says about where the predictions came from."""

DEFINITIONS = [
    "",
    "With `b` a sample's baseline score in the dataset, `o` the method's score and `t` the dataset's rule:",
    "",
    "- **negatives recovered**: negative samples with `b * (1 - t) < o`, i.e. no longer negative;",
    "- **control retained**: control samples (no mined method broke them) that stay good by the same test;",
    "- **relative score**: the method's mean score divided by the baseline's mean score over the same "
    "samples (negative and control); 1.0 means as good as the uncompressed model;",
    "- **KV kept**: the method's KV-cache bytes after prefill divided by the baseline's, measured from the "
    "cache tensors, averaged over samples;",
    "- **output length ratio**: the method's mean output tokens divided by the baseline's "
    "(above 1: longer answers, which cost decode time).",
]
"""The terms of report.md's tables, defined once at its top."""


def _pct(value: float | None) -> str:
    return pct(value, missing="n/a")


def _num(value: float | None, digits: int = 2) -> str:
    return num(value, digits, missing="n/a")


def _table(groups: list[GroupStats]) -> list[str]:
    lines = [
        "| group | negatives recovered | control retained | relative score | KV kept | output length ratio |",
        "|---|---|---|---|---|---|",
    ]
    for g in groups:
        lines.append(
            f"| {g.group} | {g.recovered}/{g.negatives} ({_pct(g.recovery_rate)}) "
            f"| {g.control_retained}/{g.control} ({_pct(g.control_retention)}) "
            f"| {_num(g.relative_score, 3)} | {_pct(g.kv_kept)} | {_num(g.output_length_ratio, 3)} |"
        )
    return lines


def summary_lines(report: EvaluationReport) -> list[str]:
    """A few lines for a terminal."""
    o = report.overall
    lines = [
        f"method {short_method(report.method)} on {report.dataset.name} {report.dataset.dataset_version} "
        f"[{report.dataset.config}] (hash {report.dataset.content_hash[:12]})",
        f"  negatives recovered: {o.recovered}/{o.negatives} ({_pct(o.recovery_rate)})",
        f"  control retained:    {o.control_retained}/{o.control} ({_pct(o.control_retention)})",
        f"  relative score:      {_num(o.relative_score, 3)}",
        f"  KV kept:             {_pct(o.kv_kept)}",
        f"  output length ratio: {_num(o.output_length_ratio, 3)}",
    ]
    warning = control_warning(o)
    if warning:
        lines.append(f"  WARNING: {warning}")
    if report.model_mismatch:
        lines.append(f"  NOTE: model {report.model} differs from the dataset's {report.dataset_model}")
    if report.throughput is not None:
        lines.append(f"  throughput ratio:    {report.throughput.summary}")
    return lines


def markdown(report: EvaluationReport, figures: dict[str, str]) -> str:
    r = report
    lines = [
        f"# Negative Sample Evaluation: `{r.method}`",
        "",
        f"- dataset: {r.dataset.name} {r.dataset.dataset_version}, config `{r.dataset.config}`, "
        f"content hash `{r.dataset.content_hash}` ({r.dataset.location})",
        f"- model: `{r.model}`" + (f" (**differs from the dataset's `{r.dataset_model}`**)" if r.model_mismatch else ""),
        f"- source: {r.source} ({SOURCES[r.source]}); rule: {r.rule.statistic} rule, t = {r.rule.t}, "
        f"mode {r.rule.mode}",
        f"- negsamp {r.negsamp_version}, torch {r.environment.get('torch')}, "
        f"transformers {r.environment.get('transformers')}",
        "",
        *([f"> **Warning:** {control_warning(r.overall)}", ""] if control_warning(r.overall) else []),
        *DEFINITIONS,
        "",
        "## Overall",
        "",
        *_table([r.overall]),
        "",
        "## By category",
        "",
        *_table(r.by_category),
        "",
        "## By task",
        "",
        *_table(r.by_task),
        "",
    ]
    if r.length_shift:
        s = r.length_shift
        lines += [
            "## Output length (method - baseline, tokens per sample)",
            "",
            f"mean {s.mean:+.2f}, median {s.median:+.1f}, p10 {s.p10:+.1f}, p90 {s.p90:+.1f}; "
            f"{s.longer} longer, {s.shorter} shorter, {s.same} unchanged.",
            "",
        ]
    if r.throughput is not None:
        lines += ["## Throughput", "", "```", r.throughput.table, "```", ""]
    if r.estimate:
        from negsamp.predict.for_report import estimate_lines

        lines += ["## Serving estimate (`negsamp plan`, roofline at a reference load)", "", "```",
                  *estimate_lines(r.estimate), "```", ""]
    for caption, path in figures.items():
        lines += [f"![{caption}]({path})", ""]
    return "\n".join(lines)


def draw_figures(report: EvaluationReport, out_dir: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")

    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {"Negatives recovered per task": _recovery_figure(report, out_dir)}
    deltas = [s.output_tokens - s.baseline_output_tokens for s in report.samples if s.output_tokens is not None]
    if len(deltas) == len(report.samples) and deltas:
        figures["Output-length shift vs baseline"] = _length_shift_figure(deltas, out_dir)
    kept = [(s.kv_bytes_prefill / s.baseline_kv_bytes_prefill, s.score, s.split) for s in report.samples
            if s.kv_bytes_prefill is not None and s.baseline_kv_bytes_prefill > 0]
    if kept:
        figures["Score vs KV kept"] = _score_vs_kv_figure(kept, out_dir)
    return figures


def _recovery_figure(report: EvaluationReport, out_dir: Path) -> str:
    import matplotlib.pyplot as plt

    tasks = [g for g in report.by_task if g.negatives]
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(tasks) + 2), 3.2))
    ax.bar([g.group for g in tasks], [100 * (g.recovery_rate or 0) for g in tasks], color="tab:blue")
    for i, g in enumerate(tasks):
        ax.text(i, 100 * (g.recovery_rate or 0) + 2, f"{g.recovered}/{g.negatives}", ha="center", fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("negatives recovered (%)")
    ax.set_title(f"Recovery per task: {short_method(report.method)}", fontsize=10)
    ax.tick_params(axis="x", rotation=30)
    save_figure(fig, out_dir / "recovery_per_task.png")
    return "figures/recovery_per_task.png"


def _length_shift_figure(deltas: list[int], out_dir: Path) -> str:
    """Samples per output-length change, one bar per whole token (or 30 bins for a wide range)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(5, 3.2))
    low, high = min(deltas), max(deltas)
    if high - low < 60:
        # A fixed window of at least -5..+5 tokens: a single bar then sits in context, not alone.
        values = range(min(low, -5), max(high, 5) + 1)
        ax.bar(values, [deltas.count(v) for v in values], width=0.8, color="tab:orange")
    else:
        ax.hist(deltas, bins=30, color="tab:orange", edgecolor="white")
    ax.axvline(0, color="black", linewidth=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    longer, shorter = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
    ax.set_title(f"Output-length shift: {longer} longer, {len(deltas) - longer - shorter} same, "
                 f"{shorter} shorter", fontsize=10)
    ax.set_xlabel("output tokens: method - baseline (per sample)")
    ax.set_ylabel("samples")
    save_figure(fig, out_dir / "length_shift.png")
    return "figures/length_shift.png"


def _score_vs_kv_figure(kept: list[tuple[float, float, str]], out_dir: Path) -> str:
    """Score against KV kept; samples at the same point become one marker sized and labelled by count."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for split, color, side in (("negative", "tab:red", -1), ("control", "tab:green", 1)):
        points: dict[tuple[float, float], int] = {}
        for k, sc, sp in kept:
            if sp == split:
                key = (round(100 * k), round(sc, 2))  # points closer than the markers merge
                points[key] = points.get(key, 0) + 1
        if not points:
            continue
        # Negatives and control samples at the same point sit side by side, not on top of each other.
        xs = [x + 0.8 * side for x, _ in points]
        ys = [y for _, y in points]
        counts = list(points.values())
        ax.scatter(xs, ys, s=[30 * n for n in counts], color=color, alpha=0.55, label=f"{split} ({sum(counts)})")
        for x, y, n in zip(xs, ys, counts, strict=True):
            if n > 1:  # negatives labelled on the left of their marker, control samples on the right
                ax.annotate(f"×{n}", (x, y), textcoords="offset points", xytext=(10 * side, -3),
                            ha="left" if side > 0 else "right", fontsize=8, color=color)
    # A fixed 0-100% axis: autoscaling would blow a 49.9% vs 50.0% difference up to full width.
    ax.set_xlim(0, max(105.0, 105.0 * max(k for k, _, _ in kept)))
    ax.set_xlabel("KV kept after prefill (% of baseline bytes)")
    ax.set_ylabel("score")
    ax.set_ylim(-0.08, 1.12)
    ax.legend(fontsize=8, loc="center left", title="samples (×n: n at one point)", title_fontsize=7)
    ax.set_title("Score vs KV kept", fontsize=10)
    save_figure(fig, out_dir / "score_vs_kv.png")
    return "figures/score_vs_kv.png"


def write_report(report: EvaluationReport, out_dir: str | Path) -> Path:
    """Write report.json, report.md and figures/ under out_dir; return the report.json path."""
    out = Path(out_dir)
    figures = draw_figures(report, out / "figures")
    atomic_write_text(out / "report.md", markdown(report, figures))
    path = out / "report.json"
    atomic_write_text(path, report.model_dump_json(indent=2) + "\n")
    return path
