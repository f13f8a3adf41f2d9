"""The plugin package of docs/extending.md, installed with pip exactly as printed, lists and runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.slow
def test_the_documented_plugin_package_installs_and_runs(tmp_path: Path, cli, tiny_protocol) -> None:
    package = tmp_path / "ichbench-tinynet"
    package.mkdir()
    pyproject = next(b for b in _blocks("toml") if "[build-system]" in b)
    (package / "pyproject.toml").write_text(pyproject)
    (package / "tinynet.py").write_text(next(b for b in _blocks("python") if "def tinynet" in b))
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet"]
    installed = subprocess.run([*pip, "--target", str(target), str(package)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": str(target)}

    listed = cli("list", "tinynet", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = __import__("json").loads(listed.stdout)["models"]
    assert row["name"] == "tinynet" and row["source"] == "ichbench-tinynet" and row["parameters"] > 0

    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    run = cli("run", "--models", "tinynet,threshold", "--protocol", tiny, "--out", "r", "--no-leaderboard", env=env)
    assert run.returncode == 0, run.stderr
    assert list(pd.read_csv(tmp_path / "r" / "summary.csv").model) == ["tinynet", "threshold"]
