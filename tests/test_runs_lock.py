"""One writer per run (a second gets one line), and `negsamp runs check|repair` on what two writers or a
crash leave behind. Part of the hostile corpus."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from test_runs import prediction

from negsamp.cli import main
from negsamp.errors import InputError
from negsamp.methods import parse_method
from negsamp.runcheck import check_store, repair_store
from negsamp.runlock import run_lock
from negsamp.runner import run_method
from negsamp.runs import RunStore

HOLD = "import sys, time; from negsamp.runlock import run_lock\nwith run_lock(sys.argv[1]):\n" \
       "    print('held', flush=True); time.sleep(60)\n"


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of run (m, none) in tmp_path."""
    run = RunStore(tmp_path).run("m", "none")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run.directory)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc, run
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_writer_gets_one_line_naming_the_holder(holder, tmp_path):
    proc, run = holder
    with pytest.raises(InputError, match=rf"pid {proc.pid}\) is writing this run") as caught:
        run_method(RunStore(tmp_path), "m", parse_method("none"), [])
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="is writing this run"):
        with run_lock(run.directory):
            pass


def test_the_lock_dies_with_its_process(holder):
    proc, run = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with run_lock(run.directory):  # no stale lock after kill -9
        pass


def _damaged_store(tmp_path):
    run = RunStore(tmp_path).run("m", "none")
    run.write_manifest(sample_set_hash="x")
    run.append([prediction("a"), prediction("b"), prediction("a")])  # a second writer's copy of a
    other = prediction("b").model_copy(update={"prediction": "99999"})
    with open(run.predictions_path, "ab") as handle:
        handle.write(other.model_dump_json().encode() + b"\n")  # conflicting duplicate
        handle.write(b'{"sample_id": "\xff\xfe"}\n')  # not UTF-8
        handle.write(prediction("c", method="snapkv").model_dump_json().encode() + b"\n")  # foreign row
        handle.write(b"[]\n" + b'{"version": 1, "samp')  # not a prediction, then a torn tail
    return run


def test_check_reports_and_repair_keeps_the_first_row_of_each_sample(tmp_path, capsys):
    run = _damaged_store(tmp_path)
    (health,) = check_store(tmp_path)
    assert (health.rows, health.duplicates, health.conflicts, health.torn_tail) == (2, 1, 1, True)
    with pytest.raises(InputError, match="appears twice .*runs repair"):
        run.predictions()
    assert len(health.bad_lines) == 3
    assert main(["runs", "check", str(tmp_path)]) == 1
    assert "PROBLEM" in capsys.readouterr().out
    repair_store(tmp_path)
    assert [(p.sample_id, p.prediction) for p in run.predictions()] == [("a", "12345"), ("b", "12345")]
    assert main(["runs", "check", str(tmp_path)]) == 0
    assert main(["runs", "repair", str(tmp_path)]) == 0


def test_check_and_repair_leave_the_recorded_samples_alone(tmp_path, capsys):
    # A store also holds samples/<set-hash>.jsonl (what `negsamp score` joins answers from):
    # not a run, so check/repair neither count it nor rewrite it.
    from conftest import make_tiny_samples

    store = RunStore(tmp_path)
    samples_file = store.record_samples(make_tiny_samples(2))
    before = samples_file.read_bytes()
    run = _damaged_store(tmp_path)
    assert len(check_store(tmp_path)) == 1
    assert main(["runs", "repair", str(tmp_path)]) == 0
    assert "1 run(s), 1 repaired" in capsys.readouterr().out
    assert samples_file.read_bytes() == before and len(run.predictions()) == 2
    assert main(["runs", "check", str(tmp_path)]) == 0


def test_repair_refuses_while_another_process_writes(holder, tmp_path):
    proc, run = holder
    run.write_manifest(sample_set_hash="x")
    run.append([prediction("a"), prediction("a")])
    with pytest.raises(InputError, match="is writing this run"):
        repair_store(tmp_path)  # the holder's run is unhealthy: repair must take its lock and fails


@pytest.mark.parametrize("content,text", [
    (b"[]", "expected a JSON object"),
    (b"\xff", "not UTF-8"),
    (b"[" * 100_000, "not valid JSON"),
    (b'{"model": 1, "method": "none"}', "field 'model'"),
])
def test_a_broken_run_manifest_is_one_line(tmp_path, content, text):
    folder = tmp_path / "m__none__x"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(content)
    with pytest.raises(InputError, match=text):
        RunStore(tmp_path).runs()
    assert main(["runs", "check", str(tmp_path)]) == 1


def test_a_non_utf8_predictions_line_is_one_line(tmp_path):
    run = RunStore(tmp_path).run("m", "none")
    run.append([prediction("a")])
    with open(run.predictions_path, "ab") as handle:
        handle.write(b'{"x": "\xff"}\n')
    with pytest.raises(InputError, match=r"line 2: not valid UTF-8"):
        run.predictions()
