"""The throughput predictor, the length predictor and `negsamp plan`, on small fixtures."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from negsamp.cli import main
from negsamp.errors import InputError
from negsamp.predict.heldout import extrapolate, plain_predict
from negsamp.predict.points import Point, read_csv
from negsamp.predict.roofline import batch_that_fits, hardware, method_cost, model_shape
from negsamp.predict.throughput import features, fit_throughput, predict_thr

DATA = Path(__file__).parent / "data" / "predict"
A6000 = DATA / "a6000_subset.csv"
SHAPE = model_shape("llama-2-7b")
HW = hardware("a6000")


def test_kv_bytes_follow_the_methods_parameters():
    full = method_cost("none").kv_bytes(SHAPE, 4096)
    assert full == 4096 * 2 * 32 * 32 * 128 * 2  # keys + values, 32 layers, 32 heads of 128, fp16
    kivi = method_cost("kivi:bits=4,group=32,residual=128").kv_bytes(SHAPE, 4096)
    # 128 fp16 tokens + the rest at 4 bits plus an fp16 scale and zero per 32 elements
    assert kivi == pytest.approx((128 * 2 + 3968 * (0.5 + 4 / 32)) / (4096 * 2) * full)
    assert method_cost("KIVI-4").kv_bytes(SHAPE, 4096) == pytest.approx((0.5 + 4 / 32) / 2 * full)  # no window
    assert method_cost("h2o:budget=512").kv_bytes(SHAPE, 4096) == full / 8
    assert method_cost("h2o:budget=512").kv_bytes(SHAPE, 256) == method_cost("none").kv_bytes(SHAPE, 256)
    assert method_cost("streamingllm:ratio=0.75").kv_bytes(SHAPE, 4096) == pytest.approx(full / 4)
    assert full / 4 < method_cost("GEAR-4").kv_bytes(SHAPE, 4096) < full / 2


def test_model_shape_from_a_config_folder(tmp_path):
    config = {"num_attention_heads": 4, "hidden_size": 64, "num_hidden_layers": 2, "num_key_value_heads": 2,
              "intermediate_size": 128, "vocab_size": 100}
    (tmp_path / "config.json").write_text(json.dumps(config))
    shape = model_shape(str(tmp_path))
    assert (shape.layers, shape.head_dim, shape.kv_elements) == (2, 16, 2 * 2 * 2 * 16)
    with pytest.raises(InputError, match="no known shape"):
        model_shape(str(tmp_path / "missing"))


def test_batch_that_fits_is_the_largest_that_fits():
    method = method_cost("none")
    memory = 40e9
    batch = batch_that_fits(SHAPE, method, 2048, memory)
    free = memory * 0.9 - SHAPE.weight_bytes()
    assert batch * method.kv_bytes(SHAPE, 2048) <= free < (batch + 1) * method.kv_bytes(SHAPE, 2048)


def _synthetic(method: str, lengths, coef, alpha=2.0, noise=0.0, seed=0) -> list[Point]:
    """Points generated exactly from the predictor's own form (plus multiplicative noise)."""
    rng = random.Random(seed)
    points = []
    for stage in ("prefill", "decoding"):
        for bsz in (1, 2, 4, 8, 16):
            for length in lengths:
                row = features(SHAPE, HW, method_cost(method), stage, bsz, length, alpha)
                seconds = float(row @ np.array(coef[stage])) * (1 + rng.uniform(-noise, noise))
                tokens = bsz * length if stage == "prefill" else bsz
                points.append(Point(method, bsz, length, stage, tokens / seconds))
    return points


def test_fit_recovers_the_correction_it_was_generated_from():
    coef = {"prefill": [0.5, 1.3], "decoding": [1.5, 2.0, 1.2]}
    points = _synthetic("none", (256, 512, 1024), coef)
    model = fit_throughput(points, SHAPE, HW)
    fits = {f.stage: f for f in model.fits}
    assert fits["decoding"].coef == pytest.approx(coef["decoding"], rel=1e-3)
    assert fits["prefill"].coef == pytest.approx(coef["prefill"], rel=2e-2)
    assert fits["prefill"].alpha == pytest.approx(2.0, rel=0.1)


def test_eviction_budget_extrapolates_where_a_linear_cost_model_cannot():
    # StreamingLLM at a 512-token budget: decoding time stops growing past 512 tokens.
    coef = {"prefill": [0.5, 1.3], "decoding": [1.5, 2.0, 1.2]}
    points = _synthetic("streamingllm:budget=512", (256, 384, 512, 768, 1024, 4096), coef, noise=0.01)
    rows = {(r.method, r.stage): r for r in extrapolate(points, 1024, SHAPE, HW)}
    decoding = rows[("streamingllm:budget=512", "decoding")]
    assert decoding.ours < 1.5
    assert decoding.plain > 3 * decoding.ours


