"""Small hand-made dataset rows and card contexts for the dataset and publish tests (no models)."""

from __future__ import annotations

from negsamp.dataset import CardContext, DatasetRow, MethodOutcome, Outcome, write_dataset
from negsamp.mining import MiningRule
from negsamp.records import content_id

METHODS = ["snapkv:ratio=0.5", "kivi:bits=2"]
BASELINE = "none"
T = 0.10
THRESHOLDS = {"hotpotqa": 0.5, "trec": 1.0}
CATEGORIES = {"hotpotqa": "QA", "trec": "Few-shot"}


def outcome(method: str, score: float, tokens: int, *, b: float | None = None, kv: int = 1000) -> Outcome:
    fields = dict(
        method=method,
        prediction=f"answer by {method} ({score})",
        score=score,
        output_tokens=tokens,
        hit_eos=tokens < 32,
        prompt_tokens=400,
        kv_bytes_prefill=kv,
        kv_bytes_end=kv + 10 * tokens,
    )
    if b is None:
        return Outcome(**fields)
    return MethodOutcome(**fields, negative=not (b * (1 - T) < score))


def row(task: str, index: int, b: float, scores: list[float], tokens: list[int] | None = None) -> DatasetRow:
    tokens = tokens or [10, 12, 14]
    context = f"Document {index} of {task}. " * 3 + "Ünïcödé ✓"
    question = f"Question {index}?"
    return DatasetRow(
        sample_id=content_id(task, index),
        task=task,
        category=CATEGORIES[task],
        source="synthetic:seed=0",
        source_index=index,
        context=context,
        input=question,
        answers=[f"gold {index}", f"alt {index}"],
        all_classes=["A", "B"] if task == "trec" else None,
        length=len(context.split()),
        prompt=f"{context}\n\n{question}",
        question_start=len(context),
        max_new_tokens=32,
        chat_template=False,
        threshold=THRESHOLDS[task],
        baseline=outcome(BASELINE, b, tokens[0]),
        methods=[
            outcome(m, s, n, b=b, kv=500 if i == 0 else 250)
            for i, (m, s, n) in enumerate(zip(METHODS, scores, tokens[1:]))
        ],
    )


def negative_rows() -> list[DatasetRow]:
    return [
        row("hotpotqa", 3, 1.0, [0.0, 0.9]),  # 1.0 * (1 - 0.1) == 0.9: a tie counts as negative
        row("hotpotqa", 1, 1.0, [0.2, 0.5], tokens=[8, 30, 31]),
        row("trec", 0, 1.0, [0.0, 0.0]),
    ]


def control_rows() -> list[DatasetRow]:
    return [
        row("hotpotqa", 2, 0.5, [0.5, 0.6]),
        row("trec", 5, 1.0, [1.0, 1.0]),
    ]


def context(**overrides) -> CardContext:
    data = dict(
        model="smollm2-135m",
        methods=METHODS,
        rule=MiningRule(baseline=BASELINE, statistic="median", t=T, mode="all", min_baseline=0.01),
        generation={"backend": "transformers", "decoding": "greedy", "dtype": "float32", "batch_size": 4},
        sample_pool="synthetic tasks, seed 0, 8 samples per task",
        tasks=[
            dict(
                task="hotpotqa",
                category="QA",
                samples=8,
                baseline_accuracy=0.4567,
                threshold=0.5,
                baseline_good=4,
                negatives_by_method={METHODS[0]: 3, METHODS[1]: 2},
            ),
            dict(
                task="trec",
                category="Few-shot",
                samples=8,
                baseline_accuracy=0.875,
                threshold=1.0,
                baseline_good=7,
                negatives_by_method={METHODS[0]: 1, METHODS[1]: 1},
            ),
        ],
        output_lengths=[
            dict(
                method=BASELINE, samples=16, mean_output_tokens=11.25, median_output_tokens=10.0, eos_rate=0.9
            ),
            dict(method=METHODS[0], samples=16, mean_output_tokens=17.5, median_output_tokens=15.0),
            dict(method=METHODS[1], samples=16, mean_output_tokens=12.0, median_output_tokens=11.0),
        ],
        notes=["Tiny CPU build: numbers illustrate the format, not the methods."],
    )
    data.update(overrides)
    return CardContext.model_validate(data)


def write_example(out_dir, config: str = "smollm2-135m", figures=None, **overrides):
    return write_dataset(
        out_dir,
        name="negsamp-test",
        version="0.1.0",
        config=config,
        negative_rows=negative_rows(),
        control_rows=control_rows(),
        card_context=context(**overrides),
        figures=figures,
    )
