"""One writer per directory: a run, merge, report or export holds `.ichbench.lock` in the folder it writes.

The lock is an advisory `flock` on that file, which the kernel releases when its holder exits however
it exits (SIGKILL included), so a lock left by a killed process is free and the next command takes it
over. The file names the holder (process id, host, command, start time) for the error another command
prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ichbench.errors import RunError

LOCK_NAME = ".ichbench.lock"


def _holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another ichbench process"
    return (
        f"ichbench process {holder.get('pid')} on {holder.get('host')} "
        f"(`{holder.get('command')}`, since {holder.get('since')})"
    )


def _acquire(path: Path) -> int:
    """An open, flock-held descriptor of `path`; raises RunError naming the holder when it is taken."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunError(
                f"{path.parent}: in use by {_describe(holder)}; wait for it to finish or choose another directory"
            ) from None
        # A holder that released and removed the file meanwhile leaves us a lock on a deleted inode: retry.
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def ensure_free(directory: Path) -> None:
    """Raise RunError naming the holder when another process holds `directory`'s lock (for readers
    such as export, which must not read a run while it is being written)."""
    path = Path(directory) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # no lock file: no writer
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunError(f"{directory}: in use by {_describe(_holder(fd))}; wait for it to finish") from None
    finally:
        os.close(fd)


@contextmanager
def hold(directory: Path, command: str | None = None) -> Iterator[Path]:
    """Hold `directory`'s lock (creating the directory) for the duration; a stale lock is taken over."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = _acquire(path)
    try:
        stale = _holder(fd)
        if stale.get("pid") not in (None, os.getpid()):
            taken = f"{directory}: took over the lock left by {_describe(stale)}, which no longer runs"
            warnings.warn(taken, stacklevel=3)
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join(["ichbench", *sys.argv[1:]]),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield path
    finally:
        path.unlink(missing_ok=True)  # before the release, so no one locks a file about to vanish
        os.close(fd)
