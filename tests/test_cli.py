"""The console script's help, version and error conventions."""

from __future__ import annotations

from ichbench import __version__


def test_help_and_version(cli) -> None:
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"ichbench {__version__}"
    helped = cli("--help")
    assert helped.returncode == 0
    for command in ("run", "list", "leaderboard", "data", "report", "export", "predict", "evaluate"):
        assert command in helped.stdout
    assert cli().returncode == 0  # no command: help, not an error


def test_usage_errors_and_option_checks(cli) -> None:
    assert cli("frobnicate").returncode == 2
    proc = cli("run", "--models", "threshold", "--address", "auto")
    assert proc.returncode == 2 and "--address needs --executor ray" in proc.stderr and "Traceback" not in proc.stderr
