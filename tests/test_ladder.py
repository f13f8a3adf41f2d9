"""A recipe ladder in the report: one model under several recipes of one test, each rung against the one below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from ichbench.benchmark.run import RunConfig, run
from ichbench.errors import RunError
from ichbench.protocol import load_protocol
from ichbench.report.ladder import ladder_table
from ichbench.report.render import build_report
from ichbench.report.runs import load_runs
from ichbench.rundir import job_path

RUNGS = {"plain": (2, 1), "closed": (6, 1), "opened": (6, 3)}  # recipe name -> (close, open): recipes of one test


@pytest.fixture(scope="module")
def rungs(tmp_path_factory: pytest.TempPathFactory, tiny_protocol) -> list[Path]:
    """threshold-fixed under three post-processing recipes of one native-resolution test."""
    root = tmp_path_factory.mktemp("ladder")
    base = tiny_protocol(root / "tiny.toml").read_text()
    out = []
    for name, (close, open_) in RUNGS.items():
        text = base.replace('name = "tiny"', f'name = "{name}"').replace("close = 2", f"close = {close}")
        text = text.replace("open = 1", f"open = {open_}").replace("[metrics]", '[metrics]\nresolution = "native"')
        (root / f"{name}.toml").write_text(text)
        config = RunConfig(
            models=["threshold-fixed", "threshold"] if name == "plain" else ["threshold-fixed"],
            protocol=load_protocol(root / f"{name}.toml"),
            out=root / name,
            leaderboard=None,
            progress=False,
        )
        run(config)
        out.append(root / name)
    return out


def test_a_model_under_several_recipes_is_labelled_by_recipe_in_the_order_given(rungs: list[Path]) -> None:
    runs = load_runs(rungs)
    ladder = ["threshold-fixed @ plain", "threshold-fixed @ closed", "threshold-fixed @ opened"]
    assert runs.ladders == {"threshold-fixed": ladder}
    assert runs.models == [ladder[0], "threshold", *ladder[1:]]  # a model in one run keeps its name
    assert set(runs.per_subject["model"]) == set(runs.models) and set(runs.summary["model"]) == set(runs.models)
    assert runs.sources[ladder[1]] == (rungs[1], "threshold-fixed")
    assert [j.path for j in runs.jobs(ladder[1])] == [job_path(rungs[1], "threshold-fixed", f) for f in (0, 1)]
    with pytest.raises(RunError, match="under one recipe name"):
        load_runs([rungs[0], rungs[0]])


def test_each_rung_is_tested_against_the_rung_below(rungs: list[Path]) -> None:
    runs = load_runs(rungs)
    order = runs.ladders["threshold-fixed"]
    frame = ladder_table(runs.per_subject, runs.summary, order)
    sick = runs.per_subject[runs.per_subject["has_hemorrhage"].astype(bool)]
    dice = {m: g.set_index(["fold", "subject"])["dice_paper"] for m, g in sick.groupby("model")}
    assert list(frame["rung"]) == order and np.isnan(frame.loc[0, "p"])
    raw = []
    for i in (1, 2):
        a, b = dice[order[i]].align(dice[order[i - 1]])
        assert frame.loc[i, "dice"] == pytest.approx(a.mean())
        assert frame.loc[i, "step"] == pytest.approx(a.mean() - b.mean())
        diff = (a - b).to_numpy()
        raw.append(
            1.0 if not diff.any() else sps.wilcoxon(a, b, method="approx", correction=True, zero_method="wilcox").pvalue
        )
        assert frame.loc[i, "p"] == pytest.approx(raw[-1])
    adjusted = sorted(raw)[0] * 2, max(sorted(raw)[0] * 2, sorted(raw)[1])  # Holm by hand over the two steps
    assert sorted(frame.loc[1:, "p_holm"]) == pytest.approx([min(1.0, p) for p in adjusted])
    assert frame["train_hours"].notna().all() and (frame["train_pflop"] == 0).all()  # a band trains nothing
    own = runs.summary.set_index("model").loc[order]  # each rung's false lesions beside its Dice
    for column in ("lesion_precision", "lesion_f1", "fp_volume_empty"):
        assert frame[column].tolist() == pytest.approx(own[column].tolist(), nan_ok=True)
    assert (frame["fp_volume_empty"] > 0).any()


@pytest.mark.slow
def test_the_report_has_the_ladder_and_its_figure(rungs: list[Path], tmp_path: Path) -> None:
    build_report(rungs, tmp_path / "rep", dpi=40)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "Ladder: threshold-fixed" in md and "| threshold-fixed @ opened |" in md
    assert (tmp_path / "rep" / "images" / "ladder-threshold-fixed.png").stat().st_size > 1000
