"""Reader for the per-sample LongBench scores the paper released.

The paper (Gao et al., MLSys 2025; repository LLMkvsys/rethink-kv-compression,
folder ``benchmark_neg/0-failure_case_id_scores``) ships one file per method,
config and task::

    <method>_<model>_<config>_<task>_eval.json

each a JSON list of ``{"id": i, "score": s}`` with ``id`` equal to the list
index. Task names contain ``_`` (``gov_report``) and ``-`` (``repobench-p``),
so the task is found by matching the known LongBench task names at the end of
the name; the method is the first ``_``-separated field, and the config starts
at the ``<context length>_b<batch size>`` field (``8192_b1``), as in the paper's
own parser. The baseline is method ``hf`` with config ``8192_b1``.

`load_score_folder` turns a folder into the long score table that
`negsamp.mining` takes: task, sample_id (= id = list position), method
(``"<method>_<config>"``, e.g. ``"h2o_8192_b1_c2048_w32_k7_maxpool"``), score.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from negsamp.errors import InputError
from negsamp.tasks.registry import LONGBENCH_TASKS  # pure data: no model code

SUFFIX = "_eval.json"
PAPER_MODEL = "Meta-Llama-3-8B-instruct"
PAPER_BASELINE = "hf_8192_b1"

# The methods of the paper's Figure 5 (benchmark_neg/0_ratio_vs_no_negative.py),
# as method keys of the long table, and the intersections it draws.
FIG5_METHODS: dict[str, str] = {
    "H2O": "h2o_8192_b1_c2048_w32_k7_maxpool",
    "StreamingLLM": "streamingllm_8192_b1_c2048_w32_k7_maxpool",
    "KIVI": "kivi_8192_b1_4bits_group32_residual128",
    "GEAR": "gear_8192_b1_8bits",
}
FIG5_METHOD_SETS: dict[str, list[str]] = {
    "H2O": [FIG5_METHODS["H2O"]],
    "StreamingLLM": [FIG5_METHODS["StreamingLLM"]],
    "KIVI": [FIG5_METHODS["KIVI"]],
    "GEAR": [FIG5_METHODS["GEAR"]],
    "Sparse (C)": [FIG5_METHODS["H2O"], FIG5_METHODS["StreamingLLM"]],
    "Quant (C)": [FIG5_METHODS["KIVI"], FIG5_METHODS["GEAR"]],
}
FIG5_THRESHOLDS_PERCENT: tuple[int, ...] = (1, 2, 4, 8, 10, 16, 24, 32)

# The task list of the paper's Figure 5 script (benchmark_neg/0_ratio_vs_no_negative.py,
# `all_datasets`). It names passage_count twice, and the script sums its counts over this
# list, so the paper's plotted totals count passage_count's negatives twice. Per-task counts
# are unaffected; only totals summed "as the paper plotted them" use these weights.
FIG5_PLOTTED_TASKS: tuple[str, ...] = (
    "2wikimqa", "gov_report", "hotpotqa", "lcc", "multi_news", "multifieldqa_en", "qmsum", "passage_count",
    "passage_retrieval_en", "qasper", "repobench-p", "samsum", "passage_count", "trec", "triviaqa",
)


def paper_plotted_sweep(sweep: pl.DataFrame) -> pl.DataFrame:
    """`sweep` (a `mining.count_sweep` result) with each task's rows repeated as often as the
    paper's Figure 5 script lists the task (`FIG5_PLOTTED_TASKS`; tasks it does not list are
    dropped), so summing over tasks gives the paper's plotted totals."""
    times = Counter(FIG5_PLOTTED_TASKS)
    return pl.concat([sweep.filter(pl.col("task").is_in([t for t, n in times.items() if n >= k]))
                      for k in range(1, max(times.values()) + 1)])

