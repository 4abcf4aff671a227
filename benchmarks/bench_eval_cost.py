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
        --dataset out/smollm2/dataset [--methods SPEC ...] [--attach]

Without --dataset it builds the recipe first (into --work). Each method's two runs go
to fresh run stores under --work, so every figure is measured in this run; a method's
row is saved (--json) as soon as both its runs finish, and a re-run after a kill skips
the methods already measured for the same pool and dataset samples. --figures writes
two PNGs (cost per method; pool accuracy vs negatives recovered); --attach also adds
them and a summary note to the dataset's card (`negsamp.dataset.attach_figures`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import time
from itertools import combinations
from pathlib import Path


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


def pool_scores(samples, predictions) -> dict[str, float]:
    from negsamp.metrics import score

    return {s.sample_id: score(s.task, p.prediction, s.answers, s.all_classes) for s, p in zip(samples, predictions)}


def subset_figures(evaluation, samples, predictions) -> dict:
    """Negatives recovered, control retained and mean score, under the dataset's rule."""
    results = evaluation.score({s.sample_id: (p.prediction, p.output_tokens, p.kv_bytes_prefill)
                                for s, p in zip(samples, predictions)})
    negatives = [r for r in results if r.split == "negative"]
    control = [r for r in results if r.split == "control"]
    return {"recovered": sum(r.good for r in negatives), "negatives": len(negatives),
            "retained": sum(r.good for r in control), "control": len(control),
            "score": statistics.fmean(r.score for r in results)}


def samples_key(subset, pool_samples) -> str:
    """What a saved row was measured on: the pool's and the dataset's sample ids (not the
    dataset's content hash, which attaching this benchmark's figures changes)."""
    ids = json.dumps([sorted(s.sample_id for s in subset), sorted(s.sample_id for s in pool_samples)])
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def load_saved(path: Path | None, key: str) -> dict[str, dict]:
    if path is None or not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    return {r["method"]: r for r in saved.get("rows", []) if saved.get("samples_key") == key}


def measure(args, recipe, evaluation, subset, pool_samples) -> list[dict]:
    from negsamp.atomic import atomic_write_text
    from negsamp.runner import ModelPool

    key = samples_key(subset, pool_samples)
    json_path = Path(args.json) if args.json else None
    saved = load_saved(json_path, key)
    models = ModelPool(recipe.model)
    work, rows = Path(args.work), []
    for i, spec in enumerate(args.methods):
        if spec in saved:
            rows.append(saved[spec])
            print(f"  {spec}: measured earlier ({json_path})", flush=True)
            continue
        models.get(None)  # load before timing: the figures are generation time only
        # Alternate which side runs first, so drift on a shared machine hits both.
        order = [("dataset", subset), ("pool", pool_samples)][:: -1 if i % 2 else 1]
        timed = {name: timed_run(work / "runs" / name / str(i), recipe.model, spec, samples, models,
                                 recipe.batch_size) for name, samples in order}
        scores = pool_scores(pool_samples, timed["pool"][1])
        row = {"method": spec, "dataset_s": timed["dataset"][0], "pool_s": timed["pool"][0],
               "pool_accuracy": statistics.fmean(scores.values()), "load_avg": os.getloadavg()[0],
               "pool_scores": scores}
        row.update(subset_figures(evaluation, subset, timed["dataset"][1]))
        rows.append(row)
        if json_path:
            atomic_write_text(json_path, json.dumps({"samples_key": key, "rows": rows}, indent=2) + "\n")
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
    print(f"\n{conclusion(figures)}")
    print(f"Kendall tau, full-pool accuracy vs mean score on negatives + control: {figures['tau_mean_score']:.3f}")


def conclusion(figures: dict) -> str:
    return (f"Evaluating the held-out methods on negatives + control cost {100 * figures['compute_share']:.1f}% of "
            f"the pool's generation time ({figures['dataset_s']:.0f} s vs {figures['pool_s']:.0f} s); Kendall tau "
            f"between their ranking by full-pool accuracy and by negatives recovered (control retention breaking "
            f"ties): {figures['tau_negatives']:.3f}.")


# Negatives kept per task in the size sweep (None: every mined negative).
SWEEP_CAPS = (5, 10, 20, 40, 80, None)
SWEEP_DRAWS = 200


def mined_flags(recipe, pool_samples, build_dir: Path) -> list[dict]:
    """The build's per-sample verdicts (`negsamp.mining.sample_flags`), from its finished run store."""
    from negsamp.build import run_all
    from negsamp.mining import sample_flags
    from negsamp.scoring import score_table

    predictions = run_all(recipe, pool_samples, build_dir / "runs", progress=False)  # complete runs: no model
    methods = [p for p in predictions if p != recipe.rule.baseline]
    return list(sample_flags(score_table(pool_samples, predictions), methods, recipe.rule).iter_rows(named=True))


