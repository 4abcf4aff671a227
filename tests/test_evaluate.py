"""`negsamp evaluate`: reports from predictions and from a method run, and bad input.

Predictions mode runs on a hand-made dataset (no model); method mode on a dataset
built with a tiny random model (see test_build.py), so it measures real KV bytes.
"""

from __future__ import annotations

import json

import pytest
from conftest import write_tiny_recipe
from dataset_factory import control_rows, negative_rows, write_example

from negsamp.cli import main
from negsamp.evaluator import EvaluationReport

ALL_ROWS = negative_rows() + control_rows()


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "dataset"
    write_example(folder)
    return folder


def write_predictions(path, rows, answer=lambda r: r.answers[0], **extra):
    with open(path, "w", encoding="utf-8") as handle:
        for r in rows:
            handle.write(json.dumps({"sample_id": r.sample_id, "prediction": answer(r), **extra}) + "\n")
    return path


def test_correct_predictions_recover_every_negative_and_keep_control(dataset, tmp_path, capsys):
    preds = write_predictions(tmp_path / "p.jsonl", ALL_ROWS, output_tokens=12)
    out = tmp_path / "out"
    assert main(["evaluate", "--dataset", str(dataset), "--predictions", str(preds), "--out", str(out),
                 "--submission", str(tmp_path / "sub.json")]) == 0
    report = EvaluationReport.model_validate_json((out / "report.json").read_text())
    qa = next(g for g in report.by_task if g.group == "hotpotqa")
    assert (qa.negatives, qa.recovered, qa.control, qa.control_retained) == (2, 2, 1, 1)
    # The factory's trec answers are not in its label set, so LongBench's classification
    # score is 0 whatever is predicted: nothing recovered there.
    trec = next(g for g in report.by_task if g.group == "trec")
    assert (trec.negatives, trec.recovered, trec.control, trec.control_retained) == (1, 0, 1, 0)
    assert report.overall.recovered == 2 and report.overall.recovery_rate == pytest.approx(2 / 3)
    assert report.overall.kv_kept is None
    assert report.source == "predictions" and not report.model_mismatch
    assert {g.group for g in report.by_task} == {"hotpotqa", "trec"}
    assert {g.group for g in report.by_category} == {"QA", "Few-shot"}
    assert report.length_shift is not None and report.length_shift.samples == 5
    assert (out / "report.md").is_file() and (out / "figures" / "recovery_per_task.png").is_file()
    assert (out / "figures" / "length_shift.png").is_file()
    assert "negatives recovered: 2/3 (66.7%)" in capsys.readouterr().out
    submission = json.loads((tmp_path / "sub.json").read_text())
    assert len(submission["predictions"]) == 5 and submission["report"]["samples"] == []


def test_wrong_predictions_recover_nothing_and_lose_control(dataset, tmp_path):
    preds = write_predictions(tmp_path / "p.jsonl", ALL_ROWS, answer=lambda r: "nothing like it")
    out = tmp_path / "out"
    assert main(["evaluate", "--dataset", str(dataset), "--predictions", str(preds), "--out", str(out)]) == 0
    report = EvaluationReport.model_validate_json((out / "report.json").read_text())
    assert report.overall.recovered == 0 and report.overall.control_retained == 0
    assert report.overall.relative_score == 0.0
    # Without output_tokens there is no length comparison rather than a made-up one.
    assert report.overall.output_length_ratio is None and report.length_shift is None


def run_failing(capsys, args, out):
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written to OUTDIR on bad input"
    return err


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (lambda rows: rows[:-1], "no prediction for 1 of the dataset"),
        (lambda rows: rows + rows[:1], "appears twice"),
        (lambda rows: [*rows, {"sample_id": "nope", "prediction": "x"}], "'nope' is not a sample of the dataset"),
        (lambda rows: [{**rows[0], "prediction": 5}, *rows[1:]], ", line 1: field 'prediction'"),
        (lambda rows: [{**rows[0], "output_tokens": "12"}, *rows[1:]], ", line 1: field 'output_tokens'"),
    ],
    ids=["missing", "duplicate", "unknown", "wrong-type", "wrong-type-tokens"],
)
def test_bad_prediction_files_are_named_and_nothing_is_written(dataset, tmp_path, capsys, lines, message):
    rows = [{"sample_id": r.sample_id, "prediction": r.answers[0]} for r in ALL_ROWS]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines(rows)), encoding="utf-8")
    out = tmp_path / "out"
    err = run_failing(capsys, ["evaluate", "--dataset", str(dataset), "--predictions", str(path), "--out",
                               str(out)], out)
    assert "p.jsonl" in err and message in err


def test_non_utf8_line_is_named(dataset, tmp_path, capsys):
    path = write_predictions(tmp_path / "p.jsonl", ALL_ROWS)
    with open(path, "ab") as handle:
        handle.write(b'{"sample_id": "\xff\xfe", "prediction": "x"}\n')
    out = tmp_path / "out"
    err = run_failing(capsys, ["evaluate", "--dataset", str(dataset), "--predictions", str(path), "--out",
                               str(out)], out)
    assert "p.jsonl, line 6: not valid UTF-8" in err


