"""Batched runner vs a plain per-sample `model.generate` loop, side by side.

The same samples (pass-key prompts of modest length, bundled SmolLM2-135M-Instruct)
go through `negsamp.backends.hf.generate` (method `none`, batched) and through
`model.generate(do_sample=False)` one sample at a time. The outputs must be identical;
the script prints both wall times and the speed-up. The two sides alternate
(`--repeats` rounds, runner first on odd rounds) and each side's best round counts,
so a noisy neighbour on the machine does not favour either.

Then the same for a compressed method (`--press`, default SnapKV): `generate` batched
against `generate` at batch size 1, outputs identical, and the batched speed-up.

    .venv/bin/python benchmarks/bench_runner.py                 # 16 samples, batch 16, 2 rounds
    .venv/bin/python benchmarks/bench_runner.py --batch-size 8 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time

LENGTHS = (120, 160, 200, 240)


def passkey_samples(tokenizer, n: int, seed: int, max_new_tokens: int):
    """`n` pass-key samples from the synthetic family, prompts of several lengths (so batches pad)."""
    from negsamp.tasks.synthetic import make_samples as synthetic_samples

    per_length = -(-n // len(LENGTHS))
    samples = synthetic_samples("passkey", tokenizer=tokenizer, lengths=list(LENGTHS), count=per_length, seed=seed)
    # A longer budget than the task's own, so decoding (where batching pays) dominates.
    return [s.model_copy(update={"max_new_tokens": max_new_tokens}) for s in samples[:n]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds per side (best counts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--press", default="snapkv:ratio=0.5",
                        help="compressed method timed batched vs one at a time ('' to skip; default snapkv:ratio=0.5)")
    args = parser.parse_args(argv)

    import torch

    from negsamp.backends.hf import encode, generate
    from negsamp.models import load_model

    model, tokenizer = load_model(args.model)
    samples = passkey_samples(tokenizer, args.samples, args.seed, args.max_new_tokens)
    encoded = [encode(tokenizer, s)[0] for s in samples]
    lengths = [len(ids) for ids in encoded]
    print(
        f"{args.model}: {len(samples)} samples, prompts {min(lengths)}-{max(lengths)} tokens, "
        f"max_new_tokens={args.max_new_tokens}, batch_size={args.batch_size}, "
        f"torch threads={torch.get_num_threads()}"
    )

    def run_runner():
        return list(generate(model, tokenizer, "none", samples, model_name=args.model, batch_size=args.batch_size))

    # warm-up (first-call allocations, kernel selection) on one sample each
    generate(model, tokenizer, "none", samples[:1], model_name=args.model, batch_size=1).__next__()
    with torch.inference_mode():
        x = torch.tensor([encoded[0]])
        model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=2)

    best, results = alternate({"runner": run_runner, "plain": lambda: run_plain(model, tokenizer, encoded, samples)},
                              args.repeats)
    preds, (texts, counts) = results["runner"], results["plain"]
    mismatches = [
        (s.sample_id, p.prediction, t)
        for s, p, t, c in zip(samples, preds, texts, counts)
        if p.prediction != t or p.output_tokens != c
    ]
    right = sum(s.answers[0] in p.prediction for s, p in zip(samples, preds))
    print(f"identical outputs: {len(samples) - len(mismatches)}/{len(samples)}; pass keys right: {right}/{len(samples)}")
    for sample_id, got, want in mismatches:
        print(f"  MISMATCH {sample_id}: runner {got!r} vs generate {want!r}")
    tokens = sum(p.output_tokens for p in preds)
    print(
        f"runner (batched) {best['runner']:.2f} s, generate loop {best['plain']:.2f} s, "
        f"{tokens} output tokens: speed-up {best['plain'] / best['runner']:.2f}x"
    )
    failed = bool(mismatches)
    if args.press:
        failed |= press_ratio(model, tokenizer, samples, args)
    return 1 if failed else 0


def run_plain(model, tokenizer, encoded, samples):
    """`model.generate` one sample at a time: (texts, output token counts)."""
    import torch

    texts, counts = [], []
    with torch.inference_mode():
        for ids, sample in zip(encoded, samples):
            x = torch.tensor([ids])
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                                 max_new_tokens=sample.max_new_tokens)
            new = out[0, len(ids):].tolist()
            texts.append(tokenizer.decode(new, skip_special_tokens=True))
            counts.append(len(new))
    return texts, counts


def alternate(sides: dict, repeats: int) -> tuple[dict, dict]:
    """Run each side `repeats` times, alternating who goes first; (best seconds, last result) per side."""
    best = {name: float("inf") for name in sides}
    results = {}
    names = list(sides)
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            results[name] = sides[name]()
            elapsed = time.perf_counter() - start
            best[name] = min(best[name], elapsed)
            print(f"  round {round_ + 1} {name:9s} {elapsed:7.2f} s")
    return best, results


def press_ratio(model, tokenizer, samples, args) -> bool:
    """A compressed method batched vs one sample at a time through the same engine; True on a mismatch."""
    from negsamp.backends.hf import generate
    from negsamp.methods import parse_method

    method = parse_method(args.press)
    if not method.supports_batching:
        print(f"{method.spec}: does not batch ({method.batching_note})")
        return False
    print(f"{method.spec}: batch {args.batch_size} vs batch 1")

    def side(size):
        return lambda: list(generate(model, tokenizer, method, samples, model_name=args.model, batch_size=size))

    best, results = alternate({"batched": side(args.batch_size), "one-by-one": side(1)}, args.repeats)
    same = sum(a.prediction == b.prediction and a.output_tokens == b.output_tokens
               for a, b in zip(results["batched"], results["one-by-one"]))
    print(f"identical outputs: {same}/{len(samples)}")
    print(f"{method.spec} batched {best['batched']:.2f} s, one at a time {best['one-by-one']:.2f} s: "
          f"speed-up {best['one-by-one'] / best['batched']:.2f}x")
    return same != len(samples)


if __name__ == "__main__":
    sys.exit(main())
