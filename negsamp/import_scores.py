"""Import the paper's released per-sample scores as a dataset release in our layout.

The paper (Gao et al., MLSys 2025) released per-sample LongBench scores of
Meta-Llama-3-8B-Instruct under each method (`negsamp.paper_scores` reads them), but no
predictions and no prompts. `import_scores` mines them with our rule (`negsamp.mining`),
joins the records they name from LongBench (the Hub's THUDM/LongBench, or a folder of
`<task>.jsonl` in its schema with an optional `INDEX.json` mapping each line to its
position in the test split), and writes the release with `negsamp.dataset.write_dataset`,
so the content hash, the card and `datasets.load_dataset` work as for a built release.

What a row holds: the LongBench record; the prompt as the paper's evaluator formats it,
before truncation (`protocol` rethink; `negsamp evaluate` rebuilds it for the model it
runs); the baseline's score; every method's score and whether it broke the sample. The
paper released no outputs, so `prediction` is empty and token and KV counts are 0; the
card says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from negsamp.errors import InputError

PROTOCOL = "rethink"
# The paper's model, as its score files name it -> its Hub id.
PAPER_MODELS = {"Meta-Llama-3-8B-instruct": "meta-llama/Meta-Llama-3-8B-Instruct"}
INDEX_NAME = "INDEX.json"


@dataclass
class ImportResult:
    """What `import_scores` wrote."""

    manifest: Any
    """The dataset's `Manifest`."""
    config: str
    """The config written (named after the model)."""
    rows: dict[str, int]
    """Rows written per split."""
    skipped: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Per split, the (task, position) records SRC lacked (with `skip_missing`)."""


# --------------------------------------------------------------------------- records


def read_index(folder: Path) -> dict[str, list[int]] | None:
    """`INDEX.json` of a records folder (task -> position of each line), or None if absent."""
    path = folder / INDEX_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read it as JSON ({err})") from err
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected an object task -> list of positions")
    for task, positions in data.items():
        if not isinstance(positions, list) or not all(isinstance(p, int) and not isinstance(p, bool)
                                                      and p >= 0 for p in positions):
            raise InputError(f"{path}: field {task!r} must be a list of non-negative integer positions")
        if len(set(positions)) != len(positions):
            raise InputError(f"{path}: field {task!r} names a position twice")
    return data


def read_records(src: str, task: str, wanted: set[int]) -> dict[int, dict]:
    """The LongBench records of `task` at test-split positions `wanted` that `src` holds.

    `src`: `THUDM/LongBench` (the Hub) or a folder of `<task>.jsonl` / `<task>.parquet`,
    whose line i is position `INDEX.json[task][i]` (line i is position i without an index)."""
    from negsamp.tasks import longbench

    if not wanted:
        return {}
    if src == longbench.HUB_REPO:
        _, rows = longbench.task_rows(task, None)
        positions: list[int] | None = None
    else:
        folder = Path(src)
        if not folder.is_dir():
            raise InputError(f"--records {src}: not a folder (nor {longbench.HUB_REPO})")
        candidates = [folder / f"{task}.jsonl", folder / f"{task}.parquet", folder / "data" / f"{task}.jsonl"]
        if not any(c.is_file() for c in candidates):
            return {}  # the task's records are all missing
        _, rows = longbench.task_rows(task, folder)
        index = read_index(folder)
        positions = index.get(task) if index is not None else None
    found: dict[int, dict] = {}
    for number, (where, line, row) in enumerate(rows):
        if positions is not None and number >= len(positions):
            raise InputError(f"{where}, line {line}: {INDEX_NAME} lists {len(positions)} positions for "
                             f"{task!r}, but the file has more lines")
        position = positions[number] if positions is not None else number
        if position in wanted:
            found[position] = longbench.validate_row(row, task=task, where=where, line=line)
    return found


# --------------------------------------------------------------------------- rows


def make_row(task: str, position: int, record: dict, flag: dict, *, baseline: str, methods: Sequence[str],
             max_length: int):
    """One `DatasetRow`: the record, its prompt under protocol rethink (untruncated), the scores."""
    from negsamp import dataset as ds
    from negsamp.records import content_id
    from negsamp.tasks import get_task
    from negsamp.tasks.longbench_prompts import rethink_max_gen

    config = get_task(task)
    head, tail = config.split_template()
    head, tail = head.format(input=record["input"]), tail.format(input=record["input"])
    # No outputs were released: empty prediction, zero counts (the card says so).
    empty = {"prediction": "", "output_tokens": 0, "hit_eos": False, "prompt_tokens": 0,
             "kv_bytes_prefill": 0, "kv_bytes_end": 0}
    return ds.DatasetRow(
        sample_id=content_id("longbench", task, position, record["_id"]),
        task=task, category=config.category,
        source=f"longbench:THUDM/LongBench:{task}:test:{position}",
        source_index=position, context=record["context"], input=record["input"],
        answers=record["answers"], all_classes=record["all_classes"], length=record["length"],
        prompt=head + record["context"] + tail, question_start=len(head) + len(record["context"]),
        max_new_tokens=rethink_max_gen(config, record["answers"], max_length), chat_template=False,
        threshold=flag["threshold"],
        baseline=ds.Outcome(method=baseline, score=flag["baseline_score"], **empty),
        methods=[ds.MethodOutcome(method=m, score=flag[m], negative=flag[f"neg:{m}"], **empty)
                 for m in methods],
    )


def max_length_of(baseline: str) -> int:
    """The prompt budget a paper config names: `hf_8192_b1` -> 8192."""
    _, _, config = baseline.partition("_")
    head = config.split("_", 1)[0]
    if not head.isdigit():
        raise InputError(f"--baseline {baseline!r}: expected <method>_<max_length>_b<batch>, e.g. hf_8192_b1")
    return int(head)


# --------------------------------------------------------------------------- import


def select(flags: list[dict], methods: Sequence[str], *, control_per_task: int, seed: int) -> dict[str, list[dict]]:
    """The flag rows of each split: the negatives, and a seeded draw of baseline-good samples
    that no method broke (as `negsamp build` draws its control split)."""
    from negsamp.build import draw_control, untouched_by_task

    negative = [f for f in flags if f["negative"]]
    control = []
    # One draw per task: the ids here are positions, which repeat across tasks.
    for task, untouched in untouched_by_task(flags, methods).items():
        chosen = draw_control({task: untouched}, control_per_task, seed)
        control += [f for f in flags if f["task"] == task and f["sample_id"] in chosen]
    return {"negative": negative, "control": control}


def gather_rows(chosen: dict[str, list[dict]], src: str, *, skip_missing: bool, **row_args):
    """DatasetRows of the chosen samples, with their records from `src`; and what was skipped."""
    wanted: dict[str, set[int]] = {}
    for rows in chosen.values():
        for f in rows:
            wanted.setdefault(f["task"], set()).add(int(f["sample_id"]))
    records = {task: read_records(src, task, ids) for task, ids in wanted.items()}
    out: dict[str, list] = {}
    skipped: dict[str, list[tuple[str, int]]] = {}
    for split, rows in chosen.items():
        out[split] = []
        for f in rows:
            task, position = f["task"], int(f["sample_id"])
            record = records[task].get(position)
            if record is None:
                if not skip_missing:
                    raise InputError(f"the scores name record {position} of LongBench task {task!r} ({split} "
                                     f"split), but {src} lacks it; pass --skip-missing to leave such records out")
                skipped.setdefault(split, []).append((task, position))
                continue
            out[split].append(make_row(task, position, record, f, **row_args))
    return out, skipped


def import_scores(
    scores_dir: str | Path, records: str, out: str | Path, *, methods: Sequence[str],
    baseline: str = "hf_8192_b1", statistic: str = "mean", t: float = 0.10, mode: str = "all",
    min_baseline: float | None = None, skip_missing: bool = False, model: str | None = None,
    name: str = "negsamp-paper", version: str = "0.1.0", control_per_task: int = 5, seed: int = 0,
) -> ImportResult:
    """Mine the paper's scores in `scores_dir` with the given rule and write the release to `out`."""
    from negsamp import dataset as ds
    from negsamp import paper_scores
    from negsamp.mining import make_rule, mine, sample_flags

    methods = list(methods)
    if not methods:
        raise InputError("--methods: name at least one compared method (e.g. kivi_8192_b1_4bits_group32_residual128)")
    table = paper_scores.load_score_folder(scores_dir, methods=methods, model=model, baseline=baseline)
    file_model = model or paper_scores.scan_score_folder(scores_dir)[0].model
    rule = make_rule(baseline=baseline, t=t, statistic=statistic, mode=mode, min_baseline=min_baseline)
    flags = list(sample_flags(table, methods, rule).iter_rows(named=True))
    chosen = select(flags, methods, control_per_task=control_per_task, seed=seed)
    rows, skipped = gather_rows(chosen, str(records), skip_missing=skip_missing, baseline=baseline,
                                methods=methods, max_length=max_length_of(baseline))
    context = card_context(flags, methods, rule, model=PAPER_MODELS.get(file_model, file_model),
                           scores_dir=Path(scores_dir), records=str(records), skipped=skipped,
                           warnings=mine(table, methods, rule).warnings, max_length=max_length_of(baseline))
    config = ds.check_config_name(file_model.lower())
    manifest = ds.write_dataset(out, name=name, version=version, config=config, negative_rows=rows["negative"],
                                control_rows=rows["control"], card_context=context)
    return ImportResult(manifest=manifest, config=config, rows={s: len(r) for s, r in rows.items()},
                        skipped=skipped)


