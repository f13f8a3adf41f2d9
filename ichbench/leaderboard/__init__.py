"""The versioned leaderboard: tables (board), their rendered page, and the evidence each row is re-derived from."""

from __future__ import annotations

from ichbench.leaderboard.board import (
    ID_COLUMNS,
    META_COLUMNS,
    append,
    board_path,
    columns,
    default_directory,
)
from ichbench.leaderboard.page import read, render, table

__all__ = [
    "ID_COLUMNS",
    "META_COLUMNS",
    "columns",
    "append",
    "board_path",
    "default_directory",
    "read",
    "render",
    "table",
]
