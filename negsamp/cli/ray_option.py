"""`--ray [ADDRESS]`, shared by `negsamp build` and `negsamp run`."""

from __future__ import annotations

import argparse


def add_ray_argument(parser) -> None:
    parser.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="generate as (method x sample-shard) tasks on a Ray cluster, one GPU (else one CPU) per task; "
             "ADDRESS: 'auto', HOST:6379 or ray://HOST:10001; without it, $RAY_ADDRESS or a new local "
             "cluster (give --ray after positional arguments). Same dataset as without --ray. "
             "Needs the [ray] extra")


def ray_options(args: argparse.Namespace):
    """`RayOptions` from `--ray`, or None; fails here, before any model loads, if Ray is missing."""
    if args.ray is None:
        return None
    from negsamp.distributed import RayOptions, require_ray

    require_ray()
    return RayOptions(address=args.ray or None)
