"""The losses of SRGAN (Ledig et al., CVPR 2017, sec. 2.2, eq. 2-6), lessons 02 and 04-06.

- eq. 4, :func:`mse_content_loss`: the pixel-wise MSE that SRResNet minimises;
- eq. 5, :class:`VGGContentLoss`: the squared distance of VGG19 feature maps phi_i,j;
- eq. 2, :func:`discriminator_loss`: what D minimises (minus the min-max value function);
- eq. 6, :func:`generator_adversarial_loss`: l_Gen = -log D(G(I_LR)), the non-saturating form;
- eq. 3, :class:`PerceptualLoss`: l_SR = l_X + 1e-3 * l_Gen, returned with its parts.

The discriminator returns logits z and D = sigmoid(z). The textbook forms log D and
log(1 - D) overflow to -inf once D rounds to 0 or 1 in floating point: log(1 - D) as soon as
sigmoid(z) rounds to 1 (z above about 17 in float32, 37 in float64), log D only far out, where
sigmoid(z) underflows to 0 (z below about -88 in float32); written on logits, log sigmoid(z) = -softplus(-z) and
log(1 - sigmoid(z)) = -softplus(z) are exact and finite for every z. That is what
``binary_cross_entropy_with_logits`` computes.

Sums over the N training images in the paper become means over the batch here, so a
loss does not grow with the batch size; the learning rate absorbs the constant.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from srgan_edu import paper
from srgan_edu.vgg import VGGFeatures, Weights


def mse_content_loss(sr_img: torch.Tensor, hr_img: torch.Tensor) -> torch.Tensor:
    """Pixel-wise MSE (eq. 4): the mean of (I_HR - G(I_LR))^2 over pixels and channels.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Args:
        sr_img: the generator's output, (B, 3, H, W) in [-1, 1].
        hr_img: the target, same shape and range.

    Returns:
        A scalar tensor.
    """
    if sr_img.shape != hr_img.shape:
        raise ValueError(f"sr_img {tuple(sr_img.shape)} and hr_img {tuple(hr_img.shape)} must have the same shape")
    return F.mse_loss(sr_img, hr_img)


class VGGContentLoss(nn.Module):
    """The VGG content loss l_VGG/i,j (eq. 5): MSE between VGG19 feature maps phi_i,j.

    Lesson 04 (``notebooks/04_vgg_content_loss.ipynb``).

    loss = mean over (channels, y, x) of (rescale * phi(hr_img) - rescale * phi(sr_img))^2.

    The paper divides the sum by W_i,j * H_i,j only; taking the mean over the channels too (as
    most ports do) divides by a constant, 512 at phi_5,4 and 128 at phi_2,2. Beside the fixed
    1e-3 adversarial weight of eq. 3 that is not harmless: relative to eq. 5 as printed, the
    adversarial term becomes 512x (phi_5,4) or 128x (phi_2,2) stronger. The paper
    rescales the features by 1/12.75 "to obtain VGG losses of a scale that is comparable
    to the MSE loss" (rescale=1 switches that off). The target's features are computed
    without gradient; the generator's with, so the loss trains the generator.

    Args:
        layer: which phi_i,j: ``"relu5_4"`` (phi_5,4, SRGAN) or ``"relu2_2"`` (phi_2,2,
            the low-level variant), or any name of :data:`srgan_edu.vgg.LAYER_INDICES`.
        weights: as for :class:`srgan_edu.vgg.VGGFeatures` (pretrained, a path, or None for random).
        rescale: the factor the features are multiplied by (1/12.75 in the paper).
        input_range: ``"signed"`` ([-1, 1], SRGAN's generator output and targets) or ``"unit"``.

    Shape:
        sr_img, hr_img (B, 3, H, W) in the chosen range -> a scalar tensor.
    """

    def __init__(self, layer: str = "relu5_4", *, weights: Weights, rescale: float = paper.VGG_RESCALE,
                 input_range: str = "signed") -> None:
        super().__init__()
        self.layer = layer
        self.rescale = float(rescale)
        self.vgg = VGGFeatures((layer,), weights=weights, input_range=input_range)

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}, rescale={self.rescale:.6g}"

    def forward(self, sr_img: torch.Tensor, hr_img: torch.Tensor) -> torch.Tensor:
        if sr_img.shape != hr_img.shape:
            raise ValueError(f"sr_img {tuple(sr_img.shape)} and hr_img {tuple(hr_img.shape)} must have the same shape")
        sr_features = self.vgg(sr_img)[self.layer] * self.rescale
        with torch.no_grad():
            hr_features = self.vgg(hr_img)[self.layer] * self.rescale
        return F.mse_loss(sr_features, hr_features)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """What D minimises (eq. 2): -log D(I_HR) - log(1 - D(G(I_LR))), averaged over each batch.

    Lesson 05 (``notebooks/05_discriminator.ipynb``).

    D maximises E[log D(I_HR)] + E[log(1 - D(G(I_LR)))]; this is minus that, computed on
    logits as two binary cross-entropies (real labelled 1, fake labelled 0). It is 2 log 2
    (about 1.386) when D cannot tell (every logit 0) and goes to 0 as D wins.
    Detach the generator output before computing ``fake_logits`` for D's step.

    Args:
        real_logits: D's logits on HR images, (B,).
        fake_logits: D's logits on generator outputs, (B',).

    Returns:
        A scalar tensor, >= 0.
    """
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real_term + fake_term


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss l_Gen (eq. 6): -log D(G(I_LR)), averaged over the batch.

    Lesson 05 (``notebooks/05_discriminator.ipynb``).

    The non-saturating form (Goodfellow et al., 2014): minimising log(1 - D(G(z))) gives
    almost no gradient when D confidently rejects the fakes, exactly when G needs to learn;
    -log D(G(z)) gives a strong one there. On logits: softplus(-z).

    Args:
        fake_logits: D's logits on generator outputs, (B,), computed *with* gradient to G.

    Returns:
        A scalar tensor, >= 0.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class PerceptualLossParts(NamedTuple):
    """The perceptual loss and its parts, for the optimiser (total) and for logging (all three)."""

    total: torch.Tensor  # content + adversarial_weight * adversarial, what the generator minimises
    content: torch.Tensor  # l_X: MSE (eq. 4) or VGG (eq. 5)
    adversarial: torch.Tensor  # l_Gen (eq. 6), before weighting


class PerceptualLoss(nn.Module):
    """The perceptual loss of eq. 3: l_SR = l_X + adversarial_weight * l_Gen.

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

    Args:
        content: the content loss l_X, called as ``content(sr_img, hr_img)``:
            a :class:`VGGContentLoss` (SRGAN) or :func:`mse_content_loss` (SRGAN-MSE).
        adversarial_weight: the weight of l_Gen (1e-3 in the paper).

    Shape:
        sr_img, hr_img (B, 3, H, W) in [-1, 1]; fake_logits (B,) = D(sr_img) with gradient
        -> :class:`PerceptualLossParts` of scalar tensors.
    """

    def __init__(self, content: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | nn.Module,
                 adversarial_weight: float = paper.ADVERSARIAL_WEIGHT) -> None:
        super().__init__()
        if adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {adversarial_weight}")
        self.content = content  # an nn.Module is registered, so .to(device) moves a VGG along
        self.adversarial_weight = float(adversarial_weight)

    def extra_repr(self) -> str:
        return f"adversarial_weight={self.adversarial_weight:g}"

    def forward(self, sr_img: torch.Tensor, hr_img: torch.Tensor, fake_logits: torch.Tensor) -> PerceptualLossParts:
        content = self.content(sr_img, hr_img)
        adversarial = generator_adversarial_loss(fake_logits)
        total = content + self.adversarial_weight * adversarial
        return PerceptualLossParts(total=total, content=content, adversarial=adversarial)
