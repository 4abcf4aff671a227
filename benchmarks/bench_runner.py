"""Batched runner vs a plain per-sample `model.generate` loop, side by side.

The same samples (pass-key prompts of modest length, bundled SmolLM2-135M-Instruct)
go through `negsamp.backends.hf.generate` (method `none`, batched) and through
`model.generate(do_sample=False)` one sample at a time. The outputs must be identical;
the script prints both wall times and the speed-up. The two sides alternate
(`--repeats` rounds, runner first on odd rounds) and each side's best round counts,
so a noisy neighbour on the machine does not favour either.

    .venv/bin/python benchmarks/bench_runner.py                 # 16 samples, batch 16, 2 rounds
    .venv/bin/python benchmarks/bench_runner.py --batch-size 8 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time

LENGTHS = (120, 160, 200, 240)


def make_samples(tokenizer, n: int, seed: int, max_new_tokens: int):
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
    args = parser.parse_args(argv)

    import torch

    from negsamp.backends.hf import encode, generate
    from negsamp.models import load_model

    model, tokenizer = load_model(args.model)
    samples = make_samples(tokenizer, args.samples, args.seed, args.max_new_tokens)
    encoded = [encode(tokenizer, s)[0] for s in samples]
    lengths = [len(ids) for ids in encoded]
    print(
        f"{args.model}: {len(samples)} samples, prompts {min(lengths)}-{max(lengths)} tokens, "
        f"max_new_tokens={args.max_new_tokens}, batch_size={args.batch_size}, "
        f"torch threads={torch.get_num_threads()}"
    )

    def run_runner():
        return list(generate(model, tokenizer, "none", samples, model_name=args.model, batch_size=args.batch_size))

    def run_plain():
        texts, counts = [], []
        with torch.inference_mode():
            for ids, sample in zip(encoded, samples):
                x = torch.tensor([ids])
                out = model.generate(
                    x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=sample.max_new_tokens
                )
                new = out[0, len(ids):].tolist()
                texts.append(tokenizer.decode(new, skip_special_tokens=True))
                counts.append(len(new))
        return texts, counts

    # warm-up (first-call allocations, kernel selection) on one sample each
    generate(model, tokenizer, "none", samples[:1], model_name=args.model, batch_size=1).__next__()
    with torch.inference_mode():
        x = torch.tensor([encoded[0]])
        model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=2)

    best = {"runner": float("inf"), "plain": float("inf")}
    preds = plain = None
    for round_ in range(args.repeats):
        order = ("runner", "plain") if round_ % 2 == 0 else ("plain", "runner")
        for side in order:
            start = time.perf_counter()
            if side == "runner":
                preds = run_runner()
            else:
                plain = run_plain()
            elapsed = time.perf_counter() - start
            best[side] = min(best[side], elapsed)
            print(f"  round {round_ + 1} {side:6s} {elapsed:7.2f} s")

    texts, counts = plain
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
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
