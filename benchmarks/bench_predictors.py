"""How well the throughput and length predictors predict points they were not fitted on.

Throughput, on the paper's measurements (Llama-2-7B on one A6000, `throughput_a6000`):

1. fit on prompts <= 1089 tokens and predict every longer one (2048, 2113);
2. leave one batch size out (1, 2, 4, 8, 16 in turn) and predict it.

Each prints, per method and stage, the mean absolute relative error of time (the measure the
authors checked their own predictor with) of ours and of the plain cost model (per-step time
linear in (1, bsz, bsz*len) for decoding and (1, bsz*len, bsz*len^2) for prefill, least squares
on relative error), both fitted on the same points. The run-to-run floor is printed beside
them: the error of predicting each measurement by the median of its own repeats (a predictor
cannot do better on average than the spread of repeated measurements).

The CSVs' `model` column names four models, one per "repeat" of a key, but the figures behave
as one Llama-2-7B configuration (docs/predictors.md); [1b] repeats [1] on the rows labelled with
the first file's model only.

Length, on run stores (`--runs`): grouped 5-fold held-out error of the length predictor next to
a constant per-method ratio.

    .venv/bin/python benchmarks/bench_predictors.py [--a6000 ../shared/data/throughput_a6000]
        [--runs RUNS_DIR ...] [--plot docs/predictors_extrapolation.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from negsamp.predict.heldout import HeldOut, extrapolate, leave_one_batch_out
from negsamp.predict.points import Point, read_points
from negsamp.predict.roofline import hardware, model_shape

GOAL_MAPE = 4.0
FIT_MAX_LEN = 1089


def repeat_floor(points: list[Point], held) -> dict[tuple[str, str], float]:
    """Error of predicting each held-out measurement by the median of its own repeats, percent."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for p in points:
        if held(p):
            groups[(p.method, p.stage, p.bsz, p.prompt_len)].append(p.seconds)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (method, stage, _, _), seconds in groups.items():
        mid = statistics.median(seconds)
        errors[(method, stage)].extend(abs(mid - s) / s * 100 for s in seconds)
    return {k: statistics.fmean(v) for k, v in errors.items()}


def print_table(title: str, rows: list[HeldOut], floor: dict) -> None:
    print(title)
    print(f"  {'method':<16} {'stage':<9} {'ours %':>7} {'plain %':>8} {'repeats %':>10} {'points':>6}  better")
    for r in rows:
        f = floor.get((r.method, r.stage), float("nan"))
        print(f"  {r.method:<16} {r.stage:<9} {r.ours:>7.2f} {r.plain:>8.2f} {f:>10.2f} {r.points:>6}  "
              f"{'yes' if r.ours < r.plain else 'NO'}")
    print(f"  mean                       {statistics.fmean(r.ours for r in rows):>7.2f} "
          f"{statistics.fmean(r.plain for r in rows):>8.2f}")


def throughput(folder: Path, plot: Path | None) -> None:
    points = read_points(sorted(folder.glob("*.csv")))
    shape, hw = model_shape(points[0].model), hardware("a6000")
    print(f"throughput: {len(points)} measurements from {folder}, model {shape.name}, roofline on {hw.name}")
    ext = extrapolate(points, FIT_MAX_LEN, shape, hw)
    print_table(f"\n[1] fit on prompts <= {FIT_MAX_LEN}, predict the longer ones (time error)", ext,
                repeat_floor(points, lambda p: p.prompt_len > FIT_MAX_LEN))
    over = [r for r in ext if r.ours >= GOAL_MAPE]
    print(f"  goal < {GOAL_MAPE}% on longer prompts: {len(ext) - len(over)}/{len(ext)} met"
          + "".join(f"; missed {r.method} {r.stage} {r.ours:.2f}%" for r in over))
    own = [p for p in points if p.model == points[0].model]
    ext_own = extrapolate(own, FIT_MAX_LEN, shape, hw)
    print_table(f"\n[1b] as [1], only the rows whose model column says {points[0].model} (one per key)",
                ext_own, repeat_floor(own, lambda p: p.prompt_len > FIT_MAX_LEN))
    lobo = leave_one_batch_out(points, shape, hw)
    print_table("\n[2] leave one batch size out (mean over the 5 held-out batch sizes; time error)", lobo,
                repeat_floor(points, lambda p: True))
    beaten = sum(r.ours < r.plain for r in ext + lobo)
    print(f"\nours beats the plain cost model on {beaten}/{len(ext) + len(lobo)} (method, stage, protocol) cells")
    if plot:
        plot_extrapolation(points, FIT_MAX_LEN, shape, hw, plot)
        print(f"wrote {plot}")


