"""Task sources through the `negsamp.task_sources` entry points, and LongBench's protocol=rethink."""

from __future__ import annotations

import importlib.metadata
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import build_byte_tokenizer

from negsamp.errors import InputError, UnknownNameError
from negsamp.recipe import load_recipe
from negsamp.records import Sample, content_id
from negsamp.tasks import get_task, known_families, sources
from negsamp.tasks.longbench import load_longbench
from negsamp.tasks.source import TaskSource, int_param

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEGSAMP_SHARED_DATA", ROOT / ".." / "shared" / "data"))
SAMPLES = DATA / "longbench_sample"
needs_shared_data = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"reference data {SAMPLES} is absent")


def test_builtins_are_registered_once_in_pyproject_and_installed():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    table = declared[sources.ENTRY_POINT_GROUP]
    assert set(table) == {"longbench", *known_families()}
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=sources.ENTRY_POINT_GROUP)}
    for name, ref in table.items():
        assert installed.get(name) == ref, f"run `pip install --no-deps -e .` to register {name}"


@dataclass(frozen=True)
class EchoSource(TaskSource):
    """A third-party source: `echo:n=N` gives N one-line samples."""

    n: int = 1
    kind = "echo"
    params_known = ("n",)

    @classmethod
    def from_spec(cls, parsed, *, spec, base_dir):
        params = cls.check_params(parsed, spec)
        return cls(spec=spec, task="passkey", n=int_param(spec, "n", params.get("n", "1"), minimum=1))

    def load(self, *, tokenizer, max_length):
        return [Sample(sample_id=content_id("echo", i), task=self.task, category="Synthetic", source="echo",
                       source_index=i, context=f"The pass key is {i}.", input="", answers=[str(i)], length=5,
                       prompt=f"The pass key is {i}. The pass key is", question_start=19, max_new_tokens=4,
                       chat_template=False) for i in range(self.n)]


@pytest.fixture
def echo_entry_point(monkeypatch):
    """An installed plug-in, as importlib.metadata would list it."""
    fake = importlib.metadata.EntryPoint(name="echo", value=f"{__name__}:EchoSource", group=sources.ENTRY_POINT_GROUP)
    real = importlib.metadata.entry_points

    def entry_points(**kwargs):
        found = list(real(**kwargs))
        return found + [fake] if kwargs.get("group") == sources.ENTRY_POINT_GROUP else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    sources._entry_point_sources.cache_clear()
    yield
    sources._entry_point_sources.cache_clear()


def test_a_recipe_can_name_a_third_party_source(echo_entry_point, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\ndataset_version: 0.1.0\nmodel: m\ntasks: ['echo:n=3', 'passkey:count=2']\n"
                      "methods: ['streamingllm:ratio=0.5']\n")
    assert load_recipe(recipe).tasks[0] == "echo:n=3"
    samples = sources.load_task_samples("echo:n=3", tokenizer=None, max_length=100)
    assert [s.answers for s in samples] == [["0"], ["1"], ["2"]]
    with pytest.raises(InputError, match="unknown parameter 'm'; parameters: n"):
        sources.validate_task_spec("echo:m=3")


def test_without_the_plug_in_the_name_is_unknown():
    sources._entry_point_sources.cache_clear()
    with pytest.raises(UnknownNameError, match="unknown task source 'echo'.*known sources: common_words"):
        sources.parse_task_spec("echo:n=3")


def test_register_source_at_run_time(monkeypatch):
    monkeypatch.setattr(sources, "_extra", {})
    sources.register_source("echo2", EchoSource)
    assert sources.parse_task_spec("echo2:n=2").n == 2
    with pytest.raises(TypeError, match="subclassing"):
        sources.register_source("bad", dict)


# --------------------------------------------------------------------------- protocol=rethink


