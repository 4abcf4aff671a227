"""Per-sample metrics: LongBench v1 reference cases, our own hand-computed cases, registry, score_frame."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from negsamp import metrics
from negsamp.errors import InputError, UnknownNameError
from negsamp.metrics import METRICS, register_metric, score, score_frame
from negsamp.tasks import registry
from negsamp.tasks.config import TaskConfig
from negsamp.tasks.registry import LONGBENCH_TASKS, get_task, known_tasks, register_task

ROOT = Path(__file__).parents[1]
SHARED_DATA = Path(os.environ.get("NEGSAMP_SHARED_DATA", ROOT / ".." / "shared" / "data"))
OWN_CASES = Path(__file__).parent / "data" / "metric_cases.json"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"reference data folder {SHARED_DATA.resolve()} is absent (a fresh clone has no ../shared)",
)


def _jsonl(name: str) -> list:
    """Cases from a shared JSONL file as pytest params with ids case_id-task; one
    placeholder when ../shared is absent, which `needs_shared` skips."""
    path = SHARED_DATA / name
    if not path.is_file():
        return [pytest.param(None, id="shared-data-absent")]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [pytest.param(row, id=f"{row['case_id']}-{row['task']}") for row in rows]


def _expected(case: dict) -> float:
    # English rouge tasks use rouge-score, not LongBench's `rouge` package: the case
    # file gives that value as rouge_score_pkg (docs/architecture.md, "Scores").
    if get_task(case["task"]).metric == "rouge_score":
        return case["rouge_score_pkg"]
    return case["reference_score"]


@needs_shared
@pytest.mark.parametrize("case", _jsonl("longbench_metric_cases_dev.jsonl"))
def test_longbench_reference_case(case):
    got = score(case["task"], case["prediction"], case["answers"], case["all_classes"])
    assert got == pytest.approx(_expected(case), abs=1e-9, rel=0), case["note"]


@needs_shared
@pytest.mark.parametrize("case", _jsonl("longbench_metric_exception_cases.jsonl"))
def test_longbench_crash_becomes_input_error(case):
    with pytest.raises(InputError) as info:
        score(case["task"], case["prediction"], case["answers"], case["all_classes"])
    assert case["task"] in str(info.value)
    assert not isinstance(info.value, IndexError | TypeError)


def _own_cases():
    cases = json.loads(OWN_CASES.read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=case["name"].replace(" ", "_")) for case in cases]


def _run_own(case: dict) -> float:
    if "task" in case:
        return score(case["task"], case["prediction"], case["answers"], case.get("all_classes"))
    return METRICS[case["metric"]](case["prediction"], case["answers"], case.get("all_classes"))


@pytest.mark.parametrize("case", _own_cases())
def test_own_case(case):
    if "error" in case:
        with pytest.raises(InputError, match=case["error"]) as info:
            _run_own(case)
        assert case.get("task", case.get("metric")) in str(info.value)
    else:
        assert _run_own(case) == pytest.approx(case["expected"], abs=1e-9, rel=0), case["why"]


def test_own_cases_cover_every_metric():
    cases = json.loads(OWN_CASES.read_text(encoding="utf-8"))["cases"]
    covered = {case.get("metric") or get_task(case["task"]).metric for case in cases}
    assert set(METRICS) <= covered


def test_exception_message_names_task_and_problem():
    with pytest.raises(
        InputError, match=r"^passage_retrieval_en: ground truth 'paragraph 12' has no 'Paragraph N'"
    ):
        score("passage_retrieval_en", "Paragraph 12", ["paragraph 12"])


def test_unknown_task_lists_known_ones():
    with pytest.raises(UnknownNameError) as info:
        score("hotpot_qa", "x", ["x"])
    message = str(info.value)
    assert "hotpot_qa" in message
    for name in ("hotpotqa", "repobench-p", "passage_count", "vcsum"):
        assert name in message


@pytest.mark.parametrize(
    "answers",
    ["Paris", None, [1], ["Paris", None], {"Paris"}],
    ids=["str", "none", "int", "none-item", "set"],
)
def test_answers_must_be_list_of_strings(answers):
    with pytest.raises(InputError, match="hotpotqa: answers must be a list of strings"):
        score("hotpotqa", "Paris", answers)


def test_prediction_and_classes_types():
    with pytest.raises(InputError, match="trec: prediction must be a string"):
        score("trec", None, ["City"], ["City"])
    with pytest.raises(InputError, match="trec: all_classes must be a list of strings or null"):
        score("trec", "City", ["City"], "City")


def test_empty_answers_score_zero_as_in_longbench():
    # eval.py's max over ground truths starts at 0.0; LongBench never raises here.
    assert score("hotpotqa", "Paris", []) == 0.0
    assert score("passage_retrieval_en", "Paragraph 1", []) == 0.0


def test_first_line_only_for_few_shot_tasks():
    assert score("triviaqa", "\nParis\nRome", ["Rome"]) == 0.0
    assert score("hotpotqa", "\nParis\nRome", ["Rome"]) == pytest.approx(2 / 3)


def test_rouge_zh_recursion_limit_quirk():
    # rouge 1.0.1 backtracks its LCS recursively; under eval.py a walk longer
    # than 990 frames raises RecursionError, which LongBench scores 0.0.
    # "x b0 ... b{n-1}" against "x y" walks n + 3 frames.
    def pair(n):
        return "x " + " ".join(f"b{i}" for i in range(n)), ["x y"]

    p, r = 1 / 988, 1 / 2  # one common word: 988 prediction words, 2 reference words
    assert score("vcsum", *pair(987)) == pytest.approx(2.0 * ((p * r) / (p + r + 1e-8)), abs=1e-15)
    assert score("vcsum", *pair(988)) == 0.0
    assert score("dureader", *pair(988)) == 0.0


def test_metrics_import_no_model_code():
    code = (
        "import sys, negsamp.metrics; bad = {'torch', 'transformers'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- registry


def test_longbench_tasks_registered_with_paper_categories():
    groups = {
        "QA": {
            "narrativeqa",
            "qasper",
            "multifieldqa_en",
            "multifieldqa_zh",
            "hotpotqa",
            "2wikimqa",
            "musique",
            "dureader",
        },
        "Summarization": {"gov_report", "qmsum", "multi_news", "vcsum"},
        "Few-shot": {"trec", "triviaqa", "samsum", "lsht"},
        "Synthetic": {"passage_count", "passage_retrieval_en", "passage_retrieval_zh"},
        "Code": {"lcc", "repobench-p"},
    }
    assert set(LONGBENCH_TASKS) == set().union(*groups.values())
    assert set(LONGBENCH_TASKS) <= set(known_tasks())
    for category, names in groups.items():
        for name in names:
            info = get_task(name)
            assert info.category == category
            assert info.metric in METRICS
            assert info.language == (
                "zh"
                if name in {"multifieldqa_zh", "dureader", "vcsum", "lsht", "passage_retrieval_zh"}
                else "en"
            )
            assert info.first_line == (name in {"trec", "triviaqa", "samsum", "lsht"})


def test_task_info_is_frozen_and_checked():
    info = get_task("lcc")
    with pytest.raises(AttributeError):
        info.metric = "qa_f1_score"
    with pytest.raises(ValueError, match="category"):
        TaskConfig("x", "qa_f1_score", "", "en")


def test_register_task_conflict(monkeypatch):
    monkeypatch.setattr(registry, "_extra", {})
    register_task(get_task("lcc"))  # same info again: fine
    with pytest.raises(ValueError, match="already registered"):
        register_task(TaskConfig("lcc", "qa_f1_score", "Code", "en"))
    register_task(TaskConfig("lcc", "qa_f1_score", "Code", "en"), replace=True)
    assert get_task("lcc").metric == "qa_f1_score"


def test_new_task_with_ruler_metric(monkeypatch):
    monkeypatch.setattr(registry, "_extra", {})
    register_task(TaskConfig("niah_multikey", "string_match_all", "Synthetic", "en"))
    assert "niah_multikey" in known_tasks()
    assert score("niah_multikey", "keys: 11, 22", ["11", "22", "33"]) == pytest.approx(2 / 3)


def test_register_metric(monkeypatch):
    monkeypatch.setattr(metrics, "METRICS", dict(METRICS))
    monkeypatch.setattr(registry, "_extra", {})
    register_metric("exact", lambda pred, gt, classes: float(pred == gt), per_answer=True)
    with pytest.raises(ValueError, match="already registered"):
        register_metric("exact", lambda pred, answers, classes: 0.0)
    register_task(TaskConfig("toy", "exact", "QA", "en"))
    assert score("toy", "b", ["a", "b"]) == 1.0
    assert score("toy", "c", ["a", "b"]) == 0.0


def test_count_score_takes_an_integer_ground_truth_as_longbench_does():
    # LongBench's count_score compares against str(ground_truth).
    assert score("passage_count", "There are 13 unique paragraphs.", [13]) == 1.0
    assert score("passage_count", "13 or 14", [13]) == 0.5
    assert score("passage_count", "013", [13]) == 0.0
    assert score("passage_count", "13", [13]) == score("passage_count", "13", ["13"])
    with pytest.raises(InputError, match="answers must be a list of strings"):
        score("hotpotqa", "13", [13])  # only count_score stringifies
    frame = score_frame(pl.DataFrame({"sample_id": ["a"], "task": ["passage_count"], "prediction": ["7"],
                                      "answers": [[7]]}))
    assert frame["score"].to_list() == [1.0]


def test_registry_is_built_by_one_function_without_import_side_effects():
    # Importing builds nothing; the registry is what build_registry() returns, the same twice.
    code = ("import negsamp.metrics, negsamp.tasks.registry as r; assert r._builtin.cache_info().currsize == 0; "
            "t = r.build_registry(); assert t == r.build_registry() and len(t) == 27; "
            "assert t['gov_report'].max_new_tokens == 512 and t['passkey'].metric == 'string_match_all'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_task_with_unregistered_metric(monkeypatch):
    monkeypatch.setattr(registry, "_extra", {})
    register_task(TaskConfig("toy", "no_such_metric", "QA", "en"))
    with pytest.raises(InputError, match="toy: its metric 'no_such_metric' is not registered"):
        score("toy", "a", ["a"])


# --------------------------------------------------------------------------- score_frame


def _frame(**overrides) -> pl.DataFrame:
    data = {
        "sample_id": ["s1", "s2", "s3"],
        "task": ["hotpotqa", "trec", "passage_count"],
        "prediction": ["Paris", "City or Country", "13 or 14"],
        "answers": [["Paris"], ["Country"], ["13"]],
        "all_classes": [None, ["City", "Country"], None],
    }
    data.update(overrides)
    return pl.DataFrame(data)


def test_score_frame():
    out = score_frame(_frame())
    assert out.schema["score"] == pl.Float64
    assert out.get_column("score").to_list() == [1.0, 0.5, 0.5]
    assert out.columns[:-1] == _frame().columns


def test_score_frame_without_all_classes_column():
    out = score_frame(_frame().drop("all_classes").head(1))
    assert out.get_column("score").to_list() == [1.0]


def test_score_frame_empty():
    out = score_frame(_frame().head(0))
    assert out.height == 0 and out.schema["score"] == pl.Float64


def test_score_frame_missing_column():
    with pytest.raises(InputError, match="missing column\\(s\\) 'answers'"):
        score_frame(_frame().drop("answers"))


def test_score_frame_wrong_dtype():
    with pytest.raises(InputError, match="column 'answers' must be"):
        score_frame(_frame(answers=["Paris", "Country", "13"]))


def test_score_frame_unknown_task():
    with pytest.raises(UnknownNameError, match="known tasks: .*hotpotqa"):
        score_frame(_frame(task=["hotpotqa", "trec", "nope"]))


def test_score_frame_bad_row_names_sample():
    frame = _frame(
        task=["hotpotqa", "trec", "passage_retrieval_en"], answers=[["Paris"], ["Country"], ["p 3"]]
    )
    with pytest.raises(InputError, match="sample 's3': passage_retrieval_en: ground truth 'p 3'"):
        score_frame(frame)
    with pytest.raises(InputError, match="sample 's2': trec: all_classes is missing"):
        score_frame(_frame(all_classes=[None, None, None]))
