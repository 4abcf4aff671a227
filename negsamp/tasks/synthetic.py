"""Synthetic, seeded, RULER-style task families that need no download.

Each family builds a prompt of a chosen length (in tokens of the model's tokenizer) with
its needle(s) at a chosen depth, and knows the answers by construction:

- ``passkey``: one pass key hidden in the classic repeated "The grass is green..." text.
- ``multikey``: four "special magic number for <key>" needles in varied prose; one key is asked.
- ``vartrack``: a chain of variable assignments (``VAR B = VAR A``) in repeated text; name
  every variable that ends up holding the value.
- ``kv_retrieval``: a JSON object of random hex keys and values; give the value of one key.
- ``common_words``: a numbered word list; name the three words that appear most often.
- ``fact_qa``: short documents about made-up people; answer one question about one of them.

Scored with RULER's string-match metrics (``string_match_all``: share of the answers found
in the output; ``string_match_part``: any answer found), case-insensitively.

Prompts are raw completions that end where the answer starts ("... The pass key is"), not
chat prompts: the bundled 135M model does far better that way (docs/tasks.md). Pass
``chat_template=True`` to `make_samples` to wrap the question in the model's chat template
instead (the answer prefix then follows the template's generation prompt).

Determinism: every random draw goes through a `random.Random` seeded from a string that
names the family, seed, length and sample index (string seeds are hashed with SHA-512, so
this does not depend on PYTHONHASHSEED), and every collection is an ordered list or tuple.
The same arguments and tokenizer give the same samples, byte for byte.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from negsamp.errors import InputError, UnknownNameError
from negsamp.records import Sample, content_id
from negsamp.tasks import _words as words
from negsamp.tasks.config import TaskConfig, locate_in_wrapped

MAX_LENGTH = 1_000_000
"""Longest prompt, in tokens, that `make_samples` accepts."""


@dataclass(frozen=True)
class Rendered:
    """One sample's prompt parts: ``head + context + question + prefix`` is the raw prompt."""

    head: str
    """Instructions before the context."""
    context: str
    """The long part: filler with the needle(s)."""
    question: str
    """What is asked, starting with its separator from the context."""
    prefix: str
    """The start of the answer, which the model completes."""
    answers: tuple[str, ...]
    """Correct answers by construction."""


Puzzle = dict[str, Any]


@dataclass(frozen=True)
class Family:
    """A synthetic task family."""

    config: TaskConfig
    """The family's task config (prompt, budget, metric)."""
    uses_depth: bool
    """Whether the family has a needle whose depth can be chosen (not common_words)."""
    padded: bool
    """Whether padding sentences fine-tune the length after whole units (fact_qa's documents)."""
    draw: Callable[[random.Random], Puzzle]
    """The length-independent part of a sample: needle values, keys, the question."""
    render: Callable[[Puzzle, int, int, float, str], Rendered]
    """`(puzzle, units, padding, depth, filler_seed) -> Rendered`; units are filler sentences,
    distractor key-value pairs, list items or documents, depending on the family."""

    @property
    def name(self) -> str:
        return self.config.name


# --------------------------------------------------------------------------- helpers


def _weave(units: Sequence[str], inserts: Sequence[tuple[float, str]]) -> list[str]:
    """`units` with each `(fraction, text)` inserted before unit `round(fraction * len(units))`;
    inserts at the same place keep their order."""
    n = len(units)
    slots = sorted((round(fraction * n), order, text) for order, (fraction, text) in enumerate(inserts))
    out: list[str] = []
    done = 0
    for position, _, text in slots:
        out.extend(units[done:position])
        out.append(text)
        done = position
    out.extend(units[done:])
    return out


def _noise(n: int) -> list[str]:
    return [words.NOISE_SENTENCES[i % len(words.NOISE_SENTENCES)] for i in range(n)]


def _prose(rng: random.Random, n: int) -> list[str]:
    """`n` filler sentences, never the same one twice in a row."""
    out: list[str] = []
    pool = words.FILLER_SENTENCES
    for _ in range(n):
        choice = rng.randrange(len(pool))
        if out and pool[choice] == out[-1]:
            choice = (choice + 1) % len(pool)
        out.append(pool[choice])
    return out


def _distinct(rng: random.Random, count: int, make: Callable[[random.Random], str],
              avoid: Sequence[str] = ()) -> list[str]:
    """`count` distinct values from `make`, none of them in `avoid`."""
    seen = set(avoid)  # membership only: order comes from the list
    out: list[str] = []
    while len(out) < count:
        value = make(rng)
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