# Longest first, so "multifieldqa_en" wins over a shorter name ending the same way.
_TASKS_LONGEST_FIRST = sorted(LONGBENCH_TASKS, key=len, reverse=True)
_CONFIG_START = re.compile(r"_(?=\d+_b\d+(?:_|$))")


@dataclass(frozen=True)
class ScoreFile:
    """The parts of one score file's name."""

    path: Path
    method: str  # e.g. "h2o", "hf"
    model: str  # e.g. "Meta-Llama-3-8B-instruct"
    config: str  # e.g. "8192_b1_c2048_w32_k7_maxpool"
    task: str  # a LongBench task name

    @property
    def key(self) -> str:
        """The method name used in the long score table: ``<method>_<config>``."""
        return f"{self.method}_{self.config}"


def parse_score_filename(path: str | Path) -> ScoreFile:
    """Split ``<method>_<model>_<config>_<task>_eval.json`` into its parts.

    Raises InputError naming the file when the name does not end in
    ``_eval.json``, ends in no known task, or has no method, model or config.
    """
    path = Path(path)
    name = path.name
    if not name.endswith(SUFFIX):
        raise InputError(f"score file {str(path)!r}: name does not end in {SUFFIX!r}")
    stem = name[: -len(SUFFIX)]
    task = next((t for t in _TASKS_LONGEST_FIRST if stem.endswith("_" + t)), None)
    if task is None:
        raise InputError(
            f"score file {str(path)!r}: name ends in no known LongBench task "
            f"(expected <method>_<model>_<config>_<task>{SUFFIX}; tasks: {', '.join(LONGBENCH_TASKS)})"
        )
    head = stem[: -len(task) - 1]
    method, sep, rest = head.partition("_")
    match = _CONFIG_START.search(rest) if sep else None
    if not method or match is None or match.start() == 0:
        raise InputError(
            f"score file {str(path)!r}: cannot split {head!r} into <method>_<model>_<config> "
            "(the config must start with <length>_b<batch>, e.g. 8192_b1)"
        )
    model, config = rest[: match.start()], rest[match.end() :]
    return ScoreFile(path=path, method=method, model=model, config=config, task=task)


def read_score_file(path: str | Path) -> list[float]:
    """The scores of one file, in list order, after checking every record.

    Raises InputError naming the file (and the record) for: unreadable or
    invalid JSON, a top level that is not a list, a record without an integer
    ``id`` and a numeric ``score``, duplicate ids, an id that is not its list
    position, and a NaN score or one outside [0, 1].
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except OSError as err:
        raise InputError(f"score file {str(path)!r}: cannot read it ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"score file {str(path)!r}: not valid JSON ({err})") from err
    if not isinstance(data, list):
        raise InputError(
            f"score file {str(path)!r}: expected a JSON list of {{id, score}}, got {type(data).__name__}"
        )

    scores: list[float] = []
    seen: set[int] = set()
    for position, record in enumerate(data):
        where = f"score file {str(path)!r}, record {position}"
        if not isinstance(record, dict) or "id" not in record or "score" not in record:
            raise InputError(f"{where}: expected an object with 'id' and 'score', got {record!r}")
        sample_id, score = record["id"], record["score"]
        if not isinstance(sample_id, int) or isinstance(sample_id, bool):
            raise InputError(f"{where}: id must be an integer, got {sample_id!r}")
        if sample_id in seen:
            raise InputError(f"{where}: duplicate id {sample_id}")
        seen.add(sample_id)
        if sample_id != position:
            raise InputError(f"{where}: id {sample_id} is not its list position {position}")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise InputError(f"{where} (id {sample_id}): score must be a number, got {score!r}")
        score = float(score)
        if math.isnan(score):
            raise InputError(f"{where} (id {sample_id}): score is NaN")
        if not (0.0 <= score <= 1.0):
            raise InputError(f"{where} (id {sample_id}): score {score!r} is outside [0, 1]")
        scores.append(score)
    return scores


def scan_score_folder(folder: str | Path) -> list[ScoreFile]:
    """Parse the name of every ``*_eval.json`` file in `folder` (other files are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"score folder {str(folder)!r} does not exist or is not a folder")
    return [
        parse_score_filename(p) for p in sorted(folder.iterdir()) if p.name.endswith(SUFFIX) and p.is_file()
    ]


