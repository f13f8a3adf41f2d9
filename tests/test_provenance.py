"""Exact provenance: the code a row ran at is ichbench's own, per fold, and a dirty tree needs --allow-dirty."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import ichbench
from ichbench import environment
from ichbench.benchmark.run import RunConfig, run
from ichbench.environment import CodeState, code_state
from ichbench.errors import RunError
from ichbench.leaderboard.cells import code_cells, device_cell, precision_cell
from ichbench.leaderboard.verify import _code, verify
from ichbench.protocol import load_protocol


def _git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    _git(path, "init", "-q")
    _git(path, "add", "-A")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return path


@pytest.fixture
def package_at(monkeypatch: pytest.MonkeyPatch):
    """Make code_state see ichbench's package folder at another place."""

    def move(folder: Path) -> CodeState:
        monkeypatch.setattr(ichbench, "__file__", str(folder / "__init__.py"))
        code_state.cache_clear()
        return code_state()

    yield move
    code_state.cache_clear()


def test_an_installed_copy_reports_its_build_never_the_folder_it_lives_in(tmp_path: Path, package_at) -> None:
    # A virtual environment inside another project's git repository, as a user may keep one.
    other = _repo(tmp_path / "other", {"pyproject.toml": '[project]\nname = "other"\n', "README": "x"})
    site = other / ".venv" / "lib" / "site-packages" / "ichbench"
    site.mkdir(parents=True)
    assert package_at(site) == CodeState(None, True)  # no build record: none, not other's commit
    (site / "build_commit.txt").write_text("abc1234\n")
    (site / "build.patch").write_text("")
    assert package_at(site).label == "abc1234"
    (site / "build.patch").write_text("diff --git a/x b/x\n")
    state = package_at(site)
    assert state.label == "abc1234+dirty" and state.record()["patch"] == "diff --git a/x b/x\n"


def test_a_source_checkout_reports_its_commit_and_its_diff(tmp_path: Path, package_at) -> None:
    repo = _repo(tmp_path / "ichbench-src", {"pyproject.toml": "[project]\n", "ichbench/__init__.py": "A = 1\n"})
    head = _git(repo, "rev-parse", "--short", "HEAD")
    assert package_at(repo / "ichbench") == CodeState(head, True)
    (repo / "ichbench" / "__init__.py").write_text("A = 2\n")
    state = package_at(repo / "ichbench")
    assert state.label == f"{head}+dirty" and "+A = 2" in state.patch


def _dirty(monkeypatch: pytest.MonkeyPatch, state: CodeState) -> None:
    monkeypatch.setattr(environment, "code_state", lambda: state)
    monkeypatch.setattr("ichbench.training.job.code_state", lambda: state)


def test_a_dirty_tree_needs_allow_dirty_for_a_leaderboard_in_git(
    tmp_path: Path, tiny_protocol, monkeypatch, job_result
) -> None:
    state = CodeState("abc1234", False, "diff --git a/ichbench/x.py b/ichbench/x.py\n+change\n")
    _dirty(monkeypatch, state)
    board = _repo(tmp_path / "repo", {"README": "x"}) / "leaderboards"
    protocol = load_protocol(tiny_protocol(tmp_path / "tiny.toml"))
    config = RunConfig(models=["threshold"], protocol=protocol, out=tmp_path / "out", leaderboard=board, progress=False)
    with pytest.raises(RunError, match="commit first .* --allow-dirty"):
        run(config)
    assert not (tmp_path / "out").exists()  # refused before anything was trained or written
    run(RunConfig(**{**config.__dict__, "allow_dirty": True}))
    row = pd.read_csv(next(board.glob("phantom__*.csv"))).iloc[0]
    assert row["commit"] == "abc1234+dirty" and row["code_clean"] == "no (--allow-dirty)"
    assert all(c.status == "ok" for c in verify(board))
    evidence = next((board / row["evidence"]).glob("jobs/threshold/fold0/result.json.gz"))
    code = json.loads(gzip.decompress(evidence.read_bytes()))["code"]
    assert code["patch"] == state.patch and code["patch_sha256"] == state.patch_sha256
    # verify's own checks of the code columns, on a tampered row and a tampered patch
    results = [job_result(fold=0, code=code), job_result(fold=1, code=CodeState("def5678", True).record())]
    said = _code({"commit": "abc1234+dirty", "code_clean": "yes"}, results)
    assert said == [
        "commit abc1234+dirty != abc1234+dirty;def5678, the folds' own",
        "code_clean yes, but not every fold ran from a clean tree",
    ]
    assert _code({"commit": "abc1234+dirty"}, [job_result(code={**code, "patch": "other"})]) == [
        "fold 0: its patch does not hash to its patch_sha256"
    ]


def test_outside_git_a_dirty_tree_appends_and_says_so(tmp_path: Path, tiny_protocol, monkeypatch) -> None:
    _dirty(monkeypatch, CodeState("abc1234", False, "diff\n"))
    protocol = load_protocol(tiny_protocol(tmp_path / "tiny.toml"))
    board = tmp_path / "mine"  # the user's own leaderboard: not kept in git
    run(RunConfig(models=["threshold"], protocol=protocol, out=tmp_path / "out", leaderboard=board, progress=False))
    row = pd.read_csv(next(board.glob("phantom__*.csv"))).iloc[0]
    assert row["commit"] == "abc1234+dirty" and row["code_clean"] == "no (--allow-dirty)"


def test_a_row_names_every_device_with_its_threads_and_precision_its_folds_ran_on(job_result) -> None:
    epyc, xeon = "cpu (AMD EPYC, 2 cores)", "cpu (Intel Xeon, 2 cores)"
    folds = [
        job_result(device_name=epyc, threads=2, training_precision="bf16"),
        job_result(device_name=xeon, threads=1, training_precision="fp32"),
        job_result(device_name=epyc, threads=2, training_precision="bf16"),
    ]
    assert device_cell(folds) == f"{epyc}, 2 threads + {xeon}, 1 thread"
    assert precision_cell(folds) == "bf16 + fp32"
    assert device_cell([job_result(device_name=epyc)]) == epyc  # a job from before jobs recorded their threads
    before = [*folds, job_result(training_precision="fp32")]  # a job from before jobs recorded their device
    assert device_cell(before) == ""  # the row falls back to the run's device


def test_a_commit_cell_says_which_commit_trained_and_which_scored(job_result) -> None:
    trained, scored = CodeState("65ccbdb", True).record(), CodeState("11efa25", True).record()
    reused = [job_result(fold=f, code=scored, weights_from={"code": trained}) for f in range(2)]
    assert code_cells(reused) == {"commits": "trained 65ccbdb;scored 11efa25", "code_clean": "yes"}
    assert code_cells([job_result(code=scored)]) == {"commits": "11efa25", "code_clean": "yes"}
    assert code_cells([job_result()]) == {"commits": "", "code_clean": ""}  # from before jobs recorded their code
