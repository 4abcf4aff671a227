"""Plots of negative-sample sweeps (matplotlib, Agg backend, imported only when drawing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from negsamp.atomic import save_figure

# Colours and markers of the paper's Figure 5 where it names the method.
_STYLE: dict[str, dict[str, object]] = {
    "H2O": {"color": "tab:red", "marker": "d"},
    "StreamingLLM": {"color": "tab:purple", "marker": "*"},
    "KIVI": {"color": "tab:orange", "marker": "v"},
    "GEAR": {"color": "tab:green", "marker": "^"},
    "Sparse (C)": {"color": "tab:gray", "marker": "o", "linestyle": "-."},
    "Quant (C)": {"color": "tab:brown", "marker": "o", "linestyle": "-."},
}
# The bar chart's colours, in its order, so a method has one colour in both figures.
_FALLBACK_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:pink", "black", "tab:red", "tab:olive"]
_FALLBACK_MARKERS = ["o", "s", "D", "P", "X", "v", "^"]
_FALLBACK_DASHES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1))]

COMBINED_LABELS = {"any": "negative split (any method)", "all": "negative split (every method)"}
"""The one name of a build's combined count (the rule's mode over its methods), in figures and card."""
SAMPLED_LABELS = {"any": "mined negatives (any method)", "all": "mined negatives (every method)"}
"""The combined count's name when the negative split is a sample of it (`recipe.negatives.per_task`)."""
SPLIT_SAMPLE_LABEL = "negative split (seeded sample)"

_RULE_TITLES = {"median": "median rule (THR = median baseline)", "mean": "mean rule (THR = mean baseline)"}


