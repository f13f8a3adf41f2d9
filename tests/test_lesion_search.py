"""The lesion stage decided on validation (`[post] lesion_search`): the rule by hand, and a run that records
each fold's choice and scores its test subjects with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ichbench.benchmark.run import RunConfig, run
from ichbench.inference.bundle import export_bundle, load_bundle
from ichbench.protocol import load_protocol, parse_protocol
from ichbench.rundir import model_results
from ichbench.training.lesions import choose, grid

SEARCH = "\nlesion_search = true\nlesion_area_grid = [20, 200]\nlesion_prob_grid = [0.9]\n"


def _point(area: int, prob: float, dice: float, f1: float) -> dict:
    return {"min_area": area, "min_max_prob": prob, "dice": dice, "lesion_f1": f1}


def test_the_choice_is_the_best_lesion_f1_within_the_dice_tolerance_by_hand() -> None:
    protocol = parse_protocol(f'name = "x"\n[post]{SEARCH}', "x")
    assert grid(protocol) == [(0, 0.0), (0, 0.9), (20, 0.0), (20, 0.9), (200, 0.0), (200, 0.9)]
    curve = [
        _point(0, 0.0, 0.500, 0.10),  # unfiltered: the reference Dice
        _point(0, 0.9, 0.500, 0.30),
        _point(20, 0.0, 0.495, 0.30),  # ties with (0, 0.9) on F1: the smaller area wins
        _point(20, 0.9, 0.480, 0.60),  # the best F1, but 0.02 below the reference: out (tolerance 0.01)
        _point(200, 0.0, 0.490, 0.25),
        _point(200, 0.9, 0.300, 0.70),
    ]
    chosen = choose(curve, protocol)
    assert (chosen.min_area, chosen.min_max_prob, chosen.at_edge) == (0, 0.9, True)  # 0.9 is the grid's edge
    loose = parse_protocol(f'name = "x"\n[post]{SEARCH}lesion_dice_tolerance = 0.05\n', "x")
    assert (choose(curve, loose).min_area, choose(curve, loose).min_max_prob) == (20, 0.9)
    flat = [_point(a, p, 0.5, 0.2) for a, p in grid(protocol)]  # nothing helps: no filter, not at an edge
    assert (choose(flat, protocol).min_area, choose(flat, protocol).at_edge) == (0, False)


def test_a_run_records_each_folds_choice_and_scores_its_test_with_it(tmp_path: Path, tiny_protocol) -> None:
    base = tiny_protocol(tmp_path / "tiny.toml")
    searched = tmp_path / "search.toml"
    searched.write_text(base.read_text().replace("open = 1\n", "open = 1" + SEARCH))
    runs = {}
    for name, path in (("plain", base), ("search", searched)):
        config = RunConfig(models=["threshold"], protocol=load_protocol(path), out=tmp_path / name, progress=False)
        run(config)
        runs[name] = {r.fold: r for r in model_results(tmp_path / name, "threshold")}
    assert load_protocol(searched).test_hash == load_protocol(base).test_hash  # a recipe of the same test
    for fold, result in runs["search"].items():
        choice, plain = result.lesion_filter, runs["plain"][fold]
        assert plain.lesion_filter is None and len(choice["curve"]) == 6
        again = choose(choice["curve"], load_protocol(searched))
        assert (again.min_area, again.min_max_prob) == (choice["min_area"], choice["min_max_prob"])
        lesions = [sum(s["lesions_pred"] for s in r.per_subject) for r in (plain, result)]
        voxels = [sum(s["pred_voxels"] for s in r.per_subject) for r in (plain, result)]
        assert lesions[1] <= lesions[0] and voxels[1] <= voxels[0]  # a filter only ever drops components
        if (choice["min_area"], choice["min_max_prob"]) == (0, 0.0):
            assert voxels[1] == voxels[0]
    chosen = {f: r.lesion_filter for f, r in runs["search"].items()}
    assert any(c["min_area"] or c["min_max_prob"] for c in chosen.values())  # the phantom's bands gain from it
    # A bundle keeps each fold's choice, and prediction applies the used folds' (their mean for an ensemble).
    bundle = load_bundle(export_bundle(tmp_path / "search", "threshold", "all", tmp_path / "bundle"))
    assert bundle.meta["lesion_filters"] == {
        str(f): {k: c[k] for k in ("min_area", "min_max_prob")} for f, c in chosen.items()
    }
    first = bundle.protocol_at((64, 64)).post
    assert (first.lesion_min_area, first.lesion_min_max_prob) == (chosen[0]["min_area"], chosen[0]["min_max_prob"])
    both = bundle.protocol_at((128, 128), ensemble=True).post  # twice the side: four times the area
    mean_area = (chosen[0]["min_area"] + chosen[1]["min_area"]) / 2
    assert both.lesion_min_area == (round(4 * round(mean_area)) if mean_area else 0)
    with pytest.raises(Exception, match="lesion_search needs a lesion_area_grid or a lesion_prob_grid"):
        parse_protocol('name = "x"\n[post]\nlesion_search = true', "x.toml")
