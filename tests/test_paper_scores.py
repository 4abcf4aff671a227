"""Reader for the paper's released score files, and `negsamp reproduce fig5` on synthetic folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from negsamp import paper_scores as ps
from negsamp.errors import InputError

MODEL = "Meta-Llama-3-8B-instruct"


def write_scores(folder: Path, method: str, config: str, task: str, scores, *, ids=None) -> Path:
    ids = list(range(len(scores))) if ids is None else ids
    path = folder / f"{method}_{MODEL}_{config}_{task}_eval.json"
    path.write_text(json.dumps([{"id": i, "score": s} for i, s in zip(ids, scores)]))
    return path


FIG5_FILES = {  # method key -> (method, config) in file names
    "hf_8192_b1": ("hf", "8192_b1"),
    **{key: tuple(key.split("_", 1)) for key in ps.FIG5_METHODS.values()},
}


def write_fig5_folder(
    folder: Path, tasks: dict[str, int], seed: int = 0
) -> dict[tuple[str, str], list[float]]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for task, n in tasks.items():
        for key, (method, config) in FIG5_FILES.items():
            scores = rng.choice([0.0, 0.5, 0.9, 0.92, 1.0, 0.45], size=n).tolist()
            write_scores(folder, method, config, task, scores)
            written[(key, task)] = scores
    return written


# --------------------------------------------------------------------------- file names


def test_known_tasks():
    assert len(ps.LONGBENCH_TASKS) == len(set(ps.LONGBENCH_TASKS)) == 21
    assert {"repobench-p", "passage_count", "multifieldqa_en", "2wikimqa"} <= set(ps.LONGBENCH_TASKS)


@pytest.mark.parametrize(
    "name,expected",
    [
        (
            "hf_Meta-Llama-3-8B-instruct_8192_b1_gov_report_eval.json",
            ("hf", MODEL, "8192_b1", "gov_report"),
        ),
        (
            "h2o_Meta-Llama-3-8B-instruct_8192_b1_c2048_w32_k7_maxpool_passage_count_eval.json",
            ("h2o", MODEL, "8192_b1_c2048_w32_k7_maxpool", "passage_count"),
        ),
        (
            "kivi_Meta-Llama-3-8B-instruct_8192_b1_4bits_group32_residual128_repobench-p_eval.json",
            ("kivi", MODEL, "8192_b1_4bits_group32_residual128", "repobench-p"),
        ),
        (
            "gear_Mistral-7B-Instruct-v0.2_32768_b4_8bits_passage_retrieval_en_eval.json",
            ("gear", "Mistral-7B-Instruct-v0.2", "32768_b4_8bits", "passage_retrieval_en"),
        ),
        (
            "streamingllm_Meta-Llama-3-8B-instruct_8192_b1_c512_w64_k7_maxpool_multifieldqa_en_eval.json",
            ("streamingllm", MODEL, "8192_b1_c512_w64_k7_maxpool", "multifieldqa_en"),
        ),
        ("hf_Meta-Llama-3-8B-instruct_8192_b1_2wikimqa_eval.json", ("hf", MODEL, "8192_b1", "2wikimqa")),
    ],
)
def test_parse_score_filename(name, expected):
    parsed = ps.parse_score_filename(Path("/x") / name)
    assert (parsed.method, parsed.model, parsed.config, parsed.task) == expected
    assert parsed.key == f"{expected[0]}_{expected[2]}"


@pytest.mark.parametrize(
    "name",
    [
        "hf_Meta-Llama-3-8B-instruct_8192_b1_gov_report.json",  # no _eval.json
        "hf_Meta-Llama-3-8B-instruct_8192_b1_unknowntask_eval.json",  # no known task
        "hf_Meta-Llama-3-8B-instruct_gov_report_eval.json",  # no <len>_b<batch> config
        "hf_gov_report_eval.json",
        "gov_report_eval.json",
    ],
)
def test_parse_score_filename_errors_name_the_file(name):
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        ps.parse_score_filename(name)


# --------------------------------------------------------------------------- one file


def test_read_score_file(tmp_path):
    path = write_scores(tmp_path, "hf", "8192_b1", "trec", [0, 1, 0.25])
    assert ps.read_score_file(path) == [0.0, 1.0, 0.25]


@pytest.mark.parametrize(
    "content,message",
    [
        ('[{"id": 0, "score": 0.5}', "not valid JSON"),
        ('{"id": 0, "score": 0.5}', "expected a JSON list"),
        ('[{"id": 0}]', "record 0: expected an object with 'id' and 'score'"),
        ('[{"id": 0, "score": 0.5}, {"id": 0, "score": 0.5}]', "record 1: duplicate id 0"),
        ('[{"id": 1, "score": 0.5}, {"id": 0, "score": 0.5}]', "record 0: id 1 is not its list position 0"),
        ('[{"id": "0", "score": 0.5}]', "id must be an integer"),
        ('[{"id": 0, "score": NaN}]', r"record 0 \(id 0\): score is NaN"),
        ('[{"id": 0, "score": 1.5}]', r"score 1\.5 is outside \[0, 1\]"),
        ('[{"id": 0, "score": -0.1}]', r"outside \[0, 1\]"),
        ('[{"id": 0, "score": "0.5"}]', "score must be a number"),
        ('[{"id": 0, "score": true}]', "score must be a number"),
    ],
)
def test_read_score_file_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / f"hf_{MODEL}_8192_b1_trec_eval.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        ps.read_score_file(path)
    assert path.name in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        ps.read_score_file(tmp_path / "nope_eval.json")


# --------------------------------------------------------------------------- folders


def test_load_score_folder_long_table(tmp_path):
    write_scores(tmp_path, "hf", "8192_b1", "repobench-p", [0.5, 1.0])
    write_scores(tmp_path, "h2o", "8192_b1_c2048_w32_k7_maxpool", "repobench-p", [0.25, 1.0])
    write_scores(tmp_path, "hf", "8192_b1", "gov_report", [0.1])
    (tmp_path / "EXPECTED_COUNTS.json").write_text("{}")  # other files are ignored
    table = ps.load_score_folder(tmp_path)
    assert table.columns == ["task", "sample_id", "method", "score"]
    assert table.sort("task", "method", "sample_id").rows() == [
        ("gov_report", 0, "hf_8192_b1", 0.1),
        ("repobench-p", 0, "h2o_8192_b1_c2048_w32_k7_maxpool", 0.25),
        ("repobench-p", 1, "h2o_8192_b1_c2048_w32_k7_maxpool", 1.0),
        ("repobench-p", 0, "hf_8192_b1", 0.5),
        ("repobench-p", 1, "hf_8192_b1", 1.0),
    ]


def test_load_error_missing_baseline(tmp_path):
    write_scores(tmp_path, "hf", "8192_b1", "trec", [0.5])
    write_scores(tmp_path, "h2o", "8192_b1_c2048_w32_k7_maxpool", "repobench-p", [0.25])
    with pytest.raises(
        InputError, match=r"no baseline file .*hf_Meta-Llama-3-8B-instruct_8192_b1_repobench-p_eval\.json"
    ):
        ps.load_score_folder(tmp_path)


def test_load_error_length_mismatch(tmp_path):
    write_scores(tmp_path, "hf", "8192_b1", "trec", [0.5, 0.5])
    bad = write_scores(tmp_path, "kivi", "8192_b1_4bits_group32_residual128", "trec", [0.5])
    with pytest.raises(InputError, match=f"{bad.name}.* has 1 records but the baseline .* has 2"):
        ps.load_score_folder(tmp_path)


def test_load_error_missing_method_file(tmp_path):
    write_scores(tmp_path, "hf", "8192_b1", "trec", [0.5])
    with pytest.raises(
        InputError, match=r"gear_Meta-Llama-3-8B-instruct_8192_b1_8bits_trec_eval\.json.* is missing"
    ):
        ps.load_score_folder(tmp_path, methods=["gear_8192_b1_8bits"])


def test_load_error_unparseable_name_and_bad_record(tmp_path):
    (tmp_path / "weird_eval.json").write_text("[]")
    with pytest.raises(InputError, match="weird_eval.json"):
        ps.load_score_folder(tmp_path)
    (tmp_path / "weird_eval.json").unlink()
    write_scores(tmp_path, "hf", "8192_b1", "trec", [0.5, 2.0])
    with pytest.raises(InputError, match=r"hf_.*_trec_eval\.json.*record 1"):
        ps.load_score_folder(tmp_path)


def test_load_error_several_models_and_empty(tmp_path):
    with pytest.raises(InputError, match="no \\*_eval.json"):
        ps.load_score_folder(tmp_path)
    write_scores(tmp_path, "hf", "8192_b1", "trec", [0.5])
    (tmp_path / "hf_Other-Model_8192_b1_trec_eval.json").write_text('[{"id": 0, "score": 0.1}]')
    with pytest.raises(InputError, match="several models.*Meta-Llama-3-8B-instruct, Other-Model"):
        ps.load_score_folder(tmp_path)
    assert ps.load_score_folder(tmp_path, model="Other-Model").get_column("score").to_list() == [0.1]
    with pytest.raises(InputError, match="does not exist"):
        ps.load_score_folder(tmp_path / "missing")


# --------------------------------------------------------------------------- reproduce fig5 (synthetic)


def run_reproduce(argv: list[str]) -> int:
    from negsamp.cli import reproduce

    parser = argparse.ArgumentParser(prog="negsamp")
    reproduce.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def naive_count(written, members, task, t, statistic) -> int:
    b = written[("hf_8192_b1", task)]
    others = [written[(m, task)] for m in members]
    thr = np.median(b) if statistic == "median" else np.mean(b)
    return sum(1 for i, bi in enumerate(b) if bi >= thr and all(not (bi * (1 - t) < o[i]) for o in others))


def test_reproduce_fig5_any_tasks_with_hyphens_and_underscores(tmp_path, capsys):
    tasks = {"repobench-p": 40, "passage_retrieval_en": 30, "2wikimqa": 25}
    written = write_fig5_folder(tmp_path / "scores", tasks)
    out = tmp_path / "out"
    assert run_reproduce(["reproduce", "fig5", "--scores", str(tmp_path / "scores"), "--out", str(out)]) == 0
    doc = json.loads((out / "fig5_counts.json").read_text())
    assert set(doc["tasks"]) == set(tasks)
    for rule, statistic in (("median_rule", "median"), ("mean_rule", "mean")):
        assert list(doc[rule]) == ["H2O", "StreamingLLM", "KIVI", "GEAR", "Sparse (C)", "Quant (C)"]
        for label, members in ps.FIG5_METHOD_SETS.items():
            assert list(doc[rule][label]) == ["1", "2", "4", "8", "10", "16", "24", "32"]
            for percent, per_task in doc[rule][label].items():
                assert per_task == {
                    task: naive_count(written, members, task, int(percent) / 100, statistic) for task in tasks
                }
    assert (out / "fig5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    text = capsys.readouterr().out
    assert "median rule" in text and "mean rule" in text and "Quant (C)" in text


def test_reproduce_fig5_names_a_missing_method_file(tmp_path):
    write_fig5_folder(tmp_path, {"trec": 5})
    (tmp_path / f"gear_{MODEL}_8192_b1_8bits_trec_eval.json").unlink()
    with pytest.raises(InputError, match=r"gear_Meta-Llama-3-8B-instruct_8192_b1_8bits_trec_eval\.json"):
        run_reproduce(["reproduce", "fig5", "--scores", str(tmp_path), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out" / "fig5_counts.json").exists()


def test_plot_sweep_writes_png(tmp_path):
    from negsamp import plots

    sweep = pl.DataFrame(
        {
            "statistic": ["median"] * 4,
            "method_set": ["A", "A", "B", "B"],
            "t": [0.01, 0.1, 0.01, 0.1],
            "task": ["x"] * 4,
            "threshold": [0.5] * 4,
            "count": [5, 3, 4, 1],
        }
    )
    path = plots.plot_sweep(sweep, tmp_path / "sub" / "s.png", mark_t=0.1)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_plot_build_figures(tmp_path):
    from negsamp import mining, plots

    scores = pl.DataFrame(
        {
            "task": ["a"] * 6,
            "sample_id": ["s0", "s1", "s2"] * 2,
            "method": ["none"] * 3 + ["snapkv:ratio=0.5"] * 3,
            "score": [1.0, 0.5, 0.0, 0.0, 0.5, 0.0],
        }
    )
    rule = mining.MiningRule(baseline="none", min_baseline=0.01)
    counts = pl.DataFrame({"task": ["a"], "snapkv:ratio=0.5": [1], "negatives": [1]})
    figures = plots.plot_build_figures(scores, ["snapkv:ratio=0.5"], rule, counts, tmp_path)
    assert len(figures) == 2
    for path in figures.values():
        assert path.read_bytes()[:4] == b"\x89PNG"
