"""`ichbench report`: statistics against scipy, and the page in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ichbench.report import stats

ARTIFACTS = Path(os.environ.get("ICHBENCH_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, tiny_protocol) -> Path:
    """A tiny run of three models and its report."""
    root = tmp_path_factory.mktemp("report")
    path = tiny_protocol(root / "tiny.toml", epochs=2)
    # More subjects and a larger validation share, so every fold validates on hemorrhage subjects.
    path.write_text(
        path.read_text().replace("subjects = 6", "subjects = 10").replace("val_fraction = 0.3", "val_fraction = 0.5")
    )
    exe = Path(sys.executable).parent / "ichbench"
    env = dict(os.environ, ICHBENCH_CACHE=str(root / "cache"))
    for args in (
        ["run", "--models", "threshold,resunet", "--protocol", "tiny.toml", "--out", "r1", "--no-leaderboard"],
        ["run", "--models", "unet", "--protocol", "tiny.toml", "--out", "r2", "--no-leaderboard"],
        ["report", "r1", "r2", "--out", "rep"],
    ):
        proc = subprocess.run([str(exe), *args], cwd=root, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
    return root


def test_bootstrap_and_wilcoxon_match_scipy_called_directly() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0, 1, 20), rng.uniform(0, 1, 20)
    direct = sps.bootstrap(
        (a,),
        np.mean,
        n_resamples=2000,
        confidence_level=0.95,
        method="percentile",
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert stats.bootstrap_ci(a, seed=0) == pytest.approx((direct.low, direct.high))
    frame = pd.DataFrame(
        {
            "model": ["m1"] * 20 + ["m2"] * 20 + ["m3"] * 20,
            "fold": 0,
            "subject": [f"s{i}" for i in range(20)] * 3,
            "has_hemorrhage": True,
            "dice_paper": np.concatenate([a, b, a + 0.1]),
        }
    )
    matrix = stats.wilcoxon_matrix(frame)
    kw = {"method": "approx", "zero_method": "wilcox", "correction": True}  # one method for every pair
    raw = [
        sps.wilcoxon(a, b, **kw).pvalue,
        sps.wilcoxon(a, a + 0.1, **kw).pvalue,
        sps.wilcoxon(b, a + 0.1, **kw).pvalue,
    ]
    order = np.argsort(raw)
    holm = np.empty(3)
    running = 0.0
    for rank, i in enumerate(order):  # Holm by hand: (m - rank) * p, made monotone
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        holm[i] = running
    assert matrix.loc["m1", "m2"] == pytest.approx(holm[0]) and matrix.loc["m2", "m1"] == pytest.approx(holm[0])
    assert matrix.loc["m1", "m3"] == pytest.approx(holm[1]) and matrix.loc["m2", "m3"] == pytest.approx(holm[2])
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_pooled_ci_resamples_subjects() -> None:
    counts = pd.DataFrame(
        {
            "tp": [5, 0, 3],
            "fp": [1, 2, 0],
            "fn": [0, 4, 1],
            "d_tp": [1, 0, 1],
            "d_fp": [0, 1, 0],
            "d_fn": [0, 1, 0],
            "d_tn": [3, 2, 4],
            "o_tp": [1, 1, 1],
            "o_fp": [0, 1, 0],
            "o_fn": [0, 0, 0],
            "o_tn": [3, 2, 4],
            "s_dice": [0.9, 0.0, 0.8],
            "s_pos": [1, 1, 1],
        }
    )
    rows = counts.to_numpy(float)

    def dice_global(i: np.ndarray, axis: int = -1) -> np.ndarray:
        s = rows[i].sum(axis=-2)
        return 2 * s[..., 0] / (2 * s[..., 0] + s[..., 1] + s[..., 2])

    direct = sps.bootstrap(
        (np.arange(3),), dice_global, n_resamples=2000, method="percentile", random_state=np.random.default_rng(1)
    ).confidence_interval
    assert stats.pooled_ci(counts, "dice_global", seed=1) == pytest.approx((direct.low, direct.high))


def test_cohort_ci_is_scipys_bootstrap_over_whole_subjects() -> None:
    rows = pd.DataFrame({"v": [0.1, 0.5, 0.2, 0.9, 0.4, 0.3]})
    statistic = lambda frame: float(frame["v"].median())  # noqa: E731
    direct = sps.bootstrap(
        (np.arange(6),),
        lambda i: statistic(rows.iloc[i]),
        vectorized=False,
        n_resamples=300,
        method="percentile",
        random_state=np.random.default_rng(3),
    ).confidence_interval
    assert stats.cohort_ci(rows, statistic, n_resamples=300, seed=3) == pytest.approx((direct.low, direct.high))


def test_a_paired_interval_does_not_depend_on_how_the_subjects_are_listed() -> None:
    rng = np.random.default_rng(0)
    subjects = [f"{i:03d}" for i in range(20)]
    folds = [i % 5 for i in range(20)]
    a, b = rng.random(20), rng.random(20)
    by_fold = pd.MultiIndex.from_arrays([folds, subjects], names=["fold", "subject"])
    frame = pd.DataFrame({"a": a, "b": b}, index=by_fold)
    in_fold_order, shuffled = frame.sort_index(), frame.sample(frac=1.0, random_state=1)
    ci = stats.paired_ci(in_fold_order["a"], in_fold_order["b"])
    assert ci == stats.paired_ci(shuffled["a"], shuffled["b"])
    # By hand: the differences in subject order, bootstrapped as every subject metric is.
    assert ci == stats.bootstrap_ci(a - b)


def test_seed_noise_pairs_only_models_that_ran_several_seeds() -> None:
    rows = [
        {"model": m, "seed": s, "subject": str(k), "has_hemorrhage": True, "dice_paper": 0.1 * k + shift * (1 + i * i)}
        for m, shift, seeds in (("a", 0.01, [0, 1, 2]), ("b", 0.0, [0, 1, 2]), ("band", 0.0, [None]))
        for i, s in enumerate(seeds)
        for k in range(3)
    ]
    noise = stats.seed_noise(pd.DataFrame(rows))
    assert noise["pair"].tolist() == ["a - b"] and noise.loc[0, "seeds"] == 3
    differences = np.array([0.01, 0.02, 0.05])  # per seed: a's shift 0.01 x (1 + i^2)
    assert noise.loc[0, "mean difference"] == pytest.approx(differences.mean())
    assert noise.loc[0, "seed sd"] == pytest.approx(np.std(differences))  # ddof 0, as every SD
    assert noise.loc[0, "p"] == pytest.approx(sps.ttest_1samp(differences, 0.0).pvalue)


@pytest.mark.slow
def test_report_files(report: Path) -> None:
    rep = report / "rep"
    for run in ("r1", "r2"):
        for fold in (0, 1):
            result = report / run / "jobs" / ("unet" if run == "r2" else "resunet") / f"fold{fold}" / "result.json"
            assert len(__import__("json").loads(result.read_text())["threshold_curve"]) == 9
    text = (rep / "report.html").read_text()
    assert "http://" not in text and "https://" not in text  # nothing fetched from the network
    assert text.count("<img ") >= 4 and "data:image/png;base64," in text
    md = (rep / "report.md").read_text()
    assert "| threshold |" in md and "| resunet |" in md and "| unet |" in md and "Wilcoxon" in md
    for name in ("forest", "subject_dice", "loss", "threshold", "subtypes", "case0"):
        assert (rep / "images" / f"{name}.png").stat().st_size > 1000, name


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.slow
def test_page_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("chromium and chromedriver are not installed here")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        driver.get((report / "rep" / "report.html").resolve().as_uri())
        rows = driver.execute_script("return document.querySelectorAll('#results tbody tr').length")
        assert rows == 3  # threshold, resunet, unet
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert len(images) >= 4 and all(ok and w > 0 and h > 0 for _, ok, w, h in images), images
        # Legible at 100 percent on a 1280 px screen: figures shown at least 600 px wide, never squeezed,
        # overlay panels at least 200 px each; the forest plot comes first.
        shown = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.clientWidth, i.naturalWidth,"
            " Number(i.dataset.panels || 1)])"
        )
        assert shown[0][0] == "forest"
        for alt, width, natural, panels in shown:
            assert width >= 600 and width == natural, (alt, width, natural)
            assert width / panels >= 200, (alt, width, panels)
        assert driver.execute_script("return document.querySelector('#subjects summary') !== null")
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        assert driver.title.startswith("ichbench report")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "report.png"))
        assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


@pytest.mark.slow
def test_a_report_without_saved_masks_says_so_instead_of_drawing_truth_alone(report: Path) -> None:
    counts_only = report / "r1-counts"
    shutil.copytree(report / "r1", counts_only)
    for masks in counts_only.glob("jobs/*/fold*/predictions.npz"):
        masks.unlink()  # what an evidence folder holds: counts, no masks
    exe = Path(sys.executable).parent / "ichbench"
    env = dict(os.environ, ICHBENCH_CACHE=str(report / "cache"))
    proc = subprocess.run(
        [str(exe), "report", "r1-counts", "--out", "rep-counts"], cwd=report, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert not list((report / "rep-counts" / "images").glob("case*.png"))
    assert "No case figures" in (report / "rep-counts" / "report.html").read_text()
    assert "No case figures" in (report / "rep-counts" / "report.md").read_text()
