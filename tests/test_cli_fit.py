"""The commands fit together, tried as a new user would: run -> score -> mine on a run store,
one baseline name, the same options everywhere, one-line errors and interruptions."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from dataset_factory import write_example

from negsamp.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["passkey:lengths=200,count=6,seed=1"]
KIVI = "kivi:bits=2,group=8,residual=8"


def test_run_score_mine_chain_on_a_run_store(tmp_path, tiny_model_dir, capsys):
    runs = tmp_path / "runs"
    assert main(["run", "--model", str(tiny_model_dir), "--tasks", *TASKS, "--out", str(runs),
                 "--method", "none", "--method", KIVI, "--no-progress"]) == 0
    (kivi_run,) = [p for p in runs.glob("*kivi*") if p.is_dir()]
    scores = tmp_path / "scores.parquet"
    # The README's chain: a run's predictions.jsonl (no answers in it) scores against the recorded samples.
    assert main(["score", str(kivi_run / "predictions.jsonl"), "--out", str(scores)]) == 0
    one = pl.read_parquet(scores)
    assert one.height == 6 and set(one.get_column("method")) == {KIVI}
    # The whole store, then mine with the default baseline (`none`) and a short spec.
    assert main(["score", str(runs), "-o", str(scores)]) == 0
    table = pl.read_parquet(scores)
    assert table.height == 12 and set(table.get_column("method")) == {"none", KIVI}
    assert {"task", "sample_id", "method", "score", "answers", "output_tokens", "model"} <= set(table.columns)
    assert "next: negsamp mine" in capsys.readouterr().out
    negatives = tmp_path / "neg.parquet"
    assert main(["mine", str(scores), "--methods", "kivi:residual=8,bits=2,group=8", "--out", str(negatives)]) == 0
    out = capsys.readouterr().out
    assert "baseline='none'" in out and f"wrote {negatives}" in out
    assert KIVI in pl.read_parquet(negatives).columns


def test_score_of_a_store_written_before_samples_were_recorded_says_what_to_do(tmp_path, tiny_model_dir, capsys):
    runs = tmp_path / "runs"
    assert main(["run", "--model", str(tiny_model_dir), "--tasks", *TASKS, "--out", str(runs),
                 "--method", "none", "--no-progress"]) == 0
    for path in (runs / "samples").iterdir():
        path.unlink()
    assert main(["score", str(runs), "--out", str(tmp_path / "s.parquet")]) == 1
    err = capsys.readouterr().err
    assert "its samples were not recorded" in err and "run the same `negsamp run`" in err
    # Re-running the finished run generates nothing and records the samples.
    assert main(["run", "--model", str(tiny_model_dir), "--tasks", *TASKS, "--out", str(runs),
                 "--method", "none", "--no-progress"]) == 0
    assert "0 generated" in capsys.readouterr().out
    assert main(["score", str(runs), "--out", str(tmp_path / "s.parquet")]) == 0


def test_score_refuses_a_folder_that_is_not_a_run_store(tmp_path, capsys):
    assert main(["score", str(tmp_path), "--out", str(tmp_path / "s.parquet")]) == 1
    assert "not a run store" in capsys.readouterr().err


def _options(command: str) -> dict[str, argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {opt: action for action in sub._actions for opt in action.option_strings}


def test_every_command_names_its_output_out():
    for command in ("score", "mine", "run", "build", "evaluate", "throughput"):
        assert "--out" in _options(command), command
    assert "--output" not in _options("score")


def test_run_and_throughput_default_to_the_bundled_model():
    from negsamp.models import DEFAULT_MODEL

    assert _options("run")["--model"].default == _options("throughput")["--model"].default == DEFAULT_MODEL
    assert _options("mine")["--baseline"].default is None  # resolved to mining.BASELINE == "none"
    from negsamp.mining import BASELINE, MiningRule

    assert BASELINE == MiningRule().baseline == "none"


def test_publish_dry_run_needs_no_repo_but_a_push_does(tmp_path, capsys):
    folder = tmp_path / "dataset"
    write_example(folder)
    assert main(["publish", str(folder), "--dry-run"]) == 0
    assert "(give --repo ORG/NAME)" in capsys.readouterr().out
    assert main(["publish", str(folder)]) == 1
    assert "needs --repo ORG/NAME" in capsys.readouterr().err


def test_help_has_no_doubled_percent(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "fig5", "--help"])
    text = capsys.readouterr().out
    assert "%%" not in text and "32}%" in text


def test_an_over_length_recipe_error_names_the_file(tmp_path, tiny_model_dir):
    from conftest import write_tiny_recipe

    from negsamp.errors import InputError
    from negsamp.recipe import load_recipe

    recipe = write_tiny_recipe(tmp_path / "long.yaml", tiny_model_dir, max_length=100)
    with pytest.raises(InputError, match=rf"^{recipe}: task source .*exceeds the model's max_length of 100"):
        load_recipe(recipe)


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, monkeypatch, capsys):
    import negsamp.cli.build as build_cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_cli, "run", interrupted)
    assert main(["build", "recipe.yaml"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "negsamp build: interrupted; run the same command again to resume: finished samples are kept"


def test_sigint_to_a_real_command_is_one_line(tmp_path):
    # A real process interrupted while it works: no traceback, exit status 130.
    big = tmp_path / "preds.jsonl"
    line = json.dumps({"sample_id": "a", "task": "passkey", "prediction": "x" * 2000, "answers": ["y"]})
    big.write_text("\n".join(line.replace('"a"', f'"{i}"') for i in range(200_000)) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "negsamp", "score", str(big), "--out", str(tmp_path / "s.parquet")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    if proc.poll() is not None:
        pytest.skip("the command finished before it could be interrupted on this machine")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines() == ["negsamp score: interrupted; no file was left half-written"]
    assert not (tmp_path / "s.parquet").exists()


def test_evaluate_refuses_a_used_out_folder_unless_overwrite(tmp_path, capsys):
    from negsamp.outdir import prepare_output_dir

    outputs = ("report.json", "report.md", "figures", "runs")
    out = tmp_path / "eval"
    (out / "figures").mkdir(parents=True)
    (out / "report.json").write_text("{}")
    (out / "figures" / "old.png").write_bytes(b"png")
    with pytest.raises(Exception, match=r"is not empty \(figures, report.json\); pass --overwrite"):
        prepare_output_dir(out, outputs=outputs, resumable={"runs"})
    prepare_output_dir(out, outputs=outputs, resumable={"runs"}, overwrite=True)
    assert list(out.iterdir()) == []
    # An interrupted evaluation (only its run store) resumes without --overwrite.
    (out / "runs").mkdir()
    prepare_output_dir(out, outputs=outputs, resumable={"runs"})
    assert (out / "runs").is_dir()
    # Files it did not write are never deleted, even with --overwrite.
    (out / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match=r"did not write \(notes.txt\)"):
        prepare_output_dir(out, outputs=outputs, resumable={"runs"}, overwrite=True)
    assert (out / "notes.txt").exists() and (out / "runs").is_dir()


def test_evaluate_cli_refuses_before_reading_the_dataset(tmp_path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "report.json").write_text("{}")
    assert main(["evaluate", "--dataset", str(tmp_path / "nope"), "--predictions", "p.jsonl",
                 "--out", str(out)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", str(tmp_path / "nope"), "--predictions", "p.jsonl",
                 "--out", str(out), "--overwrite"]) == 1
    assert "no such dataset folder" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_short_method_names():
    from negsamp.display import short_method, short_names

    canonical = "snapkv:ratio=0.5,budget=0,window=8,pool=max,kernel=7,gqa=mean,compress=context+question"
    assert short_method(canonical) == "snapkv:ratio=0.5"
    assert short_method(canonical.replace("kernel=7", "kernel=5")) == "snapkv:ratio=0.5,kernel=5"
    assert short_method("kivi:bits=2,group=32,residual=32") == "kivi:bits=2,residual=32"
    assert short_method("streamingllm:budget=2048") == "streamingllm:budget=2048"
    assert short_method("none") == "none"
    assert short_method("press:cls=mypkg.presses:MyPress") == "press:cls=MyPress"
    long = "predictions:" + "x" * 100 + ".jsonl"
    assert len(short_method(long)) == 48 and short_method(long).endswith("…")
    specs = ["snapkv:ratio=0.5", "snapkv:ratio=0.5,compress=context"]
    assert short_names(specs) == {specs[0]: "snapkv:ratio=0.5", specs[1]: "snapkv:ratio=0.5,compress=context"}


def test_build_has_no_nested_bars_without_a_tty(tmp_path, tiny_model_dir):
    from conftest import write_tiny_recipe

    recipe = write_tiny_recipe(tmp_path / "r.yaml", tiny_model_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    proc = subprocess.run([sys.executable, "-m", "negsamp", "build", str(recipe), "--out", str(tmp_path / "b")],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[A" not in proc.stderr and "sample/s" in proc.stderr
    assert "streamingllm:ratio=0.5,budget" not in proc.stdout + proc.stderr  # short names on screen


def test_the_gguf_conversion_prints_one_line(capsys):
    from negsamp.models import _captured_output

    with _captured_output():
        print("Converting and de-quantizing GGUF tensors...: 1/272", file=sys.stderr)
    assert capsys.readouterr().err == ""
    with pytest.raises(RuntimeError), _captured_output():
        print("the conversion's own words", file=sys.stderr)
        raise RuntimeError
    assert "the conversion's own words" in capsys.readouterr().err