def draw_tau(flags: list[dict], rows: list[dict], cap: int | None, control: int, seed: int, t: float):
    """Tau of one seeded dataset draw (cap negatives + `control` untouched per task), and its size."""
    import random

    rng, negatives, kept = random.Random(seed), {}, []
    for f in flags:
        if f["good"]:
            negatives.setdefault((f["task"], f["negative"]), []).append(f)
    for (_task, negative), group in sorted(negatives.items()):
        k = len(group) if (negative and cap is None) else min(cap if negative else control, len(group))
        kept.extend((negative, f) for f in rng.sample(group, k))
    n_control, keys = sum(not neg for neg, _ in kept), []
    for r in rows:
        good = [(neg, r["pool_scores"][f["sample_id"]] > f["baseline_score"] * (1 - t)) for neg, f in kept]
        keys.append(sum(g for neg, g in good if neg) + sum(g for neg, g in good if not neg) / (n_control + 1))
    return kendall_tau([r["pool_accuracy"] for r in rows], keys), len(kept)


def size_sweep(recipe, flags: list[dict], rows: list[dict], pool_n: int) -> list[dict]:
    """For each cap, SWEEP_DRAWS seeded draws of the dataset from the same mined flags: its share
    of the pool's samples and the spread of tau, from the pool runs' per-sample scores."""
    out = []
    for cap in SWEEP_CAPS:
        draws = [draw_tau(flags, rows, cap, recipe.control.per_task, seed, recipe.rule.t)
                 for seed in range(SWEEP_DRAWS)]
        taus = sorted(t for t, _ in draws)
        out.append({"cap": cap, "share": statistics.fmean(n for _, n in draws) / pool_n,
                    "tau_median": statistics.median(taus), "tau_p10": taus[len(taus) // 10],
                    "p_tau_08": sum(t >= 0.8 for t in taus) / len(taus)})
    return out


def print_sweep(sweep: list[dict]) -> None:
    print(f"\nsize sweep ({SWEEP_DRAWS} seeded draws per cap, scored from the pool runs):")
    print(f"{'negatives per task':>18} {'share of pool':>14} {'tau median':>11} {'tau p10':>8} {'P(tau>=0.8)':>12}")
    for r in sweep:
        print(f"{'all' if r['cap'] is None else r['cap']:>18} {100 * r['share']:13.1f}% {r['tau_median']:11.3f} "
              f"{r['tau_p10']:8.3f} {100 * r['p_tau_08']:11.0f}%")


def plot_figures(rows: list[dict], figures: dict, out_dir: Path) -> dict[str, Path]:
    """Two PNGs: each method's generation time both ways, and pool accuracy vs negatives recovered."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from negsamp.atomic import save_figure
    from negsamp.display import short_names

    names = short_names([r["method"] for r in rows])
    labels = [names[r["method"]] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.4))
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], [r["pool_s"] for r in rows], height=0.4, label="whole pool", color="#9aa5b1")
    ax.barh([i - 0.2 for i in y], [r["dataset_s"] for r in rows], height=0.4, label="negatives + control",
            color="#d1495b")
    for i, r in enumerate(rows):
        ax.text(r["pool_s"], i + 0.2, f" {100 * r['dataset_s'] / r['pool_s']:.1f}%", va="center", fontsize=8)
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12 * max(r["pool_s"] for r in rows))  # room for the share labels
    ax.set_xlabel("generation wall time (s)")
    ax.set_title(f"Evaluation cost: negatives + control = {100 * figures['compute_share']:.1f}% of the pool",
                 fontsize=10, pad=24)
    # Above the bars, not over them: a legend inside covers the last bar's label.
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    cost = save_figure(fig, out_dir / "eval_cost.png", dpi=130)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for r, label in zip(rows, labels):
        x, y_ = 100 * r["pool_accuracy"], 100 * r["recovered"] / max(r["negatives"], 1)
        ax.scatter([x], [y_], s=36, color="#2e86ab", zorder=3)
        ax.annotate(label, (x, y_), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("accuracy on the whole pool (%)")
    ax.set_ylabel("negatives recovered (%)")
    ax.set_title(f"Held-out methods: Kendall tau = {figures['tau_negatives']:.2f}", fontsize=10)
    ax.grid(linestyle="-.", linewidth=0.8, alpha=0.5)
    ax.spines[["top", "right"]].set_visible(False)
    ranking = save_figure(fig, out_dir / "eval_ranking.png", dpi=130)
    return {"Evaluation cost per held-out method: negatives + control vs the whole pool": cost,
            "Held-out methods: accuracy on the whole pool vs negatives recovered": ranking}


def plot_sweep(sweep: list[dict], kept: int, out_dir: Path) -> dict[str, Path]:
    """Tau against the dataset's share of the pool, one point per negatives-per-task cap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from negsamp.atomic import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    shares = [100 * r["share"] for r in sweep]
    ax.fill_between(shares, [r["tau_p10"] for r in sweep], [r["tau_median"] for r in sweep], alpha=0.25,
                    color="#2e86ab", label="10th percentile to median")
    ax.plot(shares, [r["tau_median"] for r in sweep], marker="o", color="#2e86ab", label="median over draws")
    for r, x in zip(sweep, shares):
        label = "all" if r["cap"] is None else str(r["cap"])
        ax.annotate(label + (" (this release)" if r["cap"] == kept else ""), (x, r["tau_median"]),
                    textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.axhline(0.8, color="black", linestyle=":", linewidth=1.2, label="tau = 0.8")
    ax.axvline(10, color="#d1495b", linestyle=":", linewidth=1.2, label="10% of the pool")
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")  # the sizes run from a few % to most of the pool
    ax.xaxis.set_major_locator(FixedLocator(shares))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{x:.0f}%" if x >= 10 else f"{x:.1f}%" for x in shares], fontsize=8)
    ax.set_xlabel("negatives + control, % of the pool's samples (label: negatives per task)")
    ax.set_ylabel("Kendall tau vs full-pool ranking")
    ax.set_title(f"Dataset size vs rank agreement ({SWEEP_DRAWS} seeded draws per size)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    ax.grid(linestyle="-.", linewidth=0.8, alpha=0.5)
    ax.spines[["top", "right"]].set_visible(False)
    path = save_figure(fig, out_dir / "eval_size_sweep.png", dpi=130)
    return {"Rank agreement with the whole pool vs dataset size (draws from the same mined negatives)": path}


def attach(dataset: Path, figure_files: dict[str, Path], rows: list[dict], figures: dict, pool_n: int) -> None:
    from negsamp.dataset import attach_figures

    loads = [r.get("load_avg") for r in rows if r.get("load_avg") is not None]
    note = (f"Benchmark (benchmarks/bench_eval_cost.py, {len(rows)} held-out methods, pool of {pool_n} samples): "
            f"{conclusion(figures)}" + (f" Load average during the runs: {min(loads):.1f}-{max(loads):.1f} on "
                                        f"{os.cpu_count()} cores." if loads else ""))
    manifest = attach_figures(dataset, figure_files, notes=[note])
    print(f"attached {len(figure_files)} figures to {dataset}; content hash now {manifest.content_hash[:12]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="builders/smollm2-synthetic.yaml")
    parser.add_argument("--dataset", help="dataset folder built from the recipe (default: build it)")
    parser.add_argument("--methods", nargs="+", help="held-out method specs (default: the recipe's held_out)")
    parser.add_argument("--work", default="out/bench-eval-cost")
    parser.add_argument("--json", help="rows and figures (default WORK/results.json); measured methods are skipped "
                                       "on a re-run with the same samples")
    parser.add_argument("--figures", help="folder for the two PNGs (default WORK/figures)")
    parser.add_argument("--build", help="the build folder holding runs/ (default: the dataset's parent), for the "
                                        "size sweep")
    parser.add_argument("--attach", action="store_true", help="add the figures and a summary note to the dataset card")
    args = parser.parse_args()
    args.json = args.json or str(Path(args.work) / "results.json")

    from negsamp.build import build, recipe_samples
    from negsamp.evaluator import Evaluation
    from negsamp.models import load_tokenizer
    from negsamp.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    recipe.validate_specs()
    args.methods = args.methods or recipe.held_out
    if not args.methods:
        raise SystemExit(f"{args.recipe} has no held_out methods: give --methods")
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
    flags = mined_flags(recipe, pool_samples, Path(args.build) if args.build else dataset.parent)
    sweep = size_sweep(recipe, flags, rows, len(pool_samples))
    print_sweep(sweep)
    figures_dir = Path(args.figures or Path(args.work) / "figures")
    figure_files = {**plot_figures(rows, figures, figures_dir),
                    **plot_sweep(sweep, recipe.negatives.per_task, figures_dir)}
    from negsamp.atomic import atomic_write_text

    atomic_write_text(Path(args.json), json.dumps({"samples_key": samples_key(subset, pool_samples), "rows": rows,
                                                   "figures": figures, "size_sweep": sweep}, indent=2) + "\n")
    if args.attach:
        attach(dataset, figure_files, rows, figures, len(pool_samples))


if __name__ == "__main__":
    main()
