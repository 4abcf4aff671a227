"""transformers backend: greedy generation with a manual prefill + decode loop.

One code path for the baseline and every method: the method supplies the context
manager the (compressed part of the) prefill runs under and the KV cache to use.

- Tokenization: `sample.prompt` is tokenized once, with the tokenizer's special
  tokens (BOS) added unless `sample.chat_template` (the template already holds them).
  The context/question split is the first token starting at or after
  `sample.question_start` (offset mapping), so every method sees the same tokens.
- Prefill: methods with `split_prefill` prefill the context tokens under
  `method.compression(model)`, then the rest uncompressed at their true positions
  (one token at a time when layers were left with different lengths, e.g. PyramidKV,
  because transformers builds one attention mask for all layers); other methods
  prefill the whole prompt under it. `prefill_s` covers all of this and the first token.
- Decoding: greedy (argmax), stopping at an end-of-sequence token (the model's
  generation config, else the tokenizer's) or `sample.max_new_tokens`. The baseline
  gives the same tokens as `model.generate(do_sample=False)`.
- Batching (methods with `supports_batching` only): samples are sorted by length
  within windows of `4 * batch_size`, left-padded, and given an attention mask and
  position ids counted over real tokens; predictions are still yielded in input order.
- KV bytes: measured with `negsamp.kvcache.kv_bytes` right after the prefill and after
  the last decoding step. For a batch of several samples, each sample is charged the
  batch's measured bytes times its share of the cache slots: its own (non-padding)
  tokens over batch size x cache length, i.e. the padding slots are not charged to anyone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from negsamp.errors import InputError, NegsampError
from negsamp.kvcache import kv_bytes, kv_tokens
from negsamp.methods import Method, parse_method
from negsamp.records import Prediction, Sample

BATCH_WINDOW = 4
"""Samples are sorted by length within windows of BATCH_WINDOW * batch_size."""


class GenerationError(NegsampError):
    """Generation failed for a sample; the message names the sample and the method."""


@dataclass
class Encoded:
    """A tokenized sample: its token ids and how many of them belong to the context."""

    index: int
    sample: Sample
    ids: list[int]
    split: int


def encode(tokenizer: Any, sample: Sample) -> tuple[list[int], int]:
    """Token ids of `sample.prompt` and the number of leading tokens before the question."""
    add_special = not sample.chat_template
    qs = sample.question_start
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(sample.prompt, add_special_tokens=add_special, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        split = len(ids)
        if qs <= 0:
            split = 0
        else:
            for i, (start, end) in enumerate(enc["offset_mapping"]):
                if end > start and start >= qs:
                    split = i
                    break
        return ids, split
    head = tokenizer(sample.prompt[:qs], add_special_tokens=add_special)["input_ids"]
    tail = tokenizer(sample.prompt[qs:], add_special_tokens=False)["input_ids"]
    return list(head) + list(tail), len(head)


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """End-of-sequence ids: the model's generation config, else the tokenizer's eos."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        return set()
    return {int(i) for i in (ids if isinstance(ids, (list, tuple)) else [ids])}


def pad_token_id(model: Any, tokenizer: Any, eos: set[int]) -> int:
    for candidate in (
        tokenizer.pad_token_id,
        getattr(getattr(model, "generation_config", None), "pad_token_id", None),
    ):
        if candidate is not None:
            return int(candidate)
    return min(eos) if eos else 0


def _progress(progress: Any, n: int) -> None:
    if progress is None:
        return
    if callable(progress):
        progress(n)
    else:
        progress.update(n)


def generate(
    model: Any,
    tokenizer: Any,
    method: Method | str,
    samples: Iterable[Sample],
    *,
    model_name: str,
    batch_size: int = 8,
    progress: Callable[[int], Any] | Any | None = None,
) -> Iterator[Prediction]:
    """Generate greedily for each sample under `method`; yield one Prediction per sample, in input order.

    `model_name`: recorded in each Prediction (as given to `load_model`).
    `batch_size`: samples generated together when the method allows it; otherwise
    they run one at a time and `Prediction.batch_note` says why.
    `progress`: called with the number of samples finished after each batch (a
    callable, or an object with `.update(n)` such as a tqdm bar).
    """
    method = parse_method(method)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, not {batch_size!r}")
    method.check_model(model)
    eos = stop_token_ids(model, tokenizer)
    pad_id = pad_token_id(model, tokenizer, eos)
    batching = batch_size > 1 and method.supports_batching and not method.split_prefill
    note = None if batching or batch_size == 1 else (method.batching_note or "the method prefills in two parts")
    window = BATCH_WINDOW * batch_size if batching else 1
    spec = method.spec

    pending: list[Encoded] = []

    def flush() -> Iterator[Prediction]:
        order = sorted(pending, key=lambda e: len(e.ids)) if batching else list(pending)
        step = batch_size if batching else 1
        done: dict[int, Prediction] = {}
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            try:
                rows = _run_batch(model, method, batch, eos, pad_id)
            except NegsampError:
                raise
            except Exception as err:
                ids = ", ".join(e.sample.sample_id for e in batch)
                raise GenerationError(f"method {spec!r} failed on sample(s) {ids}: {type(err).__name__}: {err}") from err
            for e, row in zip(batch, rows):
                done[e.index] = Prediction(
                    sample_id=e.sample.sample_id,
                    task=e.sample.task,
                    model=model_name,
                    method=spec,
                    prediction=tokenizer.decode(row["tokens"], skip_special_tokens=True),
                    output_tokens=len(row["tokens"]),
                    hit_eos=row["hit_eos"],
                    prompt_tokens=len(e.ids),
                    kv_bytes_prefill=row["kv_bytes_prefill"],
                    kv_bytes_end=row["kv_bytes_end"],
                    prefill_s=row["prefill_s"],
                    decode_s=row["decode_s"],
                    batch_size=len(batch),
                    batch_note=note,
                )
            _progress(progress, len(batch))
        for e in pending:
            yield done[e.index]
        pending.clear()

    for index, sample in enumerate(samples):
        ids, split = encode(tokenizer, sample)
        if not ids:
            raise InputError(f"sample {sample.sample_id}: the prompt has no tokens")
        pending.append(Encoded(index, sample, ids, split))
        if len(pending) >= window:
            yield from flush()
    if pending:
        yield from flush()


