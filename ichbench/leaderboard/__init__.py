"""The versioned leaderboard: tables (board), their rendered page, and the evidence each row is re-derived from."""

from __future__ import annotations

from ichbench.leaderboard.board import (
    COLUMNS,
    ID_COLUMNS,
    META_COLUMNS,
    METRIC_COLUMNS,
    append,
    board_path,
    default_directory,
)
from ichbench.leaderboard.page import PUBLISHED, read, render, table

__all__ = [
    "COLUMNS",
    "ID_COLUMNS",
    "META_COLUMNS",
    "METRIC_COLUMNS",
    "PUBLISHED",
    "append",
    "board_path",
    "default_directory",
    "read",
    "render",
    "table",
]
