"""Task registry: which metric scores a task, and how the paper groups it.

A task is known by its name (LongBench's dataset name, e.g. ``"hotpotqa"`` or
``"repobench-p"``). The metric is a *name* looked up in ``negsamp.metrics.METRICS``,
so this module imports nothing from the scoring code and other task sources
(synthetic RULER-style tasks, ...) can register themselves beside LongBench's.
"""

from __future__ import annotations

from dataclasses import dataclass

from negsamp.errors import UnknownNameError

# The paper's (and LongBench's) task categories.
CATEGORIES = ("QA", "Summarization", "Few-shot", "Synthetic", "Code")


@dataclass(frozen=True)
class TaskInfo:
    """What the scorer needs to know about a task.

    ``first_line``: score only the first line of the prediction (after leading
    newlines are stripped), as LongBench's eval.py does for the few-shot tasks
    trec, triviaqa, samsum and lsht, whose models tend to continue the
    few-shot pattern on later lines.
    """

    name: str
    metric: str
    category: str
    language: str
    first_line: bool = False

    def __post_init__(self) -> None:
        for field in ("name", "metric", "category", "language"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"TaskInfo.{field} must be a non-empty string, got {value!r}")
        if not isinstance(self.first_line, bool):
            raise ValueError(f"TaskInfo.first_line must be a bool, got {self.first_line!r}")


_TASKS: dict[str, TaskInfo] = {}


def register_task(info: TaskInfo, *, replace: bool = False) -> TaskInfo:
    """Add a task. Registering the same info twice is a no-op; a different info
    under a known name is refused unless ``replace=True``."""
    if not isinstance(info, TaskInfo):
        raise TypeError(f"register_task expects a TaskInfo, got {type(info).__name__}")
    old = _TASKS.get(info.name)
    if old is not None and old != info and not replace:
        raise ValueError(f"task {info.name!r} is already registered as {old}; pass replace=True to change it")
    _TASKS[info.name] = info
    return info


def get_task(name: str) -> TaskInfo:
    """The registered task called ``name``; UnknownNameError lists the known ones."""
    try:
        return _TASKS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(f"unknown task {name!r}; known tasks: {', '.join(known_tasks())}") from None


def known_tasks() -> list[str]:
    """Names of all registered tasks, sorted."""
    return sorted(_TASKS)


# LongBench v1, with the metric eval.py's dataset2metric gives each dataset.
_LONGBENCH = [
    # (name, metric, category, language, first_line)
    ("narrativeqa", "qa_f1_score", "QA", "en", False),
    ("qasper", "qa_f1_score", "QA", "en", False),
    ("multifieldqa_en", "qa_f1_score", "QA", "en", False),
    ("multifieldqa_zh", "qa_f1_zh_score", "QA", "zh", False),
    ("hotpotqa", "qa_f1_score", "QA", "en", False),
    ("2wikimqa", "qa_f1_score", "QA", "en", False),
    ("musique", "qa_f1_score", "QA", "en", False),
    ("dureader", "rouge_zh_score", "QA", "zh", False),
    ("gov_report", "rouge_score", "Summarization", "en", False),
    ("qmsum", "rouge_score", "Summarization", "en", False),
    ("multi_news", "rouge_score", "Summarization", "en", False),
    ("vcsum", "rouge_zh_score", "Summarization", "zh", False),
    ("trec", "classification_score", "Few-shot", "en", True),
    ("triviaqa", "qa_f1_score", "Few-shot", "en", True),
    ("samsum", "rouge_score", "Few-shot", "en", True),
    ("lsht", "classification_score", "Few-shot", "zh", True),
    ("passage_count", "count_score", "Synthetic", "en", False),
    ("passage_retrieval_en", "retrieval_score", "Synthetic", "en", False),
    ("passage_retrieval_zh", "retrieval_zh_score", "Synthetic", "zh", False),
    ("lcc", "code_sim_score", "Code", "en", False),
    ("repobench-p", "code_sim_score", "Code", "en", False),
]

LONGBENCH_TASKS = tuple(row[0] for row in _LONGBENCH)

for _name, _metric, _category, _language, _first_line in _LONGBENCH:
    register_task(TaskInfo(_name, _metric, _category, _language, first_line=_first_line))
