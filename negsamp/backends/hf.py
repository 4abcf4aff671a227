"""transformers backend: the one prefill + decode loop of negsamp.

`run`, `build`, `evaluate` (through `generate`) and `throughput` (through `run_rows`)
all generate here, so what `throughput` times is exactly what `evaluate` scores: the
same compress split, the same cache class, the same batching.

- Tokenization: `sample.prompt` is tokenized once, with the tokenizer's special
  tokens (BOS) added unless `sample.chat_template` (the template already holds them).
  The context/question split is the first token starting at or after
  `sample.question_start` (offset mapping), so every method sees the same tokens.
- Prefill (`prefill`): methods with `split_prefill` prefill the context tokens under
  `method.compression(model)`, then the rest uncompressed at their true positions
  (one token at a time when layers were left with different lengths, e.g. PyramidKV,
  because transformers builds one attention mask for all layers); other methods
  prefill the whole prompt under it. Methods with `pad_prefill` (nothing compressed,
  a plain cache) prefill a batch at once, left-padded, with an attention mask and
  position ids counted over real tokens. The others prefill each group of rows with
  the same length and split together, without padding, and the groups' caches are
  then joined, every row padded on the left to the widest row's *kept* length and
  masked (`negsamp.backends.ragged`), so a row decodes exactly as it would alone.
- Decoding (`decode`): greedy (argmax), stopping at an end-of-sequence token (the
  model's generation config, else the tokenizer's) or the row's `max_new_tokens`;
  with `ignore_eos`, exactly `max_new_tokens` tokens (fixed-length timing). The
  baseline gives the same tokens as `model.generate(do_sample=False)`.
- Timing (`Timings`): `prefill_s` the prefill forwards (device synchronized),
  `ttft_s` that plus choosing the first tokens and fetching them to the host, and one
  entry per decoding step (forward, argmax, tokens fetched to the host, as a server
  checking stop conditions does).
- Batching in `generate` (methods with `supports_batching` only): samples are sorted
  by length within windows of `4 * batch_size`; predictions are still yielded in
  input order.
- KV bytes: measured with `negsamp.kvcache.kv_bytes` on the cache tensors, wherever
  they live, right after the prefill and when a row stops. A row is charged its own
  slots' share of the bytes of the cache part holding it (its group's cache, or the
  joined cache): its own tokens over rows x cache length, i.e. padding slots are
  charged to no one and a row holds what it holds alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from negsamp.backends.ragged import join, uniform_length
from negsamp.backends.stops import pick_next, stop_ids
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


@dataclass
class Row:
    """One sequence to generate for: its prompt's token ids, where its question starts, its budget."""

    ids: list[int]
    split: int
    max_new_tokens: int
    ends: frozenset[int] = frozenset()
    """Tokens that end this row besides the EOS passed to `decode` (generate puts EOS and the
    sample's `stop_texts` tokens here, see `negsamp.backends.stops`)."""
    min_new_tokens: int = 0
    """End tokens are masked until this many tokens are generated (the reference's `min_length`)."""


@dataclass
class Timings:
    """Wall times of one batch (seconds); the device is synchronized before each reading."""

    prefill_s: float = 0.0
    """The prefill forwards (and joining the groups' caches)."""
    ttft_s: float = 0.0
    """`prefill_s` plus choosing the first tokens and fetching them to the host."""
    step_s: list[float] = field(default_factory=list)
    """One entry per decoding step: forward, argmax, tokens fetched to the host."""

    @property
    def decode_s(self) -> float:
        return sum(self.step_s)


@dataclass
class RowResult:
    """What one row generated and the KV bytes it held."""

    tokens: list[int]
    hit_eos: bool
    kv_bytes_prefill: int
    kv_bytes_end: int


@dataclass
class Part:
    """A cache holding rows `start:stop` of the batch, `width` slots each after the prefill."""

    cache: Any
    start: int
    stop: int
    width: int