def _hex8(rng: random.Random) -> str:
    return f"{rng.getrandbits(32):08x}"


def _var_name(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=5))


# --------------------------------------------------------------------------- passkey

_PASSKEY_HEAD = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
                 "I will quiz you about the important information there.\n\n")


def _passkey_draw(rng: random.Random) -> Puzzle:
    return {"key": str(rng.randint(10000, 99999))}


def _passkey_render(p: Puzzle, n: int, pad: int, depth: float, seed: str) -> Rendered:
    needle = f"The pass key is {p['key']}. Remember it. {p['key']} is the pass key."
    context = " ".join(_weave(_noise(n), [(depth, needle)]))
    return Rendered(_PASSKEY_HEAD, context, "\n\nWhat is the pass key?", " The pass key is", (p["key"],))


# --------------------------------------------------------------------------- multikey

_MULTIKEY_KEYS = 4
_MULTIKEY_HEAD = ("Some special magic numbers are hidden within the following text. Make sure to memorize them. "
                  "I will quiz you about the numbers afterwards.\n\n")


def _multikey_draw(rng: random.Random) -> Puzzle:
    keys = _distinct(rng, _MULTIKEY_KEYS,
                     lambda r: f"{r.choice(words.ADJECTIVES)}-{r.choice(words.NOUNS)}")
    values = _distinct(rng, _MULTIKEY_KEYS, lambda r: str(r.randint(1_000_000, 9_999_999)))
    return {"keys": keys, "values": values,
            "distractor_depths": [rng.random() for _ in range(_MULTIKEY_KEYS - 1)]}


def _magic(key: str, value: str) -> str:
    return f"One of the special magic numbers for {key} is: {value}."


def _multikey_render(p: Puzzle, n: int, pad: int, depth: float, seed: str) -> Rendered:
    keys, values = p["keys"], p["values"]
    inserts = [(depth, _magic(keys[0], values[0]))]
    inserts += [(fraction, _magic(key, value))
                for fraction, key, value in zip(p["distractor_depths"], keys[1:], values[1:])]
    context = " ".join(_weave(_prose(random.Random(seed), n), inserts))
    question = f"\n\nWhat is the special magic number for {keys[0]} mentioned in the provided text?"
    prefix = f" The special magic number for {keys[0]} mentioned in the provided text is"
    return Rendered(_MULTIKEY_HEAD, context, question, prefix, (values[0],))


# --------------------------------------------------------------------------- vartrack

_VARTRACK_HOPS = 4
_VARTRACK_HEAD = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n"


def _vartrack_draw(rng: random.Random) -> Puzzle:
    return {"names": _distinct(rng, _VARTRACK_HOPS + 1, _var_name),
            "value": str(rng.randint(10000, 99999)),
            "hop_depths": sorted(rng.random() for _ in range(_VARTRACK_HOPS))}


def _vartrack_render(p: Puzzle, n: int, pad: int, depth: float, seed: str) -> Rendered:
    names, value = p["names"], p["value"]
    # The chain starts at `depth`; each later hop lies after it, in order.
    statements = [(depth, f"VAR {names[0]} = {value}.")]
    statements += [(depth + (1.0 - depth) * fraction, f"VAR {later} = VAR {earlier}.")
                   for fraction, earlier, later in zip(p["hop_depths"], names, names[1:])]
    context = " ".join(_weave(_noise(n), statements))
    question = f"\n\nQuestion: Find all variables that are assigned the value {value} in the text above."
    prefix = (f" Answer: According to the chain(s) of variable assignment in the text above, {len(names)} "
              f"variables are assigned the value {value}, they are:")
    return Rendered(_VARTRACK_HEAD, context, question, prefix, tuple(names))


# --------------------------------------------------------------------------- kv_retrieval

_KV_HEAD = "Extract the value corresponding to the specified key in the JSON object below.\n\nJSON data:\n"


def _kv_draw(rng: random.Random) -> Puzzle:
    return {"key": _hex8(rng), "value": _hex8(rng)}


def _kv_render(p: Puzzle, n: int, pad: int, depth: float, seed: str) -> Rendered:
    rng = random.Random(seed)
    keys = _distinct(rng, n, _hex8, avoid=[p["key"]])
    pairs = [(key, _hex8(rng)) for key in keys]
    pairs.insert(round(depth * n), (p["key"], p["value"]))
    context = json.dumps(dict(pairs), indent=1)
    question = f'\n\nExtract the value corresponding to the key "{p["key"]}" in the JSON object above.'
    prefix = f'\nThe value of the key "{p["key"]}" is: "'
    return Rendered(_KV_HEAD, context, question, prefix, (p["value"],))


