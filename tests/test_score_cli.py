"""`negsamp score`: JSONL in, parquet out, one-line errors naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from negsamp.cli import main

GOOD = [
    {"sample_id": "a", "task": "hotpotqa", "prediction": "Paris", "answers": ["Paris"], "method": "h2o"},
    {"sample_id": "b", "task": "hotpotqa", "prediction": "Rome", "answers": ["Paris"], "method": "h2o"},
    {
        "sample_id": "c",
        "task": "trec",
        "prediction": "City or Country",
        "answers": ["Country"],
        "all_classes": ["City", "Country"],
        "method": "kivi",
    },
    {
        "sample_id": "d",
        "task": "lcc",
        "prediction": "abcd",
        "answers": ["abce"],
        "all_classes": None,
        "method": "kivi",
    },
]


def _write(path: Path, lines: list) -> Path:
    path.write_bytes(
        b"".join((json.dumps(x).encode() if not isinstance(x, bytes) else x) + b"\n" for x in lines)
    )
    return path


def test_score_writes_parquet_and_summary(tmp_path, capsys):
    src = _write(tmp_path / "preds.jsonl", GOOD)
    out = tmp_path / "sub" / "scores.parquet"
    assert main(["score", str(src), "-o", str(out)]) == 0
    df = pl.read_parquet(out)
    assert df.get_column("sample_id").to_list() == ["a", "b", "c", "d"]
    assert df.get_column("score").to_list() == [1.0, 0.0, 0.5, 0.75]
    assert df.schema["score"] == pl.Float64
    assert df.schema["answers"] == pl.List(pl.String)
    assert df.get_column("all_classes").to_list() == [None, None, ["City", "Country"], None]
    assert df.get_column("method").to_list() == ["h2o", "h2o", "kivi", "kivi"]
    assert [p.name for p in out.parent.iterdir()] == ["scores.parquet"]  # no temp file left
    printed = capsys.readouterr().out
    assert "4 rows" in printed
    assert "hotpotqa" in printed and "0.5000" in printed and "lcc" in printed and "0.7500" in printed


def test_score_overwrites_existing_output(tmp_path):
    src = _write(tmp_path / "preds.jsonl", GOOD[:1])
    out = tmp_path / "scores.parquet"
    out.write_text("old")
    assert main(["score", str(src), "-o", str(out)]) == 0
    assert pl.read_parquet(out).height == 1


BAD_SECOND_LINE = [
    ("bad-json", b'{"sample_id": "x", ', "invalid JSON"),
    (
        "not-utf8",
        b'{"sample_id": "\xff\xfe", "task": "hotpotqa", "prediction": "", "answers": []}',
        "not valid UTF-8",
    ),
    ("not-object", [1, 2], "expected a JSON object"),
    ("missing-answers", {"sample_id": "x", "task": "hotpotqa", "prediction": "p"}, "missing field 'answers'"),
    ("missing-task", {"sample_id": "x", "prediction": "p", "answers": ["p"]}, "missing field 'task'"),
    (
        "prediction-null",
        {"sample_id": "x", "task": "hotpotqa", "prediction": None, "answers": ["p"]},
        "field 'prediction' must be a string, got null",
    ),
    (
        "sample-id-int",
        {"sample_id": 7, "task": "hotpotqa", "prediction": "p", "answers": ["p"]},
        "field 'sample_id' must be a string, got int",
    ),
    (
        "answers-str",
        {"sample_id": "x", "task": "hotpotqa", "prediction": "p", "answers": "p"},
        "field 'answers' must be a list of strings, got str",
    ),
    (
        "answers-int-item",
        {"sample_id": "x", "task": "hotpotqa", "prediction": "p", "answers": ["p", 3]},
        "field 'answers' must be a list of strings, got a list holding int 3",
    ),
    (
        "classes-str",
        {"sample_id": "x", "task": "trec", "prediction": "p", "answers": ["p"], "all_classes": "p"},
        "field 'all_classes' must be a list of strings or null",
    ),
    (
        "unknown-task",
        {"sample_id": "x", "task": "hotpot", "prediction": "p", "answers": ["p"]},
        "field 'task': unknown task 'hotpot'; known tasks: ",
    ),
    (
        "retrieval-gt",
        {"sample_id": "x", "task": "passage_retrieval_en", "prediction": "Paragraph 2", "answers": ["p 2"]},
        "passage_retrieval_en: ground truth 'p 2' has no 'Paragraph N'",
    ),
    (
        "trec-no-classes",
        {"sample_id": "x", "task": "trec", "prediction": "p", "answers": ["p"]},
        "trec: all_classes is missing",
    ),
]


@pytest.mark.parametrize("bad,message", [pytest.param(b, m, id=i) for i, b, m in BAD_SECOND_LINE])
def test_bad_input_names_file_line_and_field(tmp_path, capsys, bad, message):
    src = _write(tmp_path / "preds.jsonl", [GOOD[0], bad])
    out = tmp_path / "scores.parquet"
    assert main(["score", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("negsamp score: error: ")
    assert f"{src}, line 2: " in err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_mixed_extra_field_types(tmp_path, capsys):
    lines = [dict(GOOD[0], method="h2o"), dict(GOOD[1], method=3)]
    src = _write(tmp_path / "preds.jsonl", lines)
    assert main(["score", str(src), "-o", str(tmp_path / "s.parquet")]) == 1
    assert "field 'method' holds values of different types" in capsys.readouterr().err


def test_numeric_extra_fields(tmp_path):
    lines = [dict(GOOD[0], decode_s=1), dict(GOOD[1], decode_s=2.5), dict(GOOD[2])]
    src = _write(tmp_path / "preds.jsonl", lines)
    out = tmp_path / "s.parquet"
    assert main(["score", str(src), "-o", str(out)]) == 0
    assert pl.read_parquet(out).get_column("decode_s").to_list() == [1.0, 2.5, None]


def test_blank_lines_skipped_and_empty_file_refused(tmp_path, capsys):
    src = _write(tmp_path / "preds.jsonl", [GOOD[0], b"", b"   "])
    assert main(["score", str(src), "-o", str(tmp_path / "s.parquet")]) == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["score", str(empty), "-o", str(tmp_path / "e.parquet")]) == 1
    assert f"{empty}: no predictions" in capsys.readouterr().err


def test_missing_input_file(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert main(["score", str(missing), "-o", str(tmp_path / "s.parquet")]) == 1
    assert f"{missing}: predictions file not found" in capsys.readouterr().err


def test_cli_module_imports_cheaply():
    import subprocess
    import sys

    code = "import sys, negsamp.cli.score; bad = {'polars', 'rouge_score', 'jieba'} & set(sys.modules); assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)
