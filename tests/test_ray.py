"""`--executor ray` on a real local Ray instance (loopback only): same rows as local, survives a killed worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from ichbench.rundir import model_results

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

METRIC_COLUMNS = [
    "model",
    "dice_paper",
    "jaccard_paper",
    "dice_3d",
    "hd95",
    "dice_global",
    "sensitivity",
    "specificity",
    "precision",
    "accuracy",
    "f1",
    "folds",
    "epochs",
    "protocol_hash",
]


def _run(root: Path, *args: str) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "ichbench"
    env = dict(os.environ, ICHBENCH_CACHE=str(root / "cache"), RAY_AUTH_MODE="disabled")
    return subprocess.Popen(
        [str(exe), "run", "--models", "threshold,resunet", "--protocol", "tiny.toml", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 600) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, tiny_protocol) -> Path:
    """A tiny protocol (6 epochs) and its local-executor run, the reference."""
    root = tmp_path_factory.mktemp("ray")
    tiny_protocol(root / "tiny.toml", epochs=6)
    _finish(_run(root, "--out", "local", "--leaderboard", "lb_local"))
    return root


def _rows(root: Path, board: str) -> pd.DataFrame:
    return (
        pd.read_csv(next((root / board).glob("phantom__tiny-*.csv")))[METRIC_COLUMNS]
        .sort_values("model")
        .reset_index(drop=True)
    )


def test_ray_with_default_options_writes_what_local_writes(root: Path) -> None:
    # By default a Ray job on this machine gets the local executor's torch threads, so the arithmetic (the
    # order of a reduction) and every number are the same; one thread per job used to move the quick Dice.
    _finish(_run(root, "--out", "viaray", "--leaderboard", "lb_ray", "--executor", "ray"))
    pd.testing.assert_frame_equal(_rows(root, "lb_local"), _rows(root, "lb_ray"))
    columns = [c for c in METRIC_COLUMNS if c != "protocol_hash"]
    summaries = [pd.read_csv(root / run / "summary.csv")[columns] for run in ("local", "viaray")]
    pd.testing.assert_frame_equal(*summaries)
    threads = [{r.threads for r in model_results(root / run, "resunet")} for run in ("local", "viaray")]
    assert threads[0] == threads[1] == {torch.get_num_threads()}  # recorded per job, named on the row
    devices = [set(pd.read_csv(next((root / b).glob("phantom__tiny-*.csv")))["device"]) for b in ("lb_local", "lb_ray")]
    assert devices[0] == devices[1] and all(f", {torch.get_num_threads()} thread" in d for d in devices[0])
    for name in ("per_slice.csv", "per_subject.csv", "summary.csv", "splits.json"):
        assert (root / "viaray" / name).exists()
    pd.testing.assert_frame_equal(
        pd.read_csv(root / "local" / "per_slice.csv"), pd.read_csv(root / "viaray" / "per_slice.csv")
    )


def test_killed_worker_is_retried_and_resumes(root: Path) -> None:
    proc = _run(root, "--out", "killed", "--leaderboard", "lb_killed", "--executor", "ray", "--cpus-per-job", "2")
    log = root / "killed" / "log.txt"
    victim = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        text = log.read_text() if log.exists() else ""
        found = re.search(r"job resunet/fold0 running in process (\d+)", text)
        if found and "job resunet/fold0 epoch 1:" in text:
            victim = int(found.group(1))
            os.kill(victim, signal.SIGKILL)
            break
        time.sleep(0.05)
    assert victim is not None, "the resunet/fold0 worker was never seen mid-training"
    _finish(proc)
    text = log.read_text()
    pids = re.findall(r"job resunet/fold0 running in process (\d+)", text)
    assert len(pids) >= 2 and int(pids[-1]) != victim  # retried in a fresh worker
    pd.testing.assert_frame_equal(_rows(root, "lb_local"), _rows(root, "lb_killed"))


HOG = """
import sys, time
if sys.argv[1] == "memory":  # hold a quarter of the machine's memory, every page touched
    import os
    block = bytearray(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4)
    block[:: 4096] = b"x" * len(block[:: 4096])
    time.sleep(900)
else:
    while True:
        pass
"""


def test_ray_finishes_beside_a_cpu_and_memory_hog(root: Path) -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", HOG, kind]) for kind in ("cpu", "memory")]
    try:
        time.sleep(2)
        _finish(_run(root, "--out", "busy", "--leaderboard", "lb_busy", "--executor", "ray"), timeout=1500)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    pd.testing.assert_frame_equal(_rows(root, "lb_local"), _rows(root, "lb_busy"))


def test_a_failed_job_says_why_in_words() -> None:
    import errno

    import ray

    from ichbench.errors import RunError, WriteError
    from ichbench.executors.ray import describe_failure

    def fail(kind: str) -> None:
        if kind == "write":
            raise WriteError.failed("/x/checkpoint.pt", OSError(errno.ENOSPC, "No space left on device"))
        if kind == "run":
            raise RunError("fold 3 has no test subjects")
        raise KeyError("band")

    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        task = ray.remote(fail).options(max_retries=0)
        said = {}
        for kind in ("write", "run", "other"):
            with pytest.raises(Exception) as caught:
                ray.get(task.remote(kind))
            said[kind] = describe_failure(caught.value)
    finally:
        ray.shutdown()
    assert said["write"].startswith("cannot write /x/checkpoint.pt: No space left on device (the disk is full")
    assert said["run"] == "fold 3 has no test subjects"
    assert said["other"] == "KeyError: 'band'"


def test_ray_runs_from_the_repository_root(tmp_path: Path) -> None:
    """Where the README's quickstart leaves a user: Ray must not hand its workers the checkout's source tree
    (uncompiled: no _post extension) in place of the installed package."""
    repo = Path(__file__).resolve().parents[1]
    exe = Path(sys.executable).parent / "ichbench"
    env = dict(os.environ, ICHBENCH_CACHE=str(tmp_path / "cache"), RAY_AUTH_MODE="disabled")
    args = ["run", "--models", "threshold", "--protocol", "quick", "--executor", "ray", "--no-leaderboard"]
    proc = subprocess.run(
        [str(exe), *args, "--out", str(tmp_path / "out")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert summary["model"].tolist() == ["threshold"] and summary["folds"].item() == 2
