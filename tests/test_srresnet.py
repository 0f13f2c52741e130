"""SRResNet (sec. 2.1): shapes, the paper's parameter count, gradients, ICNR, the receptive field."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from srgan_edu.srresnet import (
    ResidualBlock,
    SRResNet,
    TransposedConvUpsample,
    UpsampleBlock,
    count_parameters,
    icnr_,
    receptive_field,
)


def _conv(in_channels: int, out_channels: int, kernel: int) -> int:
    return in_channels * out_channels * kernel * kernel + out_channels


def _expected_parameters(num_features: int, num_blocks: int, scale: int) -> int:
    """fig. 4 counted layer by layer (channel-wise PReLU, BN weight + bias)."""
    f = num_features
    head = _conv(3, f, 9) + f
    block = 2 * _conv(f, f, 3) + 2 * 2 * f + f
    body_end = _conv(f, f, 3) + 2 * f
    upsample = (_conv(f, 4 * f, 3) + f) * {2: 1, 4: 2, 8: 3}[scale]
    tail = _conv(f, 3, 9)
    return head + num_blocks * block + body_end + upsample + tail


def test_paper_generator_has_about_1_55_million_parameters():
    model = SRResNet()
    assert count_parameters(model) == _expected_parameters(64, 16, 4) == 1_550_659
    assert count_parameters(model, trainable_only=True) == 1_550_659
    # the paper's structure: 16 residual blocks, two x2 sub-pixel blocks, 9x9 convs at both ends
    assert len(model.body) == 16 and all(isinstance(b, ResidualBlock) for b in model.body)
    assert len(model.upsample) == 2 and all(isinstance(b, UpsampleBlock) for b in model.upsample)
    assert model.head[0].kernel_size == (9, 9) and model.tail.kernel_size == (9, 9)
    assert model.upsample[0].conv.out_channels == 256


@pytest.mark.parametrize("num_features,num_blocks,scale", [(8, 1, 2), (8, 2, 4), (16, 3, 8), (32, 4, 4)])
def test_parameter_count_follows_the_architecture(num_features, num_blocks, scale):
    model = SRResNet(scale=scale, num_features=num_features, num_blocks=num_blocks)
    assert count_parameters(model) == _expected_parameters(num_features, num_blocks, scale)


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("size", [(5, 7), (6, 6), (1, 3)])
@pytest.mark.parametrize("upsampler", ["pixel_shuffle", "transposed"])
def test_output_shape_for_every_scale_and_odd_sizes(scale, size, upsampler):
    model = SRResNet(scale=scale, num_features=8, num_blocks=1, upsampler=upsampler).eval()
    lr_img = torch.rand(2, 3, *size)
    with torch.no_grad():
        sr_img = model(lr_img)
    assert sr_img.shape == (2, 3, scale * size[0], scale * size[1])
    assert sr_img.dtype == lr_img.dtype


@pytest.mark.parametrize("block", [UpsampleBlock(8, 2), UpsampleBlock(8, 3, icnr=True), TransposedConvUpsample(8, 2)])
def test_upsampling_blocks_multiply_height_and_width(block):
    features = torch.rand(1, 8, 5, 3)
    factor = 3 if isinstance(block, UpsampleBlock) and block.shuffle.upscale_factor == 3 else 2
    assert block(features).shape == (1, 8, 5 * factor, 3 * factor)


def test_residual_block_is_identity_plus_a_correction():
    block = ResidualBlock(8).eval()
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
    features = torch.randn(2, 8, 6, 6)
    assert torch.allclose(block(features), features)


def _paper_forward(net: SRResNet, lr_img: torch.Tensor) -> torch.Tensor:
    """Figure 4 of the paper, written out layer by layer with the network's own weights (eval mode)."""
    F = torch.nn.functional

    def conv(layer, x):
        return F.conv2d(x, layer.weight, layer.bias, padding=layer.padding)

    def bn(layer, x):
        return F.batch_norm(x, layer.running_mean, layer.running_var, layer.weight, layer.bias, False, 0.0, layer.eps)

    head = F.prelu(conv(net.head[0], lr_img), net.head[1].weight)  # k9n64s1, PReLU
    x = head
    for block in net.body:  # k3n64s1, BN, PReLU, k3n64s1, BN, elementwise sum
        residual = F.prelu(bn(block.bn1, conv(block.conv1, x)), block.prelu.weight)
        x = x + bn(block.bn2, conv(block.conv2, residual))
    x = bn(net.body_end[1], conv(net.body_end[0], x)) + head  # k3n64s1, BN, sum with the head's output
    for up in net.upsample:  # k3n256s1, PixelShuffle x2, PReLU
        x = F.prelu(F.pixel_shuffle(conv(up.conv, x), 2), up.prelu.weight)
    return conv(net.tail, x)  # k9n3s1