@dataclass
class Prefilled:
    """The state after the prefill: the cache to decode with and each row's bookkeeping."""

    cache: Any
    parts: list[Part]
    first: list[int]
    """The first generated token of each row."""
    mask: Any
    """Attention mask over the cache slots (None when no row is padded)."""
    positions: Any
    """(rows, 1) position of each row's next token."""
    kept: list[int]
    """Each row's own cache slots after the prefill (its prompt, less what was evicted)."""
    kv_bytes: list[int]
    """Each row's KV bytes after the prefill."""


def share(part: Part, kept: int, steps: int) -> int:
    """A row's bytes in `part` after `steps` decoding steps: its own slots' share, padding uncharged."""
    rows = part.stop - part.start
    return kv_bytes(part.cache) * (kept + steps) // (rows * (part.width + steps))


def _sync(device: Any) -> None:
    if getattr(device, "type", None) == "cuda":
        torch.cuda.synchronize(device)


def _backbone(model: Any) -> Any:
    """The decoder without the LM head (to prefill a context whose logits are not needed)."""
    inner = getattr(model, "model", None)
    return inner if isinstance(inner, torch.nn.Module) else None


def _forward(model: Any, ids: Any, positions: Any, cache: Any, mask: Any = None, head: bool = True) -> Any:
    """One prefill forward; without `head`, only the decoder (no logits) when the model allows it."""
    backbone = None if head else _backbone(model)
    if backbone is not None:
        return backbone(input_ids=ids, position_ids=positions, past_key_values=cache)
    return model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                 logits_to_keep=1)


def _prefill_split(model: Any, method: Method, ids: Any, positions: Any, cache: Any, split: int) -> Any:
    """The context under compression, then the question uncompressed; the last forward's output."""
    with method.compression(model):
        _forward(model, ids[:, :split], positions[:, :split], cache, head=False)
    if uniform_length(cache) is None:  # per-layer lengths differ: no shared mask, go token by token
        for j in range(split, ids.shape[1]):
            out = _forward(model, ids[:, j : j + 1], positions[:, j : j + 1], cache)
        return out
    return _forward(model, ids[:, split:], positions[:, split:], cache)


def _prefill_group(model: Any, method: Method, rows: list[Row]) -> tuple[Any, Any]:
    """Rows of one length and split, prefilled together without padding: (cache, last logits)."""
    device = model.device
    ids = torch.tensor([r.ids for r in rows], dtype=torch.long, device=device)
    n = ids.shape[1]
    positions = torch.arange(n, device=device).unsqueeze(0).expand(len(rows), -1)
    cache = method.make_cache(model, len(rows))
    split = rows[0].split
    if method.split_prefill and 0 < split < n:
        out = _prefill_split(model, method, ids, positions, cache, split)
    else:
        compress = not method.split_prefill or split >= n  # split == 0: no context to compress
        with method.compression(model) if compress else contextlib.nullcontext():
            out = _forward(model, ids, positions, cache)
    return cache, out.logits[:, -1, :]


def _prefill_padded(model: Any, method: Method, rows: list[Row], pad_id: int) -> tuple[Any, Any, Any, Any]:
    """All rows at once, left-padded: (cache, last logits, mask or None, positions)."""
    device = model.device
    lengths = [len(r.ids) for r in rows]
    longest = max(lengths)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, longest - lengths[i] :] = torch.tensor(r.ids, dtype=torch.long)
        mask[i, longest - lengths[i] :] = 1
    ids, mask = ids.to(device), mask.to(device)
    if len(set(lengths)) > 1:  # count positions over real tokens
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
    else:
        mask = None
        positions = torch.arange(longest, device=device).unsqueeze(0).expand(len(rows), -1)
    cache = method.make_cache(model, len(rows))
    with method.compression(model):
        out = _forward(model, ids, positions, cache, mask)
    return cache, out.logits[:, -1, :], mask, positions


def _groups(rows: list[Row]) -> list[tuple[int, int]]:
    """(start, stop) of each run of consecutive rows sharing length and split."""
    bounds, start = [], 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or (len(rows[i].ids), rows[i].split) != (len(rows[start].ids), rows[start].split):
            bounds.append((start, i))
            start = i
    return bounds


