"""What evaluating on a negative-sample dataset costs, and what it tells, vs the whole pool.

For several methods (none, three eviction settings, one quantization), run each
both ways in one process: on the dataset's negative + control samples only, and
on the recipe's whole sample pool. Prints the compute ratio (generation wall
time, pool / dataset) and the Kendall tau between the methods' orderings by
mean score on each (does the small set rank methods as the pool does?).

    .venv/bin/python benchmarks/bench_eval_cost.py [--recipe builders/tiny-cpu.yaml] [--dataset demo_out/dataset]

Without --dataset it builds the recipe first (into --work). Runs go to fresh run
stores under --work, so every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from itertools import combinations
from pathlib import Path

METHODS = [
    "none",
    "snapkv:ratio=0.5",
    "tova:ratio=0.5",
    "streamingllm:ratio=0.25",
    "kivi:bits=4,group=32,residual=32",
]


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b between two score lists (ties handled as in scipy's default)."""
    concordant = discordant = ties_a = ties_b = 0
    for i, j in combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da == 0 and db == 0:
            continue
        if da == 0:
            ties_a += 1
        elif db == 0:
            ties_b += 1
        elif (da > 0) == (db > 0):
            concordant += 1
        else:
            discordant += 1
    denom = ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)) ** 0.5
    return (concordant - discordant) / denom if denom else float("nan")


def timed_scores(store_dir: Path, model: str, method_spec: str, samples, pool) -> tuple[float, float]:
    """Run one method over samples in a fresh store; return (wall seconds, mean score)."""
    from negsamp.methods import parse_method
    from negsamp.metrics import score
    from negsamp.runner import run_method
    from negsamp.runs import RunStore

    shutil.rmtree(store_dir, ignore_errors=True)
    start = time.perf_counter()
    result = run_method(RunStore(store_dir), model, parse_method(method_spec), samples, batch_size=4,
                        progress=False, pool=pool)
    seconds = time.perf_counter() - start
    scores = [score(s.task, p.prediction, s.answers, s.all_classes) for s, p in zip(samples, result.predictions)]
    return seconds, statistics.fmean(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="builders/tiny-cpu.yaml")
    parser.add_argument("--dataset", help="dataset folder built from the recipe (default: build it)")
    parser.add_argument("--work", default="build/bench-eval-cost")
    args = parser.parse_args()

    from negsamp.build import build, recipe_samples
    from negsamp.evaluator import Evaluation
    from negsamp.models import load_tokenizer
    from negsamp.recipe import load_recipe
    from negsamp.runner import ModelPool

    recipe = load_recipe(args.recipe)
    work = Path(args.work)
    dataset = Path(args.dataset) if args.dataset else build(recipe, work / "build", progress=False).dataset_dir
    subset = Evaluation(dataset).samples()
    pool_samples = recipe_samples(recipe, load_tokenizer(recipe.model))
    pool_ids = {s.sample_id for s in pool_samples}
    missing = [s.sample_id for s in subset if s.sample_id not in pool_ids]
    if missing:
        raise SystemExit(f"dataset {dataset} was not built from {args.recipe}: {len(missing)} samples not in the pool")

    models = ModelPool(recipe.model)
    models.get(None)  # load before timing: the figures are generation time only
    rows = []
    for spec in METHODS:
        # Alternate which side runs first, so drift on a shared machine hits both.
        first, second = (("dataset", subset), ("pool", pool_samples))
        if len(rows) % 2:
            first, second = second, first
        measured = {}
        for name, samples in (first, second):
            measured[name] = timed_scores(work / "runs" / name / str(len(rows)), recipe.model, spec, samples, models)
        rows.append((spec, measured["dataset"], measured["pool"]))

    print(f"recipe {args.recipe}: pool {len(pool_samples)} samples, dataset {len(subset)} "
          f"(negative + control) from {dataset}")
    print(f"{'method':40} {'dataset s':>10} {'pool s':>8} {'dataset score':>14} {'pool score':>11}")
    for spec, (ds_s, ds_score), (pool_s, pool_score) in rows:
        print(f"{spec:40} {ds_s:10.1f} {pool_s:8.1f} {ds_score:14.3f} {pool_score:11.3f}")
    ds_total = sum(r[1][0] for r in rows)
    pool_total = sum(r[2][0] for r in rows)
    tau = kendall_tau([r[1][1] for r in rows], [r[2][1] for r in rows])
    print(f"\ncompute ratio (pool / dataset wall time): {pool_total / ds_total:.2f}x "
          f"({pool_total:.1f} s vs {ds_total:.1f} s)")
    print(f"Kendall tau of the methods' orderings by mean score (dataset vs pool): {tau:.3f}")


if __name__ == "__main__":
    main()
