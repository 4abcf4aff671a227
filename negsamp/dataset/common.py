"""Constants, field types and helpers every submodule of `negsamp.dataset` shares.

File names and versions of the folder layout, the card template's name, the
parquet row-group size, the citation, the name patterns, and `local_folder_or_repo`
(where a dataset argument points).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

from negsamp.errors import InputError

ROW_VERSION = 1
MANIFEST_VERSION = 2
"""Version 2 hashes rows, rule, model, settings, figures and the card's configs (see `hashing`)."""
MANIFEST_VERSIONS = (1, 2)
"""Manifest versions this negsamp reads (version 1 verifies with its own, rows-only hash)."""
SPLITS = ("negative", "control")
"""The two splits every config has, in the order the card lists them."""
MANIFEST_NAME = "manifest.json"
CARD_NAME = "README.md"
TEMPLATE = "negsamp.md.j2"
"""Card template, shipped inside the package at `negsamp/dataset_cards/negsamp.md.j2`."""
ROW_GROUP_SIZE = 128
"""Rows per parquet row group: small groups keep the Hub's viewer fast on long-context rows."""
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp")
CITATION = """@inproceedings{gao2025rethinking,
  title     = {Rethinking Key-Value Cache Compression Techniques for Large Language Model Serving},
  author    = {Gao, Wei and Zhou, Xinyu and Sun, Peng and Zhang, Tianwei and Wen, Yonggang},
  booktitle = {Proceedings of Machine Learning and Systems (MLSys)},
  year      = {2025},
  url       = {https://arxiv.org/abs/2503.24000}
}"""

_CONFIG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REPO_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]



def local_folder_or_repo(location: str | os.PathLike) -> Path | str:
    """An existing local folder as a Path, else a Hub repo id (ORG/NAME) as a string.

    A path whose parent folder exists here (`demo_out/datset` beside `demo_out/dataset`)
    or that is written as a path (`./x`, `/x`, `~/x`) is a local folder that is
    missing, not a repo to download: saying so beats a failed download's message.
    """
    path = Path(location).expanduser()
    if path.exists():
        return path
    text = str(location)
    written_as_path = text.startswith((".", "/", "~")) or text.count("/") > 1 or os.sep != "/" and os.sep in text
    if path.parent.is_dir() and path.parent != Path("."):
        names = sorted(p.name for p in path.parent.iterdir() if p.is_dir())
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") if names else "none"
        raise InputError(f"{text}: no such dataset folder (folders in {path.parent}: {shown})")
    if written_as_path:
        raise InputError(f"{text}: no such dataset folder")
    if not REPO_ID_RE.fullmatch(text):
        raise InputError(f"{text}: neither a dataset folder nor a Hub repo id (ORG/NAME)")
    return text
