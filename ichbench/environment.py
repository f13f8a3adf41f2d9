"""Facts about where a run happens: device, versions, git commit."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ichbench import __version__
from ichbench.errors import RunError


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; 'cuda' without a GPU is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda was asked for, but torch sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise RunError(f"--device must be auto, cpu or cuda, got {name!r}")
    return name


def describe_device(device: str) -> str:
    """A human name for the device, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu (Intel Xeon ..., 2 cores)'."""
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"cpu ({_cpu_model()}, {os.cpu_count()} cores)"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def in_git_work_tree(where: Path) -> bool:
    """Whether a folder lies inside a git working tree (a leaderboard that is committed, for one)."""
    where = Path(where)
    while not where.exists() and where != where.parent:
        where = where.parent
    return _git(where, "rev-parse", "--is-inside-work-tree") == "true"


def _git(where: Path, *args: str, strip: bool = True) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() if strip else out.stdout


@dataclass(frozen=True)
class CodeState:
    """The ichbench code a process runs: its commit (None when unknown), whether the tree was clean, the diff."""

    commit: str | None
    clean: bool
    patch: str = ""  # `git diff HEAD` of a dirty tree (tracked files)

    @property
    def label(self) -> str:
        """'abc1234', 'abc1234+dirty' or 'none'."""
        return "none" if self.commit is None else self.commit + ("" if self.clean else "+dirty")

    @property
    def patch_sha256(self) -> str:
        """SHA-256 of the patch ('' for a clean tree)."""
        return hashlib.sha256(self.patch.encode()).hexdigest() if self.patch else ""

    def record(self) -> dict:
        """What a job result keeps: commit, clean, and for a dirty tree the patch and its hash."""
        doc = {"commit": self.label, "clean": self.clean}
        return doc | ({"patch_sha256": self.patch_sha256, "patch": self.patch} if not self.clean else {})


@lru_cache(maxsize=1)
def code_state() -> CodeState:
    """ichbench's own code, once per process (what it loaded): a source checkout's commit and diff (an
    editable install), else the commit and diff recorded when the package was built (CMakeLists.txt), else
    none. Never the git repository of the working directory or of a virtual environment's folder."""
    import ichbench

    package = Path(ichbench.__file__).resolve().parent
    top = _git(package, "rev-parse", "--show-toplevel")
    if top is not None and Path(top).resolve() == package.parent and (package.parent / "pyproject.toml").is_file():
        head = _git(package, "rev-parse", "--short", "HEAD")
        dirty = bool(_git(package, "status", "--porcelain", "--untracked-files=no"))
        return CodeState(head, not dirty, (_git(package, "diff", "HEAD", strip=False) or "") if dirty else "")
    built = package / "build_commit.txt"
    commit = built.read_text().strip() if built.is_file() else ""
    if not commit:
        return CodeState(None, True)
    patch_file = package / "build.patch"
    patch = patch_file.read_text() if patch_file.is_file() else ""
    return CodeState(commit, not patch, patch)


def code_commit() -> str:
    """The label of ichbench's own code: 'abc1234', 'abc1234+dirty' or 'none'."""
    return code_state().label


def versions() -> dict[str, str]:
    """ichbench and torch versions."""
    return {"ichbench": __version__, "torch": torch.__version__}
