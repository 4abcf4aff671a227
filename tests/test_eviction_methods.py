"""The KVCache-Factory-style eviction methods inside a model (the numbers themselves are
checked against the reference in tests/test_method_fixtures.py), the paper's
configuration names, and GEAR's measured bytes."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import make_tiny_samples

from negsamp.backends.hf import encode, generate
from negsamp.cli import main
from negsamp.errors import InputError
from negsamp.kvcache import kv_bytes
from negsamp.methods import parse_method
from negsamp.methods.paper import PAPER_CONFIGS, paper_spec


def prefill(model, tokenizer, spec: str, sample):
    """The cache right after a compressed prefill of one sample."""
    method = parse_method(spec)
    ids, _ = encode(tokenizer, sample)
    cache = method.make_cache(model, 1)
    with torch.inference_mode(), method.compression(model):
        model(input_ids=torch.tensor([ids]), past_key_values=cache, logits_to_keep=1)
    return cache, len(ids)


@pytest.mark.parametrize("spec", ["h2o:budget=24", "h2o:budget=24,variant=rethink", "snapkv:budget=24",
                                  "streamingllm:budget=24"])
def test_budget_keeps_that_many_tokens_per_kv_head(spec, tiny_model):
    model, tokenizer = tiny_model
    cache, n = prefill(model, tokenizer, spec, make_tiny_samples(1, words=(60, 70), seed=1)[0])
    assert n > 24
    for layer in cache.layers:
        assert layer.keys.shape == (1, model.config.num_key_value_heads, 24, model.config.head_dim)


def test_streamingllm_keeps_sinks_and_recent_tokens(tiny_model):
    model, tokenizer = tiny_model
    sample = make_tiny_samples(1, words=(60, 70), seed=2)[0]
    full, n = prefill(model, tokenizer, "none", sample)
    kept, _ = prefill(model, tokenizer, "streamingllm:budget=20,sink=4", sample)
    for a, b in zip(full.layers, kept.layers):
        expected = torch.cat([a.keys[:, :, :4], a.keys[:, :, n - 16 :]], dim=2)
        assert torch.equal(b.keys, expected)


def test_h2o_variants_select_differently(tiny_model):
    model, tokenizer = tiny_model
    sample = make_tiny_samples(1, words=(60, 70), seed=3)[0]
    paper, _ = prefill(model, tokenizer, "h2o:budget=20", sample)
    rethink, _ = prefill(model, tokenizer, "h2o:budget=20,variant=rethink", sample)
    assert any(not torch.equal(a.keys, b.keys) for a, b in zip(paper.layers, rethink.layers))


def test_pyramidkv_rethink_over_allocates(tiny_model):
    model, tokenizer = tiny_model
    sample = make_tiny_samples(1, words=(90, 100), seed=4)[0]
    paper, n = prefill(model, tokenizer, "pyramidkv:budget=24", sample)
    rethink, _ = prefill(model, tokenizer, "pyramidkv:budget=24,variant=rethink", sample)
    kept = [layer.keys.shape[-2] for layer in paper.layers]
    over = [layer.keys.shape[-2] for layer in rethink.layers]
    assert n >= 2 * 16 and kept[0] > kept[1]
    assert sum(kept) == 2 * 24  # L - 1: the budgets average N
    assert over[0] == kept[0] and sum(over) > sum(kept)  # L: layer 1 never comes down to the minimum


def test_gqa_repeat_selects_per_query_head_and_generates(tiny_model):
    from transformers import AutoModelForCausalLM

    from negsamp.methods.per_head_attention import register

    model, tokenizer = tiny_model
    # a copy: from_config would otherwise switch the shared fixture's config too
    per_head = AutoModelForCausalLM.from_config(copy.deepcopy(model.config), attn_implementation=register())
    per_head.load_state_dict(model.state_dict())
    per_head.eval()
    sample = make_tiny_samples(1, words=(60, 70), seed=5)[0]
    cache, _ = prefill(per_head, tokenizer, "snapkv:budget=24,gqa=repeat", sample)
    heads = model.config.num_attention_heads
    assert all(layer.keys.shape[1] == heads and layer.keys.shape[2] == 24 for layer in cache.layers)
    spec = "snapkv:budget=24,gqa=repeat"
    with pytest.raises(InputError, match="negsamp_per_head"):
        list(generate(model, tokenizer, spec, [sample], model_name="tiny"))
    pred = list(generate(per_head, tokenizer, spec, [sample], model_name="tiny"))[0]
    base = list(generate(model, tokenizer, "none", [sample], model_name="tiny"))[0]
    # g = 2 query heads per KV head: per-head copies of 24 tokens hold 2 x 24 token slots a layer
    assert pred.kv_bytes_prefill == base.kv_bytes_prefill * 2 * 24 // base.prompt_tokens
    same_budget_mean = list(generate(model, tokenizer, "snapkv:budget=24", [sample], model_name="tiny"))[0]
    assert same_budget_mean.kv_bytes_prefill * 2 == pred.kv_bytes_prefill
    assert pred.output_tokens >= 1


def test_gear_bytes_are_what_it_holds(tiny_model):
    model, tokenizer = tiny_model
    sample = make_tiny_samples(1, words=(60, 70), seed=6)[0]
    cache, n = prefill(model, tokenizer, "gear:bits=4", sample)
    heads, dim = model.config.num_key_value_heads, model.config.head_dim
    numel = heads * n * dim
    outliers = 2 * int(numel * 0.02 / 2)
    rank = int(0.02 * min(n, heads * dim))
    one = numel // 2 + 2 * 4 + outliers * (4 + 8) + 2 * (heads * dim + n) * rank
    assert kv_bytes(cache) == len(cache.layers) * 2 * one


def test_gear_builds_are_reproducible(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(2, words=(40, 50), max_new_tokens=25, seed=7)
    first = list(generate(model, tokenizer, "gear:bits=4,gap=5", samples, model_name="tiny"))
    again = list(generate(model, tokenizer, "gear:bits=4,gap=5", samples, model_name="tiny"))
    assert [p.prediction for p in first] == [p.prediction for p in again]
    assert [p.kv_bytes_end for p in first] == [p.kv_bytes_end for p in again]


def test_paper_configurations_map_to_what_ran():
    assert paper_spec("h2o_Meta-Llama-3-8B-instruct_8192_b1_c2048_w32_k7_maxpool") == (
        "h2o:ratio=0.0,budget=2048,variant=rethink,window=8,gqa=repeat,compress=context+question"
    )
    assert paper_spec("streamingllm_8192_b1_c2048_w64_k7_maxpool") == (
        "streamingllm:ratio=0.0,budget=2048,sink=4,compress=context+question"
    )
    assert paper_spec("kivi_8192_b1_4bits_group32_residual128") == "kivi:bits=4,group=32,residual=128"
    assert paper_spec("gear_Meta-Llama-3-8B-instruct_8192_b1_8bits").startswith("gear:bits=8,outlier=0.02,rank=0.02")
    assert paper_spec("pyramidkv_8192_b1_c1024_w32_k7_maxpool").startswith("pyramidkv:ratio=0.0,budget=1024,variant=rethink")
    assert paper_spec("hf_8192_b1") == "none"
    assert {paper_spec(name) for name in PAPER_CONFIGS}  # every released configuration maps
    with pytest.raises(InputError, match="paper configuration"):
        paper_spec("kivi_8192_b1_4bits")


def test_methods_paper_command(capsys):
    assert main(["methods", "--paper"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PAPER_CONFIGS)
    assert lines[0].split() == ["hf_8192_b1", "none"]
    assert main(["methods", "--paper", "gear_8192_b1_8bits"]) == 0
    assert capsys.readouterr().out.split()[1].startswith("gear:bits=8")
