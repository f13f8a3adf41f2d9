"""Shared fixtures: small phantom data sets on disk, an isolated cache, the real data when present."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ichbench.data.phantom.write import write_phantom

# Property-based tests (the fuzzing ones use these as they are) stay bounded and reproducible in CI:
# derandomized, a fixed number of examples, a per-example deadline.
settings.register_profile(
    "ichbench",
    max_examples=60,
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("ichbench")

TINY_PROTOCOL = """
name = "tiny"
description = "test protocol: a minute on 2 cores"
[phantom]
subjects = 6
slices = 4
size = 64
seed = 1
[cv]
folds = 2
val_fraction = 0.3
[windows]
size = 32
stride = 16
[training]
epochs = {epochs}
batch_size = 8
lr = 1e-3
[post]
threshold = 0.5
close = 2
open = 1
[metrics]
detection_pixels = 4
[models.resunet]
width = 8
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all", action="store_true", help="run the slow tests too (CI does; plain pytest does not)")


def pytest_configure(config: pytest.Config) -> None:
    """`pytest` alone is the fast lane: tests marked slow run with `-m slow` or `--all`."""
    if config.getoption("--all"):
        if config.option.markexpr:
            raise pytest.UsageError("--all runs every test; it does not combine with -m")
        return
    if not config.option.markexpr:
        config.option.markexpr = "not slow"


REAL_DATA = Path(os.environ.get("ICHBENCH_CTICH", Path(__file__).resolve().parents[2] / "shared" / "ctich-1.0.0"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data cache, so none sees another's cached arrays."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("ICHBENCH_CACHE", str(path))
    # Nor does any test append to the user's own leaderboard.
    monkeypatch.setenv("ICHBENCH_LEADERBOARD", str(path / "leaderboards"))
    return path


@pytest.fixture(scope="session")
def phantom_jpg_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("ph") / "jpg", subjects=5, slices=6, size=96, seed=3, layout="jpg")


@pytest.fixture(scope="session")
def phantom_nifti_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("ph") / "nii", subjects=4, slices=5, size=80, seed=4, layout="nifti")


@pytest.fixture
def phantom_jpg(phantom_jpg_master: Path, tmp_path: Path) -> Path:
    """A private copy of a small JPG-layout phantom that a test may damage."""
    return Path(shutil.copytree(phantom_jpg_master, tmp_path / "jpg"))


@pytest.fixture
def phantom_nifti(phantom_nifti_master: Path, tmp_path: Path) -> Path:
    """A private copy of a small NIfTI-layout phantom that a test may damage."""
    return Path(shutil.copytree(phantom_nifti_master, tmp_path / "nii"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The CT-ICH v1.0.0 release beside the checkout; the test is skipped only when it is absent."""
    if not (REAL_DATA / "hemorrhage_diagnosis.csv").exists():
        pytest.skip(f"CT-ICH v1.0.0 not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture
def cli(tmp_path: Path):
    """Run the installed `ichbench` console script (in tmp_path, away from the source tree)."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "ichbench"

    def run(
        *args: str, timeout: float = 600, env: dict | None = None, limit: int | None = None
    ) -> subprocess.CompletedProcess:
        """`limit`: a file-size limit in bytes (ulimit -f); Python ignores SIGXFSZ, so writes past it fail."""
        import resource

        full_env = dict(os.environ, **(env or {}))
        cap = (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))) if limit else None
        return subprocess.run(
            [str(exe), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=timeout,
            env=full_env,
            preexec_fn=cap,
        )

    return run


@pytest.fixture(scope="session")
def tiny_protocol():
    """Write the tiny test protocol (a minute on 2 cores) to a path, with a chosen number of epochs."""

    def write(path: Path, epochs: int = 2) -> Path:
        path.write_text(TINY_PROTOCOL.format(epochs=epochs))
        return path

    return write


@pytest.fixture
def install_plugin(tmp_path: Path):
    """pip-install a one-module plugin package into a private folder; returns the env that sees it."""
    import subprocess
    import sys

    def install(name: str, entry_points: dict[str, dict[str, str]], module: str, source: str) -> dict[str, str]:
        pkg = tmp_path / f"plugin-{name}"
        pkg.mkdir()
        groups = "".join(
            f'[project.entry-points."{g}"]\n' + "".join(f'"{k}" = "{v}"\n' for k, v in eps.items())
            for g, eps in entry_points.items()
        )
        (pkg / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
            f'[project]\nname = "{name}"\nversion = "0.1"\n{groups}'
        )
        (pkg / f"{module}.py").write_text(source)
        target = tmp_path / f"site-{name}"
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-build-isolation",
                "--quiet",
                "--target",
                str(target),
                str(pkg),
            ],
            capture_output=True,
            text=True,
        )
        assert pip.returncode == 0, pip.stderr
        return {"PYTHONPATH": str(target)}

    return install


@pytest.fixture(scope="session")
def opencv_binarize():
    """The paper's OpenCV code, the reference for ichbench.post: threshold, MORPH_CLOSE then MORPH_OPEN."""
    import cv2
    import numpy as np

    def reference(prob: np.ndarray, threshold: float, close: int, open_: int) -> np.ndarray:
        mask = (prob > threshold).astype(np.uint8)
        if close:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((close, close), np.uint8))
        if open_:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((open_, open_), np.uint8))
        return mask

    return reference


EVIDENCE = Path(__file__).resolve().parents[1] / "leaderboards" / "runs"


@pytest.fixture
def committed_protocols():
    """The `paper` and `cpu` protocols of the committed tables from before the native test, parsed from their
    rows' evidence: a key added since must leave their hashes (e0fe5395e181, e6ba84a76c32) unchanged."""
    from ichbench.protocol import load_protocol

    paper = load_protocol(EVIDENCE / "ctich-1.0.0__paper-e0fe5395__threshold__9533cea6c4" / "protocol.toml")
    cpu = load_protocol(EVIDENCE / "ctich-1.0.0__cpu-e6ba84a7__resunet__65e4322344" / "protocol.toml")
    return paper, cpu


@pytest.fixture(scope="session")
def job_result():
    """A factory of hand-made job results: every field a result must have at a neutral value, the given ones set."""
    from ichbench.rundir import JobResult

    def make(**fields) -> JobResult:
        base = {"model": "m", "fold": 0, "params": 0, "best_epoch": 0, "epochs": 0, "threshold": 0.5, "fitted": {}}
        base |= {"seconds": 0.0, "history": [], "threshold_curve": [], "per_slice": [], "per_subject": []}
        return JobResult(**(base | fields))

    return make
