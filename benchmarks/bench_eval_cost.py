"""What evaluating on a negative-sample dataset costs, and what it tells, vs the whole pool.

For each held-out method (never used to mine the dataset), run it both ways in one
process: on the dataset's negative + control samples only, and on the recipe's
whole sample pool. Prints, side by side:

- the compute ratio: generation wall time on negatives + control as a share of the
  pool's (the goal is <= 10%);
- the Kendall tau between the methods' ranking by full-pool accuracy (mean score)
  and their ranking by negatives recovered, control retention breaking ties (the
  goal is >= 0.8);
- the older figure, tau between mean scores on the dataset and on the pool.

    .venv/bin/python benchmarks/bench_eval_cost.py --recipe builders/smollm2-synthetic.yaml \\
        --dataset /work/wt/release_build/dataset [--methods SPEC ...] [--json out.json]

Without --dataset it builds the recipe first (into --work). Runs go to fresh run
stores under --work, so every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from itertools import combinations
from pathlib import Path

# Held out from builders/smollm2-synthetic.yaml's mining methods (StreamingLLM/H2O at
# budget 96, KIVI 4/2 bits group 32, GEAR 4): other eviction rules, SnapKV at two
# budgets and KIVI at group 64. Budgets, not ratios, so short prompts are cut alike.
METHODS = [
    "tova:ratio=0.7",
    "knorm:ratio=0.7",
    "expected_attention:ratio=0.7",
    "pyramidkv:budget=96",
    "snapkv:budget=96",
    "snapkv:budget=160",
    "kivi:bits=2,group=64,residual=128",
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


def timed_run(store_dir: Path, model: str, method_spec: str, samples, pool, batch_size: int):
    """Run one method over samples in a fresh store; return (wall seconds, predictions)."""
    from negsamp.methods import parse_method
    from negsamp.runner import run_method
    from negsamp.runs import RunStore

    shutil.rmtree(store_dir, ignore_errors=True)
    start = time.perf_counter()
    result = run_method(RunStore(store_dir), model, parse_method(method_spec), samples, batch_size=batch_size,
                        progress=False, pool=pool)
    return time.perf_counter() - start, result.predictions


def pool_accuracy(samples, predictions) -> float:
    from negsamp.metrics import score

    return statistics.fmean(score(s.task, p.prediction, s.answers, s.all_classes)
                            for s, p in zip(samples, predictions))


def subset_figures(evaluation, samples, predictions) -> dict:
    """Negatives recovered, control retained and mean score, under the dataset's rule."""
    results = evaluation.score({s.sample_id: (p.prediction, p.output_tokens, p.kv_bytes_prefill)
                                for s, p in zip(samples, predictions)})
    negatives = [r for r in results if r.split == "negative"]
    control = [r for r in results if r.split == "control"]
    return {"recovered": sum(r.good for r in negatives), "negatives": len(negatives),
            "retained": sum(r.good for r in control), "control": len(control),
            "score": statistics.fmean(r.score for r in results)}


def measure(args, recipe, evaluation, subset, pool_samples) -> list[dict]:
    from negsamp.runner import ModelPool

    models = ModelPool(recipe.model)
    models.get(None)  # load before timing: the figures are generation time only
    work, rows = Path(args.work), []
    for i, spec in enumerate(args.methods):
        # Alternate which side runs first, so drift on a shared machine hits both.
        order = [("dataset", subset), ("pool", pool_samples)][:: -1 if i % 2 else 1]
        timed = {name: timed_run(work / "runs" / name / str(i), recipe.model, spec, samples, models,
                                 recipe.batch_size) for name, samples in order}
        row = {"method": spec, "dataset_s": timed["dataset"][0], "pool_s": timed["pool"][0],
               "pool_accuracy": pool_accuracy(pool_samples, timed["pool"][1])}
        row.update(subset_figures(evaluation, subset, timed["dataset"][1]))
        rows.append(row)
        print(f"  {spec}: dataset {row['dataset_s']:.1f} s, pool {row['pool_s']:.1f} s", flush=True)
    return rows


def negatives_key(row: dict) -> float:
    """Negatives recovered, control retention (a fraction < 1) breaking ties."""
    return row["recovered"] + (row["retained"] / (row["control"] + 1) if row["control"] else 0.0)


def summary(rows: list[dict]) -> dict:
    ds_total = sum(r["dataset_s"] for r in rows)
    pool_total = sum(r["pool_s"] for r in rows)
    return {"dataset_s": ds_total, "pool_s": pool_total, "compute_share": ds_total / pool_total,
            "tau_negatives": kendall_tau([r["pool_accuracy"] for r in rows], [negatives_key(r) for r in rows]),
            "tau_mean_score": kendall_tau([r["pool_accuracy"] for r in rows], [r["score"] for r in rows])}


def print_table(rows: list[dict], figures: dict, header: str) -> None:
    print(header)
    print(f"{'method':36} {'subset s':>9} {'pool s':>8} {'pool acc':>9} {'recovered':>10} {'control':>8}")
    for r in rows:
        print(f"{r['method']:36} {r['dataset_s']:9.1f} {r['pool_s']:8.1f} {r['pool_accuracy']:9.3f} "
              f"{r['recovered']:>4}/{r['negatives']:<5} {r['retained']:>3}/{r['control']:<4}")
    print(f"\ncompute: negatives + control cost {100 * figures['compute_share']:.1f}% of the pool "
          f"({figures['dataset_s']:.1f} s vs {figures['pool_s']:.1f} s; pool / subset "
          f"{figures['pool_s'] / figures['dataset_s']:.2f}x)")
    print(f"Kendall tau, full-pool accuracy vs negatives recovered (control retention breaks ties): "
          f"{figures['tau_negatives']:.3f}")
    print(f"Kendall tau, full-pool accuracy vs mean score on negatives + control: {figures['tau_mean_score']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="builders/smollm2-synthetic.yaml")
    parser.add_argument("--dataset", help="dataset folder built from the recipe (default: build it)")
    parser.add_argument("--methods", nargs="+", default=METHODS, help="held-out method specs")
    parser.add_argument("--work", default="out/bench-eval-cost")
    parser.add_argument("--json", help="also write the rows and figures here")
    args = parser.parse_args()

    from negsamp.build import build, recipe_samples
    from negsamp.evaluator import Evaluation
    from negsamp.models import load_tokenizer
    from negsamp.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    dataset = Path(args.dataset) if args.dataset else build(recipe, Path(args.work) / "build",
                                                            progress=False).dataset_dir
    evaluation = Evaluation(dataset)
    subset = evaluation.samples()
    pool_samples = recipe_samples(recipe, load_tokenizer(recipe.model))
    pool_ids = {s.sample_id for s in pool_samples}
    missing = [s.sample_id for s in subset if s.sample_id not in pool_ids]
    if missing:
        raise SystemExit(f"dataset {dataset} was not built from {args.recipe}: {len(missing)} samples not in the pool")
    rows = measure(args, recipe, evaluation, subset, pool_samples)
    figures = summary(rows)
    print_table(rows, figures, f"recipe {args.recipe}: pool {len(pool_samples)} samples, dataset {len(subset)} "
                f"(negative + control) from {dataset}")
    if args.json:
        from negsamp.atomic import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps({"rows": rows, "figures": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
