"""The losses (eq. 2-6) against hand-computed values, their textbook forms, and the gradients they send."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from srgan_edu.discriminator import Discriminator
from srgan_edu.losses import (
    PerceptualLoss,
    PerceptualLossParts,
    VGGContentLoss,
    discriminator_loss,
    generator_adversarial_loss,
    mse_content_loss,
)
from srgan_edu.srresnet import SRResNet


@pytest.fixture()
def conv1_1_weights(tmp_path):
    """A vgg19 state dict with only conv1_1: output channel k = 2 * (normalised red) + k, by hand."""
    weight = torch.zeros(64, 3, 3, 3)
    weight[:, 0, 1, 1] = 2.0  # the centre tap of the red channel
    bias = torch.arange(64, dtype=torch.float32)
    path = tmp_path / "conv1_1.pth"
    torch.save({"features.0.weight": weight, "features.0.bias": bias}, path)
    return path


def test_mse_content_loss_by_hand():
    sr_img = torch.tensor([[[[0.0, 0.5], [1.0, -1.0]]]])
    hr_img = torch.tensor([[[[1.0, 0.5], [0.0, -1.0]]]])
    assert mse_content_loss(sr_img, hr_img).item() == pytest.approx((1 + 0 + 1 + 0) / 4)
    with pytest.raises(ValueError, match="same shape"):
        mse_content_loss(sr_img, hr_img[..., :1])


@pytest.mark.parametrize("rescale", [1.0, 1 / 12.75])
def test_vgg_content_loss_by_hand(conv1_1_weights, rescale):
    loss = VGGContentLoss("conv1_1", weights=conv1_1_weights, rescale=rescale, input_range="unit")
    # 1x1 images: only the centre tap sees a pixel; feature k = 2 * (red - 0.485) / 0.229 + k
    sr_img = torch.tensor([0.2, 0.7, 0.1]).view(1, 3, 1, 1)
    hr_img = torch.tensor([0.6, 0.0, 0.9]).view(1, 3, 1, 1)
    difference = 2 * (0.2 - 0.6) / 0.229  # the same in every one of the 64 maps; the bias cancels
    expected = (rescale * difference) ** 2
    assert loss(sr_img, hr_img).item() == pytest.approx(expected, rel=1e-5)
    assert loss(hr_img, hr_img).item() == 0.0


def test_vgg_content_loss_paper_rescaling_divides_by_12_75_squared():
    sr_img, hr_img = torch.rand(2, 1, 3, 8, 8) * 2 - 1
    torch.manual_seed(3)
    plain = VGGContentLoss("relu2_1", weights=None, rescale=1.0)
    torch.manual_seed(3)
    paper = VGGContentLoss("relu2_1", weights=None)
    assert paper.rescale == pytest.approx(1 / 12.75)
    assert paper(sr_img, hr_img).item() == pytest.approx(plain(sr_img, hr_img).item() / 12.75**2, rel=1e-5)


def _textbook_discriminator_loss(real_logits, fake_logits):
    return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())


def _textbook_generator_loss(fake_logits):
    return -torch.log(torch.sigmoid(fake_logits)).mean()


def test_adversarial_losses_by_hand():
    zero = torch.zeros(4)
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))  # D cannot tell
    assert generator_adversarial_loss(zero).item() == pytest.approx(math.log(2))
    real, fake = torch.tensor([math.log(3.0)]), torch.tensor([-math.log(3.0)])  # D = 3/4 and 1/4
    assert discriminator_loss(real, fake).item() == pytest.approx(-2 * math.log(0.75))
    assert generator_adversarial_loss(fake).item() == pytest.approx(-math.log(0.25))


def test_adversarial_losses_equal_their_textbook_forms_where_those_are_finite():
    generator = torch.Generator().manual_seed(0)
    real_logits = torch.randn(64, generator=generator, dtype=torch.float64) * 4
    fake_logits = torch.randn(48, generator=generator, dtype=torch.float64) * 4
    assert torch.allclose(discriminator_loss(real_logits, fake_logits),
                          _textbook_discriminator_loss(real_logits, fake_logits))
    assert torch.allclose(generator_adversarial_loss(fake_logits), _textbook_generator_loss(fake_logits))


def test_adversarial_losses_stay_finite_where_the_textbook_forms_overflow():
    confident = torch.tensor([200.0])  # float32: sigmoid rounds to exactly 1
    assert torch.isinf(_textbook_discriminator_loss(-confident, confident))
    assert discriminator_loss(-confident, confident).item() == pytest.approx(400.0)
    assert torch.isinf(_textbook_generator_loss(-confident))
    assert generator_adversarial_loss(-confident).item() == pytest.approx(200.0)
    logits = (-confident).clone().requires_grad_()
    generator_adversarial_loss(logits).backward()
    assert torch.isfinite(logits.grad).all()


def test_the_generator_loss_is_non_saturating():
    """When D rejects the fakes (logit -10), -log D(G) still pushes; log(1 - D(G)) barely would."""
    logits = torch.tensor([-10.0], requires_grad=True)
    generator_adversarial_loss(logits).backward()
    assert logits.grad.item() == pytest.approx(-1.0, abs=1e-4)
    saturating = torch.tensor([-10.0], requires_grad=True)
    torch.log(1 - torch.sigmoid(saturating)).backward()
    assert abs(saturating.grad.item()) < 1e-4


def _tiny_gan():
    generator = SRResNet(scale=2, num_features=8, num_blocks=1)
    discriminator = Discriminator(in_size=16, num_features=4)
    lr_img = torch.rand(2, 3, 8, 8)
    hr_img = torch.rand(2, 3, 16, 16) * 2 - 1
    return generator, discriminator, lr_img, hr_img


def _generator_gradient(generator: nn.Module) -> float:
    return sum(p.grad.abs().sum().item() for p in generator.parameters() if p.grad is not None)


@pytest.mark.parametrize("content", ["mse", "vgg"])
def test_each_part_of_the_perceptual_loss_trains_the_generator(content):
    """Both parts must reach G: a content loss rebuilt as torch.Tensor([loss.item()]) would not."""
    generator, discriminator, lr_img, hr_img = _tiny_gan()
    content_loss = mse_content_loss if content == "mse" else VGGContentLoss("relu2_2", weights=None)
    perceptual = PerceptualLoss(content_loss, adversarial_weight=1e-3)
    for part in ("content", "adversarial", "total"):
        generator.zero_grad()
        sr_img = generator(lr_img)
        parts = perceptual(sr_img, hr_img, discriminator(sr_img))
        assert isinstance(parts, PerceptualLossParts)
        getattr(parts, part).backward()
        assert _generator_gradient(generator) > 0, f"the {part} loss sends no gradient to the generator"
        assert getattr(parts, part).requires_grad


@pytest.mark.parametrize("content", ["mse", "vgg"])
def test_the_total_sends_the_sum_of_both_parts_gradients(content):
    # The parts on their own may each reach G while the total silently drops one of them (a
    # `content.detach()` in the sum); the gradient of the total must be the weighted sum.
    generator, discriminator, lr_img, hr_img = _tiny_gan()
    content_loss = mse_content_loss if content == "mse" else VGGContentLoss("relu2_2", weights=None)
    perceptual = PerceptualLoss(content_loss, adversarial_weight=0.25)  # large, so both parts count

    def gradients(pick):
        generator.zero_grad()
        sr_img = generator(lr_img)
        pick(perceptual(sr_img, hr_img, discriminator(sr_img))).backward()
        return torch.cat([p.grad.flatten() for p in generator.parameters()])

    total = gradients(lambda parts: parts.total)
    content_part = gradients(lambda parts: parts.content)
    adversarial_part = gradients(lambda parts: parts.adversarial)
    # (up to rounding: the biases of convolutions followed by BN have gradients of about 1e-6)
    torch.testing.assert_close(total, content_part + 0.25 * adversarial_part, atol=1e-5, rtol=1e-3)
    assert not torch.allclose(total, 0.25 * adversarial_part, atol=1e-5, rtol=1e-3)  # content counts


def test_perceptual_loss_adds_its_parts_with_the_paper_weight():
    generator, discriminator, lr_img, hr_img = _tiny_gan()
    sr_img = generator(lr_img)
    fake_logits = discriminator(sr_img)
    parts = PerceptualLoss(mse_content_loss)(sr_img, hr_img, fake_logits)
    assert parts.content.item() == pytest.approx(mse_content_loss(sr_img, hr_img).item())
    assert parts.adversarial.item() == pytest.approx(generator_adversarial_loss(fake_logits).item())
    assert parts.total.item() == pytest.approx(parts.content.item() + 1e-3 * parts.adversarial.item())
    with pytest.raises(ValueError):
        PerceptualLoss(mse_content_loss, adversarial_weight=-1)


def test_a_generator_step_leaves_vgg_untouched():
    generator, discriminator, lr_img, hr_img = _tiny_gan()
    perceptual = PerceptualLoss(VGGContentLoss("relu2_2", weights=None))
    vgg_before = {k: v.clone() for k, v in perceptual.state_dict().items()}
    generator_before = [p.detach().clone() for p in generator.parameters()]
    # even an optimiser handed every parameter in sight must not move VGG
    optimizer = torch.optim.Adam(list(generator.parameters()) + list(perceptual.parameters()), lr=1e-2)
    perceptual.train()
    sr_img = generator(lr_img)
    perceptual(sr_img, hr_img, discriminator(sr_img)).total.backward()
    optimizer.step()
    assert all(p.grad is None for p in perceptual.parameters())
    assert all(torch.equal(vgg_before[k], v) for k, v in perceptual.state_dict().items())
    assert not perceptual.content.vgg.training
    assert any(not torch.equal(a, b) for a, b in zip(generator_before, generator.parameters()))


def test_discriminator_loss_trains_only_the_discriminator_when_fakes_are_detached():
    generator, discriminator, lr_img, hr_img = _tiny_gan()
    sr_img = generator(lr_img)
    loss = discriminator_loss(discriminator(hr_img), discriminator(sr_img.detach()))
    loss.backward()
    assert _generator_gradient(generator) == 0
    assert all(p.grad is not None for p in discriminator.parameters())
