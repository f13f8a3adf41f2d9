"""Variants as data: [models."NAME"] with `base` defines a new leaderboard name from any registered model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ichbench.errors import ModelError
from ichbench.models import registry
from ichbench.protocol import parse_protocol

VARIANT = """
[models."unet-convnext"]
base = "unet"
encoder_name = "tu-convnext_atto"
"""


def test_a_variant_is_its_base_built_with_its_arguments() -> None:
    protocol = parse_protocol('name = "v"\n' + VARIANT, "v.toml")
    assert registry.variants(protocol) == {"unet-convnext": "unet"}
    assert registry.model_spec("unet-convnext", protocol) == ("unet", {"encoder_name": "tu-convnext_atto"})
    assert registry.model_spec("unet", protocol) == ("unet", {})
    assert registry.resolve("unet-convnext,threshold", protocol) == ["unet-convnext", "threshold"]
    assert "unet-convnext" in registry.resolve("all", protocol)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(registry.build("unet-convnext", protocol)) == 5_773_193 != count(registry.build("unet", protocol))
    with pytest.raises(ModelError, match="unknown model"):
        registry.resolve("unet-convnext")  # without its protocol the name means nothing


def test_bad_variants_are_clear_errors() -> None:
    unknown = parse_protocol('name = "v"\n[models."mine"]\nbase = "vnet"\n', "v.toml")
    with pytest.raises(ModelError, match=r'\[models."mine"\] base = \'vnet\': no such model; available: .*unet'):
        registry.resolve("mine", unknown)
    clash = parse_protocol('name = "v"\n[models."linknet"]\nbase = "unet"\n', "v.toml")
    with pytest.raises(ModelError, match="'linknet' is already a registered model"):
        registry.resolve("unet", clash)
    bad_args = parse_protocol('name = "v"\n[models."mine"]\nbase = "unet"\nencoder_name = "no-such-encoder"\n', "v")
    with pytest.raises(ModelError, match="model 'unet' cannot be built with"):
        registry.build("mine", bad_args)


def test_list_shows_variants_with_their_base(tmp_path: Path, cli, tiny_protocol) -> None:
    proto = tiny_protocol(tmp_path / "tiny.toml")
    proto.write_text(proto.read_text() + VARIANT)
    done = cli("list", "unet*", "--protocol", proto, "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)["models"]}
    assert rows["unet-convnext"]["variant_of"] == "unet"
    assert rows["unet-convnext"]["arguments"] == {"encoder_name": "tu-convnext_atto"}
    assert rows["unet-convnext"]["parameters"] == 5_773_193 and "variant_of" not in rows["unet"]


@pytest.mark.slow
def test_a_timm_encoder_variant_and_nnunet_train_write_their_own_rows_export_and_predict(
    tmp_path: Path, cli, tiny_protocol
) -> None:
    from ichbench.data.phantom.write import write_phantom

    proto = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    proto.write_text(proto.read_text() + VARIANT)
    models = "unet-convnext,nnunet-2d,resunet"
    run = cli("run", "--models", models, "--protocol", proto, "--out", "r", "--leaderboard", "lb")
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(next((tmp_path / "lb").glob("*.csv")))
    assert list(table.model) == models.split(",") and table.params[0] == 5_773_193
    assert cli("leaderboard", "verify", "--leaderboard", "lb").returncode == 0
    export = cli("export", "r", "--model", "unet-convnext", "--out", "bundle")
    assert export.returncode == 0, export.stderr
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert meta["model"] == "unet-convnext" and meta["base"] == "unet"
    assert meta["model_kwargs"] == {"encoder_name": "tu-convnext_atto"}
    nnunet = cli("export", "r", "--model", "nnunet-2d", "--out", "nnunet")
    assert nnunet.returncode == 0, nnunet.stderr
    assert json.loads((tmp_path / "nnunet" / "bundle.json").read_text())["model_kwargs"] == {"window": 32}
    write_phantom(tmp_path / "scans", subjects=1, slices=3, size=64, seed=3, layout="nifti")
    scan = next((tmp_path / "scans" / "ct_scans").glob("*.nii"))
    for bundle in ("bundle", "nnunet"):
        predicted = cli("predict", bundle, scan, "--out", f"pred-{bundle}", "--device", "cpu")
        assert predicted.returncode == 0, predicted.stderr
        assert (tmp_path / f"pred-{bundle}" / "mask.nii.gz").exists()


def test_pretrained_encoder_weights_come_from_the_local_cache_or_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub
    import segmentation_models_pytorch as smp
    import torch
    from safetensors.torch import save_file

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelError, match=f"not in the local Hugging Face cache \\({tmp_path / 'hub'}\\)"):
        registry.create_model("unet", encoder_name="resnet18", encoder_weights="imagenet")
    # Put "pretrained" weights where the hub cache keeps them: they are loaded, with nothing downloaded.
    settings = smp.encoders.encoders["resnet18"]["pretrained_settings"]["imagenet"]
    folder = tmp_path / "hub" / f"models--{settings['repo_id'].replace('/', '--')}" / "snapshots"
    folder = folder / settings["revision"]
    folder.mkdir(parents=True)
    reference = smp.encoders.get_encoder("resnet18", weights=None)
    torch.nn.init.constant_(reference.conv1.weight, 0.25)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text("{}")
    model = registry.create_model("unet", in_channels=3, encoder_name="resnet18", encoder_weights="imagenet")
    assert torch.all(model.encoder.conv1.weight == 0.25)