def _backbone(model: Any) -> Any:
    """The decoder without the LM head (to prefill a context whose logits are not needed)."""
    inner = getattr(model, "model", None)
    return inner if isinstance(inner, torch.nn.Module) else None


def _run_batch(model: Any, method: Method, batch: list[Encoded], eos: set[int], pad_id: int) -> list[dict]:
    with torch.inference_mode():
        return _run_batch_inner(model, method, batch, eos, pad_id)


def _run_batch_inner(model: Any, method: Method, batch: list[Encoded], eos: set[int], pad_id: int) -> list[dict]:
    device = model.device
    size = len(batch)
    lengths = [len(e.ids) for e in batch]
    longest = max(lengths)
    input_ids = torch.full((size, longest), pad_id, dtype=torch.long)
    for i, e in enumerate(batch):
        input_ids[i, longest - lengths[i] :] = torch.tensor(e.ids, dtype=torch.long)
    input_ids = input_ids.to(device)
    attention_mask = None
    if len(set(lengths)) > 1:  # left padding: mask the pads, count positions over real tokens
        attention_mask = torch.zeros((size, longest), dtype=torch.long)
        for i in range(size):
            attention_mask[i, longest - lengths[i] :] = 1
        attention_mask = attention_mask.to(device)
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    else:
        position_ids = torch.arange(longest, device=device).unsqueeze(0).expand(size, -1)

    cache = method.make_cache(model, size)
    split = batch[0].split if (method.split_prefill and size == 1) else None

    start = time.perf_counter()
    if split is not None and 0 < split < longest:
        backbone = _backbone(model)
        with method.compression(model):
            if backbone is not None:
                backbone(input_ids=input_ids[:, :split], position_ids=position_ids[:, :split], past_key_values=cache)
            else:
                model(
                    input_ids=input_ids[:, :split],
                    position_ids=position_ids[:, :split],
                    past_key_values=cache,
                    logits_to_keep=1,
                )
        if len(set(kv_tokens(cache))) > 1:  # per-layer lengths differ: no shared mask, go token by token
            for j in range(split, longest):
                out = model(
                    input_ids=input_ids[:, j : j + 1],
                    position_ids=position_ids[:, j : j + 1],
                    past_key_values=cache,
                    logits_to_keep=1,
                )
        else:
            out = model(
                input_ids=input_ids[:, split:],
                position_ids=position_ids[:, split:],
                past_key_values=cache,
                logits_to_keep=1,
            )
    else:
        compress = split is None or split >= longest  # split == 0: no context to compress
        with method.compression(model) if compress else contextlib.nullcontext():
            out = model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                logits_to_keep=1,
            )
    next_tokens = out.logits[:, -1, :].argmax(-1)
    prefill_s = time.perf_counter() - start
    bytes_prefill = kv_bytes(cache)
    slots_prefill = longest

    start = time.perf_counter()
    budgets = [e.sample.max_new_tokens for e in batch]
    tokens: list[list[int]] = [[] for _ in batch]
    finished = [b <= 0 for b in budgets]
    hit_eos = [False] * size
    positions = position_ids[:, -1:] + 1
    steps = 0
    while not all(finished):
        chosen = next_tokens.tolist()
        for i in range(size):
            if finished[i]:
                continue
            tokens[i].append(chosen[i])
            if chosen[i] in eos:
                finished[i] = hit_eos[i] = True
            elif len(tokens[i]) >= budgets[i]:
                finished[i] = True
        if all(finished):
            break
        feed = torch.tensor([[pad_id if finished[i] else chosen[i]] for i in range(size)], device=device)
        if attention_mask is not None:
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((size, 1))], dim=-1)
        out = model(input_ids=feed, attention_mask=attention_mask, position_ids=positions, past_key_values=cache)
        positions = positions + 1
        steps += 1
        next_tokens = out.logits[:, -1, :].argmax(-1)
    decode_s = time.perf_counter() - start
    bytes_end = kv_bytes(cache)
    slots_end = slots_prefill + steps

    rows = []
    for i in range(size):
        if size == 1:
            row_prefill, row_end = bytes_prefill, bytes_end
        else:  # the row's own slots' share of the measured bytes; padding slots charged to no one
            fed = lengths[i] + max(len(tokens[i]) - 1, 0)
            row_prefill = bytes_prefill * lengths[i] // (size * slots_prefill)
            row_end = bytes_end * fed // (size * slots_end)
        rows.append(
            {
                "tokens": tokens[i],
                "hit_eos": hit_eos[i],
                "kv_bytes_prefill": row_prefill,
                "kv_bytes_end": row_end,
                "prefill_s": prefill_s,
                "decode_s": decode_s,
            }
        )
    return rows
