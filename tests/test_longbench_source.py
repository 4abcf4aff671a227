"""LongBench v1 loader (negsamp.tasks.longbench): prompts, truncation, chat template, bad rows.

Real rows come from ../shared/data/longbench_sample (tests that need them skip when the
folder is absent); error cases use small files under tmp_path. The tokenizer is an
in-memory byte-level one (one token per UTF-8 byte), so decoding gives back exact text.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
import zipfile
from pathlib import Path

import pytest
from conftest import build_byte_tokenizer

from negsamp.errors import InputError, UnknownNameError
from negsamp.tasks import get_task
from negsamp.tasks.longbench import load_longbench
from negsamp.tasks.longbench_table import LONGBENCH_TASKS, NO_CHAT_TASKS, longbench_configs
from negsamp.tasks.sources import load_task_samples, validate_task_spec

DATA = Path(os.environ.get("NEGSAMP_SHARED_DATA", Path(__file__).parents[1] / ".." / "shared" / "data"))
SAMPLES = DATA / "longbench_sample"
needs_shared_data = pytest.mark.skipif(
    not SAMPLES.is_dir(),
    reason=f"reference data {SAMPLES} is absent (it lives beside the project, not in a fresh clone)",
)
SHARED_TASKS = ["gov_report", "multi_news", "qasper", "qmsum", "repobench-p"]
NO_LIMIT = 10**9


@pytest.fixture(scope="module")
def tok():
    return build_byte_tokenizer()


def rows_of(task: str) -> list[dict]:
    return [json.loads(line) for line in (SAMPLES / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def chat(tokenizer, text: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                         add_generation_prompt=True)


def row(**changes) -> dict:
    base = {"input": "What is the answer?", "context": "Some context. " * 20, "answers": ["forty-two"],
            "length": 60, "dataset": "qasper", "language": "en", "all_classes": None, "_id": "abc123"}
    base.update(changes)
    return base


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the table


def test_every_longbench_task_has_pred_py_prompt_budget_and_chat_choice():
    table = longbench_configs()
    assert list(table) == list(LONGBENCH_TASKS) and len(table) == 21
    for task in LONGBENCH_TASKS:
        spec = get_task(task)
        assert spec is not None and spec == table[task]  # the registry serves the table itself
        assert spec.chat_template is (task not in NO_CHAT_TASKS)
        assert "{context}" in spec.prompt_template
    assert set(NO_CHAT_TASKS) == {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"}
    budgets = {task: get_task(task).max_new_tokens for task in LONGBENCH_TASKS}
    assert budgets["gov_report"] == budgets["qmsum"] == budgets["multi_news"] == budgets["vcsum"] == 512
    assert budgets["hotpotqa"] == budgets["triviaqa"] == budgets["passage_count"] == 32
    assert budgets["narrativeqa"] == budgets["qasper"] == budgets["samsum"] == budgets["dureader"] == 128
    assert budgets["trec"] == budgets["lcc"] == budgets["repobench-p"] == budgets["multifieldqa_en"] == 64
    assert get_task("lcc").prompt_template == "Please complete the code given below. \n{context}Next line of code:\n"
    assert get_task("narrativeqa").prompt_template.count("asconcisely") == 2  # LongBench's typo, kept


# --------------------------------------------------------------------------- the shared samples


@needs_shared_data
@pytest.mark.parametrize("task", SHARED_TASKS)
def test_shared_samples_load_with_pred_py_prompts(tok, task):
    rows = rows_of(task)
    samples = load_longbench(task, path=SAMPLES / f"{task}.jsonl", tokenizer=tok, max_length=NO_LIMIT)
    assert len(samples) == len(rows)
    template = get_task(task).prompt_template
    tail = template.split("{context}", 1)[1]
    for index, (sample, source) in enumerate(zip(samples, rows)):
        plain = template.format(context=source["context"], input=source["input"])
        assert sample.prompt == (plain if task == "repobench-p" else chat(tok, plain))
        assert sample.chat_template is (task != "repobench-p")
        assert source["context"] in sample.prompt and source["input"] in sample.prompt
        assert sample.prompt[sample.question_start:].startswith(tail.format(input=source["input"]))
        assert sample.prompt[:sample.question_start].endswith(source["context"])
        assert (sample.task, sample.category, sample.source_index) == (task, get_task(task).category, index)
        assert (sample.answers, sample.all_classes, sample.length) == \
            (source["answers"], source["all_classes"], source["length"])
        assert (sample.context, sample.input) == (source["context"], source["input"])
        assert sample.max_new_tokens == get_task(task).max_new_tokens
        assert sample.source == f"longbench:local:{SAMPLES / f'{task}.jsonl'}"
    assert len({s.sample_id for s in samples}) == len(samples)


@needs_shared_data
def test_sample_ids_are_stable(tok):
    first = load_longbench("qasper", path=SAMPLES / "qasper.jsonl", tokenizer=tok, max_length=4000)
    again = load_longbench("qasper", path=SAMPLES, tokenizer=tok, max_length=4000)  # a folder works too
    assert [s.model_dump(exclude={"source"}) for s in first] == [s.model_dump(exclude={"source"}) for s in again]


@needs_shared_data
def test_truncation_keeps_the_head_and_the_tail_of_the_prompt(tok):
    source = rows_of("qmsum")[0]
    plain = get_task("qmsum").prompt_template.format(context=source["context"], input=source["input"])
    ids = tok(plain)["input_ids"]
    max_length = 3000
    assert len(ids) > max_length
    expected = (tok.decode(ids[:1500], skip_special_tokens=True)
                + tok.decode(ids[-1500:], skip_special_tokens=True))
    sample = load_longbench("qmsum", path=SAMPLES / "qmsum.jsonl", tokenizer=tok, max_length=max_length,
                            limit=1)[0]
    assert sample.prompt == chat(tok, expected)
    assert len(tok(expected)["input_ids"]) <= max_length
    assert "You are given a meeting transcript and a query" in sample.prompt
    assert sample.prompt.endswith(f"Query: {source['input']}\nAnswer:<|im_end|>\n<|im_start|>assistant\n")
    assert source["context"][:1000] in sample.prompt and source["context"][-1000:] in sample.prompt
    assert source["context"] not in sample.prompt  # the middle is gone
    assert sample.prompt[sample.question_start:].startswith(
        "\n\nNow, answer the query based on the above meeting transcript")
    assert sample.context == source["context"]  # the record keeps the whole context


@needs_shared_data
def test_chat_template_is_skipped_for_repobench_p_and_lcc(tok, tmp_path):
    (repobench,) = load_longbench("repobench-p", path=SAMPLES / "repobench-p.jsonl", tokenizer=tok,
                                  max_length=2000)
    assert repobench.chat_template is False
    assert repobench.prompt.startswith("Please complete the code given below. \n")
    assert repobench.prompt.endswith("Next line of code:\n")
    assert "<|im_start|>" not in repobench.prompt
    lcc_file = write_jsonl(tmp_path / "lcc.jsonl", [row(dataset="lcc", language="python", input="",
                                                        context="def f(x):\n    return x\n")])
    (lcc,) = load_longbench("lcc", path=lcc_file, tokenizer=tok, max_length=2000)
    assert lcc.chat_template is False
    assert lcc.prompt == "Please complete the code given below. \ndef f(x):\n    return x\nNext line of code:\n"
    assert lcc.prompt[lcc.question_start:] == "Next line of code:\n"


@needs_shared_data
def test_spec_strings_load_and_validate_the_shared_files(tok):
    spec = f"longbench:gov_report:path={SAMPLES / 'gov_report.jsonl'},limit=2"
    assert validate_task_spec(spec).limit == 2
    samples = load_task_samples(spec, tokenizer=tok, max_length=5000)
    assert [s.source_index for s in samples] == [0, 1]
    relative = load_task_samples("longbench:qasper:path=longbench_sample/qasper.jsonl", tokenizer=tok,
                                 max_length=5000, base_dir=DATA)
    assert len(relative) == 2


# --------------------------------------------------------------------------- chat template variants


def test_tokenizer_without_chat_template_gets_the_plain_prompt(tmp_path):
    plain_tok = build_byte_tokenizer(chat=False)
    file = write_jsonl(tmp_path / "qasper.jsonl", [row()])
    (sample,) = load_longbench("qasper", path=file, tokenizer=plain_tok, max_length=5000)
    assert sample.chat_template is False
    assert sample.prompt == get_task("qasper").prompt_template.format(context=row()["context"], input=row()["input"])


def test_chat_template_fn_replaces_the_tokenizer_template(tok, tmp_path):
    file = write_jsonl(tmp_path / "qasper.jsonl", [row()])
    (sample,) = load_longbench("qasper", path=file, tokenizer=tok, max_length=5000,
                               chat_template_fn=lambda text: f"[INST]{text.strip()}[/INST]")
    assert sample.chat_template is True
    assert sample.prompt.startswith("[INST]You are given a scientific article")
    assert sample.prompt.endswith("Answer:[/INST]")
    assert sample.prompt[sample.question_start:].startswith("\n\n Answer the question based on the above")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad, message", [
    ({"answers": None}, "line 2: field 'answers' must be a list of strings, got NoneType"),
    ({"answers": ["ok", 3]}, "line 2: field 'answers' must hold strings only"),
    ({"answers": []}, "line 2: field 'answers' is empty"),
    ({"length": "12"}, "line 2: field 'length' must be an integer, got str"),
    ({"length": True}, "line 2: field 'length' must be an integer, got bool"),
    ({"context": 5}, "line 2: field 'context' must be a string"),
    ({"all_classes": "a"}, "line 2: field 'all_classes' must be a list of strings or null"),
    ({"dataset": "qmsum"}, "line 2: field 'dataset' is 'qmsum', but the task is 'qasper'"),
])
def test_bad_rows_name_file_line_and_field(tok, tmp_path, bad, message):
    file = write_jsonl(tmp_path / "qasper.jsonl", [row(), row(**bad)])
    with pytest.raises(InputError, match=re.escape(f"{file}, {message}")):
        load_longbench("qasper", path=file, tokenizer=tok, max_length=5000)
    with pytest.raises(InputError, match=re.escape(message)):
        validate_task_spec(f"longbench:qasper:path={file}")  # caught before any tokenizer or model


def test_missing_field_bad_json_and_bad_utf8(tok, tmp_path):
    incomplete = row()
    del incomplete["_id"]
    file = write_jsonl(tmp_path / "a.jsonl", [row(), incomplete])
    with pytest.raises(InputError, match=re.escape(f"{file}, line 2: field '_id' is missing")):
        load_longbench("qasper", path=file, tokenizer=tok, max_length=5000)
    broken = tmp_path / "b.jsonl"
    broken.write_text(json.dumps(row()) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"{broken}, line 3: invalid JSON")):
        load_longbench("qasper", path=broken, tokenizer=tok, max_length=5000)
    latin = tmp_path / "c.jsonl"
    latin.write_bytes(json.dumps(row(input="caf\u00e9"), ensure_ascii=False).encode("latin-1") + b"\n")
    with pytest.raises(InputError, match=re.escape(f"{latin}, line 1: not valid UTF-8")):
        load_longbench("qasper", path=latin, tokenizer=tok, max_length=5000)
    array = write_jsonl(tmp_path / "d.jsonl", [[1, 2]])
    with pytest.raises(InputError, match="line 1: a LongBench row must be a JSON object, got list"):
        load_longbench("qasper", path=array, tokenizer=tok, max_length=5000)


def test_unreadable_paths_are_named(tok, tmp_path):
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(InputError, match=re.escape(f"LongBench file {missing} does not exist")):
        load_longbench("qasper", path=missing, tokenizer=tok, max_length=5000)
    text = tmp_path / "rows.txt"
    text.write_text("x")
    with pytest.raises(InputError, match=re.escape(f"{text}: expected a .jsonl")):
        load_longbench("qasper", path=text, tokenizer=tok, max_length=5000)
    with pytest.raises(InputError, match=re.escape(f"folder {tmp_path} holds none of qasper.jsonl")):
        load_longbench("qasper", path=tmp_path, tokenizer=tok, max_length=5000)
    with pytest.raises(UnknownNameError, match="known LongBench tasks: narrativeqa, qasper"):
        load_longbench("qasperr", path=missing, tokenizer=tok, max_length=5000)


def test_parquet_files_load_and_damaged_ones_are_named(tok, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = tmp_path / "qasper.parquet"
    pq.write_table(pa.Table.from_pylist([row(), row(_id="second", answers=["x", "y"])]), file)
    samples = load_longbench("qasper", path=tmp_path, tokenizer=tok, max_length=5000)
    assert [s.answers for s in samples] == [["forty-two"], ["x", "y"]]
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match=re.escape(f"LongBench parquet file {damaged} is not valid parquet")):
        load_longbench("qasper", path=damaged, tokenizer=tok, max_length=5000)


# --------------------------------------------------------------------------- the Hub


def fake_hub(monkeypatch, *, load_dataset, hf_hub_download):
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))


def test_offline_hub_load_says_which_task_and_suggests_a_path(tok, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'THUDM/LongBench' on the Hub (LocalEntryNotFoundError)")

    def no_retry(*args, **kwargs):
        pytest.fail("an unreachable Hub must not be asked again for data.zip")

    fake_hub(monkeypatch, load_dataset=offline, hf_hub_download=no_retry)
    with pytest.raises(InputError) as caught:
        load_longbench("hotpotqa", tokenizer=tok, max_length=5000)
    message = str(caught.value)
    assert "cannot load LongBench task 'hotpotqa' from the Hugging Face Hub (THUDM/LongBench)" in message
    assert "Couldn't reach" in message and "longbench:hotpotqa:path=" in message


def test_hub_load_falls_back_to_the_data_zip(tok, monkeypatch, tmp_path):
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as opened:
        opened.writestr("data/qasper.jsonl", json.dumps(row()) + "\n")
    calls = []

    def no_scripts(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("Dataset scripts are no longer supported, but found LongBench.py")

    def download(repo_id, filename, repo_type=None):
        assert (repo_id, filename, repo_type) == ("THUDM/LongBench", "data.zip", "dataset")
        return str(archive)

    fake_hub(monkeypatch, load_dataset=no_scripts, hf_hub_download=download)
    (sample,) = load_longbench("qasper", tokenizer=tok, max_length=5000)
    assert calls == [("THUDM/LongBench", "qasper")]
    assert sample.source == "longbench:hub:THUDM/LongBench" and sample.answers == ["forty-two"]


def test_hub_rows_from_load_dataset_are_used_directly(tok, monkeypatch):
    def load_dataset(repo, task, split):
        assert (repo, task, split) == ("THUDM/LongBench", "qasper", "test")
        return [row(), row(_id="b")]

    fake_hub(monkeypatch, load_dataset=load_dataset, hf_hub_download=None)
    samples = load_longbench("qasper", tokenizer=tok, max_length=5000, limit=1)
    assert len(samples) == 1 and samples[0].source_index == 0