def test_a6000_subset_longer_prompts_within_ten_percent():
    points = read_csv(A6000)
    rows = extrapolate(points, 1024, SHAPE, HW)
    assert {(r.method, r.stage) for r in rows} == {(m, s) for m in ("None-16", "StreamingLLM-16")
                                                   for s in ("prefill", "decoding")}
    for r in rows:
        assert r.ours < 10, r


def test_plain_cost_model_is_least_squares_on_relative_error():
    train = [Point("m", b, n, "decoding", b / (0.03 + 0.001 * b + 1e-6 * b * n)) for b in (1, 4, 16)
             for n in (256, 1024)]
    predicted = plain_predict(train, [Point("m", 8, 2048, "decoding")])
    assert predicted[0] == pytest.approx(0.03 + 0.008 + 1e-6 * 8 * 2048)


def test_cli_fits_and_answers_the_query(tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main(["predict-throughput", "--fit", str(A6000), "--query", str(DATA / "query.csv"),
                 "--out", str(out), "--holdout-above", "1100", "--save-fit", str(tmp_path / "fit.json")]) == 0
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["version"] == 1 and len(fit["fits"]) == 4
    text = capsys.readouterr().out
    assert "held out: prompts longer than 1100" in text and "None-16" in text
    rows = list(csv.DictReader(out.open()))
    assert [r["method"] for r in rows] == ["None-16", "StreamingLLM-16", "None-16", "kivi:bits=4"]
    thr = [float(r["thr"]) for r in rows]
    assert all(t > 0 for t in thr)
    assert thr[1] > thr[0] * 1.5  # budgeted KV at 4096 tokens decodes much faster than the full cache
    measured = [p.thr for p in read_csv(A6000) if (p.method, p.bsz, p.prompt_len, p.stage) == ("None-16", 4, 2048, "prefill")]
    assert thr[2] == pytest.approx(measured[0], rel=0.1)


def test_a_method_without_data_gets_the_baselines_correction():
    points = read_csv(A6000)
    model = fit_throughput(points, SHAPE, HW)
    none, kivi = predict_thr(model, SHAPE, HW, [Point("None-16", 16, 4096, "decoding"),
                                                Point("kivi:bits=4", 16, 4096, "decoding")])
    assert kivi > none  # fewer KV bytes read per step under the baseline's efficiency


def test_bad_rows_are_one_line_naming_file_row_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("method,bsz,prompt_len,stage,thr\nnone,4,512,prefill,100\nnone,four,512,prefill,100\n")
    assert main(["predict-throughput", "--fit", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv, row 2: field 'bsz'" in err
    bad.write_text("method,bsz,prompt_len,stage\nkivi:bits=2,group=32,4,512,decoding\n")
    with pytest.raises(InputError, match="row 1: more fields than the header.*quote method specs"):
        read_csv(bad, need_thr=False)
    bad.write_text("method,bsz,prompt_len,stage,thr\nnone,4,512,warmup,100\n")
    with pytest.raises(InputError, match="row 1: field 'stage'"):
        read_csv(bad)


def test_throughput_json_of_our_own_measurements(tmp_path):
    report = DATA / "throughput_smollm2.json"
    if not report.exists():
        pytest.skip("fixture throughput_smollm2.json not generated")
    from negsamp.predict.points import read_throughput_json

    points = read_throughput_json(report)
    data = json.loads(report.read_text())
    measured = [r for r in data["runs"] if not r["warmup"]]
    assert len(points) == 2 * len(measured)
    assert {p.method for p in points} == {data["baseline"], data["method"]}
    first = measured[0]
    prefill = next(p for p in points if p.stage == "prefill")
    assert prefill.thr == pytest.approx(first["batch_size"] * data["prompt_len"] / first["prefill_s"])


def _store(root: Path, n: int = 24) -> Path:
    """A run store where StreamingLLM doubles outputs on `talk` and leaves `quiz` alone; KIVI changes nothing."""
    from negsamp.records import Prediction
    from negsamp.runs import RunStore

    store = RunStore(root)
    rng = random.Random(0)
    base = {f"s{i}": (("talk", "quiz")[i % 2], 100 + 20 * i, 10 + rng.randrange(20)) for i in range(n)}
    lengths = {
        "none": lambda task, b: b,
        "streamingllm:ratio=0.5": lambda task, b: 2 * b if task == "talk" else b,
        "kivi:bits=2,group=32,residual=32": lambda task, b: b,
    }
    for method, length in lengths.items():
        run = store.run("tiny", method)
        run.directory.mkdir(parents=True)
        run.write_manifest()
        run.append(Prediction(sample_id=sid, task=task, model="tiny", method=method, prediction="x",
                              output_tokens=length(task, b), hit_eos=True, prompt_tokens=prompt,
                              kv_bytes_prefill=1, kv_bytes_end=1, prefill_s=0.1, decode_s=0.1)
                   for sid, (task, prompt, b) in base.items())
    return root


def test_length_predictor_learns_what_a_constant_ratio_cannot(tmp_path):
    from negsamp.predict.length import heldout_length_errors, read_run_stores

    rows = read_run_stores([_store(tmp_path / "runs")])
    assert len(rows) == 48
    errors = heldout_length_errors(rows)
    assert errors.mae_log_ratio < 0.1
    assert errors.mae_log_ratio < errors.mae_log_ratio_constant / 2  # a method-wide ratio misses the task
    assert errors.mae_tokens < errors.mae_tokens_constant / 3
    assert errors.importances["task=quiz"] + errors.importances["task=talk"] > 0.3


def test_predict_length_cli_query(tmp_path, capsys):
    runs = _store(tmp_path / "runs")
    query = tmp_path / "q.csv"
    query.write_text("task,prompt_tokens,baseline_tokens,method\ntalk,300,20,streamingllm:ratio=0.5\n"
                     "quiz,300,20,streamingllm:ratio=0.5\ntalk,300,20,\"kivi:bits=2,group=32,residual=32\"\n")
    out, report = tmp_path / "p.csv", tmp_path / "r.json"
    assert main(["predict-length", str(runs), "--query", str(query), "--out", str(out), "--report", str(report)]) == 0
    assert "constant ratio" in capsys.readouterr().out
    ratios = [float(r["ratio"]) for r in csv.DictReader(out.open())]
    assert ratios[0] == pytest.approx(2.0, rel=0.1)
    assert ratios[1] == pytest.approx(1.0, rel=0.1)
    assert ratios[2] == pytest.approx(1.0, rel=0.1)
    assert json.loads(report.read_text())["rows"] == 48


def test_predict_length_without_baseline_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict-length", str(tmp_path / "empty")]) == 1
    assert "no sample answered by both the baseline" in capsys.readouterr().err


def test_plan_combines_memory_batch_throughput_and_length(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "--model", "llama-2-7b", "--method", "StreamingLLM-16", "--batch", "16",
                 "--prompt-len", "2048", "--output-len", "64", "--fit", str(A6000), "--length-ratio", "1.25",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    plan = json.loads(out.read_text())
    assert plan["kv_saved_fraction"] == pytest.approx(1 - 512 / (2048 + 80))
    assert plan["method_batch_fits"] > plan["baseline_batch_fits"]
    assert plan["method"]["output_tokens"] == pytest.approx(80)
    assert plan["method"]["measured_decode_tok_s"] is not None  # the fixture measured bsz 16 at 2048
    assert "measured" in text and "end to end" in text
    same = plan["method"]
    assert plan["speedup_same_batch"] == pytest.approx(same["requests_per_s"] / plan["baseline"]["requests_per_s"])
    expected = 16 / (16 * 2048 / same["prefill_tok_s"] + 80 * 16 / same["decode_tok_s"])
    assert same["requests_per_s"] == pytest.approx(expected)


def test_plan_learns_the_length_ratio_from_run_stores(tmp_path, capsys):
    runs = _store(tmp_path / "runs")
    assert main(["plan", "--model", "smollm2-135m-instruct", "--method", "streamingllm:ratio=0.5", "--batch", "4",
                 "--prompt-len", "512", "--runs", str(runs)]) == 0
    text = capsys.readouterr().out
    assert "roofline only" in text
    assert "measured 1.500" in text  # half the samples doubled


def test_evaluation_report_carries_the_estimate():
    from negsamp.predict.for_report import estimate_lines, report_estimate

    estimate = report_estimate("smollm2-135m-instruct", "kivi:bits=2,group=32,residual=32", "method", 1.2, 10.0)
    assert estimate["length_ratio"] == 1.2 and estimate["kv_saved_fraction"] > 0.5
    assert any("batch that fits" in line for line in estimate_lines(estimate))
    assert report_estimate("smollm2-135m-instruct", "predictions:x.jsonl", "predictions", 1.0, 10.0) is None
    assert report_estimate("/no/such/model", "none", "method", 1.0, 10.0) is None
    assert report_estimate("smollm2-135m-instruct", "h2o:ratio=0.5|<b>", "method", 1.0, 10.0) is None


def test_plan_finds_our_throughput_json_under_the_canonical_spec(capsys):
    assert main(["plan", "--model", "smollm2-135m-instruct", "--method", "streamingllm:ratio=0.5", "--batch", "1",
                 "--prompt-len", "64", "--output-len", "4", "--hardware", "cpu", "--memory-gb", "2",
                 "--fit", str(DATA / "throughput_smollm2.json")]) == 0
    text = capsys.readouterr().out
    assert "fitted on 4 measurements of streamingllm:ratio=0.5,budget=0" in text
    assert "[measured: prefill" in text


def test_a_throughput_json_without_runs_is_one_line(tmp_path):
    from negsamp.predict.points import read_throughput_json

    bad = tmp_path / "throughput.json"
    bad.write_text(json.dumps({"model": "m", "method": "none", "baseline": "none", "prompt_len": 8, "gen_len": 4,
                               "runs": [{"warmup": False, "side": "baseline", "batch_size": 1, "prefill_s": 1.0}]}))
    with pytest.raises(InputError, match="field 'runs.0.decode_s' is missing"):
        read_throughput_json(bad)
