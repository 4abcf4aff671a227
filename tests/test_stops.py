"""Per-sample stop texts and minimum lengths (protocol rethink's samsum), against `model.generate`."""

from __future__ import annotations

import torch
from conftest import make_tiny_samples

from negsamp.backends.hf import encode, generate


def hf_generate(model, tokenizer, sample, stop_ids=(), min_new=0):
    """What the paper's evaluator calls: greedy, `eos_token_id` a list, `min_length = context + min_new`."""
    ids, _ = encode(tokenizer, sample)
    x = torch.tensor([ids])
    with torch.inference_mode():
        out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, num_beams=1,
                             max_new_tokens=sample.max_new_tokens, eos_token_id=[tokenizer.eos_token_id, *stop_ids],
                             min_length=len(ids) + min_new, pad_token_id=tokenizer.eos_token_id)
    return out[0, len(ids):].tolist()


def roundtrips(tokenizer, token: int) -> bool:
    return tokenizer.encode(tokenizer.decode([token]), add_special_tokens=False)[-1:] == [token]


def ours(model, tokenizer, sample):
    prediction, = generate(model, tokenizer, "none", [sample], model_name="tiny", batch_size=1)
    return prediction


def test_a_stop_text_ends_generation_as_the_reference_does(tiny_model):
    model, tokenizer = tiny_model
    for sample in make_tiny_samples(3, max_new_tokens=8):
        free = hf_generate(model, tokenizer, sample)
        # Stop at the text of a later token generated (one whose text encodes back to it):
        # generation must end right there.
        k = next(k for k in range(1, len(free)) if roundtrips(tokenizer, free[k]))
        stop = tokenizer.decode([free[k]])
        stop_id = free[k]
        stopped = sample.model_copy(update={"stop_texts": [stop]})
        reference = hf_generate(model, tokenizer, stopped, [stop_id])
        assert reference == free[:free.index(stop_id) + 1]
        prediction = ours(model, tokenizer, stopped)
        assert prediction.output_tokens == len(reference) < len(free) and prediction.hit_eos
        assert prediction.prediction == tokenizer.decode(reference, skip_special_tokens=True)


def test_min_new_tokens_masks_the_end_tokens_at_the_first_step(tiny_model):
    model, tokenizer = tiny_model
    sample = make_tiny_samples(1, max_new_tokens=6)[0]
    stop_id = hf_generate(model, tokenizer, sample)[0]
    assert roundtrips(tokenizer, stop_id)
    first = tokenizer.decode([stop_id])
    # The first token is a stop: without min_new_tokens generation ends at once; with 1, it may not.
    stopped = sample.model_copy(update={"stop_texts": [first]})
    assert ours(model, tokenizer, stopped).output_tokens == 1
    held = stopped.model_copy(update={"min_new_tokens": 1})
    reference = hf_generate(model, tokenizer, held, [stop_id], 1)
    assert len(reference) > 1 and reference[0] != stop_id
    prediction = ours(model, tokenizer, held)
    assert prediction.output_tokens == len(reference)
    assert prediction.prediction == tokenizer.decode(reference, skip_special_tokens=True)
