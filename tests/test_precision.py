"""`[training] precision`: what each setting means per device, the bf16 path on the CPU, and the hash rule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from ichbench.benchmark.plan import seconds_per_window
from ichbench.errors import ProtocolError
from ichbench.inference import infer
from ichbench.inference.infer import precision_for
from ichbench.models.registry import build
from ichbench.protocol import parse_protocol
from ichbench.rundir import model_results
from ichbench.training.step import make_step

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_each_setting_names_one_precision_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert precision_for("cuda-bf16", CPU) == "fp32" and precision_for("cuda-bf16", CUDA) == "bf16"
    assert precision_for("bf16", CPU) == "bf16" and precision_for("fp32", CUDA) == "fp32"
    assert precision_for("auto", CUDA) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision_for("auto", CPU) == "fp32"  # emulated bf16 is slower than fp32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert precision_for("auto", CPU) == "bf16"


def test_the_default_keeps_every_older_hash_and_a_choice_moves_it(committed_protocols) -> None:
    paper, cpu = committed_protocols
    assert paper.training.precision == "cuda-bf16" and paper.hash == "e0fe5395e181"
    assert cpu.hash == "e6ba84a76c32"
    for setting in ("auto", "bf16", "fp32"):
        assert replace(paper, training=replace(paper.training, precision=setting)).hash != paper.hash
    with pytest.raises(ProtocolError, match="precision must be one of auto, bf16, fp32, cuda-bf16, got 'fp16'"):
        parse_protocol('name = "x"\n[training]\nprecision = "fp16"', "x.toml")


def test_a_bf16_step_runs_on_the_cpu_and_computes_in_bf16() -> None:
    protocol = parse_protocol('name = "x"\n[windows]\nsize = 32\nstride = 16\n[training]\nprecision = "bf16"', "x")
    step = make_step(build("unet", protocol), protocol, CPU, infer.precision_for(protocol.training.precision, CPU))
    assert step.precision == "bf16"
    seen = []
    step.model.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    x = infer.to_input(torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8), CPU)
    loss = step(x, torch.zeros(2, 1, 32, 32))
    assert seen == [torch.bfloat16] and torch.isfinite(loss) and step.seconds > 0
    assert seconds_per_window("unet", protocol, CPU, step.precision) > 0  # the plan times the same Step


@pytest.mark.slow
def test_a_bf16_run_on_the_cpu_records_its_precision(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    tiny.write_text(tiny.read_text().replace("lr = 1e-3", 'lr = 1e-3\nprecision = "bf16"'))
    run = cli("run", "--models", "resunet", "--protocol", tiny, "--out", "r", "--leaderboard", "lb")
    assert run.returncode == 0, run.stderr
    assert "bf16" in run.stderr  # the plan line names the precision
    # Resolved once per job, and recorded by the job (run.json no longer resolves it a second time).
    assert {r.training_precision for r in model_results(tmp_path / "r", "resunet")} == {"bf16"}
    assert "training_precision" not in json.loads((tmp_path / "r" / "run.json").read_text())
    assert set(pd.read_csv(tmp_path / "r" / "history.csv")["training_precision"]) == {"bf16"}
    (table,) = (tmp_path / "lb").glob("phantom__tiny-*.csv")
    assert list(pd.read_csv(table)["training_precision"]) == ["bf16"]


def test_a_bundle_predicts_in_what_its_folds_trained_in_where_the_device_computes_it_fast(monkeypatch) -> None:
    from ichbench.inference import bundle as bundle_module
    from ichbench.inference.bundle import Bundle

    protocol = parse_protocol('name = "x"', "x")
    trained_bf16 = Bundle(Path("b"), {"precision": "bf16"}, protocol, {})
    monkeypatch.setattr(bundle_module, "bf16_is_fast", lambda device: True)
    assert trained_bf16.precision(CPU) == "bf16"
    assert Bundle(Path("b"), {"precision": "fp32"}, protocol, {}).precision(CPU) == "fp32"
    assert Bundle(Path("b"), {}, protocol, {}).precision(CPU) == "fp32"  # a bundle from before the record
    monkeypatch.setattr(bundle_module, "bf16_is_fast", lambda device: False)  # emulated bf16 would be slower
    assert trained_bf16.precision(CPU) == "fp32"