def test_forward_is_the_papers_figure_4_layer_by_layer():
    # Shapes and parameter counts do not change when the global skip is dropped, the PReLU
    # moves after the second BN, or BN comes before a convolution; this comparison does.
    torch.manual_seed(0)
    net = SRResNet(scale=4, num_features=8, num_blocks=2).eval()
    with torch.no_grad():
        for module in net.modules():  # make every BN and PReLU do something visible
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
            elif isinstance(module, torch.nn.PReLU):
                module.weight.uniform_(0.05, 0.5)
    lr_img = torch.rand(2, 3, 7, 9)
    with torch.no_grad():
        torch.testing.assert_close(net(lr_img), _paper_forward(net, lr_img))


def test_a_gradient_reaches_every_generator_parameter():
    model = SRResNet(scale=4, num_features=8, num_blocks=2)
    lr_img = torch.rand(2, 3, 6, 6)
    hr_img = torch.rand(2, 3, 24, 24) * 2 - 1
    loss = torch.nn.functional.mse_loss(model(lr_img), hr_img)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert param.grad.abs().sum() > 0, f"{name} got a zero gradient"


def test_output_is_linear_not_clamped():
    """The output is tanh-free: a large tail bias gives values beyond [-1, 1]."""
    model = SRResNet(scale=2, num_features=8, num_blocks=1).eval()
    with torch.no_grad():
        model.tail.bias.fill_(5.0)
        assert model(torch.rand(1, 3, 4, 4)).min() > 1.0


def test_config_rebuilds_the_same_architecture():
    model = SRResNet(scale=8, num_features=8, num_blocks=3, icnr=True)
    twin = SRResNet(**model.config)
    twin.load_state_dict(model.state_dict())
    assert model.config == {"scale": 8, "num_features": 8, "num_blocks": 3, "upsampler": "pixel_shuffle", "icnr": True}
    model.eval(), twin.eval()
    lr_img = torch.rand(1, 3, 3, 3)
    assert torch.equal(model(lr_img), twin(lr_img))


@pytest.mark.parametrize("kwargs", [{"scale": 3}, {"scale": 16}, {"upsampler": "bilinear"},
                                    {"upsampler": "transposed", "icnr": True}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        SRResNet(num_features=8, num_blocks=1, **kwargs)


def test_unbatched_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="batch"):
        SRResNet(num_features=8, num_blocks=1)(torch.rand(3, 4, 4))


@pytest.mark.parametrize("factor", [2, 3])
def test_icnr_makes_the_pixel_shuffle_of_a_constant_input_constant(factor):
    """ICNR: every factor x factor block of the shuffled output is flat, so no checkerboard."""
    num_features = 4
    conv = nn.Conv2d(num_features, num_features * factor**2, 3, padding=1, bias=False)
    shuffle = nn.PixelShuffle(factor)
    constant = torch.full((1, num_features, 8, 8), 0.7)

    icnr_(conv.weight, factor)
    with torch.no_grad():
        out = shuffle(conv(constant))  # (1, 4, 8 * factor, 8 * factor)
    interior = out[..., factor:-factor, factor:-factor]  # away from the zero padding
    assert torch.allclose(interior, interior[..., :1, :1].expand_as(interior), atol=1e-6)
    blocks = out.unfold(2, factor, factor).unfold(3, factor, factor)  # (1, C, 8, 8, factor, factor)
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks), atol=1e-6)  # borders too

    nn.init.kaiming_normal_(conv.weight)  # the default: a periodic pattern
    with torch.no_grad():
        out = shuffle(conv(constant))[..., factor:-factor, factor:-factor]
    assert (out - out[..., :1, :1]).abs().max() > 1e-2


def test_icnr_upsample_block_and_whole_network_start_without_checkerboard():
    block = UpsampleBlock(4, 2, icnr=True)
    with torch.no_grad():
        out = block(torch.full((1, 4, 6, 6), 0.3))
    blocks = out.unfold(2, 2, 2).unfold(3, 2, 2)
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks), atol=1e-6)

    for icnr, flat in [(True, True), (False, False)]:
        torch.manual_seed(1)
        model = SRResNet(scale=4, num_features=8, num_blocks=1, icnr=icnr).eval()
        with torch.no_grad():  # (1, 8, 8, 8) -> (1, 8, 32, 32); the zero padding reaches 6 pixels in
            features = model.upsample(torch.full((1, 8, 8, 8), 0.5))[..., 8:-8, 8:-8]
        spread = (features - features[..., :1, :1]).abs().max()
        assert (spread < 1e-5) == flat


def test_icnr_needs_a_divisible_channel_count():
    with pytest.raises(ValueError, match="factor"):
        icnr_(torch.empty(6, 2, 3, 3), 2)


@pytest.mark.parametrize("scale,expected", [(2, 81), (4, 80), (8, 80)])
def test_receptive_field_matches_the_arithmetic(scale, expected):
    model = SRResNet(scale=scale, num_features=8, num_blocks=16)
    assert receptive_field(model) == expected


def test_receptive_field_grows_by_four_lr_pixels_per_block():
    sizes = [receptive_field(SRResNet(scale=4, num_features=8, num_blocks=n)) for n in (0, 1, 2)]
    assert sizes == [16, 20, 24]