def _left_mask(kept: list[int], width: int, device: Any) -> Any:
    if len(set(kept)) == 1:
        return None
    mask = torch.zeros((len(kept), width), dtype=torch.long)
    for i, k in enumerate(kept):
        mask[i, width - k :] = 1
    return mask.to(device)


def _prefill_grouped(model: Any, method: Method, rows: list[Row]) -> list[Prefilled]:
    """Each group of equal rows apart, then joined into one batch (one state per group if impossible)."""
    device = model.device
    states = []
    for start, stop in _groups(rows):
        cache, logits = _prefill_group(model, method, rows[start:stop])
        width = max(kv_tokens(cache), default=0)
        part = Part(cache, 0, stop - start, width)
        positions = torch.full((stop - start, 1), len(rows[start].ids), dtype=torch.long, device=device)
        first = pick_next(logits, rows[start:stop], [0] * (stop - start))
        states.append(Prefilled(cache, [part], first, None, positions, [width] * (stop - start),
                                [share(part, width, 0)] * (stop - start)))
    sizes = [len(s.kept) for s in states]
    joined = join([s.cache for s in states], sizes) if len(states) > 1 else None
    if joined is None:
        return states
    kept = [k for s in states for k in s.kept]
    width = max(kept)
    if joined is states[0].cache:  # tensors joined into one cache: one part, padded to the widest row
        parts = [Part(joined, 0, len(rows), width)]
    else:  # each group keeps its own cache, at its offset in the batch
        offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        parts = [Part(s.cache, o, o + n, s.parts[0].width) for s, o, n in zip(states, offsets, sizes)]
    return [Prefilled(joined, parts, torch.cat([s.first for s in states]), _left_mask(kept, width, device),
                      torch.cat([s.positions for s in states]), kept, [b for s in states for b in s.kv_bytes])]


def prefill(model: Any, method: Method, rows: list[Row], pad_id: int, timings: Timings) -> list[Prefilled]:
    """Prefill `rows` under `method`; usually one state for the whole batch (see the module docstring).

    Rows of a `pad_prefill` method may come in any order; for the others, rows sharing a
    length and split must be next to each other (they are prefilled together).
    """
    device = model.device
    _sync(device)
    start = time.perf_counter()
    if method.pad_prefill and not method.split_prefill:
        cache, logits, mask, positions = _prefill_padded(model, method, rows, pad_id)
        width = mask.shape[1] if mask is not None else len(rows[0].ids)
        part = Part(cache, 0, len(rows), width)
        kept = [len(r.ids) for r in rows]
        states = [Prefilled(cache, [part], pick_next(logits, rows, [0] * len(rows)), mask, positions[:, -1:] + 1,
                            kept, [])]
    else:
        states = _prefill_grouped(model, method, rows)
    _sync(device)
    timings.prefill_s = time.perf_counter() - start
    for state in states:
        state.first = state.first.tolist()
    timings.ttft_s = time.perf_counter() - start
    for state in states:
        if not state.kv_bytes:
            state.kv_bytes = [share(state.parts[0], k, 0) for k in state.kept]
    return states


def _part_of(state: Prefilled, row: int) -> Part:
    return next(p for p in state.parts if p.start <= row < p.stop)


def decode(model: Any, state: Prefilled, budgets: list[int], eos: set[int], pad_id: int, timings: Timings,
           *, ignore_eos: bool = False, rows: list[Row] | None = None) -> list[RowResult]:
    """Greedy decoding from a prefilled state until every row stops; appends to `timings.step_s`.
    `rows` (in state order), when given, add their own end tokens and minimum lengths."""
    size = len(budgets)
    ends = [eos | r.ends for r in rows] if rows is not None else [eos] * size
    results = [RowResult([], False, b, b) for b in state.kv_bytes]
    finished = [b <= 0 for b in budgets]
    chosen, mask, positions, steps = state.first, state.mask, state.positions, 0
    while True:
        for i in range(size):
            if finished[i]:
                continue
            results[i].tokens.append(chosen[i])
            results[i].hit_eos = chosen[i] in ends[i] and not ignore_eos
            finished[i] = results[i].hit_eos or len(results[i].tokens) >= budgets[i]
            if finished[i]:
                results[i].kv_bytes_end = share(_part_of(state, i), state.kept[i], steps)
        if all(finished):
            return results
        start = time.perf_counter()
        feed = torch.tensor([[pad_id if finished[i] else chosen[i]] for i in range(size)], device=model.device)
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones((size, 1))], dim=-1)
        out = model(input_ids=feed, attention_mask=mask, position_ids=positions, past_key_values=state.cache)
        logits = out.logits[:, -1, :]
        chosen = (pick_next(logits, rows, [len(r.tokens) for r in results]) if rows is not None
                  else logits.argmax(-1)).tolist()
        timings.step_s.append(time.perf_counter() - start)
        positions = positions + 1
        steps += 1