# --------------------------------------------------------------------------- common_words

_CW_COMMON = 3
_CW_HEAD = ("Below is a numbered list of words. In these words, some appear more often than others. "
            "Memorize the ones that appear most often.\n")


def _cw_draw(rng: random.Random) -> Puzzle:
    vocabulary = list(words.WORDS)
    rng.shuffle(vocabulary)
    return {"common": vocabulary[:_CW_COMMON], "rare": vocabulary[_CW_COMMON:]}


def _cw_render(p: Puzzle, n: int, pad: int, depth: float, seed: str) -> Rendered:
    common, rare = p["common"], p["rare"]
    # n rare items (each word once while the vocabulary lasts), and the common words
    # repeated so that they make up about a third of the list, at least 4 times each.
    rare_items = [rare[i % len(rare)] for i in range(n)]
    repeats = max(4, round(n / (2 * _CW_COMMON)))
    assert repeats > -(-n // len(rare)), "a rare word would be as frequent as a common one"
    items = list(common) * repeats + rare_items
    random.Random(seed).shuffle(items)
    context = " ".join(f"{i + 1}. {word}" for i, word in enumerate(items))
    question = f"\nQuestion: What are the {_CW_COMMON} most common words in the above list?"
    prefix = f" Answer: The top {_CW_COMMON} words that appear most often in the list are:"
    return Rendered(_CW_HEAD, context, question, prefix, tuple(common))


# --------------------------------------------------------------------------- fact_qa

_QA_INSTRUCTION = ("Answer the question based on the given documents. Only give me the answer and do not "
                   "output any other words.")
_QA_HEAD = f"{_QA_INSTRUCTION}\n\nThe following are given documents.\n\n"
# attribute: (value list, question, answer prefix)
_QA_ATTRIBUTES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "city": (words.CITIES, "Where was {name} born?", "{name} was born in"),
    "job": (words.JOBS, "What is the job of {name}?", "{name} works as"),
    "color": (words.COLORS, "What is the favorite color of {name}?", "The favorite color of {name} is"),
}
_QA_ATTRIBUTE_ORDER = ("city", "job", "color")
_QA_MAX_PEOPLE = len(words.FIRST_NAMES) * len(words.LAST_NAMES)


def _person_name(rng: random.Random) -> str:
    return f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"


def _qa_person(rng: random.Random, name: str) -> dict[str, str]:
    return {"name": name, **{attr: rng.choice(_QA_ATTRIBUTES[attr][0]) for attr in _QA_ATTRIBUTE_ORDER}}


def _qa_facts(person: dict[str, str]) -> str:
    name, job = person["name"], person["job"]
    article = "an" if job[0] in "aeiou" else "a"
    return (f"{name} was born in {person['city']}. {name} works as {article} {job}. "
            f"The favorite color of {name} is {person['color']}.")


def _qa_draw(rng: random.Random) -> Puzzle:
    gold = _qa_person(rng, _person_name(rng))
    return {"gold": gold, "asked": rng.choice(_QA_ATTRIBUTE_ORDER),
            "gold_filler": [rng.randrange(len(words.FILLER_SENTENCES)) for _ in range(2)]}


def _qa_render(p: Puzzle, n: int, pad: int, depth: float, seed: str) -> Rendered:
    if n >= _QA_MAX_PEOPLE:
        raise InputError(f"fact_qa has names for at most {_QA_MAX_PEOPLE - 1} distractor documents "
                         "(about 100k tokens); ask for a shorter length")
    rng = random.Random(seed)
    gold, asked = p["gold"], p["asked"]
    values = _QA_ATTRIBUTES[asked][0]
    others = [value for value in values if value != gold[asked]]
    bodies = []
    for name in _distinct(rng, n, _person_name, avoid=[gold["name"]]):
        person = _qa_person(rng, name)
        person[asked] = rng.choice(others)  # only the asked person has the answer
        bodies.append(" ".join([_qa_facts(person), *_prose(rng, rng.randint(1, 3))]))
    gold_body = " ".join([_qa_facts(gold), *(words.FILLER_SENTENCES[i] for i in p["gold_filler"])])
    bodies.insert(round(depth * n), gold_body)
    if pad:
        bodies[-1] = " ".join([bodies[-1], *_prose(rng, pad)])
    context = "\n\n".join(f"Document {i + 1}:\n{body}" for i, body in enumerate(bodies))
    _, question, prefix = _QA_ATTRIBUTES[asked]
    return Rendered(_QA_HEAD, context,
                    f"\n\n{_QA_INSTRUCTION}\n\nQuestion: {question.format(name=gold['name'])}",
                    f"\nAnswer: {prefix.format(name=gold['name'])}", (gold[asked],))


