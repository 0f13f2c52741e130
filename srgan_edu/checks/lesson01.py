"""Checks for exercises 01: the Gaussian kernel, blur then decimate (Ledig et al., sec. 2)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from srgan_edu.checks._common import (
    _as_tensor, _call, _close, _fail, _name, _passed, _seeded, _single_threaded, _which_mistake,
)
from srgan_edu import degradation

GAUSSIAN_KERNEL = "Exercise 1.1 (Gaussian kernel)"
BLUR_THEN_DECIMATE = "Exercise 1.2 (blur, then decimate)"


def _gaussian_variants(size: int, sigma: float) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    centred = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    squared = centred[:, None] ** 2 + centred[None, :] ** 2  # (size, size): x^2 + y^2

    def normalised(kernel: torch.Tensor) -> torch.Tensor:
        return kernel / kernel.sum()

    from_zero = torch.arange(size, dtype=torch.float64)
    return [
        ("the kernel does not sum to 1: divide it by its sum, so that blurring keeps the brightness of the "
         "image (a flat grey stays the same grey).", lambda: torch.exp(-squared / (2 * sigma**2))),
        ("you normalised with the continuous formula 1 / (2 pi sigma^2). The kernel is sampled and cut off at "
         "size x size, so its sum is not exactly 1: divide by the kernel's own sum instead.",
         lambda: torch.exp(-squared / (2 * sigma**2)) / (2 * math.pi * sigma**2)),
        ("sigma is the standard deviation: the exponent is -(x^2 + y^2) / (2 sigma^2), not / (2 sigma).",
         lambda: normalised(torch.exp(-squared / (2 * sigma)))),
        ("the exponent is -(x^2 + y^2) / (2 sigma^2): the factor 2 is missing.",
         lambda: normalised(torch.exp(-squared / sigma**2))),
        ("the kernel is not centred: the coordinates must run from -(size - 1) / 2 to (size - 1) / 2, so that "
         "the peak is the middle pixel (arange(size) - (size - 1) / 2).",
         lambda: normalised(torch.exp(-(from_zero[:, None] ** 2 + from_zero[None, :] ** 2) / (2 * sigma**2)))),
    ]


@_single_threaded
def check_gaussian_kernel(gaussian_kernel: Callable[[int, float], torch.Tensor]) -> None:
    """Exercise 1.1: a (size, size) Gaussian kernel that sums to 1, centred on the middle pixel.

    ``gaussian_kernel(size, sigma)`` must equal :func:`srgan_edu.degradation.gaussian_kernel`
    for several odd sizes and standard deviations.

    Recognises: a kernel that does not sum to 1, the continuous normalisation 1/(2 pi sigma^2),
    sigma used as the variance, the factor 2 missing, a kernel that is not centred, a 1-D
    kernel or a wrong shape.

    Args:
        gaussian_kernel: ``(size: odd int, sigma: float) -> (size, size) tensor``.
    """

    exercise = GAUSSIAN_KERNEL
    for size, sigma in ((5, 1.0), (7, 1.5), (3, 0.6), (9, 2.0)):
        got = _as_tensor(exercise, _call(exercise, gaussian_kernel, size, sigma), _name(gaussian_kernel))
        expected = degradation.gaussian_kernel(size, sigma)
        if got.shape != expected.shape:
            hint = (" That is a 1-D kernel: the 2-D Gaussian is the outer product of the 1-D one with itself "
                    "(torch.outer), or exp(-(x^2 + y^2) / (2 sigma^2)) on a grid.") if got.dim() == 1 else ""
            raise _fail(exercise, f"gaussian_kernel({size}, {sigma}) should have shape ({size}, {size}), got "
                                  f"{tuple(got.shape)}.{hint}")
        if _close(got, expected, rtol=1e-5, atol=1e-8):
            continue
        mistake = _which_mistake(got, _gaussian_variants(size, sigma), rtol=1e-5, atol=1e-8)
        if mistake is None and not _close(got.sum(), torch.tensor(1.0, dtype=torch.float64), rtol=1e-6):
            mistake = f"the kernel sums to {float(got.sum()):.4g}; it must sum to 1 (divide it by its sum)."
        raise _fail(exercise, f"gaussian_kernel({size}, {sigma}) is wrong: " + (mistake or (
            "each value is exp(-(x^2 + y^2) / (2 sigma^2)) with x, y measured from the middle pixel, and the "
            "kernel is divided by its sum.")))
    _passed(exercise, "centred, exp(-(x^2 + y^2) / (2 sigma^2)), sums to 1; equal to "
                      "srgan_edu.degradation.gaussian_kernel.")


@_single_threaded
def check_blur_then_decimate(blur_then_decimate: Callable[[torch.Tensor, int, float], torch.Tensor]) -> None:
    """Exercise 1.2: the paper's degradation, a Gaussian blur and then r-fold decimation.

    ``blur_then_decimate(hr_img, scale, sigma)`` must equal
    ``srgan_edu.degradation.degrade(hr_img, scale, method="gaussian", sigma=sigma)``: blur
    with :func:`srgan_edu.degradation.gaussian_blur`, then keep every ``scale``-th pixel,
    starting with the first. Checked on an image (C, H, W) and a batch (B, C, H, W).

    Recognises: decimation before the blur, no blur at all (aliasing), the sigma argument
    ignored, the wrong sampling phase (starting at scale // 2), averaging blocks instead
    of sampling, a wrong output size.

    Args:
        blur_then_decimate: ``(hr_img, scale, sigma) -> lr_img``.
    """

    exercise = BLUR_THEN_DECIMATE
    with _seeded(11) as generator:
        # Fine stripes plus noise: without the blur they alias, which makes the mistakes visible.
        columns = torch.arange(24, dtype=torch.float64)
        stripes = 0.5 + 0.4 * torch.cos(2.6 * columns)[None, None, :].expand(3, 20, 24)
        hr_img = (stripes + 0.1 * torch.rand(3, 20, 24, generator=generator, dtype=torch.float64)).float()
        batch = torch.rand(2, 3, 16, 12, generator=generator)
    for given, scale, sigma in ((hr_img, 4, 1.5), (batch, 2, 0.8)):
        got = _as_tensor(exercise, _call(exercise, blur_then_decimate, given.clone(), scale, sigma),
                         _name(blur_then_decimate))
        expected = degradation.degrade(given, scale, method="gaussian", sigma=sigma).double()
        if got.shape != expected.shape:
            raise _fail(exercise, f"an image of shape {tuple(given.shape)} at scale {scale} should give shape "
                                  f"{tuple(expected.shape)} (every {scale}-th row and column), got {tuple(got.shape)}.")
        if _close(got, expected, rtol=1e-4, atol=1e-5):
            continue
        blur = degradation.gaussian_blur
        mistakes = [
            ("you decimated before blurring. The blur must come first: it removes the detail that the coarser "
             "grid cannot hold; blurring afterwards only softens the aliasing that is already there.",
             lambda: blur(degradation.decimate(given, scale), sigma)),
            ("there is no blur: keeping every r-th pixel of the sharp image aliases (fine stripes turn into false, "
             "coarse ones). Blur with degradation.gaussian_blur(hr_img, sigma) first.",
             lambda: degradation.decimate(given, scale)),
            ("you ignored the sigma argument (and blurred with the default (r - 1) / 2): blur with "
             "degradation.gaussian_blur(hr_img, sigma).",
             lambda: degradation.decimate(blur(given, degradation.gaussian_sigma_for(scale)), scale)),
            (f"the sampling starts at the wrong pixel: keep rows and columns 0, r, 2r, ... (img[..., ::r, ::r]), "
             f"as degradation.decimate does, not {scale // 2}, {scale // 2} + r, ...",
             lambda: blur(given, sigma)[..., scale // 2::scale, scale // 2::scale]),
            ("you averaged r x r blocks (a box filter). The paper's model blurs with a Gaussian and then keeps "
             "single pixels.",
             lambda: F.avg_pool2d(blur(given, sigma) if given.dim() == 4 else blur(given, sigma)[None], scale)
             .reshape(expected.shape)),
            ("you averaged r x r blocks of the sharp image instead of blurring with a Gaussian and then keeping "
             "every r-th pixel.",
             lambda: F.avg_pool2d(given if given.dim() == 4 else given[None], scale).reshape(expected.shape)),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-4, atol=1e-5)
        raise _fail(exercise, mistake or (
            f"the result differs from degradation.degrade(hr_img, {scale}, method='gaussian', sigma={sigma}) by "
            f"up to {float((got - expected).abs().max()):.3g}. Blur with degradation.gaussian_blur, then keep "
            "img[..., ::scale, ::scale]."))
    _passed(exercise, "Gaussian blur, then every r-th pixel from the first; equal to "
                      "srgan_edu.degradation.degrade(..., method='gaussian').")
