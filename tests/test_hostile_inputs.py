"""Hostile inputs to `score`, `evaluate --predictions`, run stores and dataset files: each is one line
on stderr, exit status 1, never a traceback. Part of the hostile corpus."""

from __future__ import annotations

import json

import pytest
from dataset_factory import write_example
from test_runs import prediction

from negsamp.cli import main
from negsamp.dataset import read_rows
from negsamp.errors import InputError
from negsamp.runs import RunStore

LINE = {"sample_id": "a", "task": "passkey", "prediction": "1", "answers": ["1"]}
DEEP = "[" * 100_000 + "]" * 100_000

# (case id, the JSON line (text or bytes), text of the one-line error)
SCORE_CASES = [
    ("int-30-digits", json.dumps(LINE)[:-1] + ', "extra": ' + "1" * 30 + "}", "integer of 30 digits"),
    ("int-5000-digits", json.dumps(LINE)[:-1] + ', "extra": ' + "9" * 5000 + "}", "integer of 5000 digits"),
    ("deep-nesting", json.dumps(LINE)[:-1] + ', "extra": ' + DEEP + "}", "nested too deeply"),
    ("score-column", json.dumps({**LINE, "score": 3}), "field 'score' is the column negsamp writes"),
    ("not-utf8", b'{"sample_id": "\xff"}', "not valid UTF-8"),
]


def _one_line_error(capsys, argv, text) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("case_id,line,text", SCORE_CASES, ids=[c[0] for c in SCORE_CASES])
def test_score_refuses_in_one_line(tmp_path, capsys, case_id, line, text):
    path = tmp_path / "p.jsonl"
    path.write_bytes(line if isinstance(line, bytes) else line.encode())
    _one_line_error(capsys, ["score", str(path), "--out", str(tmp_path / "s.parquet")], text)
    assert not (tmp_path / "s.parquet").exists()


EVALUATE_CASES = [
    ("int-5000-digits", '{"sample_id": "x", "prediction": "y", "output_tokens": ' + "9" * 5000 + "}",
     "integer of 5000 digits"),
    ("deep-nesting", '{"sample_id": "x", "prediction": ' + DEEP + "}", "nested too deeply"),
    ("not-utf8", b'{"sample_id": "\xff\xfe", "prediction": "y"}', "not valid UTF-8"),
]


@pytest.mark.parametrize("case_id,line,text", EVALUATE_CASES, ids=[c[0] for c in EVALUATE_CASES])
def test_evaluate_predictions_refuses_in_one_line(tmp_path, capsys, case_id, line, text):
    write_example(tmp_path / "ds")
    path = tmp_path / "p.jsonl"
    path.write_bytes(line if isinstance(line, bytes) else line.encode())
    _one_line_error(capsys, ["evaluate", "--dataset", str(tmp_path / "ds"), "--predictions", str(path),
                             "--out", str(tmp_path / "out")], text)


@pytest.mark.parametrize("field,value", [("prefill_s", "NaN"), ("decode_s", "Infinity"), ("prefill_s", "-1")])
def test_a_run_store_row_with_a_non_finite_time_is_refused(tmp_path, field, value):
    run = RunStore(tmp_path).run("m", "none")
    run.append([prediction("a")])
    text = run.predictions_path.read_text()
    run.predictions_path.write_text(text.replace(f'"{field}":0.', f'"{field}":{value},"x":0.'))
    with pytest.raises(InputError, match=rf"line 1: field '{field}'"):
        run.predictions()


FLIP_STRIDE = 13
"""Every 13th byte of the 11.5 kB file (about 890 flips, like the issue's 837); all of them take 100 s."""


def test_single_byte_flips_of_a_split_file_are_one_line_or_harmless(tmp_path):
    """Flip bytes of a split file in turn: reading either passes (a byte parquet ignores) or raises one
    InputError line; nothing else escapes."""
    write_example(tmp_path / "ds")
    path = tmp_path / "ds" / "data" / "smollm2-135m" / "control.parquet"
    original = path.read_bytes()
    outcomes = {"refused": 0, "harmless": 0}
    for index in range(0, len(original), FLIP_STRIDE):
        flipped = bytearray(original)
        flipped[index] ^= 0xFF
        path.write_bytes(bytes(flipped))
        try:
            read_rows(tmp_path / "ds", split="control")
            outcomes["harmless"] += 1
        except InputError as err:
            assert "\n" not in str(err)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == len(range(0, len(original), FLIP_STRIDE))
