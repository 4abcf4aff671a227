"""`negsamp predict-throughput`: fit the roofline-grounded throughput predictor and query it."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict-throughput",
        help="predict prefill/decode tok/s at unseen batch sizes and prompt lengths, per method",
        description=(
            "Fit, per method and stage, the roofline terms (weights and KV bytes read per decode step, "
            "matmul and attention FLOPs per prefill) times a small fitted correction, on measured "
            "throughput: CSVs in the paper's format (model,method,bsz,prompt_len,stage,thr) or "
            "throughput.json files of `negsamp throughput`. Prints the held-out error (longer prompts "
            "than fitted; each batch size left out) next to a plain linear cost model, and with "
            "--query writes the query rows plus `thr` to --out."
        ),
    )
    parser.add_argument("--fit", nargs="+", required=True, type=Path, metavar="FILE",
                        help="measurements: *.csv (paper format) or throughput.json")
    parser.add_argument("--query", type=Path, metavar="CSV", help="rows to predict: method,bsz,prompt_len,stage")
    parser.add_argument("--out", type=Path, metavar="CSV", help="where to write the query rows plus thr")
    parser.add_argument("--model", help="model shape: a known name (llama-2-7b, llama-3.1-8b, smollm2-135m) or "
                                        "a local folder with config.json (default: the fit data's model)")
    parser.add_argument("--hardware", default="a6000",
                        help="accelerator whose peaks scale the roofline (a6000, a100-80g, h100, h200, cpu; default "
                             "a6000). Only the units of the fitted correction depend on it")
    parser.add_argument("--holdout-above", type=int, metavar="LEN",
                        help="held-out check: fit on prompts <= LEN, predict the longer ones "
                             "(default: 2/3 of the longest prompt)")
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out error report")
    parser.add_argument("--save-fit", type=Path, metavar="JSON", help="also write the fitted corrections as JSON")
    parser.set_defaults(func=run)


def model_of(points, given: str | None):
    from negsamp.errors import InputError
    from negsamp.predict.roofline import model_shape

    if given:
        return model_shape(given)
    names = sorted({p.model for p in points if p.model})
    if len(names) != 1:
        raise InputError(f"the fit data names models {names or 'none'}: pass --model")
    return model_shape(names[0])


def run(args: argparse.Namespace) -> int:
    from negsamp.errors import InputError
    from negsamp.predict.heldout import default_max_len, extrapolate, format_heldout, leave_one_batch_out
    from negsamp.predict.points import read_csv, read_points, write_predictions
    from negsamp.predict.roofline import hardware
    from negsamp.predict.throughput import fit_throughput, predict_thr

    if (args.query is None) != (args.out is None):
        raise InputError("--query and --out go together")
    points = read_points(args.fit)
    shape, hw = model_of(points, args.model), hardware(args.hardware)
    model = fit_throughput(points, shape, hw)
    print(f"fitted {len(model.fits)} (method, stage) pairs on {len(points)} measurements; model {shape.name}")
    for f in model.fits:
        print(f"  {f.method:<24} {f.stage:<9} fit error {f.fit_mape:5.2f}%  correction "
              + " ".join(f"{c:.3g}" for c in f.coef) + (f"  attention x{f.alpha:.2f}" if f.stage == "prefill" else ""))
    if not args.no_heldout:
        cut = args.holdout_above or default_max_len(points)
        print(format_heldout(f"held out: prompts longer than {cut} (time error, %)",
                             extrapolate(points, cut, shape, hw)))
        print(format_heldout("held out: each batch size in turn (time error, %)",
                             leave_one_batch_out(points, shape, hw)))
    if args.save_fit:
        from negsamp.atomic import atomic_write_text

        atomic_write_text(args.save_fit, model.model_dump_json(indent=1) + "\n")
    if args.query:
        queries = read_csv(args.query, need_thr=False)
        write_predictions(args.out, queries, predict_thr(model, shape, hw, queries))
        print(f"wrote {len(queries)} predictions to {args.out}")
    return 0
