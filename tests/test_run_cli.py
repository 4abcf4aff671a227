"""`negsamp run`: resumable after kill -9, a finished run does nothing, bad input fails fast."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from negsamp.cli import main

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["passkey:lengths=200,count=40,seed=5", "kv_retrieval:lengths=200,count=40,seed=5"]


def run_args(model_dir: Path, out: Path, *methods: str) -> list[str]:
    args = ["run", "--model", str(model_dir), "--tasks", *TASKS, "--out", str(out), "--no-progress"]
    for method in methods:
        args += ["--method", method]
    return args


def rows_by_run(out: Path) -> dict[str, list[dict]]:
    return {p.parent.name: [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted(out.glob("*/predictions.jsonl"))}


def test_killed_run_restarts_where_it_stopped_with_every_sample_once(tmp_path, tiny_model_dir):
    out = tmp_path / "runs"
    args = run_args(tiny_model_dir, out, "none", "kivi:bits=2,group=4,residual=8")
    proc = subprocess.Popen([sys.executable, "-m", "negsamp", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(out.glob("*/predictions.jsonl")):
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = sum(len(rows) for rows in rows_by_run(out).values())

    finished = subprocess.run([sys.executable, "-m", "negsamp", *args], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    runs = rows_by_run(out)
    assert len(runs) == 2
    for rows in runs.values():
        ids = [r["sample_id"] for r in rows]
        assert len(ids) == len(set(ids)) == 80
        assert all(r["kv_bytes_prefill"] > 0 for r in rows)
    assert before <= 160

    # A second, uninterrupted store gets the same predictions (fixed batches, greedy decoding).
    clean = tmp_path / "clean"
    assert main(run_args(tiny_model_dir, clean, "none", "kivi:bits=2,group=4,residual=8")) == 0
    strip = ("prefill_s", "decode_s")
    for name, rows in rows_by_run(clean).items():
        resumed = {r["sample_id"]: {k: v for k, v in r.items() if k not in strip} for r in runs[name]}
        assert {r["sample_id"]: {k: v for k, v in r.items() if k not in strip} for r in rows} == resumed


def test_a_finished_run_does_nothing_and_loads_no_model(tmp_path, tiny_model_dir, monkeypatch, capsys):
    out = tmp_path / "runs"
    assert main(run_args(tiny_model_dir, out, "none")) == 0
    before = (next(out.glob("*/predictions.jsonl"))).read_bytes()

    import negsamp.models

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run must not load the model")

    monkeypatch.setattr(negsamp.models, "load_model", refuse)
    capsys.readouterr()
    assert main(run_args(tiny_model_dir, out, "none")) == 0
    assert "0 generated, 80 already done" in capsys.readouterr().out
    assert next(out.glob("*/predictions.jsonl")).read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "nosuch"], "nosuch"),
        (["--method", "snapkv:ratio=1.0"], "[0, 1)"),
        (["--method", "snapkv:colour=red"], "colour"),
        (["--method", "none", "--tasks", "nosuchtask:count=2"], "nosuchtask"),
        (["--method", "none", "--tasks", "longbench:qasper:path=/nonexistent/q.jsonl"], "/nonexistent/q.jsonl"),
    ],
    ids=["unknown-method", "ratio", "unknown-parameter", "unknown-task", "unreadable-file"],
)
def test_bad_input_fails_before_any_model_loads(tmp_path, monkeypatch, capsys, args, message):
    import negsamp.models

    def refuse(*a, **k):
        raise AssertionError("bad input must be reported before a model loads")

    monkeypatch.setattr(negsamp.models, "load_model", refuse)
    monkeypatch.setattr(negsamp.models, "load_tokenizer", refuse)
    if "--tasks" not in args:
        args = [*args, "--tasks", "passkey:lengths=200,count=2"]
    assert main(["run", "--model", "any-model", "--out", str(tmp_path / "runs"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
