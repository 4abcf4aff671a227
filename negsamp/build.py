"""Build a negative-sample dataset from a recipe: run, score, mine, write.

    recipe ─► samples ─► run store (baseline `none` + each method) ─► scores
           ─► mining rule ─► negative / control rows ─► Hub folder (parquet + card)

Every generation goes through the run store, so a killed build resumes where it
stopped, and a finished one re-mines in seconds without loading a model. The
output folder holds `runs/` (the store) and `dataset/` (what gets published).
"""

from __future__ import annotations

import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from negsamp.mining import BASELINE
from negsamp.recipe import Recipe
from negsamp.records import Prediction, Sample


@dataclass
class BuildResult:
    dataset_dir: Path
    config: str
    manifest: object
    """The written `negsamp.dataset.Manifest`."""
    counts: pl.DataFrame
    """Per task: samples, baseline accuracy, threshold, good, negatives per method and combined, control."""
    methods: list[str]
    """The mined methods' canonical specs (the method columns of `counts`)."""


def recipe_samples(recipe: Recipe, tokenizer) -> list[Sample]:
    from negsamp.tasks.sources import load_task_samples

    samples: list[Sample] = []
    for spec in recipe.tasks:
        samples.extend(load_task_samples(spec, tokenizer=tokenizer, max_length=recipe.max_length))
    return samples


def run_all(recipe: Recipe, samples: Sequence[Sample], runs_dir: Path, *, progress: bool = True, pool=None):
    """Baseline and every method over the samples; returns {method spec: [Prediction in sample order]}.

    `pool`: a `negsamp.runner.ModelPool` (default: one on the recipe's device and dtype)."""
    from tqdm.auto import tqdm

    from negsamp.display import short_method
    from negsamp.methods import parse_method
    from negsamp.runner import ModelPool, run_method
    from negsamp.runs import RunStore

    store = RunStore(runs_dir)
    pool = pool or ModelPool(recipe.model, device=recipe.device, dtype=recipe.dtype)
    methods = [parse_method(BASELINE)] + [parse_method(spec) for spec in recipe.methods]
    results: dict[str, list[Prediction]] = {}
    # The outer bar nests the per-method bars by redrawing with cursor-up codes (ESC[A), which
    # only a terminal understands; in a log the per-method bars alone say where a build is.
    nested = progress and sys.stderr.isatty()
    with tqdm(total=len(methods), desc="build", unit="method", disable=not nested, position=0) as bar:
        for method in methods:
            bar.set_postfix_str(short_method(method.spec))
            result = run_method(store, recipe.model, method, samples, batch_size=recipe.batch_size,
                                progress=progress, pool=pool)
            results[method.spec] = result.predictions
            bar.update(1)
    return results


def run_all_on_ray(recipe: Recipe, samples: Sequence[Sample], runs_dir: Path, options, *,
                   progress: bool = True) -> dict[str, list[Prediction]]:
    """`run_all`, with the work cut into (method x sample-shard) tasks on Ray (`negsamp.distributed`)."""
    from negsamp.distributed import run_methods_on_ray
    from negsamp.methods import parse_method
    from negsamp.runs import RunStore

    methods = [parse_method(BASELINE)] + [parse_method(spec) for spec in recipe.methods]
    runs = run_methods_on_ray(RunStore(runs_dir), recipe.model, methods, samples, batch_size=recipe.batch_size,
                              device=recipe.device, dtype=recipe.dtype, options=options, progress=progress)
    return {spec: sharded.result.predictions for spec, sharded in runs.items()}


def draw_control(good_ids_by_task: dict[str, list[str]], per_task: int, seed: int) -> set[str]:
    """A seeded draw of `per_task` ids per task, independent of dict order and of other tasks."""
    chosen: set[str] = set()
    for task in sorted(good_ids_by_task):
        ids = sorted(good_ids_by_task[task])
        rng = random.Random(f"{seed}:{task}")
        chosen.update(rng.sample(ids, min(per_task, len(ids))))
    return chosen


