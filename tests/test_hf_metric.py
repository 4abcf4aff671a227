"""The scorer as a Hugging Face `evaluate` metric: loaded offline from the package, checked
against LongBench's reference cases, and kept out of every other import path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The same reference folder as tests/test_metrics.py (NEGSAMP_SHARED_DATA overrides ../shared/data).
SHARED_DATA = Path(os.environ.get("NEGSAMP_SHARED_DATA", Path(__file__).parents[1] / ".." / "shared" / "data"))
SHARED_CASES = SHARED_DATA / "longbench_metric_cases_dev.jsonl"


@pytest.fixture(scope="module")
def metric():
    evaluate = pytest.importorskip("evaluate", reason="evaluate is a test-only dependency (the dev extra)")
    from negsamp.hf_metric import metric_path

    return evaluate.load(metric_path())


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")


def test_metric_ships_inside_the_package():
    from negsamp.hf_metric import metric_path

    path = Path(metric_path())
    assert path.is_file() and path.parent.parent.name == "negsamp"


def test_scores_match_longbench_reference_cases(metric):
    if not SHARED_CASES.is_file():
        pytest.skip(f"reference cases {SHARED_CASES} are absent (a fresh clone has no ../shared)")
    cases = [json.loads(line) for line in SHARED_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = metric.compute(predictions=[c["prediction"] for c in cases], references=[c["answers"] for c in cases],
                            task=[c["task"] for c in cases], all_classes=[c["all_classes"] for c in cases])
    # English rouge tasks use the rouge-score package, whose value the case file gives as rouge_score_pkg.
    expected = [c["rouge_score_pkg"] if c["metric"] == "rouge_score" else c["reference_score"] for c in cases]
    assert result["scores"] == pytest.approx(expected, abs=1e-9, rel=0)
    assert len(result["scores"]) == len(cases) > 20


def test_recovered_follows_the_rules_exact_float64_form(metric):
    from negsamp.mining import MiningRule

    # b = 1.0, o = 0.92, t = 0.08: 1.0 * (1 - 0.08) is 0.92 in float64, so not (0.92 < 0.92): still negative.
    predictions = ["Paris", "Rome", "the answer is Paris indeed"]
    references = [["Paris"], ["Paris"], ["Paris"]]
    result = metric.compute(predictions=predictions, references=references, task="hotpotqa",
                            baseline_scores=[1.0, 1.0, 0.5], t=0.08)
    rule = MiningRule(t=0.08)
    assert result["recovered"] == [not rule.is_negative(b, o) for b, o in zip([1.0, 1.0, 0.5], result["scores"])]
    assert result["recovered"][:2] == [True, False]
    assert result["recovery_rate"] == pytest.approx(sum(result["recovered"]) / 3)
    assert result["relative_score"] == pytest.approx(result["mean_score"] / (2.5 / 3))
    boundary = metric.compute(predictions=["a b c d e f g h i j k l"], references=[["a b c d e f g h i j k l m n"]],
                              task="hotpotqa", baseline_scores=[1.0], t=0.5)
    assert boundary["recovered"] == [not MiningRule(t=0.5).is_negative(1.0, boundary["scores"][0])]


def test_without_baseline_scores_only_scores(metric):
    result = metric.compute(predictions=["12345"], references=[["12345"]], task="passkey")
    assert result == {"scores": [1.0], "mean_score": 1.0}


def test_importing_negsamp_and_its_cli_does_not_import_evaluate():
    code = (
        "import sys, negsamp, negsamp.hf_metric, negsamp.scoring, negsamp.evaluator, negsamp.build\n"
        "from negsamp.cli import build_parser\n"
        "build_parser()\n"
        "assert 'evaluate' not in sys.modules, 'evaluate was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