# --------------------------------------------------------------------------- registry


def _family(name: str, template: str, max_new_tokens: int, metric: str, *, draw, render,
            uses_depth: bool = True, padded: bool = False) -> Family:
    # Raw completion prompts (chat_template=False): see docs/tasks.md.
    config = TaskConfig(name=name, metric=metric, category="Synthetic", language="en",
                        prompt_template=template, max_new_tokens=max_new_tokens, chat_template=False)
    return Family(config=config, uses_depth=uses_depth, padded=padded, draw=draw, render=render)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        _family("passkey", _PASSKEY_HEAD + "{context}\n\nWhat is the pass key? The pass key is", 8,
                "string_match_all", draw=_passkey_draw, render=_passkey_render),
        _family("multikey", _MULTIKEY_HEAD + "{context}\n\nWhat is the special magic number for {key} "
                "mentioned in the provided text? The special magic number for {key} mentioned in the "
                "provided text is", 12, "string_match_all", draw=_multikey_draw, render=_multikey_render),
        _family("vartrack", _VARTRACK_HEAD + "{context}\n\nQuestion: Find all variables that are assigned "
                "the value {value} in the text above. Answer: According to the chain(s) of variable "
                "assignment in the text above, 5 variables are assigned the value {value}, they are:", 32,
                "string_match_all", draw=_vartrack_draw, render=_vartrack_render),
        _family("kv_retrieval", _KV_HEAD + "{context}\n\nExtract the value corresponding to the key "
                "\"{key}\" in the JSON object above.\nThe value of the key \"{key}\" is: \"", 12,
                "string_match_all", draw=_kv_draw, render=_kv_render),
        _family("common_words", _CW_HEAD + "{context}\nQuestion: What are the 3 most common words in the "
                "above list? Answer: The top 3 words that appear most often in the list are:", 24,
                "string_match_all", draw=_cw_draw, render=_cw_render, uses_depth=False),
        _family("fact_qa", _QA_HEAD + "{context}\n\n" + _QA_INSTRUCTION + "\n\nQuestion: {question}\n"
                "Answer: {answer_prefix}", 10, "string_match_part", draw=_qa_draw, render=_qa_render,
                padded=True),
    )
}


def synthetic_configs() -> dict[str, TaskConfig]:
    """The families' task configs, by name (read by `negsamp.tasks.registry`)."""
    return {name: family.config for name, family in FAMILIES.items()}


def known_families() -> list[str]:
    """Names of the synthetic families, sorted."""
    return sorted(FAMILIES)


def get_family(name: str) -> Family:
    """The family called `name`; UnknownNameError lists the known ones."""
    family = FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        raise UnknownNameError(
            f"unknown synthetic task family {name!r}; known families: {', '.join(known_families())}"
        )
    return family


# --------------------------------------------------------------------------- samples


def check_lengths(lengths: Any) -> list[int]:
    if isinstance(lengths, int | str) or not isinstance(lengths, Sequence) or not lengths:
        raise InputError(f"lengths must be a non-empty list of token counts, got {lengths!r}")
    for length in lengths:
        if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= MAX_LENGTH:
            raise InputError(f"each length must be an integer from 1 to {MAX_LENGTH} tokens, got {length!r}")
    return list(lengths)


def check_count(count: Any) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InputError(f"count must be a positive integer, got {count!r}")
    return count


def check_seed(seed: Any) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputError(f"seed must be an integer, got {seed!r}")
    return seed


def check_depths(depths: Any) -> list[float] | None:
    if depths is None:
        return None
    if isinstance(depths, int | float | str) or not isinstance(depths, Sequence) or not depths:
        raise InputError(f"depths must be a non-empty list of fractions from 0 to 1, got {depths!r}")
    for depth in depths:
        if not isinstance(depth, int | float) or isinstance(depth, bool) or not 0.0 <= depth <= 1.0:
            raise InputError(f"each depth must be a fraction from 0 to 1, got {depth!r}")
    return [float(depth) for depth in depths]


def spread_depths(count: int) -> list[float]:
    """`count` depths spread evenly from 0 (start of the context) to 1 (its end)."""
    if count == 1:
        return [0.5]
    return [i / (count - 1) for i in range(count)]


