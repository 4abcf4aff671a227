"""Paths a manifest or card names, kept inside the dataset folder.

A manifest is data from whoever wrote the folder. Every path it (or the card)
names goes through `inside`: relative, POSIX, no `..`, no symlink anywhere on
the way, and resolving under the folder. So `publish` can never upload, and
`add-release` never copy, a file from outside the folder (`/etc/passwd`,
`../secret`, a link to either).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from negsamp.errors import InputError


def inside(directory: str | os.PathLike, rel: object, what: str) -> Path:
    """`directory / rel`, refusing anything that could leave `directory`.

    Refused: a non-string or empty path, an absolute path (POSIX or Windows), a
    backslash, a `..` or `.` part, a symlink on any part of the way, and a path
    that resolves outside `directory`. The file need not exist.
    """
    directory = Path(directory)
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel or ":" in rel:
        raise InputError(f"{directory}: {what} path {rel!r} must be a relative POSIX path inside the folder")
    posix = PurePosixPath(rel)
    if posix.is_absolute() or any(part in ("..", ".") for part in rel.split("/")) or not posix.parts:
        raise InputError(f"{directory}: {what} path {rel!r} must be relative, without '..' (stays in the folder)")
    path = directory
    for part in posix.parts:
        path = path / part
        if path.is_symlink():
            raise InputError(f"{path}: {what} is a symbolic link; links are refused (they can leave the folder)")
    root = directory.resolve()
    if not path.resolve().is_relative_to(root):
        raise InputError(f"{path}: {what} resolves outside {directory}")
    return path


def regular_file(directory: str | os.PathLike, rel: object, what: str) -> Path:
    """`inside`, and the path must be an existing regular file."""
    path = inside(directory, rel, what)
    if not path.is_file():
        raise InputError(f"{path}: missing {what}")
    return path


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file that is not a symlink, or one InputError line."""
    if path.is_symlink():
        raise InputError(f"{path}: {what} is a symbolic link; links are refused")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: {what} is not UTF-8 (byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror or err}") from None
