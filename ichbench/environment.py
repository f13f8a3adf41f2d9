"""Facts about where a run happens: device, versions, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
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


def git_commit(where: Path) -> str:
    """Short commit of the git checkout holding `where` (+dirty when tracked files differ), or 'unknown'."""
    head = _git(where, "rev-parse", "--short", "HEAD")
    if head is None:
        return "unknown"
    dirty = _git(where, "status", "--porcelain", "--untracked-files=no")
    return head + ("+dirty" if dirty else "")


def _git(where: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_commit(fallback: Path) -> str:
    """The commit of the ichbench checkout in use (an editable install), else of `fallback`'s checkout."""
    import ichbench

    commit = git_commit(Path(ichbench.__file__).resolve().parent)
    return commit if commit != "unknown" else git_commit(fallback)


def versions() -> dict[str, str]:
    """ichbench and torch versions."""
    return {"ichbench": __version__, "torch": torch.__version__}
