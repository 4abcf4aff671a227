"""The run store: append-only, torn-tail repair, exactly-once rows, clear errors."""

from __future__ import annotations

import pytest

from negsamp.atomic import atomic_write_text
from negsamp.errors import InputError
from negsamp.records import Prediction
from negsamp.runs import RunStore, run_key


def prediction(sample_id: str, method: str = "none", model: str = "m") -> Prediction:
    return Prediction(
        sample_id=sample_id, task="passkey", model=model, method=method, prediction="12345",
        output_tokens=3, hit_eos=True, prompt_tokens=100, kv_bytes_prefill=1000, kv_bytes_end=1100,
        prefill_s=0.1, decode_s=0.2,
    )


def test_append_and_read_back_in_order(tmp_path):
    run = RunStore(tmp_path).run("m", "none")
    run.append([prediction("a"), prediction("b")])
    run.append([prediction("c")])
    assert [p.sample_id for p in run.predictions()] == ["a", "b", "c"]
    assert run.done_ids() == {"a", "b", "c"}


def test_torn_last_line_is_cut_and_the_sample_runs_again(tmp_path):
    run = RunStore(tmp_path).run("m", "none")
    run.append([prediction("a"), prediction("b")])
    whole = run.predictions_path.read_bytes()
    # A kill -9 in the middle of writing the second row leaves half a line.
    run.predictions_path.write_bytes(whole[: whole.index(b"\n") + 1] + b'{"version": 1, "sample_i')
    assert [p.sample_id for p in run.predictions()] == ["a"]
    assert run.predictions_path.read_bytes().endswith(b"\n")
    run.append([prediction("b")])
    assert [p.sample_id for p in run.predictions()] == ["a", "b"]


def test_duplicate_rows_are_refused_with_file_and_line(tmp_path):
    run = RunStore(tmp_path).run("m", "none")
    run.append([prediction("a"), prediction("a")])
    with pytest.raises(InputError, match=r"predictions\.jsonl, line 2: sample a appears twice"):
        run.predictions()


def test_corrupt_middle_line_names_file_line_and_field(tmp_path):
    run = RunStore(tmp_path).run("m", "none")
    run.append([prediction("a")])
    with open(run.predictions_path, "a", encoding="utf-8") as handle:
        handle.write('{"version": 1, "sample_id": 5}\n')
    with pytest.raises(InputError, match=r"predictions\.jsonl, line 2: field 'sample_id'"):
        run.predictions()


def test_rows_of_another_method_are_refused(tmp_path):
    store = RunStore(tmp_path)
    run = store.run("m", "none")
    run.append([prediction("a", method="snapkv:ratio=0.5")])
    with pytest.raises(InputError, match="this run is 'm' / 'none'"):
        run.predictions()


def test_run_keys_are_distinct_and_filesystem_safe():
    keys = {run_key("m", "snapkv:ratio=0.5"), run_key("m", "snapkv:ratio=0.25"), run_key("/a/b/m", "none")}
    assert len(keys) == 3
    assert all("/" not in k and ":" not in k for k in keys)


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "x" / "manifest.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["manifest.json"]
