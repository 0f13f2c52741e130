"""VGG19 features by name (eq. 5): layer names, truncation, freezing, normalisation, and every weights path.

No test downloads anything: the pretrained case is exercised with a random vgg19 state dict
the test writes, through the same file-loading code.
"""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torch import nn
from torchvision.models import VGG19_Weights, vgg19

from srgan_edu import vgg
from srgan_edu.vgg import LAYER_INDICES, VGGFeatures, VGGWeightsNotFoundError


@pytest.fixture(autouse=True)
def _no_weights_anywhere(monkeypatch, tmp_path):
    """An empty torch hub cache, no environment variable, and no network."""
    monkeypatch.delenv(vgg.ENV_VARIABLE, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in the tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)


@pytest.fixture(scope="module")
def vgg19_shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: v.shape for k, v in vgg19(weights=None).state_dict().items()}


def _random_state_dict(shapes, *, up_to: int = 99, classifier: bool = False) -> dict[str, torch.Tensor]:
    """A random torchvision vgg19 state dict: the feature convs up to index ``up_to``."""
    generator = torch.Generator().manual_seed(0)
    return {
        name: torch.randn(shape, generator=generator) * 0.05
        for name, shape in shapes.items()
        if (name.startswith("features.") and int(name.split(".")[1]) <= up_to)
        or (classifier and name.startswith("classifier.") and name.endswith("bias"))
    }


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, vgg19_shapes):
    """A random vgg19 state dict with every feature layer (80 MB), saved as torchvision saves its own."""
    path = tmp_path_factory.mktemp("weights") / "vgg19-random.pth"
    torch.save(_random_state_dict(vgg19_shapes, classifier=True), path)
    return path


def test_layer_names_map_to_torchvisions_vgg19_indices():
    with torch.device("meta"):
        features = vgg19(weights=None).features
    assert len(features) == 37
    block, conv = 1, 0
    for index, module in enumerate(features):  # walk torchvision's layers and name them as the paper does
        if isinstance(module, nn.Conv2d):
            conv += 1
            assert LAYER_INDICES[f"conv{block}_{conv}"] == index
        elif isinstance(module, nn.ReLU):
            assert LAYER_INDICES[f"relu{block}_{conv}"] == index
        else:
            assert isinstance(module, nn.MaxPool2d)
            assert LAYER_INDICES[f"pool{block}"] == index
            block, conv = block + 1, 0
    assert len(LAYER_INDICES) == 37
    # the two layers of the paper: phi_2,2 after the 2nd conv before the 2nd pool, phi_5,4 likewise
    assert LAYER_INDICES["relu2_2"] == 8 and LAYER_INDICES["pool2"] == 9
    assert LAYER_INDICES["relu5_4"] == 35 and LAYER_INDICES["pool5"] == 36
    assert LAYER_INDICES["conv5_4"] == 34 and LAYER_INDICES["relu1_1"] == 1


def test_weights_must_be_chosen_explicitly():
    with pytest.raises(TypeError):
        VGGFeatures(("relu1_1",))  # no silent default, not even random weights


def test_random_weights_when_asked_for_truncated_frozen_and_in_eval_mode():
    model = VGGFeatures(("relu2_2",), weights=None)
    assert not model.pretrained and "random" in model.source
    assert len(model.features) == LAYER_INDICES["relu2_2"] + 1 == 9
    assert all(not p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training and not any(m.training for m in model.modules())
    assert not any(getattr(m, "inplace", False) for m in model.modules())


def test_feature_shapes_and_several_layers_at_once():
    model = VGGFeatures(["conv1_2", "relu1_2", "relu2_2", "relu3_1"], weights=None)
    maps = model(torch.rand(2, 3, 12, 16) * 2 - 1)
    assert list(maps) == ["conv1_2", "relu1_2", "relu2_2", "relu3_1"]
    assert maps["relu1_2"].shape == (2, 64, 12, 16)
    assert maps["relu2_2"].shape == (2, 128, 6, 8)
    assert maps["relu3_1"].shape == (2, 256, 3, 4)
    # relu_i_j is the conv map after its activation (the paper's phi_i,j); conv_i_j before it
    assert torch.equal(maps["relu1_2"], maps["conv1_2"].clamp(min=0))
    assert maps["conv1_2"].min() < 0


def test_normalisation_and_input_ranges(weights_file):
    signed = VGGFeatures(("conv1_1",), weights=weights_file, input_range="signed")
    unit = VGGFeatures(("conv1_1",), weights=weights_file, input_range="unit")
    img = torch.rand(1, 3, 5, 5)
    expected_input = (img - torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        vgg.IMAGENET_STD).view(1, 3, 1, 1)
    expected = unit.features[0](expected_input)
    assert torch.allclose(unit(img)["conv1_1"], expected, atol=1e-5)
    assert torch.allclose(signed(img * 2 - 1)["conv1_1"], expected, atol=1e-5)
    with pytest.raises(ValueError, match="input_range"):
        VGGFeatures(("conv1_1",), weights=None, input_range="imagenet")


def test_unknown_layer_names_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="relu5_4"):
        VGGFeatures(("phi_5,4",), weights=None)


def test_vgg_gets_no_gradient_but_passes_one_to_its_input():
    model = VGGFeatures(("relu2_1",), weights=None)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    img = torch.rand(1, 3, 8, 8, requires_grad=True)
    model(img)["relu2_1"].square().mean().backward()
    assert img.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_loads_a_state_dict_file(weights_file):
    model = VGGFeatures(("relu2_2",), weights=weights_file)
    saved = torch.load(weights_file, weights_only=True)
    assert model.pretrained and str(weights_file) in model.source
    for index in (0, 2, 5, 7):
        assert torch.equal(model.features[index].weight, saved[f"features.{index}.weight"])
        assert torch.equal(model.features[index].bias, saved[f"features.{index}.bias"])
    deep = VGGFeatures(("relu5_4",), weights=str(weights_file))
    assert torch.equal(deep.features[34].weight, saved["features.34.weight"])