def plot_extrapolation(points: list[Point], max_len: int, shape, hw, path: Path) -> None:
    """Measured tok/s vs prompt length at batch 4 and 16, with both models fitted on prompts <= max_len."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from negsamp.atomic import save_figure
    from negsamp.predict.heldout import plain_predict
    from negsamp.predict.throughput import fit_throughput, predict_seconds

    methods = sorted({p.method for p in points})
    train = [p for p in points if p.prompt_len <= max_len]
    model = fit_throughput(train, shape, hw)
    fig, axes = plt.subplots(2, len(methods), figsize=(3.2 * len(methods), 6), squeeze=False)
    for col, method in enumerate(methods):
        for row, stage in enumerate(("prefill", "decoding")):
            ax = axes[row][col]
            fit_rows = [p for p in train if (p.method, p.stage) == (method, stage)]
            for bsz, colour in ((4, "tab:blue"), (16, "tab:red")):
                seen = [p for p in points if (p.method, p.stage, p.bsz) == (method, stage, bsz)]
                ax.scatter([p.prompt_len for p in seen], [p.thr for p in seen], s=10, color=colour, label=f"bsz {bsz}")
                grid = [Point(method, bsz, n, stage) for n in range(256, 2200, 32)]
                tokens = [(q.bsz * q.prompt_len if stage == "prefill" else q.bsz) for q in grid]
                ours = [t / predict_seconds(model, shape, hw, q)[0] for t, q in zip(tokens, grid)]
                plain = [t / s for t, s in zip(tokens, plain_predict(fit_rows, grid))]
                ax.plot([q.prompt_len for q in grid], ours, color=colour)
                ax.plot([q.prompt_len for q in grid], plain, color=colour, linestyle=":")
            ax.axvspan(max_len, 2200, color="0.9", zorder=0)
            ax.set_title(f"{method} {stage}", fontsize=9)
            if row:
                ax.set_xlabel("prompt tokens")
    axes[0][0].set_ylabel("prompt tok/s")
    axes[1][0].set_ylabel("generated tok/s")
    axes[0][0].legend(fontsize=7, title="solid: ours, dotted: plain", title_fontsize=7)
    fig.suptitle(f"Fitted on prompts <= {max_len} (white), predicted beyond (grey): Llama-2-7B, A6000")
    fig.tight_layout()
    save_figure(fig, path)


def length(runs: list[Path]) -> None:
    from negsamp.predict.length import format_length_errors, heldout_length_errors, read_run_stores

    print(f"\nlength: run stores {', '.join(map(str, runs))}")
    print(format_length_errors(heldout_length_errors(read_run_stores(runs))))


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    candidates = [base / "shared" / "data" / "throughput_a6000" for base in (root.parent, root.parent.parent)]
    parser.add_argument("--a6000", type=Path, default=next((c for c in candidates if c.is_dir()), candidates[0]),
                        help="folder of the paper's throughput CSVs")
    parser.add_argument("--runs", nargs="+", type=Path, help="run stores for the length predictor")
    parser.add_argument("--plot", type=Path, help="write a predicted-vs-measured figure of protocol [1]")
    args = parser.parse_args(argv)
    if not args.a6000.is_dir():
        print(f"no {args.a6000}: pass --a6000 FOLDER", file=sys.stderr)
        return 2
    throughput(args.a6000, args.plot)
    if args.runs:
        length(args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
