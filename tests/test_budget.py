"""A fixed token budget (the paper's "cache budget") instead of a ratio, for eviction methods."""

from __future__ import annotations

import pytest
from conftest import make_tiny_samples

from negsamp.backends.hf import encode, generate
from negsamp.errors import InputError
from negsamp.methods import parse_method


@pytest.mark.parametrize("name", ["streamingllm", "snapkv", "h2o"])
def test_budget_keeps_that_many_tokens_after_prefill(name, tiny_model, tiny_eager_model):
    method = parse_method(f"{name}:budget=20")
    model, tokenizer = tiny_eager_model if method.attn_implementation == "eager" else tiny_model
    samples = make_tiny_samples(3, words=(50, 70), seed=3)
    base = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=1))
    preds = list(generate(model, tokenizer, method, samples, model_name="tiny", batch_size=1))
    for sample, b, p in zip(samples, base, preds):
        prompt_tokens = len(encode(tokenizer, sample)[0])
        assert p.prompt_tokens == prompt_tokens > 20
        # Every layer keeps exactly `budget` tokens of the prompt, whatever its length.
        assert p.kv_bytes_prefill == b.kv_bytes_prefill * 20 // prompt_tokens


def test_prompts_within_the_budget_are_not_compressed(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(2, words=(20, 30), seed=4)
    base = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=1))
    preds = list(generate(model, tokenizer, "streamingllm:budget=1000", samples, model_name="tiny",
                          batch_size=1))
    assert [p.kv_bytes_prefill for p in preds] == [b.kv_bytes_prefill for b in base]
    assert [p.prediction for p in preds] == [b.prediction for b in base]


def test_budget_spec_round_trips_and_refuses_a_ratio_too():
    method = parse_method("streamingllm:budget=2048")
    assert method.spec == "streamingllm:ratio=0.0,budget=2048,sink=4,compress=context+question"
    assert parse_method(method.spec) == method
    with pytest.raises(InputError, match="either ratio or budget"):
        parse_method("h2o:ratio=0.3,budget=2048")
    with pytest.raises(InputError, match="budget"):
        parse_method("snapkv:budget=-1")
