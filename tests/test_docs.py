"""The docs tell the truth about the command line: every command and flag they show exists."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from ichbench.cli import build_parser
from ichbench.evaluation.metrics import table

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
CODE_BLOCK = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`(ichbench [^`]+)`")


def commands(text: str) -> list[str]:
    """Every `ichbench ...` command line in a Markdown text: in code blocks (continuations joined) and
    in inline code."""
    found = []
    for block in CODE_BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            found += [part.strip() for part in re.split(r"&&|;|\$\(", line) if part.strip().startswith("ichbench ")]
    return found + INLINE.findall(text)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def check(command: str) -> list[str]:
    """What in one command line the parser does not know: a subcommand or a --flag."""
    tokens = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "), posix=True)[1:]
    parser, path, problems = build_parser(), ["ichbench"], []
    while tokens and subparsers(parser) and not tokens[0].startswith("-"):
        word = tokens.pop(0)
        choices = subparsers(parser)
        if word not in choices:
            if not word.isupper() and word != "...":
                problems.append(f"{' '.join(path)} has no subcommand {word!r}")
            break
        parser, path = choices[word], [*path, word]
    known = {o for a in parser._actions for o in a.option_strings}
    for flag in (t.split("=")[0] for t in tokens if t.startswith("--")):
        if flag not in known:
            problems.append(f"{' '.join(path)} has no flag {flag}")
    return problems


def test_the_docs_show_commands() -> None:
    shown = [c for path in DOCS for c in commands(path.read_text())]
    assert len(shown) > 40 and any("leaderboard verify" in c for c in shown)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_and_flag_the_docs_show_exists(path: Path) -> None:
    problems = [f"{c!r}: {p}" for c in commands(path.read_text()) for p in check(c)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_does_not_exist() -> None:
    assert check("ichbench run --models all --protocol quick") == []
    assert check("ichbench leaderboard verify --leaderboard leaderboards") == []
    assert check("ichbench data phantom OUT --subjects 4") == []
    assert check("ichbench run --no-such-flag") == ["ichbench run has no flag --no-such-flag"]
    assert check("ichbench frobnicate") == ["ichbench has no subcommand 'frobnicate'"]


def test_every_metric_of_the_table_is_documented() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text()
    assert not [m.name for m in table() if f"`{m.name}`" not in text]


def test_the_readme_is_an_entry_point() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, len(lines)