def reference_rethink(row: dict, task: str, tok, max_length: int) -> tuple[str, int]:
    """The paper's evaluator's prompt and max_gen, restated from its docstring formula."""
    config = get_task(task)
    raw = config.prompt_template.format(context=row["context"], input=row["input"])
    ids = tok(raw, truncation=False)["input_ids"]
    max_gen = max(config.max_new_tokens, min(int(len(row["answers"][0].split()) * 1.1) // 32 * 32, max_length // 4))
    if len(ids) > max_length:
        half = int((max_length - max_gen) / 2)
        raw = tok.decode(ids[:half], skip_special_tokens=True) + tok.decode(ids[-half:], skip_special_tokens=True)
    return raw, max_gen


@needs_shared_data
@pytest.mark.parametrize("task, max_length", [("gov_report", 8192), ("gov_report", 3000), ("qmsum", 4000),
                                               ("repobench-p", 2000), ("qasper", 100_000)])
def test_rethink_prompts_budgets_and_no_chat_template(task, max_length):
    tok = build_byte_tokenizer()  # has a chat template: rethink must not use it
    rows = [json.loads(line) for line in (SAMPLES / f"{task}.jsonl").read_text().splitlines() if line.strip()]
    samples = load_longbench(task, path=SAMPLES, tokenizer=tok, max_length=max_length, protocol="rethink")
    pred_py = load_longbench(task, path=SAMPLES, tokenizer=tok, max_length=max_length)
    for sample, row, other in zip(samples, rows, pred_py):
        prompt, max_gen = reference_rethink(row, task, tok, max_length)
        assert (sample.prompt, sample.max_new_tokens) == (prompt, max_gen)
        assert (sample.protocol, sample.chat_template, sample.stop_texts) == ("rethink", False, [])
        assert other.protocol == "longbench" and other.max_new_tokens == get_task(task).max_new_tokens
        assert len(tok(sample.prompt)["input_ids"]) <= max_length - max_gen + 2  # BOS twice at most
    if task == "gov_report":  # long reference summaries: the budget grows past dataset2maxlen's 512
        assert max(s.max_new_tokens for s in samples) > 512
        assert {s.max_new_tokens for s in samples} <= {512, 544, 576, 608, 640, 672, 704, 736, 768, 800,
                                                       832, 864, 896, 928, 960, 992, 1024, max_length // 4}


def test_rethink_samsum_stops_at_newline_after_one_token(tmp_path):
    row = {"input": "Dialogue: A: hi\nSummary:", "context": "Dialogue: B: yo\nSummary: B greets.",
           "answers": ["A says hi."], "length": 9, "dataset": "samsum", "language": "en", "all_classes": None,
           "_id": "s1"}
    (tmp_path / "samsum.jsonl").write_text(json.dumps(row) + "\n")
    sample = load_longbench("samsum", path=tmp_path, tokenizer=build_byte_tokenizer(), max_length=512,
                            protocol="rethink")[0]
    assert (sample.stop_texts, sample.min_new_tokens, sample.max_new_tokens) == (["\n"], 1, 128)
    plain = load_longbench("samsum", path=tmp_path, tokenizer=build_byte_tokenizer(), max_length=512)[0]
    assert (plain.stop_texts, plain.min_new_tokens) == ([], 0)


def test_rethink_is_a_source_parameter_and_refuses_a_budget_that_leaves_no_prompt(tmp_path):
    assert sources.parse_task_spec("longbench:qasper:protocol=rethink").protocol == "rethink"
    assert sources.parse_task_spec("longbench:qasper").protocol == "longbench"
    with pytest.raises(InputError, match="protocol must be one of longbench, rethink"):
        sources.parse_task_spec("longbench:qasper:protocol=kivi")
    row = {"input": "q?", "context": "x " * 400, "answers": ["a"], "length": 400, "dataset": "qasper",
           "language": "en", "all_classes": None, "_id": "q1"}
    (tmp_path / "qasper.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match="leaves no room"):
        load_longbench("qasper", path=tmp_path, tokenizer=build_byte_tokenizer(), max_length=128, protocol="rethink")
