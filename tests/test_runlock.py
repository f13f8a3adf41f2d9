"""One process per run directory: a second writer refuses naming the holder; a killed holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ichbench.errors import RunError
from ichbench.runlock import LOCK_NAME, ensure_free, hold

HOLDER = """
import sys, time
from pathlib import Path
from ichbench.runlock import hold
with hold(Path(sys.argv[1]), command="ichbench run --out x"):
    Path(sys.argv[2]).touch()
    time.sleep(600)
"""


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    end = time.time() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_a_held_directory_refuses_and_a_killed_holders_lock_is_taken_over(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "run"), str(ready)])
    try:
        _wait_for(ready, proc)
        with pytest.raises(RunError, match=rf"in use by ichbench process {proc.pid} on {socket.gethostname()}"):
            with hold(tmp_path / "run"):
                pass
        with pytest.raises(RunError, match=f"ichbench process {proc.pid}"):
            ensure_free(tmp_path / "run")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (tmp_path / "run" / LOCK_NAME).exists()  # left behind by the killed holder
    with pytest.warns(UserWarning, match=f"took over the lock left by ichbench process {proc.pid}"):
        with hold(tmp_path / "run"):
            ensure_free(tmp_path / "other")  # no lock there: nothing to wait for
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # a clean release removes it


@pytest.mark.slow
def test_a_second_run_merge_or_export_on_a_run_in_progress_refuses(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=200)
    exe = Path(sys.executable).parent / "ichbench"
    args = ["run", "--models", "resunet", "--protocol", str(tiny), "--out", "r", "--no-leaderboard"]
    first = subprocess.Popen([str(exe), *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(tmp_path / "r" / "jobs" / "resunet" / "fold0" / "checkpoint.pt", first, 300)
        for second in (
            cli(*args, "--resume"),
            cli("merge", "r", "--out", "r", "--no-leaderboard"),
            cli("export", "r", "--model", "resunet", "--out", "bundle"),
        ):
            assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
            assert f"r: in use by ichbench process {first.pid} on {socket.gethostname()}" in second.stderr
            assert "ichbench run --models resunet" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The killed run's lock is stale: --resume takes it over (saying so) and continues from the checkpoint.
    resumed = cli(*args, "--resume", "--max-minutes", "0.0001")
    assert resumed.returncode == 3, resumed.stderr
    assert f"took over the lock left by ichbench process {first.pid}" in resumed.stderr
