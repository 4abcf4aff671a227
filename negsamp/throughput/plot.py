"""throughput.png: tok/s against batch size, baseline vs method, and the end-to-end request times."""

from __future__ import annotations

from pathlib import Path

from negsamp.display import short_method
from negsamp.throughput.report import ThroughputReport


def plot_throughput(report: ThroughputReport, path: str | Path) -> Path:
    """Decode and prefill tok/s against batch size, baseline vs method (min-max bars, rooflines dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    path = Path(path)
    panels = [("decode_tok_s", "decode tokens/s"), ("prefill_tok_s", "prefill tokens/s")]
    has_e2e = any(r.end_to_end for r in report.results)
    fig, axes = plt.subplots(1, len(panels) + has_e2e, figsize=(5.2 * (len(panels) + has_e2e), 4.2))
    styles = {"baseline": {"color": "tab:blue", "marker": "o"}, "method": {"color": "tab:red", "marker": "s"}}
    labels = {"baseline": f"baseline ({report.baseline})", "method": short_method(report.method)}
    for ax, (field, title) in zip(axes, panels):
        for side in ("baseline", "method"):
            pts = [(r.batch_size, getattr(r, side)) for r in report.results if getattr(r, side) is not None]
            if not pts:
                continue
            shift = 0.97 if side == "baseline" else 1.03  # side by side where both were measured
            xs = [x * shift for x, _ in pts]
            stats = [getattr(f, field) for _, f in pts]
            meds = [s.median for s in stats]
            yerr = [[m - s.min for m, s in zip(meds, stats)], [s.max - m for m, s in zip(meds, stats)]]
            ax.errorbar(xs, meds, yerr=yerr, capsize=3, label=labels[side], **styles[side])
            if field == "decode_tok_s":
                ax.plot(xs, [f.roofline_decode_tok_s for _, f in pts], linestyle=":", marker="_",
                        markersize=14, color=styles[side]["color"], label=f"{side} roofline")
        ax.set_title(title)
        ax.set_xlabel("batch size")
        ax.set_ylabel("tokens/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(report.batch_sizes, [str(b) for b in report.batch_sizes])
        ax.set_xlim(min(report.batch_sizes) / 1.5, max(report.batch_sizes) * 1.5)  # one size: not at the edges
        ax.grid(alpha=0.3)
        if field == "decode_tok_s" and any(r.method for r in report.results):
            ax.set_yscale("log")  # rooflines sit far above CPU figures
            plain = FuncFormatter(lambda value, _pos: f"{value:g}")
            ax.yaxis.set_major_formatter(plain)
            low, high = ax.get_ylim()
            ax.yaxis.set_minor_formatter(plain if high < 30 * low else NullFormatter())
    if has_e2e:
        _end_to_end_panel(axes[-1], report, styles, labels)
    fig.suptitle(f"{report.model}: {report.device}, prompt {report.prompt_len}, gen {report.gen_len}",
                 fontsize=9)
    # One legend below the panels: inside an axis it covers the points, all of them with one batch size.
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(4, len(names)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    from negsamp.atomic import save_figure

    return save_figure(fig, path)


def _end_to_end_panel(ax, report: ThroughputReport, styles: dict, labels: dict) -> None:
    pts = [r for r in report.results if r.end_to_end]
    xs = [r.batch_size for r in pts]
    ax.plot(xs, [1000 * r.end_to_end.baseline_request_s for r in pts], label=labels["baseline"],
            **styles["baseline"])
    ax.plot(xs, [1000 * r.end_to_end.method_request_s for r in pts], label=labels["method"], **styles["method"])
    ax.set_title("end to end: TTFT + (L-1) x TPOT")
    ax.set_xlabel("batch size")
    ax.set_ylabel("ms per request")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(b) for b in xs])
    ax.grid(alpha=0.3)
