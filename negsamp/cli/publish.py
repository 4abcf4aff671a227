"""`negsamp publish`: check a dataset folder and push it to the Hugging Face Hub in one commit."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="push a dataset folder to the Hugging Face Hub",
        description=(
            "Verify a dataset folder written by `negsamp build` (card YAML, data files, content hash), "
            "then create the dataset repo if needed and upload the card, manifest, data files and "
            "figures in one commit. Needs a token (`hf auth login` or HF_TOKEN) and a network, "
            "except with --dry-run, which only lists what would be sent (and needs no --repo)."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="dataset folder (has manifest.json)")
    parser.add_argument("--repo", metavar="ORG/NAME", help="Hub dataset repo id (required unless --dry-run)")
    parser.add_argument("--private", action="store_true", help="create the repo private (if it is new)")
    parser.add_argument("--dry-run", action="store_true", help="verify and list the uploads; send nothing")
    parser.add_argument("--message", default=None, help="commit message (default: name, version, hash)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negsamp.publish import format_result, publish_dataset

    result = publish_dataset(
        args.directory,
        args.repo,
        private=args.private,
        dry_run=args.dry_run,
        commit_message=args.message,
    )
    print(format_result(result))
    return 0
