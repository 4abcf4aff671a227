"""Benchmark: the full threshold sweep with negsamp vs a per-sample Python loop of the same rule.

    .venv/bin/python benchmarks/bench_mining.py [--scores DIR] [--repeats N]

Mines every method found in the score folder (each alone) plus the paper's
intersections Sparse (C) and Quant (C), under the median and the mean rule,
at every threshold of the paper's Figure 5, once with `negsamp.mining.count_sweep`
and once with a plain loop over samples the way the paper's scripts count
(lists of {"id", "score"} records, `np.median`/`np.mean` of the baseline list
per call, `baseline_score * (1 - t) < other_score` per sample). Checks that both
give identical counts and prints the best-of-N time of each and their ratio.
Loading the files is not timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from negsamp import mining, paper_scores

DEFAULT_SCORES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "paper_scores"
STATISTICS = {"median": np.median, "mean": np.mean}


def naive_sweep(
    records: dict[tuple[str, str], list[dict]],
    tasks: list[str],
    method_sets: dict[str, list[str]],
    percents: list[int],
    baseline: str,
) -> dict[tuple[str, str, float, str], int]:
    """The rule as the paper's scripts apply it: one call per (rule, set, t, task), a loop per sample."""
    counts = {}
    for statistic, func in STATISTICS.items():
        for label, members in method_sets.items():
            for percent in percents:
                t = percent / 100
                for task in tasks:
                    baseline_data = records[(baseline, task)]
                    other_data_list = [records[(m, task)] for m in members]
                    threshold = func([entry["score"] for entry in baseline_data])
                    found = []
                    for index, entry in enumerate(baseline_data):
                        b = entry["score"]
                        is_failure = True
                        for other_data in other_data_list:
                            if (b * (1 - t) < other_data[index]["score"]) or b < threshold:
                                is_failure = False
                                break
                        if is_failure:
                            found.append(entry["id"])
                    counts[(statistic, label, t, task)] = len(found)
    return counts


def negsamp_sweep(table, method_sets, percents, baseline):
    sweep = mining.count_sweep(
        table, method_sets, [p / 100 for p in percents], list(STATISTICS), baseline=baseline
    )
    return sweep


def best_of(func, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scores", type=Path, default=DEFAULT_SCORES, help="folder of *_eval.json score files"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per side (best is kept)")
    args = parser.parse_args(argv)
    if not args.scores.is_dir():
        print(f"score folder {args.scores} not found; pass --scores DIR", file=sys.stderr)
        return 2

    baseline = paper_scores.PAPER_BASELINE
    table = paper_scores.load_score_folder(args.scores)
    tasks = list(dict.fromkeys(table.get_column("task").to_list()))
    methods = sorted(m for m in table.get_column("method").unique().to_list() if m != baseline)
    method_sets = {m: [m] for m in methods}
    for label in ("Sparse (C)", "Quant (C)"):
        members = paper_scores.FIG5_METHOD_SETS[label]
        if all(m in methods for m in members):
            method_sets[label] = members
    percents = list(paper_scores.FIG5_THRESHOLDS_PERCENT)

    # The naive side gets the data the way the paper's scripts hold it: lists of records.
    records = {
        (method, task): [
            {"id": i, "score": s}
            for i, s in enumerate(
                table.filter((table["method"] == method) & (table["task"] == task))
                .sort("sample_id")
                .get_column("score")
                .to_list()
            )
        ]
        for method in [baseline, *methods]
        for task in tasks
    }

    naive_s, naive = best_of(
        lambda: naive_sweep(records, tasks, method_sets, percents, baseline), args.repeats
    )
    fast_s, sweep = best_of(lambda: negsamp_sweep(table, method_sets, percents, baseline), args.repeats)
    # The same table with its rows shuffled takes negsamp's general (join) path.
    shuffled = table.sample(fraction=1.0, shuffle=True, seed=0)
    shuffled_s, sweep_shuffled = best_of(
        lambda: negsamp_sweep(shuffled, method_sets, percents, baseline), args.repeats
    )
    for name, result in (("negsamp", sweep), ("negsamp (shuffled rows)", sweep_shuffled)):
        fast = {
            (r["statistic"], r["method_set"], r["t"], r["task"]): r["count"]
            for r in result.iter_rows(named=True)
        }
        if fast != naive:
            diff = [k for k in naive if fast.get(k) != naive[k]][:10]
            print(f"MISMATCH between {name} and the per-sample loop, e.g. {diff}", file=sys.stderr)
            return 1

    n_samples = table.filter(table["method"] == baseline).height
    print(
        f"{len(tasks)} tasks, {n_samples} samples, {len(methods)} methods + "
        f"{len(method_sets) - len(methods)} intersections, {len(percents)} thresholds, 2 rules: "
        f"{len(naive)} counts, identical on both sides"
    )
    print(f"per-sample Python loop : {naive_s * 1000:9.2f} ms (best of {args.repeats})")
    print(
        f"negsamp count_sweep    : {fast_s * 1000:9.2f} ms (best of {args.repeats})  {naive_s / fast_s:6.1f}x"
    )
    print(
        f"  same, rows shuffled  : {shuffled_s * 1000:9.2f} ms (best of {args.repeats})  "
        f"{naive_s / shuffled_s:6.1f}x"
    )
    print(f"speed-up               : {naive_s / fast_s:9.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
