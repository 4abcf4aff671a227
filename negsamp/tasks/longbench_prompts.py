"""How one LongBench row becomes a prompt, under either protocol.

`longbench` (default) follows LongBench v1's `pred.py`:

1. `prompt = template.format(context=..., input=...)`;
2. if the tokenized prompt (special tokens included, as `tokenizer(prompt)` gives it) is
   longer than `max_length`, keep its first and last `int(max_length / 2)` tokens, each
   half decoded with `skip_special_tokens=True`, joined;
3. wrap the result in the model's chat template, except for pred.py's six completion-style
   tasks (`TaskConfig.chat_template`). Where pred.py calls a model-specific `build_chat`
   we call `tokenizer.apply_chat_template` (or the caller's `chat_template_fn`); a
   tokenizer without a chat template gets the plain prompt, as `build_chat` returns it
   unchanged for models it does not know.

`rethink` follows the paper's evaluator (`3_neg_samples/0_neg_evaluator.py` of
LLMkvsys/rethink-kv-compression, derived from KIVI's LongBench script):

1. the generation budget depends on the first answer:
   `max_gen = max(dataset2maxlen[task], min(int(len(answers[0].split()) * 1.1) // 32 * 32, max_length // 4))`;
2. a prompt longer than `max_length` keeps `half = int((max_length - max_gen) / 2)` tokens
   from each end (room is left for the answer, unlike pred.py), decoded and joined;
3. no chat template: its `build_chat` changes only longchat and Mistral-v0.2-Instruct
   prompts, so Llama-3-8B-Instruct (the paper's model) gets the plain prompt;
4. samsum also stops at the token of "\\n" and generates at least one token
   (`eos_token_id=[eos, "\\n"]`, `min_length=context_length + 1`), recorded on the sample
   as `stop_texts` / `min_new_tokens`; pad = eos (`pad_token_id=tokenizer.eos_token_id`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from negsamp.errors import InputError
from negsamp.tasks.config import TaskConfig, locate_in_wrapped

PROTOCOLS = ("longbench", "rethink")
"""`longbench`: LongBench's pred.py; `rethink`: the paper's evaluator."""

ChatTemplateFn = Callable[[str], str]


@dataclass(frozen=True)
class BuiltPrompt:
    """One row's prompt and generation settings."""

    prompt: str
    """The text fed to the tokenizer."""
    question_start: int
    """Character offset in `prompt` where the part after the context begins."""
    chat_template: bool
    """Whether the model's chat template wrapped it."""
    max_new_tokens: int
    """Generation budget."""
    stop_texts: tuple[str, ...] = ()
    """Texts whose (last) token also ends generation."""
    min_new_tokens: int = 0
    """Tokens generated before an end token may end generation."""


def rethink_max_gen(config: TaskConfig, answers: Sequence[str], max_length: int) -> int:
    """The paper's evaluator's per-sample budget (docstring above, item 1)."""
    words = len(str(answers[0]).split()) if answers else 0
    return max(config.max_new_tokens, min(int(words * 1.1) // 32 * 32, max_length // 4))


def build_prompt(config: TaskConfig, context: str, input: str, *, tokenizer: Any, max_length: int,
                 protocol: str = "longbench", answers: Sequence[str] = (),
                 chat_template_fn: ChatTemplateFn | None = None) -> BuiltPrompt:
    """The prompt of one row under `protocol` (see the module docstring)."""
    if protocol not in PROTOCOLS:
        raise InputError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    head_template, tail_template = config.split_template()
    head = head_template.format(input=input)
    tail = tail_template.format(input=input)
    if protocol == "rethink":
        max_gen = rethink_max_gen(config, answers, max_length)
        half = int((max_length - max_gen) / 2)
        if half < 1:  # the reference would keep ids[-0:], i.e. everything
            raise InputError(f"{config.name}: max_length {max_length} leaves no room for the prompt "
                             f"after the {max_gen}-token answer budget (protocol rethink)")
        prompt, question_start = _truncate(head, context, tail, tokenizer, max_length, half)
        # samsum: the reference stops at "\n" too, after at least one token (min_length).
        stops = ("\n",) if config.name == "samsum" else ()
        return BuiltPrompt(prompt, question_start, False, max_gen, stops, 1 if stops else 0)
    prompt, question_start = _truncate(head, context, tail, tokenizer, max_length, int(max_length / 2))
    wrapped = _chat(config, prompt, tokenizer, chat_template_fn)
    if wrapped is None:
        return BuiltPrompt(prompt, question_start, False, config.max_new_tokens)
    return BuiltPrompt(wrapped, locate_in_wrapped(wrapped, prompt, question_start), True,
                       config.max_new_tokens)


def _truncate(head: str, context: str, tail: str, tokenizer: Any, max_length: int,
              half: int) -> tuple[str, int]:
    """`head + context + tail`, cut to its first and last `half` tokens when it has more than
    `max_length`; with the offset where the question (the template's tail) starts."""
    prompt = head + context + tail
    question_start = len(head) + len(context)
    ids = list(tokenizer(prompt, truncation=False)["input_ids"])
    if len(ids) <= max_length:
        return prompt, question_start
    first = tokenizer.decode(ids[:half], skip_special_tokens=True)
    last = tokenizer.decode(ids[-half:], skip_special_tokens=True)
    prompt = first + last
    # The question starts where the template's tail does, if the kept end still holds it
    # all; otherwise the cut went through the question, which then starts at the cut.
    found = prompt.rfind(tail, len(first)) if tail else len(prompt)
    return prompt, found if found >= 0 else len(first)


def _chat(config: TaskConfig, prompt: str, tokenizer: Any, chat_template_fn: ChatTemplateFn | None) -> str | None:
    if not config.chat_template:
        return None
    if chat_template_fn is not None:
        wrapped = chat_template_fn(prompt)
        if not isinstance(wrapped, str):
            raise TypeError(f"chat_template_fn must return a str, got {type(wrapped).__name__}")
        return wrapped
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    return None
