"""The errors ichbench raises for bad input: the CLI prints their message and exits non-zero."""

from __future__ import annotations

import errno


class IchbenchError(Exception):
    """Base class of every user-facing ichbench error."""

    exit_code = 2


class DataError(IchbenchError):
    """A data set, file or manifest is missing, malformed or inconsistent."""


class ProtocolError(IchbenchError):
    """A protocol file or value is invalid."""


class ModelError(IchbenchError):
    """A model name is unknown or a model plugin failed to load."""


class PostError(IchbenchError, ValueError):
    """Arrays or settings given to ichbench.post are unusable (shape, dtype, kernel, threshold)."""


class RunError(IchbenchError):
    """A run directory or checkpoint is unusable, or jobs failed."""


class DamagedFile(RunError):
    """A checkpoint or weights file no longer matches the SHA-256 recorded when it was written."""


class WriteError(IchbenchError):
    """A file could not be written (disk full, a file-size limit, permissions); what was there is intact."""

    exit_code = 1

    @classmethod
    def failed(cls, path: object, exc: OSError) -> WriteError:
        """The error for `path`, saying what the OS said and, for a full disk, what to do."""
        hint = ""
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            hint = (
                " (the disk is full or a file-size limit was reached); every file written before is intact: "
                "free space and run the command again (a run continues with --resume)"
            )
        return cls(f"cannot write {path}: {exc.strerror or exc}{hint}")  # one argument: picklable, for Ray


class Incomplete(IchbenchError):
    """A run stopped cleanly before every job finished (--max-minutes); everything is resumable."""

    exit_code = 3
