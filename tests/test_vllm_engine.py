"""vLLM for real (marker `vllm`): the bundled SmolLM2 in `.venv-vllm`, against the transformers backend.

Without `.venv-vllm` these tests skip (run `make vllm`), except under CI (CI=true),
where `.ci/run` builds it and a missing environment fails them. Each test starts one or
two engines (~40 s each on an idle 2-core machine).
"""

from __future__ import annotations

import json
import os

import pytest

from negsamp.backends import vllm as vb

MODEL = "smollm2-135m-instruct"
TASKS = "passkey:lengths=300,count=3,seed=0"

pytestmark = [pytest.mark.vllm, pytest.mark.integration]


@pytest.fixture(scope="module")
def vllm_env():
    try:
        return vb.worker_python()
    except vb.InputError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the vLLM tests: {err}")
        pytest.skip(f"no vLLM environment: {err}")


@pytest.fixture(scope="module")
def samples():
    from negsamp.models import load_tokenizer
    from negsamp.tasks.sources import load_task_samples

    return load_task_samples(TASKS, tokenizer=load_tokenizer(MODEL), max_length=2048)


def test_run_store_rows_resume_and_match_the_transformers_backend(vllm_env, samples, tmp_path):
    from negsamp.backends.vllm_generate import run_method_vllm
    from negsamp.methods import parse_method
    from negsamp.runner import run_method
    from negsamp.runs import RunStore

    store = RunStore(tmp_path / "runs")
    first = run_method_vllm(store, MODEL, "none", samples, progress=False)
    assert first.generated == 3
    assert first.run.manifest()["backend"] == "vllm"
    rows = first.run.predictions()  # validated against the Prediction schema
    assert {r.sample_id for r in rows} == {s.sample_id for s in samples}
    per_token = 30 * 2 * 3 * 64 * 4  # layers x (K, V) x kv heads x head dim x fp32 bytes
    for row in first.predictions:
        assert row.kv_bytes_prefill >= row.prompt_tokens * per_token
        assert row.kv_bytes_prefill % per_token == 0 and row.kv_bytes_end >= row.kv_bytes_prefill

    hf = run_method(RunStore(tmp_path / "hf"), MODEL, parse_method("none"), samples, batch_size=1,
                    progress=False).predictions
    assert [p.prediction for p in first.predictions] == [p.prediction for p in hf]
    assert [p.output_tokens for p in first.predictions] == [p.output_tokens for p in hf]

    # kill -9 mid-write: one whole row left and half of the next; the rerun fills the gap only.
    lines = first.run.predictions_path.read_text(encoding="utf-8").splitlines(keepends=True)
    first.run.predictions_path.write_text(lines[0] + lines[1][:20], encoding="utf-8")
    again = run_method_vllm(store, MODEL, "none", samples, progress=False)
    assert again.generated == 2
    assert [p.prediction for p in again.predictions] == [p.prediction for p in first.predictions]
    assert run_method_vllm(store, MODEL, "none", samples, progress=False).generated == 0


def test_throughput_offline_served_and_quantized_kv(vllm_env, tmp_path, capsys):
    from negsamp.backends.vllm_load import load_vllm_throughput
    from negsamp.cli import main

    out = tmp_path / "tp"
    code = main(["throughput", "--backend", "vllm", "--method", "vllm_kv:dtype=fp8", "--batch-sizes", "2",
                 "--rates", "4,inf", "--requests", "3", "--prompt-len", "64", "--gen-len", "4",
                 "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err[-2000:]
    report = load_vllm_throughput(out / "vllm_throughput.json")
    assert report.kv_cache_dtypes == ["auto", "fp8"]
    assert len(report.results) == 2 * 3
    for result in report.results:
        assert result.output_tokens == result.requests * 4
        assert 0 < result.peak_kv_blocks <= result.kv_blocks_total
        assert result.ttft_s.p50 <= result.latency_s.p50
    by_dtype = {r.kv_cache_dtype: r.kv_bytes_per_block for r in report.results}
    assert by_dtype["fp8"] * 4 == by_dtype["auto"]  # fp8 holds a quarter of fp32's bytes
    assert "served 4 req/s" in (out / "vllm_throughput.txt").read_text()
    json.loads((out / "vllm_throughput.json").read_text())
