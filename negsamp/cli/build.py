"""`negsamp build RECIPE [--out DIR]`: mine negatives end to end and write a Hub dataset folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from negsamp.cli.backend_option import add_backend_option
from negsamp.cli.ray_option import add_ray_argument, ray_options
from negsamp.models import DEVICE_HELP, DTYPE_HELP, DTYPES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build",
        help="run a build recipe: baseline + methods, score, mine, write the dataset folder",
        description=(
            "Run the baseline and every method of RECIPE over its task pool (resumable: a killed "
            "build continues where it stopped), score, mine the negative samples and write a "
            "dataset folder in the Hugging Face Hub layout under OUT/dataset."
        ),
    )
    parser.add_argument("recipe", type=Path, help="recipe YAML, e.g. builders/tiny-cpu.yaml")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: build/<recipe name>); holds runs/ and dataset/")
    add_ray_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--device", default=None, help=DEVICE_HELP + " (default: the recipe's `device`, itself auto by default)")
    parser.add_argument("--dtype", default=None, choices=["auto", *DTYPES], help=DTYPE_HELP + " (default: the recipe's `dtype`)")
    add_backend_option(parser, "take the baseline from vLLM, checked against the transformers baseline "
                               "on the same pool (the card carries the agreement)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negsamp.build import build
    from negsamp.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    override = {k: v for k, v in (("device", args.device), ("dtype", args.dtype)) if v is not None}
    recipe = recipe.model_copy(update=override)
    ray = ray_options(args)
    out = args.out or Path("build") / recipe.name
    result = build(recipe, out, progress=not args.no_progress, ray=ray, backend=args.backend)
    print_summary(result)
    return 0


def print_summary(result) -> None:
    import polars as pl

    from negsamp.display import short_names

    # Method columns are named by canonical spec; the screen gets short names (the card has the specs).
    counts = result.counts
    counts = counts.rename(short_names(result.methods))
    with pl.Config(tbl_rows=100, tbl_cols=30, tbl_hide_dataframe_shape=True, fmt_str_lengths=40,
                   tbl_width_chars=160, float_precision=3):
        print(counts)
    splits = result.manifest.configs[result.config].splits
    print(f"\ndataset: {result.dataset_dir}  (config {result.config!r}, "
          f"{splits['negative'].rows} negative, {splits['control'].rows} control, "
          f"version hash {result.manifest.content_hash[:12]})")
    print("load it with:")
    print(f"  datasets.load_dataset({str(result.dataset_dir)!r}, {result.config!r}, split='negative')")
    print(f"  negsamp.load({str(result.dataset_dir)!r}, config={result.config!r}, split='negative')")
