"""Per-sample end tokens and minimum lengths, as `Sample.stop_texts` / `Sample.min_new_tokens` ask.

The paper's evaluator (protocol rethink) ends samsum at the token of "\\n" as well as at
EOS (`eos_token_id=[tokenizer.eos_token_id, tokenizer.encode("\\n", add_special_tokens=False)[-1]]`)
and passes `min_length=context_length + 1`, so that no end token can be the first one
generated: Hugging Face's MinLengthLogitsProcessor sets the end tokens' logits (EOS and the
extra ones alike) to -inf while fewer than `min_length` tokens exist. `pick_next` does the
same before the argmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from negsamp.records import Sample


def stop_ids(tokenizer: Any, sample: Sample) -> frozenset[int]:
    """The extra tokens that end `sample`'s generation: the last token of each stop text
    (the reference's `tokenizer.encode(text, add_special_tokens=False)[-1]`)."""
    found = set()
    for text in sample.stop_texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if ids:
            found.add(int(ids[-1]))
    return frozenset(found)


def pick_next(logits: Any, rows: Sequence[Any], generated: Sequence[int]) -> Any:
    """Greedy next tokens of a batch (`logits`: rows x vocab). Row i's end tokens
    (`rows[i].ends`, EOS included) are masked while it has generated fewer than
    `rows[i].min_new_tokens`."""
    masked = [i for i, row in enumerate(rows) if generated[i] < row.min_new_tokens]
    if masked:
        logits = logits.clone()
        for i in masked:
            ids = sorted(rows[i].ends)
            if ids:
                logits[i, ids] = float("-inf")
    return logits.argmax(-1)