def run_rows(model: Any, method: Method, rows: list[Row], eos: set[int], pad_id: int, *,
             ignore_eos: bool = False) -> tuple[list[RowResult], Timings]:
    """Prefill and decode one batch of rows (in the order given); the engine under every command."""
    timings = Timings()
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i].ids), rows[i].split))
    ordered = [rows[i] for i in order]
    results: list[RowResult] = []
    with torch.inference_mode():
        states = prefill(model, method, ordered, pad_id, timings)
        offset = 0
        for state in states:  # one state unless the groups' caches could not be joined
            own = ordered[offset : offset + len(state.kept)]
            results.extend(decode(model, state, [r.max_new_tokens for r in own], eos, pad_id, timings,
                                  ignore_eos=ignore_eos, rows=own))
            offset += len(state.kept)
    back: list[RowResult] = [results[0]] * len(rows)
    for position, index in enumerate(order):
        back[index] = results[position]
    return back, timings


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
    batching = batch_size > 1 and method.supports_batching
    note = None if batching or batch_size == 1 else method.batching_note
    window = BATCH_WINDOW * batch_size if batching else 1
    pending: list[Encoded] = []
    for index, sample in enumerate(samples):
        ids, split = encode(tokenizer, sample)
        if not ids:
            raise InputError(f"sample {sample.sample_id}: the prompt has no tokens")
        pending.append(Encoded(index, sample, ids, split))
        if len(pending) >= window:
            yield from _flush(model, tokenizer, method, pending, batch_size if batching else 1,
                              (eos, pad_id, model_name, note), progress)
            pending = []
    if pending:
        yield from _flush(model, tokenizer, method, pending, batch_size if batching else 1,
                          (eos, pad_id, model_name, note), progress)


def _flush(model: Any, tokenizer: Any, method: Method, pending: list[Encoded], step: int,
           setting: tuple, progress: Any) -> Iterator[Prediction]:
    """Generate a window of samples, batches of `step` sorted by length; yield them in input order."""
    eos, pad_id, model_name, note = setting
    order = sorted(pending, key=lambda e: (len(e.ids), e.split)) if step > 1 else pending
    done: dict[int, Prediction] = {}
    for start in range(0, len(order), step):
        batch = order[start : start + step]
        rows = [Row(e.ids, e.split, e.sample.max_new_tokens, frozenset(eos) | stop_ids(tokenizer, e.sample),
                    e.sample.min_new_tokens) for e in batch]
        try:
            results, timings = run_rows(model, method, rows, eos, pad_id)
        except NegsampError:
            raise
        except Exception as err:
            ids = ", ".join(e.sample.sample_id for e in batch)
            raise GenerationError(f"method {method.spec!r} failed on sample(s) {ids}: "
                                  f"{type(err).__name__}: {err}") from err
        for e, r in zip(batch, results):
            done[e.index] = Prediction(
                sample_id=e.sample.sample_id, task=e.sample.task, model=model_name, method=method.spec,
                prediction=tokenizer.decode(r.tokens, skip_special_tokens=True), output_tokens=len(r.tokens),
                hit_eos=r.hit_eos, prompt_tokens=len(e.ids), kv_bytes_prefill=r.kv_bytes_prefill,
                kv_bytes_end=r.kv_bytes_end, prefill_s=timings.prefill_s, decode_s=timings.decode_s,
                batch_size=len(batch), batch_note=note,
            )
        _progress(progress, len(batch))
    for e in pending:
        yield done[e.index]