def plot_sweep(
    sweep: pl.DataFrame,
    path: str | Path,
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
    mark_t: float | None = None,
) -> Path:
    """Draw negatives (summed over tasks) against the threshold t, like the paper's Figure 5.

    `sweep` is a `negsamp.mining.count_sweep` result (statistic, method_set, t,
    task, count). One row of panels per statistic; one column per entry of
    `groups` (label -> method sets drawn together; default: all sets in one
    panel). The x axis is t in percent on a log2 scale, as in the paper;
    `mark_t` draws a dotted vertical line at that t (e.g. the one a dataset
    uses). The PNG is written atomically (temporary file, then rename).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = (
        sweep.group_by("statistic", "method_set", "t", maintain_order=True)
        .agg(pl.col("count").sum())
        .sort("t", maintain_order=True)
    )
    statistics = list(dict.fromkeys(sweep.get_column("statistic").to_list()))
    if groups is None:
        groups = {"": list(dict.fromkeys(sweep.get_column("method_set").to_list()))}
    percents = sorted({round(t * 100, 6) for t in totals.get_column("t").to_list()})
    styles = _series_styles([m for members in groups.values() for m in members])

    nrows, ncols = len(statistics), len(groups)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.6 * nrows), squeeze=False)
    for row, statistic in enumerate(statistics):
        for col, (group_label, members) in enumerate(groups.items()):
            ax = axes[row][col]
            mine = totals.filter(pl.col("statistic") == statistic)
            _draw_sweep_lines(ax, mine, members, styles)
            _style_sweep_axes(ax, percents, mark_t)
            heading = _RULE_TITLES.get(statistic, statistic)
            ax.set_title(f"{group_label}: {heading}" if group_label else heading, fontsize=11)
            if col == 0:
                ax.set_ylabel("# negative samples")
            _legend(ax)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def _series_styles(method_sets: Sequence[str]) -> dict[str, dict[str, object]]:
    """Colour, marker and line style per series: the paper's where it names the method, else
    distinct colours, markers and dashes, so that two series with equal counts stay visible."""
    styles: dict[str, dict[str, object]] = {}
    fallback = 0
    for method_set in dict.fromkeys(method_sets):
        style = dict(_STYLE.get(method_set, {}))
        if not style:
            style = {
                "color": _FALLBACK_COLORS[fallback % len(_FALLBACK_COLORS)],
                "marker": _FALLBACK_MARKERS[fallback % len(_FALLBACK_MARKERS)],
                "linestyle": _FALLBACK_DASHES[fallback % len(_FALLBACK_DASHES)],
            }
            fallback += 1
        styles[method_set] = style
    return styles


def _draw_sweep_lines(ax, totals: pl.DataFrame, members: Sequence[str], styles) -> None:
    drawn = [m for m in members if not totals.filter(pl.col("method_set") == m).is_empty()]
    for index, method_set in enumerate(drawn):
        data = totals.filter(pl.col("method_set") == method_set)
        # Equal counts put one line exactly on another: later series are drawn thinner, dashed,
        # with hollow markers, over earlier thick ones, and shifted a little along the log2 t axis.
        dodge = 2 ** (0.05 * (index - (len(drawn) - 1) / 2))
        ax.plot(
            [t * 100 * dodge for t in data.get_column("t").to_list()],
            data.get_column("count").to_list(),
            label=method_set,
            linewidth=max(1.5, 4.5 - 1.5 * index),
            markersize=max(5, 11 - 2.5 * index),
            markerfacecolor="none" if index else None,
            markeredgewidth=1.8,
            **styles[method_set],
        )


def _style_sweep_axes(ax, percents: list[float], mark_t: float | None) -> None:
    from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

    if percents and min(percents) > 0:
        ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(percents))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{p:g}" for p in percents])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if mark_t is not None and mark_t > 0:
        ax.axvline(mark_t * 100, color="black", linestyle=":", linewidth=1.2, label=f"t = {mark_t:.0%}")
    ax.set_ylim(bottom=0)
    ax.grid(linestyle="-.", linewidth=0.8, alpha=0.5)
    ax.spines["right"].set_visible(False)
    ax.spines["top"].set_visible(False)
    ax.set_xlabel("threshold t (%)")


def _legend(ax) -> None:
    _, labels = ax.get_legend_handles_labels()
    if max((len(label) for label in labels), default=0) > 18:  # long labels: below the panel
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    else:
        ax.legend(fontsize=9, loc="best", framealpha=0.85)


# The thresholds of the paper's Figure 5, as fractions.
SWEEP_TS = (0.01, 0.02, 0.04, 0.08, 0.10, 0.16, 0.24, 0.32)


def plot_build_figures(
    scores: pl.DataFrame,
    methods: Sequence[str],
    rule,
    counts: pl.DataFrame | None,
    figures_dir: str | Path,
    *,
    sampled: bool = False,
) -> dict[str, Path]:
    """Figures for a dataset card: {caption: PNG path}.

    - negatives vs t for each compared method alone and, with several methods,
      combined with the rule's mode (the rule's statistic and min_baseline; the
      rule's t is marked);
    - when `counts` has a `task` column and per-method or `negatives` columns:
      negatives per task as grouped bars (with `sampled`, the combined count is labelled
      as mined and a `negative_split` column, the sample kept, gets its own bar).
    """
    from negsamp import mining
    from negsamp.display import short_names

    figures_dir = Path(figures_dir)
    methods = list(methods)
    names = short_names(methods)  # legends show short names; the card lists the full specs
    sets: dict[str, list[str]] = {names[m]: [m] for m in methods}
    if len(methods) > 1:
        sets[(SAMPLED_LABELS if sampled else COMBINED_LABELS)[rule.mode]] = methods
    ts = sorted({*SWEEP_TS, float(rule.t)} - {0.0})
    sweep = mining.count_sweep(
        scores,
        sets,
        ts,
        [rule.statistic],
        baseline=rule.baseline,
        mode=rule.mode,
        min_baseline=rule.min_baseline,
    )
    figures = {
        f"Negative samples vs threshold t ({rule.statistic} rule; the dataset uses t = {rule.t:g})": plot_sweep(
            sweep, figures_dir / "negatives_vs_threshold.png", mark_t=rule.t
        )
    }
    if counts is not None and "task" in counts.columns:
        bars = [c for c in [*methods, "negatives", "negative_split"] if c in counts.columns]
        if bars:
            labels = {**names, "negatives": (SAMPLED_LABELS if sampled else COMBINED_LABELS)[rule.mode],
                      "negative_split": SPLIT_SAMPLE_LABEL}
            figures["Negative samples per task"] = _plot_task_bars(
                counts, bars, [labels.get(c, c) for c in bars], figures_dir / "negatives_per_task.png"
            )
    return figures


def _plot_task_bars(counts: pl.DataFrame, columns: Sequence[str], labels: Sequence[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    tasks = [str(t) for t in counts.get_column("task").to_list()]
    width = 0.8 / len(columns)
    x = np.arange(len(tasks))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(tasks) + 2.5), 3.8))
    for i, (column, label) in enumerate(zip(columns, labels, strict=True)):
        ax.bar(
            x + (i - (len(columns) - 1) / 2) * width, counts.get_column(column).to_list(), width, label=label
        )
    ax.set_xticks(x)
    ax.set_xticklabels(
        tasks, rotation=30 if len(tasks) > 4 else 0, ha="right" if len(tasks) > 4 else "center"
    )
    ax.set_ylabel("# negative samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", linestyle="-.", linewidth=0.8, alpha=0.5)
    ax.spines["right"].set_visible(False)
    ax.spines["top"].set_visible(False)
    # Below the axes: long method specs would cover the bars inside them.
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.15 if len(tasks) <= 4 else -0.3))
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)