def build(recipe: Recipe, out_dir: str | Path, *, progress: bool = True, ray=None, backend="hf") -> BuildResult:
    """Run the recipe end to end and write the dataset folder under `out_dir/dataset`.

    The recipe's `device` and `dtype` are resolved first: a missing GPU fails before anything loads.
    `ray`: `negsamp.distributed.RayOptions` to generate on a Ray cluster's workers (same dataset).
    `backend="vllm"`: the baseline from vLLM (`_vllm_baseline`)."""
    from negsamp import dataset as ds
    from negsamp.methods import parse_method
    from negsamp.mining import mine, sample_flags
    from negsamp.models import load_tokenizer
    from negsamp.plots import plot_build_figures
    from negsamp.runner import ModelPool
    from negsamp.scoring import score_table

    recipe.validate_specs()
    pool = None if ray else ModelPool(recipe.model, device=recipe.device, dtype=recipe.dtype)
    out_dir = Path(out_dir)
    methods = [parse_method(spec).spec for spec in recipe.methods]
    samples = recipe_samples(recipe, load_tokenizer(recipe.model))
    predictions = (run_all(recipe, samples, out_dir / "runs", progress=progress, pool=pool) if ray is None
                   else run_all_on_ray(recipe, samples, out_dir / "runs", ray, progress=progress))
    agreement = _vllm_baseline(recipe, samples, predictions, out_dir, progress) if backend == "vllm" else None
    scores = score_table(samples, predictions)
    rule = recipe.rule
    flags = sample_flags(scores, methods, rule)  # task, sample_id, baseline_score, threshold, good, neg:<m>, negative

    by_id = {s.sample_id: s for s in samples}
    pred_by = {m: {p.sample_id: p for p in preds} for m, preds in predictions.items()}
    score_by = {(r["method"], r["sample_id"]): r["score"] for r in scores.iter_rows(named=True)}

    def row_for(flag: dict) -> ds.DatasetRow:
        sid = flag["sample_id"]
        baseline = ds.Outcome.from_prediction(pred_by[BASELINE][sid], score_by[(BASELINE, sid)])
        outcomes = [
            ds.MethodOutcome.from_prediction(pred_by[m][sid], score_by[(m, sid)], negative=flag[f"neg:{m}"])
            for m in methods
        ]
        return ds.DatasetRow.from_sample(by_id[sid], threshold=flag["threshold"], baseline=baseline,
                                         methods=outcomes)

    flag_rows = list(flags.iter_rows(named=True))
    negative_ids = negative_draw(flag_rows, recipe.negatives)
    negative_rows = [row_for(f) for f in flag_rows if f["sample_id"] in negative_ids]
    control_ids = control_draw(flag_rows, methods, recipe.control)
    control_rows = [row_for(f) for f in flag_rows if f["sample_id"] in control_ids]

    counts = summary_counts(flags, methods, control_ids)
    sampled = recipe.negatives.per_task is not None
    if sampled:
        counts = counts.join(_split_counts(flag_rows, negative_ids), on="task", how="left")
    notes = [*mine(scores, methods, rule).warnings, *negative_draw_notes(counts, recipe.negatives)]
    context = _annotated(card_context(recipe, predictions, counts, methods, rule, notes,
                                      setting=generation_setting(pool, out_dir / "runs", recipe.model)), agreement)
    figures_dir = out_dir / "figures"
    figures = plot_build_figures(scores, methods, rule, counts, figures_dir, sampled=sampled)
    dataset_dir = out_dir / "dataset"
    manifest = ds.write_dataset(
        dataset_dir, name=recipe.name, version=recipe.dataset_version, config=recipe.config_name,
        negative_rows=negative_rows, control_rows=control_rows, card_context=context, figures=figures,
    )
    return BuildResult(dataset_dir=dataset_dir, config=recipe.config_name, manifest=manifest, counts=counts,
                       methods=methods)


def _annotated(context, agreement):
    """The card context, with the vLLM agreement figure on it when the baseline came from vLLM."""
    if agreement is not None:
        agreement.annotate(context)
    return context


def _vllm_baseline(recipe: Recipe, samples, predictions: dict, out_dir: Path, progress: bool):
    """Swap in vLLM's baseline (checked against the transformers one); return the agreement."""
    from negsamp.backends.vllm_agreement import vllm_baseline

    predictions[BASELINE], agreement = vllm_baseline(recipe.model, samples, predictions[BASELINE], out_dir,
                                                     progress=progress)
    return agreement


def generation_setting(pool, runs_dir: Path, model: str) -> dict[str, str]:
    """Device, dtype and attention for the card: the pool's, or (built on Ray) what the driver
    recorded for the workers in the baseline run's manifest."""
    if pool is not None:
        return pool.setting()
    from negsamp.runs import RunStore

    generation = RunStore(runs_dir).run(model, BASELINE).manifest()["generation"]
    return {key: generation[key] for key in ("device", "dtype", "attention")}


def negative_draw(flag_rows: list[dict], negatives) -> set[str]:
    """The negative split's ids: every mined negative, or a seeded draw per task (`recipe.negatives`)."""
    mined: dict[str, list[str]] = {}
    for f in flag_rows:
        if f["negative"]:
            mined.setdefault(f["task"], []).append(f["sample_id"])
    if negatives.per_task is None:
        return {sid for ids in mined.values() for sid in ids}
    return draw_control(mined, negatives.per_task, negatives.seed)