def card_context(flags: list[dict], methods: Sequence[str], rule, *, model: str, scores_dir: Path,
                 records: str, skipped: dict, warnings: Sequence[str], max_length: int):
    """The card: the paper's scores, no predictions, protocol rethink, the rule, what was skipped."""
    import statistics

    from negsamp import dataset as ds
    from negsamp.tasks import get_task

    tasks = []
    for task in dict.fromkeys(f["task"] for f in flags):
        mine = [f for f in flags if f["task"] == task]
        tasks.append(ds.TaskSummary(
            task=task, category=get_task(task).category, samples=len(mine),
            baseline_accuracy=statistics.fmean(f["baseline_score"] for f in mine), threshold=mine[0]["threshold"],
            baseline_good=sum(f["good"] for f in mine),
            negatives_by_method={m: sum(f[f"neg:{m}"] for f in mine) for m in methods}))
    notes = [
        "Scores are the paper's own released per-sample scores (Gao et al., MLSys 2025); nothing was re-run.",
        "No predictions: the paper released scores only, so `prediction` is empty and token and KV-byte "
        "counts are 0 in every row.",
        "Prompts follow protocol `rethink` (the paper's evaluator) before truncation; `negsamp evaluate` "
        "rebuilds each prompt for the model it runs (truncation, answer-dependent budget).",
        *[f"Skipped {len(v)} {split} record(s) the scores name but {Path(records).name or records} lacks: "
          + ", ".join(f"{t}[{p}]" for t, p in v[:10]) + (" ..." if len(v) > 10 else "")
          for split, v in sorted(skipped.items())],
        *warnings,
    ]
    return ds.CardContext(
        model=model, methods=list(methods), rule=rule,
        generation={"protocol": PROTOCOL, "max_length": max_length, "predictions": "none (scores only)",
                    "rebuild_prompts": True,
                    "skipped_records": sum(len(v) for v in skipped.values())},
        sample_pool=f"LongBench v1 test records named by the paper's per-sample score files ({scores_dir.name})",
        tasks=tasks, summary=(
            f"The paper's own negative samples: its per-sample scores of {model} mined with the "
            f"{rule.statistic} rule, t = {rule.t:g}, mode {rule.mode} over {', '.join(methods)}."),
        notes=notes, languages=sorted({get_task(t.task).language for t in tasks}),
    )
