"""An output folder that holds one result: refuse to mix a new result with an old one.

`negsamp evaluate --out DIR` writes report.json, report.md, figures/ and runs/
(its run store). Reusing a folder that holds an earlier report would leave that
report's figures beside the new one, so a non-empty folder is refused unless the
caller asks to overwrite it, and then it is cleared first. A folder holding only
`runs/` is an evaluation that was interrupted: it is resumed, not refused.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path

from negsamp.errors import InputError


def _ours(name: str, outputs: Collection[str]) -> bool:
    # Leftovers of an atomic write killed half-way (`.report.json.XXXX.tmp`) are ours too.
    return name in outputs or (name.startswith(".") and name.endswith(".tmp"))


def prepare_output_dir(path: str | Path, *, outputs: Collection[str], resumable: Collection[str] = (),
                       overwrite: bool = False, option: str = "--out") -> Path:
    """Make `path` ready for a new result; see the module docstring.

    `outputs`: every name the command writes at the folder's top level.
    `resumable`: names whose presence alone means an interrupted run to continue.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: exists and is not a folder")
    names = sorted(p.name for p in path.iterdir()) if path.exists() else []
    if not names or set(names) <= set(resumable):
        return path
    if not overwrite:
        raise InputError(f"{option} {path} is not empty ({', '.join(names[:4])}"
                         f"{', ...' if len(names) > 4 else ''}); pass --overwrite to clear it, "
                         f"or choose another {option}")
    foreign = [name for name in names if not _ours(name, outputs)]
    if foreign:
        raise InputError(f"{option} {path} holds files this command did not write ({', '.join(foreign[:4])}); "
                         f"refusing to clear it even with --overwrite: choose another {option}")
    for name in names:
        entry = path / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return path
