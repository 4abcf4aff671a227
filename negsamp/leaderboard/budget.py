"""Predictions must fit the generation budget the release's model had.

A prediction longer than the sample's `max_new_tokens` is not something the
model could have generated: one 100,000-character string listing every 5-digit
pass key "recovers" every pass-key negative. Each prediction is re-tokenized
with the release model's tokenizer and refused when it is longer than
`max_new_tokens` (plus `TOKEN_SLACK`), or when its claimed `output_tokens`
disagrees with its text.

Why a slack: the text is decoded with special tokens skipped, so `output_tokens`
counts an EOS the text does not hold (+1), and decode-then-encode is not always
the identity (a merge can differ at the edges). On the seeded release, 39 of 39
outputs re-tokenize to `output_tokens` or `output_tokens - 1`.

Scoring cost is bounded before anything is tokenized or scored: a prediction
over `max_new_tokens * MAX_CHARS_PER_TOKEN` characters is refused outright, so
no metric ever sees more than that (a 100,000-character prediction took 11 s to
score on gov_report and 216 s on dureader).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

MAX_CHARS_PER_TOKEN = 32
"""No token of a real tokenizer is longer than this many characters on average over a whole output."""
TOKEN_SLACK = 2
"""Tokens of tolerance for decode/re-encode differences (plus one for an EOS the text does not show)."""

Count = Callable[[str], int]


def tokenizer_counter(model: str) -> Count | None:
    """Token counter of the release model's tokenizer, or None when it is not available on this machine.

    Never downloads: a bundled model, a local folder or the local Hugging Face cache only (building the
    board must not depend on the network).
    """
    from negsamp.models import MODEL_ALIASES, load_tokenizer

    try:
        if model in MODEL_ALIASES:
            tokenizer = load_tokenizer(model)
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception:  # any failure to load means "not available here"; the character bound still applies
        return None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def budget_problems(predictions: Sequence, max_new_tokens: Mapping[str, int],
                    count: Count | None) -> list[tuple[str, str]]:
    """(field, problem) for each prediction that does not fit its sample's budget.

    `predictions` have `sample_id`, `prediction` and `output_tokens` (None when
    unknown); `count` is `tokenizer_counter(...)`; without one, only the
    character bound and the claimed `output_tokens` are checked.
    """
    problems = []
    for index, p in enumerate(predictions):
        budget = max_new_tokens.get(p.sample_id)
        if budget is None:
            continue
        where = f"predictions[{index}]"
        if len(p.prediction) > budget * MAX_CHARS_PER_TOKEN:
            problems.append((f"{where}.prediction", f"{len(p.prediction)} characters: cannot fit the sample's "
                                                    f"max_new_tokens of {budget}"))
            continue
        if p.output_tokens is not None and p.output_tokens > budget:
            problems.append((f"{where}.output_tokens", f"{p.output_tokens}, over the sample's max_new_tokens "
                                                       f"of {budget}"))
        if count is None:
            continue
        tokens = count(p.prediction)
        if tokens > budget + TOKEN_SLACK:
            problems.append((f"{where}.prediction", f"{tokens} tokens with the release model's tokenizer, over "
                                                    f"the sample's max_new_tokens of {budget}"))
        elif p.output_tokens is not None and not tokens - TOKEN_SLACK <= p.output_tokens <= tokens + 1 + TOKEN_SLACK:
            problems.append((f"{where}.output_tokens", f"{p.output_tokens}, but the text is {tokens} tokens with "
                                                       "the release model's tokenizer"))
    return problems
