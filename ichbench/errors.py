"""The errors ichbench raises for bad input: the CLI prints their message and exits non-zero."""

from __future__ import annotations


class IchbenchError(Exception):
    """Base class of every user-facing ichbench error."""

    exit_code = 2


class DataError(IchbenchError):
    """A data set, file or manifest is missing, malformed or inconsistent."""


class ProtocolError(IchbenchError):
    """A protocol file or value is invalid."""


class ModelError(IchbenchError):
    """A model name is unknown or a model plugin failed to load."""


class RunError(IchbenchError):
    """A run directory or checkpoint is unusable, or jobs failed."""


class Incomplete(IchbenchError):
    """A run stopped cleanly before every job finished (--max-minutes); everything is resumable."""

    exit_code = 3
