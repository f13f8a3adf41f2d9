"""Protocol files and the model registry."""

from __future__ import annotations

from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import torch

from ichbench import plugins
from ichbench.errors import ModelError, ProtocolError
from ichbench.models import registry
from ichbench.models.contract import check_output, input_multiple, trainable
from ichbench.models.threshold import best_band, threshold
from ichbench.protocol import Training, load_protocol, parse_protocol


def test_presets_match_the_paper() -> None:
    p = load_protocol("paper")
    assert (p.cv.folds, p.windows.size, p.windows.stride) == (5, 160, 80)
    assert (p.training.epochs, p.training.batch_size, p.training.lr, p.training.loss) == (100, 32, 1e-5, "bce")
    assert (p.post.threshold, p.post.close, p.post.open, p.metrics.detection_pixels) == (0.9, 10, 5, 400)
    assert (p.augmentation.rotation, p.augmentation.shift, p.augmentation.shear, p.augmentation.zoom) == (
        20.0,
        0.1,
        0.1,
        0.2,
    )
    assert load_protocol("quick").hash != p.hash


def test_hash_is_canonical(tmp_path: Path) -> None:
    p = load_protocol("paper")
    path = tmp_path / "mine.toml"
    path.write_text(p.to_toml().replace('name = "paper"', 'name = "mine"'))
    mine = load_protocol(path)
    assert mine.hash == p.hash  # the name is not part of the hash, the settings are
    assert replace(p, training=replace(p.training, epochs=99)).hash != p.hash
    assert parse_protocol(load_protocol("quick").to_toml(), "x") == load_protocol("quick")


def test_the_phantom_counts_only_for_runs_on_the_phantom() -> None:
    p = load_protocol("paper")
    other = replace(p, phantom=replace(p.phantom, subjects=7))
    assert other.hash == p.hash == p.hash_for(on_phantom=False)  # real-data rows keep their table
    assert other.hash_for(on_phantom=True) != p.hash_for(on_phantom=True)
    assert p.hash_for(on_phantom=True) != p.hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n[training]\nepochs = "ten"', r"\[training\] epochs must be a int"),
        ('name = "x"\n[training]\nepoch = 3', r"unknown key\(s\) in \[training\]: epoch"),
        ('name = "x"\n[trainning]\nepochs = 3', r"unknown section\(s\) trainning"),
        ('name = "x"\n[post]\nthreshold = 1.5', r"threshold must be in \(0, 1\)"),
        ('name = "x"\n[training]\nloss = "dice"', "loss must be one of bce, jaccard, dice_bce, got 'dice'"),
        ('name = "x"\n[cv]\nfolds = true', r"\[cv\] folds must be a int"),
        ("[cv]\nfolds = 3", "missing 'name'"),
        ('name = "x"\n[cv\n', "invalid TOML"),
    ],
)
def test_bad_protocols_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(text, "bad.toml")


def test_missing_protocol_file() -> None:
    with pytest.raises(ProtocolError, match="nope.toml: no such protocol file"):
        load_protocol("nope.toml")


def test_the_default_learning_rate_is_the_papers() -> None:
    assert Training().lr == 1e-5  # Table 7: Adam at 1e-5


BUILTINS = [
    "linknet",
    "nnunet-2d",
    "nnunet-2d-resenc",
    "resunet",
    "threshold",
    "threshold-fixed",
    "unet",
    "unet-hssayeni",
    "unetplusplus",
]


def test_builtins_register_through_entry_points() -> None:
    assert registry.list_models() == BUILTINS
    assert registry.list_models("unet*") == ["unet", "unet-hssayeni", "unetplusplus"]
    assert {registry.available_models()[n].source for n in BUILTINS} == {"ichbench"}
    assert plugins.discover(registry.GROUP) is plugins.discover(registry.GROUP)  # discovered once, cached
    with pytest.raises(ModelError, match="unknown model 'vnet'"):
        registry.create_model("vnet")
    with pytest.raises(ModelError, match=r"unknown model\(s\) vnet"):
        registry.resolve("unet,vnet")
    assert registry.resolve("all") == BUILTINS


@pytest.mark.parametrize("name", registry.list_models())
def test_every_model_keeps_the_contract(name: str) -> None:
    kw = {"width": 8} if name in ("resunet", "unet-hssayeni") else {}
    model = registry.create_model(name, in_channels=1, **kw).eval()
    multiple = input_multiple(model)
    assert multiple >= 1 and 64 % multiple == 0
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 1, 64, 64)
    check_output(name, model, channels=1, window=64)  # the check every run makes before it writes anything
    if not trainable(model):
        assert callable(model.fit_subjects)


