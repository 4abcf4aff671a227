"""The dataset folder: schema, deterministic parquet, content hash, verify, card, load (no models, no network)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dataset_factory import METHODS, context, control_rows, negative_rows, row, write_example

from negsamp import dataset as ds
from negsamp.dataset import (
    ROW_SCHEMA,
    CardContext,
    DatasetRow,
    MethodOutcome,
    Outcome,
    parquet_bytes,
    read_card_header,
    verify_dataset,
    write_dataset,
)
from negsamp.errors import InputError
from negsamp.records import Prediction, Sample

CONFIG = "smollm2-135m"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"test tried to open a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def offline_hf(monkeypatch, tmp_path):
    """HF offline, with caches under tmp_path so tests share nothing."""
    import datasets
    import huggingface_hub.constants

    home = tmp_path / "hf_home"
    for var, value in {
        "HF_HOME": home,
        "HF_DATASETS_CACHE": home / "datasets",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }.items():
        monkeypatch.setenv(var, str(value))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return home / "datasets"


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


# --------------------------------------------------------------------------- schema


def test_row_schema_matches_the_model_and_covers_every_sample_field():
    assert ROW_SCHEMA.names == list(DatasetRow.model_fields)
    # Every field a dataset row shares with a Sample (`SampleFields`; the run-time-only
    # protocol / stop_texts / min_new_tokens are Sample's own and stated by the card).
    assert set(Sample.model_fields) - set(DatasetRow.model_fields) == \
        {"version", "protocol", "stop_texts", "min_new_tokens"}
    outcome_fields = [f.name for f in ROW_SCHEMA.field("baseline").type]
    assert outcome_fields == list(Outcome.model_fields)
    method_fields = [f.name for f in ROW_SCHEMA.field("methods").type.value_type]
    assert method_fields == list(MethodOutcome.model_fields)
    for model in (DatasetRow, Outcome, MethodOutcome, CardContext):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no docstring"


def test_rows_from_sample_and_predictions():
    sample = Sample(
        sample_id="s1", task="hotpotqa", category="QA", source="synthetic:seed=0", source_index=0,
        context="ctx", input="q?", answers=["a"], length=1, prompt="ctx\nq?", question_start=3,
        max_new_tokens=8, chat_template=False,
    )  # fmt: skip

    def pred(method: str, text: str) -> Prediction:
        return Prediction(
            sample_id="s1", task="hotpotqa", model="m", method=method, prediction=text, output_tokens=3,
            hit_eos=True, prompt_tokens=5, kv_bytes_prefill=100, kv_bytes_end=120, prefill_s=0.1, decode_s=0.2,
        )  # fmt: skip

    r = DatasetRow.from_sample(
        sample,
        threshold=0.5,
        baseline=Outcome.from_prediction(pred("none", "a"), 1.0),
        methods=[MethodOutcome.from_prediction(pred(METHODS[0], "b"), 0.0, negative=True)],
    )
    assert r.sample_id == "s1" and r.all_classes is None
    assert r.baseline.method == "none" and r.methods[0].negative is True
    assert r.methods[0].kv_bytes_prefill == 100


# --------------------------------------------------------------------------- determinism and hash


def test_writing_twice_gives_identical_bytes_and_hash(tmp_path):
    first = write_example(tmp_path / "a")
    second = write_example(tmp_path / "b")
    assert first.content_hash == second.content_hash
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert sorted(a) == [
        "README.md",
        f"data/{CONFIG}/control.parquet",
        f"data/{CONFIG}/negative.parquet",
        "manifest.json",
    ]
    assert a == b
    # rewriting in place changes nothing either, and row order given does not matter
    write_dataset(
        tmp_path / "a",
        name="negsamp-test",
        version="0.1.0",
        config=CONFIG,
        negative_rows=list(reversed(negative_rows())),
        control_rows=list(reversed(control_rows())),
        card_context=context(),
    )
    assert files_of(tmp_path / "a") == b
    assert not list((tmp_path / "a").rglob("*.tmp"))


def test_rows_are_sorted_and_the_hash_is_over_canonical_rows(tmp_path):
    manifest = write_example(tmp_path)
    table = pq.read_table(tmp_path / f"data/{CONFIG}/negative.parquet")
    keys = list(zip(table["task"].to_pylist(), table["sample_id"].to_pylist()))
    assert keys == sorted(keys)
    assert table.schema.equals(ROW_SCHEMA, check_metadata=False)
    assert table.schema.metadata[b"negsamp.row_version"] == b"1"

    # the hash is recomputable from the rows alone, without any parquet bytes
    splits = {"negative": ds.split_hash(CONFIG, "negative", negative_rows())}
    splits["control"] = ds.split_hash(CONFIG, "control", control_rows())
    entry = manifest.configs[CONFIG]
    assert {s: entry.splits[s].content_hash for s in ds.SPLITS} == splits
    assert manifest.version == 2
    figures = hashlib.sha256(b"[]").hexdigest()  # no figures: the canonical JSON of an empty list
    config = ds.config_hash(2, splits, context=entry, figures=figures)
    assert entry.content_hash == config
    assert manifest.content_hash == ds.folder_hash(
        2, {CONFIG: config}, name="negsamp-test", dataset_version="0.1.0",
        card_configs=ds.card_header(manifest)["configs"])
    line = ds.canonical_row(CONFIG, "negative", negative_rows()[0])
    assert json.loads(line)["split"] == "negative" and "Ünïcödé" in line
    # one changed prediction changes the hash
    changed = negative_rows()
    changed[0] = changed[0].model_copy(update={"input": "another question?"})
    assert ds.split_hash(CONFIG, "negative", changed) != splits["negative"]


def test_manifest_records_rule_thresholds_counts_and_paths(tmp_path):
    write_example(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["name"] == "negsamp-test" and data["dataset_version"] == "0.1.0"
    config = data["configs"][CONFIG]
    assert config["model"] == "smollm2-135m"
    assert config["rule"] == {
        "version": 1, "baseline": "none", "statistic": "median", "t": 0.1, "mode": "all", "min_baseline": 0.01,
    }  # fmt: skip
    assert {t["task"]: t["threshold"] for t in config["tasks"]} == {"hotpotqa": 0.5, "trec": 1.0}
    assert config["splits"]["negative"]["rows"] == 3 and config["splits"]["control"]["rows"] == 2
    assert config["splits"]["negative"]["path"] == f"data/{CONFIG}/negative.parquet"
    assert data["negsamp_version"]
    assert verify_dataset(tmp_path).content_hash == data["content_hash"]


# --------------------------------------------------------------------------- verify


def test_verify_detects_a_tampered_parquet(tmp_path):
    write_example(tmp_path)
    rows = negative_rows()
    rows[1] = rows[1].model_copy(update={"context": rows[1].context + " (edited)"})
    (tmp_path / f"data/{CONFIG}/negative.parquet").write_bytes(parquet_bytes(rows))
    with pytest.raises(InputError, match=r"negative\.parquet: rows do not match the manifest's content hash"):
        verify_dataset(tmp_path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), r"manifest\.json: missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), r"manifest\.json: not valid JSON"),
        (lambda d: (d / f"data/{CONFIG}/control.parquet").unlink(), r"control\.parquet: missing data file"),
        (
            lambda d: (d / f"data/{CONFIG}/control.parquet").write_bytes(b"garbage"),
            r"control\.parquet: not a readable",
        ),
        (lambda d: (d / "README.md").unlink(), r"README\.md: missing dataset card"),
        (
            lambda d: (d / "README.md").write_text("---\nconfigs: [\n---\n"),
            r"README\.md: YAML header does not parse",
        ),
        (lambda d: (d / "README.md").write_text("# no header\n"), r"README\.md: no YAML header"),
    ],
)
def test_verify_names_the_file_at_fault(tmp_path, damage, message):
    write_example(tmp_path)
    damage(tmp_path)
    with pytest.raises(InputError, match=message):
        verify_dataset(tmp_path)


def test_verify_checks_the_card_lists_the_configs_and_existing_files(tmp_path):
    write_example(tmp_path)
    card = tmp_path / "README.md"
    card.write_text(
        card.read_text().replace(f"path: data/{CONFIG}/control.parquet", "path: data/x/control.parquet")
    )
    with pytest.raises(InputError, match=r"YAML `configs`.*differ from the manifest"):
        verify_dataset(tmp_path)
    write_example(tmp_path)
    card.write_text(card.read_text().replace(f"config_name: {CONFIG}", "config_name: other", 1))
    with pytest.raises(InputError, match=r"YAML `configs`.*differ from the manifest"):
        verify_dataset(tmp_path)


def test_verify_unknown_config_and_missing_folder(tmp_path):
    write_example(tmp_path)
    with pytest.raises(InputError, match=r"unknown config 'llama'; known: smollm2-135m"):
        verify_dataset(tmp_path, config="llama")
    with pytest.raises(InputError, match="no such dataset folder"):
        verify_dataset(tmp_path / "nowhere")


# --------------------------------------------------------------------------- card


def test_card_header_is_what_the_hub_reads(tmp_path):
    import datasets

    write_example(tmp_path)
    header = read_card_header(tmp_path)
    assert header["license"] == "apache-2.0"
    assert header["task_categories"] == ["text-generation"]
    assert header["size_categories"] == ["n<1K"]
    assert header["tags"] == ["kv-cache", "compression", "long-context", "negative-samples"]
    (config,) = header["configs"]
    assert config["config_name"] == CONFIG
    assert config["data_files"] == [
        {"split": "negative", "path": f"data/{CONFIG}/negative.parquet"},
        {"split": "control", "path": f"data/{CONFIG}/control.parquet"},
    ]
    for item in config["data_files"]:
        assert (tmp_path / item["path"]).is_file()
    (info,) = header["dataset_info"]
    assert info["features"] == datasets.Features.from_arrow_schema(ROW_SCHEMA)._to_yaml_list()
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {"negative": 3, "control": 2}


def test_card_renders_the_given_numbers(tmp_path):
    fig = tmp_path / "negatives vs t.png"
    fig.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    manifest = write_example(tmp_path / "out", figures={"Negatives vs t": fig})
    text = (tmp_path / "out" / "README.md").read_text()
    body = text.split("\n---\n", 1)[1]
    assert "not (b * (1 - t) < o)" in body
    assert "statistic `median`, `t = 0.1`, mode `all`" in body
    assert "min_baseline `0.01`" in body
    # per-task table: pool, baseline accuracy, THR, baseline good, per-method, split counts
    assert "| hotpotqa | QA | 8 | 0.457 | 0.500 | 4 | 3 | 2 | 2 | 1 |" in body
    assert "| trec | Few-shot | 8 | 0.875 | 1.000 | 7 | 1 | 1 | 1 | 1 |" in body
    # per-method output lengths: pool (given) and negatives (from rows: 10, 8, 10 baseline tokens)
    assert "| `none` (baseline) | – | 11.2 | 10.0 | 0.90 | 9.3 | 10.0 | 1.000 | 1.00 |" in body
    assert "| `snapkv:ratio=0.5` | 4 | 17.5 | 15.0 | – |" in body
    assert "| backend | transformers |" in body
    assert 'datasets.load_dataset(where, "smollm2-135m", split="negative")' in body and "DIR_OR_REPO" not in body
    assert "negsamp.load(" in body
    assert "@inproceedings{gao2025rethinking" in body and "MLSys" in body
    assert manifest.content_hash in body
    assert "Tiny CPU build" in body
    (figure,) = manifest.configs[CONFIG].figures
    assert figure.path == f"figures/{CONFIG}/negatives-vs-t.png"
    assert f"![Negatives vs t]({figure.path})" in body
    assert (tmp_path / "out" / figure.path).read_bytes() == fig.read_bytes()
    verify_dataset(tmp_path / "out")
    # rewriting without figures removes them
    write_example(tmp_path / "out")
    assert not (tmp_path / "out" / "figures" / CONFIG).exists()
    assert "![" not in (tmp_path / "out" / "README.md").read_text()


def test_template_ships_inside_the_package():
    template = resources.files("negsamp").joinpath("dataset_cards", ds.TEMPLATE)
    assert template.is_file()
    assert "{{ header }}" in template.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- second config


def test_a_second_config_merges_into_the_folder(tmp_path, offline_hf):
    import datasets

    first = write_example(tmp_path)
    rows = [row("hotpotqa", 7, 1.0, [0.0, 0.1])]
    second = write_dataset(
        tmp_path,
        name="negsamp-test",
        version="0.1.0",
        config="llama-3.1-8b",
        negative_rows=rows,
        control_rows=[],
        card_context=context(model="meta-llama/Llama-3.1-8B-Instruct"),
    )
    assert sorted(second.configs) == ["llama-3.1-8b", CONFIG]
    assert second.configs[CONFIG] == first.configs[CONFIG]
    assert second.content_hash != first.content_hash
    assert verify_dataset(tmp_path) == second
    header = read_card_header(tmp_path)
    assert [c["config_name"] for c in header["configs"]] == ["llama-3.1-8b", CONFIG]
    text = (tmp_path / "README.md").read_text()
    assert "## Config `llama-3.1-8b`" in text and f"## Config `{CONFIG}`" in text
    loaded = datasets.load_dataset(str(tmp_path), "llama-3.1-8b", split="negative", cache_dir=str(offline_hf))
    assert loaded.num_rows == 1
    # an empty split stays on disk (negsamp.load reads it) but the card does not list it for `datasets`
    llama = next(c for c in header["configs"] if c["config_name"] == "llama-3.1-8b")
    assert [f["split"] for f in llama["data_files"]] == ["negative"]
    assert "the empty control split is not listed" in text
    assert ds.load(tmp_path, config="llama-3.1-8b", split="control").num_rows == 0
    # rewriting the first config keeps the second
    write_example(tmp_path)
    assert verify_dataset(tmp_path).content_hash == second.content_hash
    with pytest.raises(InputError, match="has configs"):
        ds.load(tmp_path)
    # a different dataset cannot be merged in
    with pytest.raises(InputError, match="holds dataset 'negsamp-test' version '0.1.0'"):
        write_dataset(
            tmp_path, name="negsamp-test", version="0.2.0", config="x", negative_rows=rows,
            control_rows=[], card_context=context(),
        )  # fmt: skip


# --------------------------------------------------------------------------- load


def test_load_dataset_offline_with_typed_features(tmp_path, offline_hf):
    import datasets

    write_example(tmp_path)
    negatives = datasets.load_dataset(str(tmp_path), CONFIG, split="negative", cache_dir=str(offline_hf))
    assert negatives.num_rows == 3
    features = negatives.features
    assert features["answers"] in (
        datasets.List(datasets.Value("string")),
        datasets.Sequence(datasets.Value("string")),
    )
    assert features["threshold"] == datasets.Value("float64")
    assert features["baseline"]["output_tokens"] == datasets.Value("int64")
    methods = features["methods"]
    assert isinstance(methods, datasets.List | datasets.Sequence)
    assert methods.feature["negative"] == datasets.Value("bool")
    assert [m["method"] for m in negatives[0]["methods"]] == METHODS
    assert negatives[0]["all_classes"] is None
    control = datasets.load_dataset(str(tmp_path), CONFIG, split="control", cache_dir=str(offline_hf))
    assert control.num_rows == 2 and control[1]["all_classes"] == ["A", "B"]


def test_negsamp_load_reads_a_local_folder_offline(tmp_path, offline_hf):
    import datasets

    import negsamp

    write_example(tmp_path)
    negatives = negsamp.load(tmp_path)
    assert isinstance(negatives, datasets.Dataset)
    assert str(negatives.split) == "negative" and negatives.num_rows == 3
    assert negatives.features == datasets.Features.from_arrow_schema(ROW_SCHEMA)
    assert negatives[0]["task"] == "hotpotqa"
    control = negsamp.load(str(tmp_path), config=CONFIG, split="control")
    assert control.num_rows == 2
    assert not offline_hf.exists() or not any(offline_hf.rglob("*.arrow"))  # nothing cached
    with pytest.raises(InputError, match="unknown split 'train'"):
        negsamp.load(tmp_path, split="train")
    with pytest.raises(InputError, match="unknown config 'llama'"):
        negsamp.load(tmp_path, config="llama")
    # Written as a path, a missing folder is said to be missing, not tried as a Hub repo.
    with pytest.raises(InputError, match="deeper: no such dataset folder$"):
        negsamp.load(tmp_path / "missing" / "deeper")
    with pytest.raises(InputError, match="neither a dataset folder nor a Hub repo id"):
        negsamp.load("no repo id")


def test_a_mistyped_local_folder_is_missing_not_a_hub_download(tmp_path, monkeypatch):
    from negsamp.evaluator import resolve_dataset

    (tmp_path / "demo_out" / "dataset").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    # `demo_out/datset` has the shape of a Hub id (ORG/NAME), but demo_out/ exists here.
    for call in (resolve_dataset, ds.load):
        with pytest.raises(InputError, match=r"^demo_out/datset: no such dataset folder \(folders in demo_out: dataset\)"):
            call("demo_out/datset")


def test_load_rows_gives_a_polars_frame(tmp_path):
    import polars as pl

    write_example(tmp_path)
    frame = ds.load_rows(tmp_path, CONFIG, "negative")
    assert isinstance(frame, pl.DataFrame) and frame.height == 3
    assert frame["methods"].dtype.inner.fields[-1].name == "negative"
    control = [r.sample_id for r in sorted(control_rows(), key=lambda r: r.key)]
    assert [r.sample_id for r in ds.read_rows(tmp_path, split="control")] == control


def test_import_negsamp_stays_cheap():
    code = "import sys, negsamp; print(any(m in sys.modules for m in ('pyarrow', 'datasets', 'polars', 'negsamp.dataset')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- bad inputs


def _write(tmp_path, negative=None, control=None, ctx=None, **kwargs):
    args = dict(
        name="negsamp-test",
        version="0.1.0",
        config=CONFIG,
        negative_rows=negative_rows() if negative is None else negative,
        control_rows=control_rows() if control is None else control,
        card_context=ctx or context(),
    )
    args.update(kwargs)
    return write_dataset(tmp_path, **args)


def _swap_methods(r: DatasetRow) -> DatasetRow:
    return r.model_copy(update={"methods": list(reversed(r.methods))})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda: {"negative": [_swap_methods(negative_rows()[0])]},
            r"methods \['kivi:bits=2', 'snapkv:ratio=0.5'\], expected",
        ),
        (lambda: {"negative": [negative_rows()[0]] * 2}, "appears twice"),
        (lambda: {"control": [negative_rows()[0]]}, "a control sample must be negative for no method"),
        (lambda: {"negative": control_rows()[:1]}, "not negative under mode 'all'"),
        (lambda: {"negative": [row("hotpotqa", 9, 0.4, [0.0, 0.0])]}, "is not baseline-good"),
        (
            lambda: {"negative": [negative_rows()[0].model_copy(update={"threshold": 0.25})]},
            "threshold 0.25, card_context says 0.5",
        ),
        (
            lambda: {"negative": [negative_rows()[0].model_copy(update={"task": "qasper"})]},
            "task is not in card_context.tasks",
        ),
        (lambda: {"config": "bad/name"}, "config name 'bad/name'"),
        (lambda: {"name": ""}, "dataset name must be a non-empty single line"),
        (lambda: {"negative": [], "control": []}, "has no rows in either split"),
        (lambda: {"negative": [{"sample_id": "x"}]}, r"negative row 0: field 'task': Field required"),
        (lambda: {"card_context": {"model": "m"}}, r"card_context: field 'methods'"),
        (
            lambda: {"figures": {"Plot": "/nonexistent/plot.png"}},
            "figure 'Plot': /nonexistent/plot.png: no such file",
        ),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(tmp_path, change, message):
    kwargs = change()
    if "card_context" in kwargs:
        kwargs["ctx"] = kwargs.pop("card_context")
    with pytest.raises(InputError, match=message):
        _write(tmp_path, **kwargs)
    assert not (tmp_path / "manifest.json").exists()


def test_a_wrong_negative_flag_is_refused(tmp_path):
    r = negative_rows()[0]
    flipped = [m.model_copy(update={"negative": not m.negative}) for m in r.methods]
    with pytest.raises(InputError, match=r"method 'snapkv:ratio=0.5' negative=False, but the rule"):
        _write(tmp_path, negative=[r.model_copy(update={"methods": flipped})])


def test_union_mode_and_a_sample_in_both_splits(tmp_path):
    ctx = context(rule=context().rule.model_copy(update={"mode": "any"}))
    # under `any`, a row negative for one method only belongs to the negative split
    partial = row("hotpotqa", 11, 1.0, [0.0, 1.0])
    _write(tmp_path / "ok", negative=[partial], control=[], ctx=ctx)
    with pytest.raises(InputError, match="not negative under mode 'all'"):
        _write(tmp_path / "all", negative=[partial], control=[])
    same_id = row("hotpotqa", 11, 1.0, [1.0, 1.0])
    with pytest.raises(InputError, match="is in both the negative and the control split"):
        _write(tmp_path / "bad", negative=[partial], control=[same_id], ctx=ctx)


def test_card_context_must_be_consistent():
    with pytest.raises(ValueError, match="negatives_by_method"):
        context(methods=["snapkv:ratio=0.5"])
    with pytest.raises(ValueError, match="also listed as a compared method"):
        context(methods=["none", *METHODS])


def test_a_foreign_folder_is_not_overwritten(tmp_path):
    (tmp_path / "README.md").write_text("# my project\n")
    with pytest.raises(InputError, match="no manifest.json: not a negsamp dataset folder"):
        _write(tmp_path)
    assert (tmp_path / "README.md").read_text() == "# my project\n"


def test_card_limitations_and_citation_follow_the_dataset(tmp_path):
    from negsamp.dataset.card import task_families

    manifest = write_example(tmp_path)
    body = (tmp_path / "README.md").read_text(encoding="utf-8")
    # The example's rows all come from synthetic sources: no LongBench licence or F1/ROUGE talk.
    assert "scored by string match" in body
    assert "LongBench keep the licence" not in body and "ROUGE" not in body
    dataset_bib = body.split("This dataset:")[1].split("```")[1]
    assert dataset_bib.startswith("bibtex\n@misc{") and f"sha256:{manifest.content_hash}" in dataset_bib
    assert "DIR_OR_REPO" not in body
    row = negative_rows()[0]
    longbench = row.model_copy(update={"source": "longbench:local:/x.jsonl"})
    assert task_families({"c": {"negative": [row, longbench], "control": []}}) == {
        "longbench": [row.task], "synthetic": [row.task]}


def _png(path: Path, shade: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, shade])
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def test_attach_figures_keeps_rows_adds_figures_and_notes_and_replaces_by_caption(tmp_path):
    first = write_example(tmp_path / "d")
    rows_before = {p: b for p, b in files_of(tmp_path / "d").items() if p.startswith("data/")}
    cost = _png(tmp_path / "cost.png", 1)
    after = ds.attach_figures(tmp_path / "d", {"Evaluation cost": cost}, notes=["Measured on 2 cores."])
    verify_dataset(tmp_path / "d")
    assert after.content_hash != first.content_hash  # figures and notes are covered by the hash
    files = files_of(tmp_path / "d")
    assert {p: b for p, b in files.items() if p.startswith("data/")} == rows_before
    entry = after.configs[CONFIG]
    assert [f.caption for f in entry.figures] == ["Evaluation cost"]
    assert entry.notes[-1] == "Measured on 2 cores."
    card = files["README.md"].decode()
    assert "Evaluation cost" in card and "Measured on 2 cores." in card
    # the same caption again replaces the figure; the note is not repeated
    again = ds.attach_figures(tmp_path / "d", {"Evaluation cost": _png(tmp_path / "cost.png", 2)},
                              notes=["Measured on 2 cores."])
    verify_dataset(tmp_path / "d")
    assert [f.caption for f in again.configs[CONFIG].figures] == ["Evaluation cost"]
    assert again.configs[CONFIG].notes.count("Measured on 2 cores.") == 1
    assert again.content_hash != after.content_hash
    assert sorted(p.name for p in (tmp_path / "d" / "figures" / CONFIG).iterdir()) == ["cost.png"]