def test_bad_datasets_and_methods_are_refused_before_anything_runs(dataset, tmp_path, capsys):
    preds = write_predictions(tmp_path / "p.jsonl", ALL_ROWS)
    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    err = run_failing(capsys, ["evaluate", "--dataset", str(empty), "--predictions", str(preds), "--out",
                               str(out)], out)
    assert "manifest.json: missing" in err
    err = run_failing(capsys, ["evaluate", "--dataset", str(dataset), "--config", "nosuch", "--predictions",
                               str(preds), "--out", str(out)], out)
    assert "unknown config 'nosuch'" in err
    err = run_failing(capsys, ["evaluate", "--dataset", str(dataset), "--method", "nosuch:ratio=0.5", "--out",
                               str(out)], out)
    assert "nosuch" in err
    parquet = next((dataset / "data").rglob("negative.parquet"))
    control = next((dataset / "data").rglob("control.parquet"))
    parquet.write_bytes(control.read_bytes())  # valid rows, wrong content
    err = run_failing(capsys, ["evaluate", "--dataset", str(dataset), "--predictions", str(preds), "--out",
                               str(out)], out)
    assert "negative.parquet" in err


def test_another_model_needs_an_explicit_flag(dataset, tmp_path, capsys):
    preds = write_predictions(tmp_path / "p.jsonl", ALL_ROWS)
    out = tmp_path / "out"
    err = run_failing(capsys, ["evaluate", "--dataset", str(dataset), "--predictions", str(preds), "--model",
                               "other-model", "--out", str(out)], out)
    assert "--allow-model-mismatch" in err
    assert main(["evaluate", "--dataset", str(dataset), "--predictions", str(preds), "--model", "other-model",
                 "--allow-model-mismatch", "--out", str(out)]) == 0
    report = EvaluationReport.model_validate_json((out / "report.json").read_text())
    assert report.model_mismatch and report.model == "other-model"
    assert "differs from the dataset" in (out / "report.md").read_text()


def test_method_mode_runs_the_method_and_measures_kv(tmp_path, tiny_model_dir):
    from negsamp.build import build
    from negsamp.evaluator import evaluate_method
    from negsamp.recipe import load_recipe

    recipe = load_recipe(write_tiny_recipe(tmp_path / "recipe.yaml", tiny_model_dir))
    built = build(recipe, tmp_path / "build", progress=False)
    report = evaluate_method(built.dataset_dir, "snapkv:ratio=0.5", tmp_path / "eval", progress=False)
    assert report.source == "method" and report.method.startswith("snapkv:ratio=0.5")
    n = built.manifest.configs["tiny"].splits
    assert report.overall.negatives == n["negative"].rows and report.overall.control == n["control"].rows
    # KV kept is measured from the caches: SnapKV at ratio 0.5 holds about half the baseline's bytes.
    assert report.overall.kv_kept == pytest.approx(0.5, abs=0.02)
    assert report.overall.output_tokens_mean is not None


def test_throughput_is_attached_for_a_method_and_refused_for_predictions(tmp_path, tiny_model_dir, capsys):
    from negsamp.build import build
    from negsamp.recipe import load_recipe

    recipe = load_recipe(write_tiny_recipe(tmp_path / "recipe.yaml", tiny_model_dir))
    built = build(recipe, tmp_path / "build", progress=False)
    out = tmp_path / "eval"
    assert main(["evaluate", "--dataset", str(built.dataset_dir), "--method", "tova:ratio=0.5", "--out",
                 str(out), "--throughput", "--no-progress"]) == 0
    report = EvaluationReport.model_validate_json((out / "report.json").read_text())
    throughput = report.throughput
    assert throughput.version == 2 and throughput.method == report.method and throughput.ratio > 0
    assert throughput.lengths.samples == report.overall.negatives + report.overall.control
    assert "## Throughput" in (out / "report.md").read_text()
    check_throughput_kv_matches_evaluate(built.dataset_dir, tiny_model_dir, tmp_path)

    preds = write_predictions(tmp_path / "p.jsonl", [])
    out2 = tmp_path / "eval2"
    assert main(["evaluate", "--dataset", str(built.dataset_dir), "--predictions", str(preds), "--out",
                 str(out2), "--throughput"]) == 1
    assert "--throughput needs --method" in capsys.readouterr().err
    assert not out2.exists()


def check_throughput_kv_matches_evaluate(dataset_dir, model_dir, tmp_path):
    """`throughput` on a prompt of a sample's length and split holds the KV bytes `evaluate` recorded for it."""
    from negsamp.backends.hf import encode
    from negsamp.evaluator import Evaluation, evaluate_method
    from negsamp.models import load_tokenizer
    from negsamp.throughput import measure_throughput

    spec = "streamingllm:ratio=0.5,compress=context"
    report = evaluate_method(dataset_dir, spec, tmp_path / "eval-ctx", progress=False)
    sample = Evaluation(dataset_dir).samples()[0]
    ids, split = encode(load_tokenizer(str(model_dir)), sample)
    recorded = next(r for r in report.samples if r.sample_id == sample.sample_id).kv_bytes_prefill
    run = measure_throughput(str(model_dir), spec, batch_sizes=[1], prompt_len=len(ids), question_len=len(ids) - split,
                             gen_len=2, repeats=1, warmup=0)
    assert 0 < split < len(ids)
    assert run.results[0].method.kv_bytes_prefill == recorded
    assert recorded < run.results[0].baseline.kv_bytes_prefill
