"""The discriminator (sec. 2.1, fig. 4): the paper's layers, shapes, logits, the input-size error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from srgan_edu.discriminator import Discriminator
from srgan_edu.srresnet import count_parameters


def test_the_paper_architecture():
    model = Discriminator()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert all(c.kernel_size == (3, 3) for c in convs)
    # BN on all but the first conv; LeakyReLU(0.2) after every conv; no max pooling
    layers = list(model.features)
    after_conv = [layers[layers.index(c) + 1] for c in convs]
    assert isinstance(after_conv[0], nn.LeakyReLU)
    assert all(isinstance(m, nn.BatchNorm2d) for m in after_conv[1:])
    leaky = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 9 and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, (nn.MaxPool2d, nn.Sigmoid)) for m in model.modules())
    dense = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [(d.in_features, d.out_features) for d in dense] == [(512 * 6 * 6, 1024), (1024, 1)]
    assert model.feature_shape == (512, 6, 6)


def test_parameter_count():
    convs = sum(i * o * 9 + o for i, o in [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256),
                                          (256, 512), (512, 512)])
    batch_norm = 2 * (64 + 128 + 128 + 256 + 256 + 512 + 512)
    dense = 512 * 6 * 6 * 1024 + 1024 + 1024 + 1
    assert count_parameters(Discriminator()) == convs + batch_norm + dense == 23_565_505


@pytest.mark.parametrize("in_size,side", [(16, 1), (24, 2), (40, 3), (33, 3)])
def test_any_crop_size_it_was_built_for(in_size, side):
    model = Discriminator(in_size=in_size, num_features=4)
    assert model.feature_shape == (32, side, side)
    logits = model(torch.rand(3, 3, in_size, in_size) * 2 - 1)
    assert logits.shape == (3,)
    assert logits.dtype == torch.float32


def test_returns_logits_not_probabilities():
    model = Discriminator(in_size=16, num_features=4).eval()
    with torch.no_grad():
        model.classifier[-1].bias.fill_(50.0)
        logits = model(torch.zeros(2, 3, 16, 16))
    assert (logits > 1).all()  # a sigmoid output could never exceed 1


def test_wrong_input_size_gets_a_clear_error():
    model = Discriminator(in_size=24, num_features=4)
    with pytest.raises(ValueError, match=r"built for 24x24.*32x32.*Discriminator\(in_size=32\)"):
        model(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="crop them square"):
        model(torch.rand(1, 3, 24, 32))
    with pytest.raises(ValueError, match="batch"):
        model(torch.rand(3, 24, 24))
    with pytest.raises(ValueError, match=r"\(B, 3, 24, 24\)"):
        model(torch.rand(1, 1, 24, 24))


def test_a_gradient_reaches_every_parameter_and_the_input():
    model = Discriminator(in_size=16, num_features=4)
    img = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_()
    model(img).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert img.grad.abs().sum() > 0


def test_config_rebuilds_it():
    model = Discriminator(in_size=40, num_features=4)
    assert model.config == {"in_size": 40, "in_channels": 3, "num_features": 4}
    Discriminator(**model.config).load_state_dict(model.state_dict())