def load_score_folder(
    folder: str | Path,
    *,
    methods: Iterable[str] | None = None,
    model: str | None = None,
    baseline: str = PAPER_BASELINE,
    tasks: Iterable[str] | None = None,
) -> pl.DataFrame:
    """Load a folder of released score files into the long table (task, sample_id, method, score).

    `methods` restricts loading to these method keys (``<method>_<config>``; the
    baseline is always loaded), `tasks` to these tasks, `model` to one model
    (needed when the folder holds several). Every task loaded must have the
    baseline file, and every file of a task must have the same number of
    records as its baseline; when `methods` is given, each of them must have a
    file for every task loaded. Errors name the file concerned.
    """
    folder = Path(folder)
    files = scan_score_folder(folder)
    if model is not None:
        files = [f for f in files if f.model == model]
    models = sorted({f.model for f in files})
    if len(models) > 1:
        raise InputError(
            f"score folder {str(folder)!r} holds files for several models ({', '.join(models)}); choose one"
        )
    if not files:
        which = f" for model {model!r}" if model is not None else ""
        raise InputError(f"score folder {str(folder)!r} has no *{SUFFIX} score files{which}")
    wanted = None if methods is None else {*methods, baseline}
    if wanted is not None:
        files = [f for f in files if f.key in wanted]
    if tasks is not None:
        task_set = set(tasks)
        files = [f for f in files if f.task in task_set]

    by_task: dict[str, dict[str, ScoreFile]] = {}
    for f in files:
        by_task.setdefault(f.task, {})[f.key] = f
    model_name = models[0] if models else (model or PAPER_MODEL)
    baseline_method, _, baseline_config = baseline.partition("_")

    frames = []
    for task in sorted(by_task, key=_task_order):
        entries = by_task[task]
        if baseline not in entries:
            expected = folder / f"{baseline_method}_{model_name}_{baseline_config}_{task}{SUFFIX}"
            others = ", ".join(sorted(e.path.name for e in entries.values()))
            raise InputError(
                f"score folder has no baseline file {str(expected)!r} for task {task!r} (found {others})"
            )
        if methods is not None:
            for key in methods:
                if key not in entries:
                    method_name, _, config = key.partition("_")
                    expected = folder / f"{method_name}_{model_name}_{config}_{task}{SUFFIX}"
                    raise InputError(
                        f"score file {str(expected)!r} is missing (method {key!r}, task {task!r})"
                    )
        base_scores = read_score_file(entries[baseline].path)
        for key, entry in entries.items():
            values = base_scores if key == baseline else read_score_file(entry.path)
            if len(values) != len(base_scores):
                raise InputError(
                    f"score file {str(entry.path)!r} has {len(values)} records but the baseline "
                    f"{str(entries[baseline].path)!r} has {len(base_scores)} for task {task!r}"
                )
            frames.append(
                pl.DataFrame(
                    {
                        "task": [task] * len(values),
                        "sample_id": range(len(values)),
                        "method": [key] * len(values),
                        "score": values,
                    },
                    schema={
                        "task": pl.String,
                        "sample_id": pl.Int64,
                        "method": pl.String,
                        "score": pl.Float64,
                    },
                )
            )
    if not frames:
        raise InputError(f"score folder {str(folder)!r} has no score files for the methods/tasks asked for")
    return pl.concat(frames)


def _task_order(task: str) -> tuple[int, str]:
    return (LONGBENCH_TASKS.index(task) if task in LONGBENCH_TASKS else len(LONGBENCH_TASKS), task)
