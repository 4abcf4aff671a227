"""One writer per run: an advisory lock file next to a run's predictions.

Two processes appending to one `predictions.jsonl` both see the same samples
as pending and write them twice; every later read then refuses the run. The
lock (`fcntl.flock` on `<run>/.lock`, exclusive, non-blocking) makes the second
process stop at once with one line naming the holder. The kernel drops the
lock when its process dies, kill -9 included, so a crashed run never leaves a
stale lock behind; the pid written into the file is only for the message.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from negsamp.errors import InputError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(directory: str | os.PathLike, what: str = "run") -> Iterator[Path]:
    """Hold the exclusive lock of `directory` (created if missing); InputError if another process holds it."""
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise InputError(f"{directory}: another negsamp process (pid {holder}) is writing this {what}; "
                             "wait for it to finish (one writer at a time)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock
