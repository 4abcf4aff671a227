"""`negsamp import-scores`: the paper's released scores as a release; `evaluate` on it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from negsamp.cli import main
from negsamp.dataset import read_manifest, read_rows, verify_dataset

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEGSAMP_SHARED_DATA", ROOT / ".." / "shared" / "data"))
SCORES, RECORDS = DATA / "paper_scores", DATA / "longbench_sample"
needs_shared_data = pytest.mark.skipif(not (SCORES.is_dir() and RECORDS.is_dir()),
                                       reason=f"reference data {DATA} is absent")
QUANT_C = "kivi_8192_b1_4bits_group32_residual128,gear_8192_b1_8bits"
CONFIG = "meta-llama-3-8b-instruct"


def run(argv: list[str]) -> int:
    return main(["import-scores", *argv])


@needs_shared_data
def test_quant_c_mean_rule_gives_the_papers_15_gov_report_rows(tmp_path):
    out = tmp_path / "paper"
    assert run([str(SCORES), "--records", str(RECORDS), "--out", str(out), "--methods", QUANT_C,
                "--statistic", "mean", "-t", "0.1", "--control-per-task", "0"]) == 0
    manifest = verify_dataset(out)
    assert list(manifest.configs) == [CONFIG]
    rows = read_rows(out, config=CONFIG, split="negative")
    index = json.loads((RECORDS / "INDEX.json").read_text())
    assert {r.task for r in rows} == {"gov_report"}
    assert sorted(r.source_index for r in rows) == index["gov_report"]
    records = [json.loads(line) for line in (RECORDS / "gov_report.jsonl").read_text().splitlines()]
    by_position = dict(zip(index["gov_report"], records))
    for row in rows:
        record = by_position[row.source_index]
        assert (row.context, row.input, row.answers, row.length) == \
            (record["context"], record["input"], record["answers"], record["length"])
        assert row.baseline.method == "hf_8192_b1" and row.baseline.prediction == ""
        assert [m.method for m in row.methods] == QUANT_C.split(",")
        assert all(m.negative for m in row.methods)
        assert all(not row.baseline.score * 0.9 < m.score for m in row.methods)
        assert not row.chat_template and row.max_new_tokens >= 512
    card = (out / "README.md").read_text()
    for words in ("paper's own released per-sample scores", "No predictions", "protocol | rethink", "mean"):
        assert words in card
    assert len(manifest.content_hash) == 64

    import datasets

    loaded = datasets.load_dataset(str(out), CONFIG, split="negative")
    assert sorted(loaded["source_index"]) == index["gov_report"]


@needs_shared_data
def test_a_missing_record_is_one_clear_error_unless_skipped(tmp_path, capsys):
    args = [str(SCORES), "--records", str(RECORDS), "--methods", QUANT_C, "--statistic", "mean"]
    assert run([*args, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "record 2 of LongBench task 'gov_report'" in err and "--skip-missing" in err
    assert not (tmp_path / "a").exists()
    assert run([*args, "--out", str(tmp_path / "b"), "--skip-missing"]) == 0
    entry = read_manifest(tmp_path / "b").configs[CONFIG]
    assert entry.generation["skipped_records"] == 30  # 5 control draws x 6 tasks, none in the sample
    assert "Skipped 30 control record(s)" in (tmp_path / "b" / "README.md").read_text()


@needs_shared_data
def test_mode_any_keeps_per_method_flags_so_sparse_and_quant_c_are_row_filters(tmp_path):
    out = tmp_path / "any"
    assert run([str(SCORES), "--records", str(RECORDS), "--out", str(out), "--methods", QUANT_C,
                "--statistic", "mean", "--mode", "any", "--skip-missing", "--control-per-task", "0"]) == 0
    from negsamp import mining, paper_scores

    rows = read_rows(out, config=CONFIG, split="negative")
    quant_c = [r for r in rows if all(m.negative for m in r.methods)]
    assert len(quant_c) == len(rows) == 15  # the sample holds only Quant (C)'s records...
    methods = QUANT_C.split(",")
    union = mining.mine(paper_scores.load_score_folder(SCORES, methods=methods), methods,
                        mining.make_rule(baseline="hf_8192_b1", statistic="mean", mode="any"))
    skipped = read_manifest(out).configs[CONFIG].generation["skipped_records"]
    assert skipped == union.negatives.height - 15 > 0  # ...the union's others are skipped and counted


def fake_release(tmp_path: Path) -> Path:
    """Two real qasper records at positions 0 and 1, with scores that make 0 negative and 1 control."""
    records = tmp_path / "records"
    records.mkdir()
    shutil.copy(RECORDS / "qasper.jsonl", records / "qasper.jsonl")
    (records / "INDEX.json").write_text(json.dumps({"qasper": [0, 1]}))
    scores = tmp_path / "scores"
    scores.mkdir()
    base, method = [1.0, 1.0] + [0.0] * 8, [0.0, 1.0] + [0.0] * 8
    for name, values in (("hf_tiny_512_b1", base), ("kivi_tiny_512_b1_4bits", method)):
        (scores / f"{name}_qasper_eval.json").write_text(
            json.dumps([{"id": i, "score": s} for i, s in enumerate(values)]))
    out = tmp_path / "release"
    # file <method>_<model>_<config>_<task>: keys hf_512_b1 and kivi_512_b1_4bits, model "tiny"
    assert run([str(scores), "--records", str(records), "--out", str(out), "--methods", "kivi_512_b1_4bits",
                "--baseline", "hf_512_b1", "--statistic", "mean"]) == 0
    return out


@needs_shared_data
def test_evaluate_rebuilds_prompts_with_the_rows_protocol_and_the_models_tokenizer(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from negsamp.backends.hf import encode
    from negsamp.evaluator import Evaluation, EvaluationReport
    from negsamp.tasks import get_task
    from negsamp.tasks.longbench_prompts import build_prompt

    dataset = fake_release(tmp_path)
    assert [len(read_rows(dataset, split=s)) for s in ("negative", "control")] == [1, 1]
    out = tmp_path / "eval"
    assert main(["evaluate", "--dataset", str(dataset), "--method", "streamingllm:ratio=0.5", "--model",
                 str(tiny_model_dir), "--out", str(out), "--no-progress"]) == 1  # model mismatch refused
    assert main(["evaluate", "--dataset", str(dataset), "--method", "streamingllm:ratio=0.5", "--model",
                 str(tiny_model_dir), "--allow-model-mismatch", "--out", str(out), "--no-progress"]) == 0
    report = EvaluationReport.model_validate_json((out / "report.json").read_text())
    assert {r.split: r.baseline_score for r in report.samples} == {"negative": 1.0, "control": 1.0}
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    samples = {s.sample_id: s for s in Evaluation(dataset).samples(tokenizer)}
    predictions = [json.loads(line) for line in next((out / "runs").rglob("predictions.jsonl")).read_text().splitlines()]
    assert {p["sample_id"] for p in predictions} == set(samples)
    for prediction in predictions:
        sample = samples[prediction["sample_id"]]
        built = build_prompt(get_task("qasper"), sample.context, sample.input, tokenizer=tokenizer,
                             max_length=512, protocol="rethink", answers=sample.answers)
        assert (sample.prompt, sample.max_new_tokens, sample.protocol) == (built.prompt, built.max_new_tokens, "rethink")
        assert prediction["prompt_tokens"] == len(encode(tokenizer, sample)[0]) <= 512 - 128 + 2
        assert prediction["output_tokens"] <= built.max_new_tokens