def test_a_window_the_model_cannot_take_is_refused_before_training() -> None:
    assert input_multiple(registry.create_model("resunet", width=4)) == 16
    assert input_multiple(registry.create_model("unet")) == 32
    fits = parse_protocol('name = "t"\n[windows]\nsize = 64\nstride = 32\n[models.resunet]\nwidth = 4\n', "t")
    registry.check_model("resunet", fits)
    odd = parse_protocol('name = "t"\n[windows]\nsize = 40\nstride = 20\n[models.resunet]\nwidth = 4\n', "t")
    with pytest.raises(ModelError, match="'resunet' needs window sides divisible by 16; .* size is 40"):
        registry.check_model("resunet", odd)


@pytest.mark.parametrize("name", ["unet", "unetplusplus", "linknet"])
def test_a_shallower_smp_encoder_keeps_the_decoder_widths_of_its_levels(name: str) -> None:
    model = registry.create_model(name, encoder_depth=3)
    assert input_multiple(model) == 8 and model(torch.rand(1, 1, 24, 24)).shape == (1, 1, 24, 24)
    if name != "linknet":  # LinkNet's decoder follows the encoder; the others keep 64, 32, 16 of smp's five
        widths = {m.out_channels for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)}
        assert widths == {64, 32, 16}


def test_original_unet_has_the_keras_parameter_count() -> None:
    assert sum(p.numel() for p in registry.create_model("unet-hssayeni").parameters()) == 31_031_685


def test_broken_and_duplicate_plugins_are_reported_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [
        EntryPoint("unet", "ichbench.models.smp:unet", registry.GROUP),
        EntryPoint("broken", "no_such_module_xyz:factory", registry.GROUP),
        EntryPoint("unet", "ichbench.models.resunet:resunet", registry.GROUP),
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: fake)
    plugins.discover.cache_clear()
    try:
        with pytest.warns(UserWarning) as caught:
            found = plugins.discover(registry.GROUP)
        messages = " ".join(str(w.message) for w in caught)
        assert "model plugin 'broken'" in messages and "No module named 'no_such_module_xyz'" in messages
        assert "duplicates" in messages
        assert list(found.plugins) == ["unet"] and found.plugins["unet"].target == "ichbench.models.smp:unet"
        assert found.broken[0][0] == "broken"
    finally:
        plugins.discover.cache_clear()


def test_threshold_band_grid_search_by_hand() -> None:
    pos = np.zeros(256, np.int64)
    total = np.zeros(256, np.int64)
    total[:] = 10
    pos[150:200] = 10  # every pixel in 150..199 is blood, nothing else is
    total[150:200] = 10
    low, high, jac = best_band(pos, total, step=10)
    # [150, 200] keeps all 500 blood pixels and 10 others (value 200): 500 / 510 beats [150, 190]'s 410 / 500.
    assert (low, high) == (150, 200) and jac == pytest.approx(500 / 510)
    model = threshold()
    x = torch.tensor([[[[139, 140, 230, 231]]]], dtype=torch.float32) / 255
    assert (model(x) > 0).int().tolist() == [[[[0, 1, 1, 0]]]]  # the paper's default band 140..230


def test_listing_models_prints_no_dependency_deprecation_warning(cli) -> None:
    shown = cli("list", "unet")
    assert shown.returncode == 0 and "unet" in shown.stdout
    assert "torch.jit.interface" not in shown.stderr and "warning" not in shown.stderr


def test_the_output_check_names_a_model_of_the_wrong_shape() -> None:
    crop = torch.nn.Conv2d(1, 1, 3)  # no padding: 32 x 32 in, 30 x 30 out
    with pytest.raises(ModelError, match=r"model 'cropper' maps windows of shape \(2, 1, 32, 32\) to \(2, 1, 30, 30\)"):
        check_output("cropper", crop, channels=1, window=32)
    with pytest.raises(ModelError, match=r"model 'wide' failed a forward pass .*input_multiple"):
        check_output("wide", torch.nn.Conv2d(3, 1, 3, padding=1), channels=1, window=32)


def test_each_model_is_prepared_in_the_layout_it_prefers() -> None:
    from ichbench.inference.infer import prepare_model

    def conv_weight(model: torch.nn.Module) -> torch.Tensor:
        # the first with several input channels: a 1-channel kernel is contiguous in both layouts
        return next(m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)

    cpu = torch.device("cpu")
    unet = prepare_model(registry.create_model("unet"), cpu)
    assert conv_weight(unet).is_contiguous(memory_format=torch.channels_last)
    nnunet = prepare_model(registry.create_model("nnunet-2d", window=64), cpu)
    weight = conv_weight(nnunet)
    assert weight.is_contiguous() and not weight.is_contiguous(memory_format=torch.channels_last)
