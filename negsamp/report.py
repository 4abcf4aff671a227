"""Write an `EvaluationReport` to disk: report.json, report.md and its figures."""

from __future__ import annotations

from pathlib import Path

from negsamp.atomic import atomic_write_text, save_figure
from negsamp.evaluator import EvaluationReport, GroupFigures, control_warning
from negsamp.formats import num, pct


def _pct(value: float | None) -> str:
    return pct(value, missing="n/a")


def _num(value: float | None, digits: int = 2) -> str:
    return num(value, digits, missing="n/a")


def _table(groups: list[GroupFigures]) -> list[str]:
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
        f"method {report.method} on {report.dataset.name} {report.dataset.dataset_version} "
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
        f"- source: {r.source}; rule: {r.rule.statistic} rule, t = {r.rule.t}, mode {r.rule.mode}",
        "- a negative is recovered, and a control sample retained, iff `b * (1 - t) < o`",
        f"- negsamp {r.negsamp_version}, torch {r.environment.get('torch')}, "
        f"transformers {r.environment.get('transformers')}",
        "",
        *([f"> **Warning:** {control_warning(r.overall)}", ""] if control_warning(r.overall) else []),
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
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, str] = {}

    tasks = [g for g in report.by_task if g.negatives]
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(tasks) + 2), 3.2))
    ax.bar([g.group for g in tasks], [100 * (g.recovery_rate or 0) for g in tasks], color="tab:blue")
    for i, g in enumerate(tasks):
        ax.text(i, 100 * (g.recovery_rate or 0) + 2, f"{g.recovered}/{g.negatives}", ha="center", fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("negatives recovered (%)")
    ax.set_title(f"Recovery per task: {report.method}", fontsize=10)
    ax.tick_params(axis="x", rotation=30)
    save_figure(fig, out_dir / "recovery_per_task.png")
    figures["Negatives recovered per task"] = "figures/recovery_per_task.png"

    deltas = [s.output_tokens - s.baseline_output_tokens for s in report.samples if s.output_tokens is not None]
    if len(deltas) == len(report.samples) and deltas:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        low, high = min(deltas), max(deltas)
        bins = range(low, high + 2) if high - low < 60 else 30
        ax.hist(deltas, bins=bins, color="tab:orange", edgecolor="white", align="left")
        ax.axvline(0, color="black", linewidth=1)
        ax.set_xlabel("output tokens: method - baseline (per sample)")
        ax.set_ylabel("samples")
        ax.set_title("Output-length shift", fontsize=10)
        save_figure(fig, out_dir / "length_shift.png")
        figures["Output-length shift vs baseline"] = "figures/length_shift.png"

    kept = [(s.kv_bytes_prefill / s.baseline_kv_bytes_prefill, s.score, s.split) for s in report.samples
            if s.kv_bytes_prefill is not None and s.baseline_kv_bytes_prefill > 0]
    if kept:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for split, color in (("negative", "tab:red"), ("control", "tab:green")):
            xs = [100 * k for k, _, sp in kept if sp == split]
            ys = [sc for _, sc, sp in kept if sp == split]
            ax.scatter(xs, ys, label=split, color=color, alpha=0.7, s=18)
        # A fixed 0-100% axis: autoscaling would blow a 49.9% vs 50.0% difference up to full width.
        ax.set_xlim(0, max(105.0, 105.0 * max(k for k, _, _ in kept)))
        ax.set_xlabel("KV kept after prefill (% of baseline bytes)")
        ax.set_ylabel("score")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=8)
        ax.set_title("Score vs KV kept", fontsize=10)
        save_figure(fig, out_dir / "score_vs_kv.png")
        figures["Score vs KV kept"] = "figures/score_vs_kv.png"
    return figures


def write_report(report: EvaluationReport, out_dir: str | Path) -> Path:
    """Write report.json, report.md and figures/ under out_dir; return the report.json path."""
    out = Path(out_dir)
    figures = draw_figures(report, out / "figures")
    atomic_write_text(out / "report.md", markdown(report, figures))
    path = out / "report.json"
    atomic_write_text(path, report.model_dump_json(indent=2) + "\n")
    return path
