"""Measuring the trade-off of lesson 07: fidelity against perceived quality (sec. 3).

What the widgets of :mod:`srgan_edu.widgets` and the figures of :mod:`srgan_edu.viz`
show, computed here without any widget (no ipywidgets import), so that a figure, a test or
a script can use it:

- :class:`QualityPoint` and :func:`measure_quality`: one output measured two ways, PSNR and
  SSIM (the paper's protocol) and a perceptual score (:class:`PerceptualScore`:
  :func:`vgg_perceptual_score`, eq. 5's distance, or :func:`high_frequency_score`, which
  needs no download); :func:`mos_points` for a PSNR-against-MOS plot;
- :func:`model_name`: the paper's names (table 1: SRResNet-MSE, SRGAN-VGG54, ...) and
  :class:`TradeoffModel`, one trained generator with its content loss and adversarial weight;
- network interpolation (Wang et al., ESRGAN, 2018): :func:`interpolate_state_dicts`,
  :func:`interpolate_generators`.

Images are (3, H, W) float tensors in [0, 1]; generators map an LR image in [0, 1] to an
SR image in [-1, 1] (:func:`srgan_edu.evaluation.super_resolve` does the conversion).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from srgan_edu import evaluation, images, losses, metrics, mos, paper
from srgan_edu.paper import model_name, weight_label  # noqa: F401  (re-exported: lesson 07 names its models with them)

# The content losses of the paper's table 1, as the widgets' buttons name them.
CONTENT_LOSSES = {name: f"VGG {paper.LAYER_SYMBOLS[layer]}" if layer else "MSE" for name, layer in paper.CONTENT_LOSSES.items()}
PAPER_ADVERSARIAL_WEIGHT = paper.ADVERSARIAL_WEIGHT


# --- network interpolation -----------------------------------------------------------------


def interpolate_state_dicts(
    state_a: Mapping[str, torch.Tensor], state_b: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """(1 - alpha) * state_a + alpha * state_b, tensor by tensor.

    Network interpolation (Wang et al., ESRGAN, 2018) blends two networks of the same
    architecture, here the SRResNet (PSNR-oriented) and the SRGAN fine-tuned from it, so
    that one number, alpha, moves the output between smooth and detailed. It works because
    SRGAN starts from SRResNet's weights and stays close to them. Floating-point tensors
    (weights, biases, PReLU slopes, batch-norm running statistics) are blended; integer
    tensors (batch norm's ``num_batches_tracked``) are taken from the nearer end.

    Args:
        state_a: the state dict at alpha = 0 (e.g. SRResNet).
        state_b: the state dict at alpha = 1 (e.g. SRGAN), same keys and shapes.
        alpha: in [0, 1].

    Returns:
        A new state dict (on ``state_a``'s devices and dtypes); alpha = 0 gives ``state_a``
        and alpha = 1 gives ``state_b`` exactly.

    Raises:
        ValueError: alpha outside [0, 1], or the two state dicts differ in keys or shapes.
    """
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    missing, extra = set(state_a) - set(state_b), set(state_b) - set(state_a)
    if missing or extra:
        raise ValueError(
            "the two networks differ: keys only in the first "
            f"{sorted(missing)[:5]}, only in the second {sorted(extra)[:5]}. Interpolation needs two "
            "generators of the same architecture (same num_blocks, num_features, upsampler)."
        )
    blended = {}
    for key, a in state_a.items():
        b = state_b[key]
        if a.shape != b.shape:
            raise ValueError(f"{key}: shape {tuple(a.shape)} in the first network, {tuple(b.shape)} in the second")
        b = b.to(device=a.device, dtype=a.dtype)
        if alpha == 0.0:
            blended[key] = a.detach().clone()
        elif alpha == 1.0:
            blended[key] = b.detach().clone()
        elif a.is_floating_point():
            blended[key] = torch.lerp(a.detach(), b.detach(), alpha)  # a + alpha * (b - a)
        else:
            blended[key] = (a if alpha < 0.5 else b).detach().clone()
    return blended


def interpolate_generators(generator_a: nn.Module, generator_b: nn.Module, alpha: float) -> nn.Module:
    """A new generator whose weights are (1 - alpha) * generator_a + alpha * generator_b.

    Args:
        generator_a: the network at alpha = 0 (e.g. the SRResNet).
        generator_b: the network at alpha = 1 (e.g. the SRGAN generator); same class and
            architecture.
        alpha: in [0, 1].

    Returns:
        A copy of ``generator_a`` with the blended weights, in eval mode (batch norm uses
        its running statistics). Neither input is changed.
    """
    if type(generator_a) is not type(generator_b):
        raise ValueError(
            f"cannot interpolate a {type(generator_a).__name__} with a {type(generator_b).__name__}"
        )
    blended = copy.deepcopy(generator_a)
    blended.load_state_dict(interpolate_state_dicts(generator_a.state_dict(), generator_b.state_dict(), alpha))
    return blended.eval()


# --- measuring a picture -------------------------------------------------------------------


@dataclass(frozen=True)
class QualityPoint:
    """One output measured two ways: fidelity (PSNR, SSIM) and a perceptual score."""

    name: str  # shown beside the point
    psnr: float  # dB, Y channel, border shaved
    ssim: float  # Y channel, border shaved
    perceptual: float  # the perceptual score (see PerceptualScore.label)
    content_loss: str | None = None  # "mse", "vgg22" or "vgg54" when known (sets the colour)
    adversarial_weight: float | None = None  # when known (sets the marker)
    alpha: float | None = None  # position on an interpolation path


@dataclass(frozen=True)
class PerceptualScore:
    """A number meant to follow perceived quality, and what a learner should know about it."""

    label: str  # the axis label, e.g. "VGG19 phi_5,4 distance"
    explanation: str  # which score, why it was chosen, and how far to trust it
    lower_is_better: bool  # True for distances
    meaningful: bool  # False when computed with random weights
    measure: Callable[[torch.Tensor, torch.Tensor], float]  # (sr_img, hr_img), (3, H, W) in [0, 1]

    def __call__(self, sr_img: torch.Tensor, hr_img: torch.Tensor) -> float:
        return float(self.measure(sr_img, hr_img))


def vgg_perceptual_score(weights, *, layer: str = "relu5_4") -> PerceptualScore:
    """The VGG19 feature distance of eq. 5 (the SRGAN content loss) as a perceptual score.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Why this score: it needs no human and no extra download beyond the VGG19 weights the
    course already uses, and it compares edges and textures rather than pixels, so it
    follows perceived quality better than PSNR. Its limits: SRGAN was trained to lower this
    very distance, so it flatters SRGAN; LPIPS (Zhang et al., 2018) calibrates such
    distances against human judgements but needs weights the course does not ship; human
    ratings (the class's MOS, :mod:`srgan_edu.mos`) remain the judge.

    Args:
        weights: the VGG19 weights, as ``srgan_edu.vgg.course_weights()`` returns them
            (None: random features; the score then says it is not meaningful).
        layer: the VGG19 layer, ``"relu5_4"`` (phi_5,4) or ``"relu2_2"`` (phi_2,2).
    """
    distance = losses.VGGContentLoss(layer, weights=weights).eval()
    name = paper.LAYER_SYMBOLS.get(layer, layer)

    def measure(sr_img: torch.Tensor, hr_img: torch.Tensor) -> float:
        param = next(distance.parameters(), None)
        device = param.device if param is not None else sr_img.device
        with torch.no_grad():  # (3, H, W) [0, 1] -> (1, 3, H, W) [-1, 1], the range of eq. 5's inputs
            value = distance(images.to_signed(sr_img.to(device)[None]), images.to_signed(hr_img.to(device)[None]))
        return float(value)

    if weights is None:
        explanation = (
            f"Perceptual score: the VGG19 {name} feature distance (eq. 5). The pretrained VGG19 weights are "
            "not on this machine, so it is computed with RANDOM features: the numbers show the code "
            "working, not perceived quality. Download the weights (lesson 00) or trust your eyes and the MOS."
        )
        label = f"VGG19 {name} distance (random weights!)"
    else:
        explanation = (
            f"Perceptual score: the VGG19 {name} feature distance (eq. 5), the content loss of SRGAN. It "
            "compares edges and textures instead of pixels and so follows perceived quality better than "
            "PSNR; but SRGAN was trained to lower it, so it flatters SRGAN, and LPIPS (not shipped here) "
            "or the class's MOS are fairer judges."
        )
        label = f"VGG19 {name} distance"
    return PerceptualScore(label, explanation, True, weights is not None, measure)


def high_frequency_score() -> PerceptualScore:
    """The high-frequency energy ratio to HR as the plots' y axis: needs no download.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    ``metrics.high_frequency_energy(sr_img) / metrics.high_frequency_energy(hr_img)``: how
    much of the photograph's fine detail (the Y spectrum above 1/8 cycle per pixel, the
    band an LR image cannot carry at scale 4) the output has. 1 is as much as the
    photograph; bicubic and MSE-trained networks sit near 0; above 1 is more than it has
    (noise, over-sharpening). It measures the amount of detail, not whether it is the right
    detail (PSNR says that) nor whether it looks natural (people say that).
    """
    def measure(sr_img: torch.Tensor, hr_img: torch.Tensor) -> float:
        reference = metrics.high_frequency_energy(hr_img.detach().cpu())
        return metrics.high_frequency_energy(sr_img.detach().cpu()) / reference if reference > 0 else math.nan

    explanation = (
        "Perceptual score: the high-frequency energy ratio to HR, the share of the Y spectrum above 1/8 cycle per "
        "pixel (what a x4 LR image cannot carry) relative to the photograph's. 1 = as much fine detail as the "
        "photograph, near 0 = blur. It needs no download, but it counts detail rather than judging it: invented "
        "texture counts as much as the true one, and noise counts too. People (the MOS) are the judge."
    )
    return PerceptualScore("high-frequency energy / HR's (1 = HR's)", explanation, False, True,
                           measure)


def measure_quality(
    sr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    name: str,
    scale: int = 4,
    perceptual: PerceptualScore,
    content_loss: str | None = None,
    adversarial_weight: float | None = None,
    alpha: float | None = None,
) -> QualityPoint:
    """PSNR, SSIM (paper protocol: Y channel, ``scale`` pixels shaved) and the perceptual score.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Args:
        sr_img: (3, H, W) in [0, 1].
        hr_img: (3, H, W) in [0, 1], the same size.
        name: the point's name.
        scale: the upscaling factor (sets the shaved border).
        perceptual: the perceptual score to compute.
        content_loss, adversarial_weight, alpha: stored on the point.
    """
    return QualityPoint(
        name=name,
        psnr=float(metrics.psnr(sr_img, hr_img, scale=scale)),
        ssim=float(metrics.ssim(sr_img, hr_img, scale=scale)),
        perceptual=perceptual(sr_img, hr_img),
        content_loss=content_loss,
        adversarial_weight=adversarial_weight,
        alpha=alpha,
    )


def mos_points(scores: Mapping[str, mos.MethodScore], psnr_by_method: Mapping[str, float]) -> list[QualityPoint]:
    """Points for a PSNR-against-MOS plot: each rated method with its PSNR (HR has none).

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Args:
        scores: method -> MOS (``mos.mos_by_method``).
        psnr_by_method: method -> PSNR in dB on the rated images.
    """
    return [
        QualityPoint(name=m, psnr=float(psnr_by_method[m]), ssim=math.nan, perceptual=s.mean)
        for m, s in scores.items()
        if m in psnr_by_method
    ]


def super_resolve_on_cpu(generator: nn.Module, lr_img: torch.Tensor) -> torch.Tensor:
    """(3, h, w) in [0, 1] on the generator's device -> (3, s*h, s*w) in [0, 1] on the CPU.

    Back on the CPU, where the HR references, the pictures and the plots are: a GPU output
    compared with a CPU reference would fail.
    """
    return evaluation.super_resolve(generator, lr_img).cpu()


@dataclass(frozen=True)
class TradeoffModel:
    """A generator trained with one content loss and one adversarial weight.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).
    """

    content_loss: str  # "mse", "vgg22" or "vgg54"
    adversarial_weight: float  # 0 for SRResNet-style training, 1e-3 in the paper
    generator: nn.Module  # LR (B, 3, h, w) in [0, 1] -> SR (B, 3, 4h, 4w) in [-1, 1]

    @property
    def name(self) -> str:
        """The paper's name, e.g. SRGAN-VGG54."""
        return model_name(self.content_loss, self.adversarial_weight)