def test_environment_variable_supplies_the_pretrained_weights(weights_file, monkeypatch, capsys):
    assert not vgg.pretrained_weights_available()
    monkeypatch.setenv(vgg.ENV_VARIABLE, str(weights_file))
    assert vgg.pretrained_weights_available()
    assert str(weights_file) in vgg.describe_weights_location()
    assert vgg.course_weights() is VGG19_Weights.IMAGENET1K_V1
    assert "pretrained" in capsys.readouterr().out
    for weights in (VGG19_Weights.IMAGENET1K_V1, "IMAGENET1K_V1"):
        model = VGGFeatures(("relu1_1",), weights=weights)
        assert model.pretrained and vgg.ENV_VARIABLE in model.source


def test_cached_weights_are_found(weights_file, vgg19_shapes):
    cached = vgg.cached_weights_path()
    cached.parent.mkdir(parents=True)
    torch.save(_random_state_dict(vgg19_shapes, up_to=3), cached)
    assert cached.name == "vgg19-dcbb9e9d.pth"
    assert vgg.pretrained_weights_available()
    assert "cache" in vgg.describe_weights_location()
    model = VGGFeatures(("relu1_2",), weights=VGG19_Weights.IMAGENET1K_V1)
    assert str(cached) in model.source


def test_missing_weights_error_says_what_to_do(capsys):
    assert not vgg.pretrained_weights_available()
    with pytest.raises(VGGWeightsNotFoundError) as caught:
        VGGFeatures(("relu5_4",), weights=VGG19_Weights.IMAGENET1K_V1)
    message = str(caught.value)
    for needed in ("vgg19-dcbb9e9d.pth", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
                   str(vgg.cached_weights_path()), vgg.ENV_VARIABLE, "weights=None", "no network in the tests"):
        assert needed in message
    assert "not on this machine" in vgg.describe_weights_location()
    assert vgg.course_weights() is None
    assert "RANDOM" in capsys.readouterr().out
    assert vgg.course_weights(verbose=False) is None
    assert capsys.readouterr().out == ""


def test_environment_variable_naming_a_missing_file_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv(vgg.ENV_VARIABLE, str(tmp_path / "nowhere.pth"))
    assert not vgg.pretrained_weights_available()
    assert "MISSING" in vgg.describe_weights_location()
    with pytest.raises(VGGWeightsNotFoundError, match="nowhere.pth"):
        VGGFeatures(("relu1_1",), weights=VGG19_Weights.IMAGENET1K_V1)
    with pytest.raises(VGGWeightsNotFoundError, match="weights=None"):
        VGGFeatures(("relu1_1",), weights=tmp_path / "also-missing.pth")


def test_notebooks_are_told_when_the_environment_variable_names_a_missing_file(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(vgg.ENV_VARIABLE, str(tmp_path / "nowhere.pth"))
    assert vgg.course_weights() is None
    printed = capsys.readouterr().out
    assert "RANDOM" in printed and "MISSING" in printed and "nowhere.pth" in printed


def test_a_state_dict_of_another_architecture_is_refused(tmp_path, vgg19_shapes):
    def write(state, name="bad.pth"):
        path = tmp_path / name
        torch.save(state, path)
        return path

    # vgg16: features.17 is a conv there, a ReLU in vgg19
    vgg16_like = {"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64),
                  "features.17.weight": torch.zeros(512, 256, 3, 3), "features.17.bias": torch.zeros(512)}
    with pytest.raises(ValueError, match="features.17.weight"):
        VGGFeatures(("relu1_1",), weights=write(vgg16_like))
    # vgg19_bn
    bn_like = dict(_random_state_dict(vgg19_shapes, up_to=0), **{"features.1.running_mean": torch.zeros(64)})
    with pytest.raises(ValueError, match="vgg19_bn"):
        VGGFeatures(("relu1_1",), weights=write(bn_like))
    # the right keys with the wrong shapes
    wrong_shape = {"features.0.weight": torch.zeros(32, 3, 3, 3), "features.0.bias": torch.zeros(32)}
    with pytest.raises(ValueError, match="wrong shapes"):
        VGGFeatures(("relu1_1",), weights=write(wrong_shape))
    # another network altogether
    with pytest.raises(ValueError, match="no 'features"):
        VGGFeatures(("relu1_1",), weights=write({"conv1.weight": torch.zeros(64, 3, 7, 7)}))
    # a truncated file asked for a deeper layer
    with pytest.raises(ValueError, match="features.5.weight"):
        VGGFeatures(("relu2_1",), weights=write(_random_state_dict(vgg19_shapes, up_to=3)))
    # not a state dict at all
    not_torch = tmp_path / "notes.pth"
    not_torch.write_text("hello")
    with pytest.raises(ValueError, match="state dict"):
        VGGFeatures(("relu1_1",), weights=not_torch)
    with pytest.raises(ValueError, match="state dict"):
        VGGFeatures(("relu1_1",), weights=write(nn.Conv2d(3, 64, 3), "module.pth"))
    with pytest.raises(TypeError):
        VGGFeatures(("relu1_1",), weights=3)


def test_features_follow_the_module_to_a_device_and_dtype(weights_file):
    model = VGGFeatures(("relu1_1",), weights=weights_file).double()
    maps = model(torch.rand(1, 3, 4, 4, dtype=torch.float64))
    assert maps["relu1_1"].dtype == torch.float64