def make_samples(
    family: str,
    *,
    tokenizer: Any,
    lengths: Sequence[int],
    count: int,
    seed: int,
    depths: Sequence[float] | None = None,
    chat_template: bool | None = None,
) -> list[Sample]:
    """`count` samples of `family` per length in `lengths`, in that order.

    `lengths`: prompt lengths in tokens of `tokenizer` (the model's Hugging Face tokenizer).
    Each prompt is the longest that fits: `length - granularity < tokens <= length`, where
    the granularity is one filler sentence, list item or key-value pair (a few tokens).
    `depths`: where the needle goes, as fractions of the context (0 = start, 1 = end); sample
    `i` of each length gets `depths[i % len(depths)]`. None spreads the `count` samples
    evenly over 0..1. common_words has no needle and ignores depths.
    `seed`: the same seed, arguments and tokenizer give identical samples.
    `chat_template`: None uses the family's default (raw completion prompts, see
    docs/tasks.md); True wraps the question in the tokenizer's chat template.
    """
    chosen = get_family(family)
    lengths = check_lengths(lengths)
    count = check_count(count)
    seed = check_seed(seed)
    depths = check_depths(depths)
    use_chat = chosen.config.chat_template if chat_template is None else bool(chat_template)
    if use_chat and not getattr(tokenizer, "chat_template", None):
        raise InputError(f"{family}: chat_template=True, but the tokenizer has no chat template")
    samples = []
    for length in lengths:
        for index, depth in enumerate(_cycle(depths or spread_depths(count), count)):
            samples.append(_make_one(chosen, tokenizer, length=length, depth=depth, seed=seed, index=index,
                                     chat=use_chat))
    return samples


def _cycle(values: list[float], count: int) -> list[float]:
    return [values[i % len(values)] for i in range(count)]


@dataclass(frozen=True)
class _Built:
    rendered: Rendered
    prompt: str
    question_start: int
    tokens: int


def _assemble(rendered: Rendered, tokenizer: Any, chat: bool) -> _Built:
    before_question = len(rendered.head) + len(rendered.context)
    if chat:
        body = rendered.head + rendered.context + rendered.question
        wrapped = tokenizer.apply_chat_template([{"role": "user", "content": body}], tokenize=False,
                                                add_generation_prompt=True)
        question_start = locate_in_wrapped(wrapped, body, before_question)
        prompt = wrapped + rendered.prefix.lstrip()
    else:
        prompt = rendered.head + rendered.context + rendered.question + rendered.prefix
        question_start = before_question
    tokens = len(tokenizer(prompt, add_special_tokens=not chat)["input_ids"])
    return _Built(rendered, prompt, question_start, tokens)


def _make_one(family: Family, tokenizer: Any, *, length: int, depth: float, seed: int, index: int,
              chat: bool) -> Sample:
    key = f"negsamp.synthetic|{family.name}|seed={seed}|length={length}|index={index}"
    puzzle = family.draw(random.Random(f"{key}|puzzle"))
    filler_seed = f"{key}|filler"

    def build(units: int, pad: int) -> _Built:
        return _assemble(family.render(puzzle, units, pad, depth, filler_seed), tokenizer, chat)

    best = build(0, 0)
    if best.tokens > length:
        raise InputError(f"{family.name}: length {length} is too short; the prompt without any filler "
                         f"already has {best.tokens} tokens")
    units, best = _longest_fit(lambda n: build(n, 0), length, best)
    if family.padded:
        _, best = _longest_fit(lambda n: build(units, n), length, best)
    rendered = best.rendered
    source = f"synthetic:{family.name}:seed={seed},length={length},depth={depth:g}"
    return Sample(
        sample_id=content_id("synthetic", family.name, source, best.prompt, list(rendered.answers)),
        task=family.name,
        category=family.config.category,
        source=source,
        source_index=index,
        context=rendered.context,
        input=rendered.question.strip(),
        answers=list(rendered.answers),
        all_classes=None,
        length=best.tokens,
        prompt=best.prompt,
        question_start=best.question_start,
        max_new_tokens=family.config.max_new_tokens,
        chat_template=chat,
    )


def _longest_fit(build: Callable[[int], _Built], length: int, fits: _Built) -> tuple[int, _Built]:
    """The largest `n` (with its build) whose prompt has at most `length` tokens, given that
    `n = 0` fits: doubling, then bisection. Every unit adds at least one token, so `n`
    never needs to exceed `length`."""
    low, high = 0, 1
    while high <= length:
        built = build(high)
        if built.tokens > length:
            break
        low, fits = high, built
        high *= 2
    else:
        return low, fits
    while high - low > 1:
        middle = (low + high) // 2
        built = build(middle)
        if built.tokens <= length:
            low, fits = middle, built
        else:
            high = middle
    return low, fits
