#!/usr/bin/env python
"""Baseline accuracy of a model on the synthetic task families (greedy, uncompressed).

    .venv/bin/python scripts/measure_synthetic_accuracy.py \
        --lengths 500 1000 1500 --count 10 --seed 0 --out /tmp/synthetic_baseline.json

Prints one line per sample and a Markdown table (mean score x 100 per family and length;
"all right" = samples scored 1.0), the table that docs/tasks.md records. Generation is a
plain `model.generate(do_sample=False)` per sample on the raw prompt, so the numbers do
not depend on any compression method or backend. The bundled model loads through
`negsamp.models.load_model` (its dequantized copy is cached, see negsamp/models.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from negsamp.metrics import score
from negsamp.models import DEFAULT_MODEL, load_model
from negsamp.tasks.synthetic import known_families, make_samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--families", nargs="+", default=known_families(), choices=known_families())
    parser.add_argument("--lengths", nargs="+", type=int, default=[500, 1000, 1500])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chat", action="store_true", help="wrap the questions in the chat template")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=None, help="write every sample's result here (JSON)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()
    model, tokenizer = load_model(args.model)
    print(f"loaded {args.model} in {time.time() - started:.1f}s", flush=True)

    rows = []
    for family in args.families:
        samples = make_samples(family, tokenizer=tokenizer, lengths=args.lengths, count=args.count,
                               seed=args.seed, chat_template=True if args.chat else None)
        for sample in samples:
            begun = time.time()
            encoded = tokenizer(sample.prompt, return_tensors="pt", add_special_tokens=not sample.chat_template)
            with torch.inference_mode():
                output = model.generate(**encoded, do_sample=False, max_new_tokens=sample.max_new_tokens,
                                        pad_token_id=tokenizer.eos_token_id)
            new_tokens = output[0, encoded["input_ids"].shape[1]:]
            prediction = tokenizer.decode(new_tokens, skip_special_tokens=True)
            value = score(sample.task, prediction, sample.answers)
            target = int(sample.source.rsplit("length=", 1)[1].split(",")[0])
            rows.append({"task": sample.task, "target_length": target, "prompt_tokens": sample.length,
                         "source": sample.source, "sample_id": sample.sample_id, "answers": sample.answers,
                         "prediction": prediction, "score": value, "seconds": round(time.time() - begun, 2)})
            print(f"{sample.task:13s} {target:5d} {sample.source.rsplit(',', 1)[1]:10s} score={value:.2f} "
                  f"{time.time() - begun:5.1f}s answers={sample.answers} prediction={prediction!r}", flush=True)

    print()
    print(markdown_table(rows, args.lengths))
    print(f"\n{len(rows)} samples in {time.time() - started:.0f}s")
    if args.out:
        args.out.write_text(json.dumps({"model": args.model, "seed": args.seed, "count": args.count,
                                        "chat": args.chat, "rows": rows}, indent=1))
    return 0


def markdown_table(rows: list[dict], lengths: list[int]) -> str:
    """Mean score x 100 (and samples fully right / samples) per family and target length."""
    families = list(dict.fromkeys(row["task"] for row in rows))
    lines = ["| family | " + " | ".join(f"{length} tokens" for length in lengths) + " |",
             "|---|" + "---|" * len(lengths)]
    for family in families:
        cells = []
        for length in lengths:
            scores = [row["score"] for row in rows if row["task"] == family and row["target_length"] == length]
            if not scores:
                cells.append("-")
                continue
            right = sum(1 for value in scores if value == 1.0)
            cells.append(f"{100 * sum(scores) / len(scores):.0f} ({right}/{len(scores)})")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