def _split_counts(flag_rows: list[dict], negative_ids: set[str]) -> pl.DataFrame:
    """Per task, how many negatives the (sampled) negative split keeps."""
    kept: dict[str, int] = {}
    for f in flag_rows:
        kept[f["task"]] = kept.get(f["task"], 0) + (f["sample_id"] in negative_ids)
    return pl.DataFrame({"task": list(kept), "negative_split": list(kept.values())},
                        schema={"task": pl.String, "negative_split": pl.UInt32})


def negative_draw_notes(counts: pl.DataFrame, negatives) -> list[str]:
    """The card's sentence on a sampled negative split (none when every negative is kept), from
    `summary_counts`' mined `negatives` and `_split_counts`' kept `negative_split` per task."""
    if negatives.per_task is None:
        return []
    per_task = ", ".join(f"{r['task']} {r['negative_split']} of {r['negatives']}"
                         for r in counts.iter_rows(named=True) if r["negatives"])
    return [f"The negative split is a seeded sample (seed {negatives.seed}) of at most {negatives.per_task} "
            f"negatives per task of those the rule mined ({per_task}); the per-method negative counts above "
            "are of all mined negatives."]


def control_draw(flag_rows: list[dict], methods: list[str], control) -> set[str]:
    """The control split's ids: a seeded draw (`recipe.control`) among the baseline-good samples
    that no mined method broke."""
    return draw_control(untouched_by_task(flag_rows, methods), control.per_task, control.seed)


def untouched_by_task(flag_rows: list[dict], methods: Sequence[str]) -> dict[str, list[str]]:
    """Per task (in first-seen order), the ids of baseline-good samples that no method broke."""
    untouched: dict[str, list[str]] = {}
    for f in flag_rows:
        if f["good"] and not any(f[f"neg:{m}"] for m in methods):
            untouched.setdefault(f["task"], []).append(f["sample_id"])
    return untouched


def summary_counts(flags: pl.DataFrame, methods: list[str], control_ids: set[str]) -> pl.DataFrame:
    """Per task: samples, baseline accuracy, THR, baseline good, negatives per method and combined, control."""
    per_method = [pl.col(f"neg:{m}").sum().alias(m) for m in methods]
    return (
        flags.with_columns(pl.col("sample_id").is_in(sorted(control_ids)).alias("control"))
        .group_by("task", maintain_order=True)
        .agg(
            pl.len().alias("samples"),
            pl.col("baseline_score").mean().alias("baseline_accuracy"),
            pl.col("threshold").first(),
            pl.col("good").sum().alias("baseline_good"),
            *per_method,
            pl.col("negative").sum().alias("negatives"),
            pl.col("control").sum(),
        )
        .sort("task")
    )


def card_context(recipe: Recipe, predictions, counts: pl.DataFrame, methods, rule, notes=(), setting=None):
    """The card's context: per-task counts from `summary_counts`, output lengths from the predictions.

    `setting`: the device and dtype the build really ran with (`ModelPool.setting()`)."""
    from negsamp import dataset as ds
    from negsamp.tasks import get_task

    tasks = [
        ds.TaskSummary(
            task=row["task"],
            category=get_task(row["task"]).category,
            samples=row["samples"],
            baseline_accuracy=row["baseline_accuracy"],
            threshold=row["threshold"],
            baseline_good=row["baseline_good"],
            negatives_by_method={m: row[m] for m in methods},
        )
        for row in counts.iter_rows(named=True)
    ]
    lengths = []
    for method in [BASELINE, *methods]:
        tokens = [p.output_tokens for p in predictions[method]]
        lengths.append(ds.LengthSummary(
            method=method, samples=len(tokens), mean_output_tokens=statistics.fmean(tokens),
            median_output_tokens=float(statistics.median(tokens)),
            eos_rate=sum(p.hit_eos for p in predictions[method]) / len(tokens),
        ))
    return ds.CardContext(
        model=recipe.model,
        methods=methods,
        rule=rule,
        generation={"backend": "transformers", "decoding": "greedy", "batch_size": recipe.batch_size,
                    "max_length": recipe.max_length,
                    **{k: v for k, v in (setting or {}).items() if k in ("device", "dtype")}},
        sample_pool="; ".join(recipe.tasks),
        tasks=tasks,
        output_lengths=lengths,
        summary=recipe.description or None,
        notes=list(notes),
    )
