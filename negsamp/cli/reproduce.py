"""`negsamp reproduce`: recompute the paper's figures from its released per-sample scores."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

from negsamp.atomic import atomic_write

RULES = {"median_rule": "median", "mean_rule": "mean"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="recompute the paper's figures from its released scores",
        description="Recompute a figure of Gao et al. (MLSys 2025) from the per-sample scores it released.",
    )
    figures = parser.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    fig5 = figures.add_parser(
        "fig5",
        help="negative samples vs threshold (Figure 5), median and mean rule",
        description=(
            "Count negative samples per task for H2O, StreamingLLM (c2048_w32), KIVI (4 bits), GEAR "
            "(8 bits) and the intersections Sparse (C) and Quant (C) at t in {1,2,4,8,10,16,24,32}%, "
            "under the median and the mean rule, for every task in --scores. Writes "
            "OUT/fig5_counts.json (rule -> method -> threshold % -> task -> count), OUT/fig5.png (totals "
            "over the tasks, each once) and OUT/fig5_paper_totals.png (totals as the paper plotted them: "
            "its script lists passage_count twice, so its negatives count twice)."
        ),
    )
    fig5.add_argument(
        "--scores",
        type=Path,
        required=True,
        help="folder of <method>_<model>_<config>_<task>_eval.json files",
    )
    fig5.add_argument("--out", type=Path, required=True, help="output folder")
    fig5.add_argument(
        "--model", default=None, help="model name in the file names (when the folder has several)"
    )
    fig5.set_defaults(func=run_fig5)


def fig5_counts(
    scores_dir: Path, model: str | None = None
) -> tuple[dict, list[str], list[str], pl.DataFrame]:
    """Figure 5 counts as {rule: {method: {"<percent>": {task: count}}}}, plus tasks, warnings and the sweep."""
    from negsamp import mining, paper_scores

    methods = list(paper_scores.FIG5_METHODS.values())
    table = paper_scores.load_score_folder(scores_dir, methods=methods, model=model)
    percents = paper_scores.FIG5_THRESHOLDS_PERCENT
    sweep = mining.count_sweep(
        table,
        paper_scores.FIG5_METHOD_SETS,
        [p / 100 for p in percents],  # the paper's `threshold / 100`
        list(RULES.values()),
        baseline=paper_scores.PAPER_BASELINE,
    )
    tasks = list(dict.fromkeys(table.get_column("task").to_list()))
    lookup = {
        (row["statistic"], row["method_set"], row["t"], row["task"]): row["count"]
        for row in sweep.iter_rows(named=True)
    }
    counts = {
        rule: {
            method_set: {
                str(p): {task: int(lookup[(statistic, method_set, p / 100, task)]) for task in tasks}
                for p in percents
            }
            for method_set in paper_scores.FIG5_METHOD_SETS
        }
        for rule, statistic in RULES.items()
    }
    return counts, tasks, mining.sweep_warnings(sweep), sweep


def run_fig5(args: argparse.Namespace) -> int:
    from negsamp import paper_scores, plots

    counts, tasks, warnings, sweep = fig5_counts(args.scores, args.model)
    document = {
        "what": "Negative-sample counts per task (negsamp reproduce fig5), rule -> method -> threshold % -> task.",
        "scores": str(args.scores),
        "baseline": paper_scores.PAPER_BASELINE,
        "method_sets": paper_scores.FIG5_METHOD_SETS,
        "thresholds_percent": list(paper_scores.FIG5_THRESHOLDS_PERCENT),
        "tasks": tasks,
        **counts,
    }
    paper_sweep = paper_scores.paper_plotted_sweep(sweep)
    document["paper_plotted_totals"] = _totals(paper_sweep)
    document["paper_plotted_totals_note"] = (
        "rule -> method -> threshold % -> negatives summed as the paper's Figure 5 script sums them "
        "(its task list names passage_count twice); per-task counts above count every task once")
    out_json = args.out / "fig5_counts.json"
    text = json.dumps(document, indent=2) + "\n"
    atomic_write(out_json, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    for note in warnings:
        print(f"warning: {note}")
    percents = paper_scores.FIG5_THRESHOLDS_PERCENT
    width = max(len(m) for m in paper_scores.FIG5_METHOD_SETS) + 2
    for rule, per_method in counts.items():
        print(
            f"\n{rule.replace('_', ' ')}: negative samples summed over {len(tasks)} task(s) ({', '.join(tasks)})"
        )
        print("method".ljust(width) + "".join(f"{str(p) + '%':>7}" for p in percents))
        for method_set, per_t in per_method.items():
            totals = [sum(per_t[str(p)].values()) for p in percents]
            print(method_set.ljust(width) + "".join(f"{v:>7}" for v in totals))

    png = plots.plot_sweep(
        sweep,
        args.out / "fig5.png",
        groups={
            "Sparse": ["H2O", "StreamingLLM", "Sparse (C)"],
            "Quant": ["KIVI", "GEAR", "Quant (C)"],
        },
        title=f"Negative samples vs threshold, {len(tasks)} LongBench task(s) (cf. paper Figure 5)",
    )
    paper_png = plots.plot_sweep(
        paper_sweep,
        args.out / "fig5_paper_totals.png",
        groups={"Sparse": ["H2O", "StreamingLLM", "Sparse (C)"], "Quant": ["KIVI", "GEAR", "Quant (C)"]},
        title="As the paper plotted Figure 5: totals with passage_count counted twice",
    )
    _print_totals("as the paper plotted them (passage_count counted twice)", document["paper_plotted_totals"])
    print(f"\nwrote {out_json}, {png} and {paper_png}")
    return 0


def _totals(sweep: pl.DataFrame) -> dict:
    """rule -> method set -> threshold % -> count summed over the sweep's task rows."""
    import polars as pl

    from negsamp import paper_scores

    summed = sweep.group_by("statistic", "method_set", "t").agg(pl.col("count").sum())
    lookup = {(r["statistic"], r["method_set"], round(r["t"] * 100)): int(r["count"])
              for r in summed.iter_rows(named=True)}
    return {rule: {method_set: {str(p): lookup.get((statistic, method_set, p), 0)
                                for p in paper_scores.FIG5_THRESHOLDS_PERCENT}
                   for method_set in paper_scores.FIG5_METHOD_SETS}
            for rule, statistic in RULES.items()}


def _print_totals(label: str, totals: dict) -> None:
    for rule, per_method in totals.items():
        print(f"\n{rule.replace('_', ' ')}, {label}")
        for method_set, per_t in per_method.items():
            print(method_set.ljust(14) + "".join(f"{v:>7}" for v in per_t.values()))
