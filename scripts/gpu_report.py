"""The tables of scripts/gpu_check.sh: a build compared with the CPU release, and throughput runs.

    .venv/bin/python scripts/gpu_report.py --release leaderboard/releases/negsamp-tiny-0.1.0 \
        --built build/gpu_check/tiny-cuda/dataset --throughput build/gpu_check/tp-* --out docs/gpu_check.md

(a) Negatives: per config, the negative sample ids of both folders, how many agree,
which appear in one only, and per method how many per-method flags agree; and over
the rows both folders hold, how many baseline predictions are identical (bf16 on a GPU
against fp32 on a CPU may differ: the counts say by how much).

(b) Throughput: one row per prompt length, batch size and side (`none` is the baseline
side of every run; it is shown once, from the first run at that prompt length), with
decode tok/s, TPOT, TTFT, KV bytes after the prefill, peak memory and the fraction of
the decode roofline reached: against the bandwidth `negsamp throughput` measured with a
tensor copy, and against the nominal HBM bandwidth given with `--hbm` (H200: 4.8 TB/s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def negatives(folder: Path) -> dict[str, dict[str, dict]]:
    """config -> split -> {sample_id: row} of a dataset folder."""
    from negsamp.dataset import read_manifest, read_rows

    manifest = read_manifest(folder)
    out: dict[str, dict[str, dict]] = {}
    for config in manifest.config_names():
        out[config] = {split: {r.sample_id: r for r in read_rows(folder, config=config, split=split)}
                       for split in ("negative", "control")}
    return out


def compare(release: Path, built: Path) -> list[str]:
    """Markdown lines: how far the built folder's negatives agree with the release's."""
    a, b = negatives(release), negatives(built)
    lines = [f"Release `{release}` against build `{built}`.", ""]
    for config in sorted(set(a) | set(b)):
        if config not in a or config not in b:
            lines.append(f"- config `{config}`: only in {'the release' if config in a else 'the build'}")
            continue
        ra, rb = a[config]["negative"], b[config]["negative"]
        both = ra.keys() & rb.keys()
        lines.append(f"- config `{config}`: release {len(ra)} negatives, build {len(rb)}; {len(both)} agree, "
                     f"{len(ra.keys() - rb.keys())} only in the release, {len(rb.keys() - ra.keys())} only in the build")
        flags = [(ma.method, ma.negative == mb.negative) for sid in both
                 for ma, mb in zip(ra[sid].methods, rb[sid].methods)]
        for method in sorted({m for m, _ in flags}):
            same = [ok for m, ok in flags if m == method]
            lines.append(f"  - `{method}`: per-method flag agrees on {sum(same)}/{len(same)} shared negatives")
        rows_a = {**a[config]["negative"], **a[config]["control"]}
        rows_b = {**b[config]["negative"], **b[config]["control"]}
        shared = rows_a.keys() & rows_b.keys()
        same_pred = sum(rows_a[s].baseline.prediction == rows_b[s].baseline.prediction for s in shared)
        lines.append(f"  - baseline predictions identical on {same_pred}/{len(shared)} rows both folders hold")
    return lines


def _gib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**30:.2f}"


def throughput_rows(paths: list[Path], hbm: float | None) -> list[str]:
    """Markdown table of the throughput runs (see the module docstring)."""
    from negsamp.throughput import load_throughput

    reports = sorted((load_throughput(p / "throughput.json") for p in paths), key=lambda r: (r.prompt_len, r.method))
    header = ("| prompt | batch | method | decode tok/s | TPOT ms | TTFT s | KV after prefill GiB | peak mem GiB "
              "| roofline (copy bw) | roofline (HBM) |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    shown: set[tuple[int, int]] = set()
    for r in reports:
        for result in r.results:
            sides = [("method", result.method)]
            if (r.prompt_len, result.batch_size) not in shown:
                sides.insert(0, ("baseline", result.baseline))
                shown.add((r.prompt_len, result.batch_size))
            for side, fig in sides:
                if fig is None:
                    lines.append(f"| {r.prompt_len} | {result.batch_size} | `{r.method}` | skipped: {result.skipped} "
                                 "| | | | | | |")
                    continue
                name = r.baseline if side == "baseline" else r.method
                nominal = "-"
                if hbm:
                    nominal = f"{fig.decode_tok_s.median * fig.bytes_per_decode_step / result.batch_size / hbm:.2f}"
                lines.append(
                    f"| {r.prompt_len} | {result.batch_size} | `{name}` | {fig.decode_tok_s.median:,.1f} "
                    f"| {fig.tpot_s.median * 1e3:.2f} | {fig.ttft_s.median:.3f} | {_gib(fig.kv_bytes_prefill)} "
                    f"| {_gib(fig.peak_mem_bytes.median)} | {fig.roofline_fraction:.2f} | {nominal} |")
    first = reports[0] if reports else None
    if first is not None:
        lines += ["", f"Device: {first.device}, dtype {first.dtype}, attention {first.attn_baseline}; "
                      f"copy bandwidth {first.bandwidth.bytes_per_s / 1e12:.2f} TB/s; weights "
                      f"{_gib(first.weight_bytes)} GiB; gen_len {first.gen_len}, {first.repeats} repeats "
                      f"after {first.warmup} warm-up."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, required=True, help="the CPU release folder")
    parser.add_argument("--built", type=Path, required=True, help="the dataset folder built on the device")
    parser.add_argument("--throughput", type=Path, nargs="+", required=True, help="negsamp throughput --out folders")
    parser.add_argument("--hbm", type=float, help="nominal HBM bandwidth in bytes/s (H200: 4.8e12)")
    parser.add_argument("--title", default="GPU check")
    parser.add_argument("--out", type=Path, required=True, help="markdown file to write")
    args = parser.parse_args(argv)
    lines = [f"# {args.title}", "", "## (a) Negatives: device build vs CPU release", ""]
    lines += compare(args.release, args.built)
    lines += ["", "## (b) Throughput, Llama-3.1-8B shape, random weights", ""]
    lines += throughput_rows(args.throughput, args.hbm)
    text = "\n".join(lines) + "\n"
    from negsamp.atomic import atomic_write_text

    atomic_write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
