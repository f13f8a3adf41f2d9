"""Faults for real: damaged checkpoints are caught before use; a write that fails (a file-size limit, as a
full disk does) stops the run with one clear error, keeps everything written before, and --resume finishes."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ichbench.atomic import atomic_save_checked, file_sha256, verify_checked
from ichbench.errors import DamagedFile, WriteError


def test_a_recorded_hash_catches_flipped_and_truncated_bytes(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    atomic_save_checked(path, lambda p: p.write_bytes(b"x" * 1000))
    assert (tmp_path / "weights.pt.sha256").read_text() == f"{file_sha256(path)}  weights.pt\n"  # sha256sum -c
    assert verify_checked(path)
    data = bytearray(path.read_bytes())
    data[500] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedFile, match=r"weights\.pt: damaged: its SHA-256 .* is not the .* recorded"):
        verify_checked(path)
    path.write_bytes(b"x" * 999)
    with pytest.raises(DamagedFile):
        verify_checked(path)
    (tmp_path / "old.pt").write_bytes(b"y")
    assert verify_checked(tmp_path / "old.pt") is False  # written before hashes were recorded: not verified


def _limited(bytes_: int):
    """preexec_fn: a file-size limit (ulimit -f); Python ignores SIGXFSZ, so a write past it fails with EFBIG."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (bytes_, bytes_))


@pytest.mark.slow
def test_a_failed_write_keeps_the_files_and_a_damaged_checkpoint_is_never_loaded(tmp_path: Path, cli, tiny_protocol):
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=3)
    args = ("run", "--models", "resunet", "--jobs", "resunet:0", "--protocol", tiny, "--out", "r", "--no-leaderboard")
    job = tmp_path / "r" / "jobs" / "resunet" / "fold0"
    checkpoint = job / "checkpoint.pt"
    exe = Path(sys.executable).parent / "ichbench"
    first = subprocess.Popen([str(exe), *map(str, args)], cwd=tmp_path, stderr=subprocess.DEVNULL)
    end = time.time() + 300
    while not (job / "checkpoint.pt.sha256").exists():  # the first epoch's checkpoint, then kill it
        assert first.poll() is None and time.time() < end
        time.sleep(0.05)
    first.kill()
    first.wait()
    before = {p.name: p.read_bytes() for p in job.iterdir()}

    # The next checkpoint cannot be written: one clear error, the previous checkpoint intact, no temp file.
    full = cli(*args, "--resume", limit=checkpoint.stat().st_size // 2)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    assert f"cannot write {checkpoint}: File too large" in full.stderr  # the run folder's absolute path
    assert "free space and run the command again" in full.stderr
    assert checkpoint.read_bytes() == before["checkpoint.pt"] and verify_checked(checkpoint)
    assert not [p.name for p in job.iterdir() if p.name.startswith(".")]

    # A damaged checkpoint is named and not loaded, unless the job is explicitly restarted.
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    damaged = cli(*args, "--resume")
    assert damaged.returncode == 2 and "Traceback" not in damaged.stderr, damaged.stderr
    assert "checkpoint.pt: damaged" in damaged.stderr and "--restart-damaged" in damaged.stderr
    restarted = cli(*args, "--resume", "--restart-damaged")
    assert restarted.returncode == 0, restarted.stderr
    assert "restarting" in restarted.stderr and (job / "checkpoint.pt.damaged").exists()
    assert len(pd.read_csv(tmp_path / "r" / "history.csv")) == 3


@pytest.mark.slow
def test_a_failed_leaderboard_append_leaves_no_row_and_resume_appends_it(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml")
    board = tmp_path / "lb"
    args = ("run", "--models", "threshold", "--protocol", tiny, "--out", "r", "--leaderboard", board)
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    table = next(board.glob("*.csv"))
    frame = pd.read_csv(table)
    # A long table, so that the next append outgrows the limit while a job's result (with a dirty tree's
    # patch in it, when the tests run from one) still fits under it.
    pd.concat([frame] * 200).to_csv(table, index=False)
    before = table.read_bytes()
    evidence = sorted((board / "runs").iterdir())
    (tmp_path / "r" / "leaderboard_rows.json").unlink()
    second = ("run", "--models", "threshold", "--protocol", tiny, "--out", "r2", "--leaderboard", board)
    full = cli(*second, limit=len(before) - 100)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    assert f"cannot write {table.relative_to(tmp_path)}" in full.stderr or f"cannot write {table}" in full.stderr
    assert table.read_bytes() == before and sorted((board / "runs").iterdir()) == evidence
    assert (tmp_path / "r2" / "jobs" / "threshold" / "fold1" / "result.json").exists()  # the jobs' work is kept
    done = cli(*second, "--resume")
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(table)) == 201


WRITER = """
import sys
from ichbench.atomic import atomic_write_text
from ichbench.errors import WriteError
try:
    atomic_write_text(sys.argv[1], "x" * 10_000)
except WriteError as exc:
    print(exc)
"""


def test_write_error_names_the_target_and_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old")
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(target)], capture_output=True, text=True, preexec_fn=_limited(4096)
    )
    assert done.stdout.startswith(f"cannot write {target}: File too large (the disk is full"), done.stderr
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_every_ichbench_error_survives_pickling() -> None:
    """Errors cross process boundaries (Ray workers): each must unpickle to the same class and message."""
    import errno
    import pickle

    from ichbench import errors

    made = [WriteError.failed("/x", OSError(errno.ENOSPC, "No space left on device"))]
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.IchbenchError) and cls is not WriteError:
            made.append(cls("what went wrong"))
    for exc in made:
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
