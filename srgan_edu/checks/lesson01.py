"""Checks for exercises 01: the Gaussian kernel, blur then decimate (Ledig et al., sec. 2)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from srgan_edu.checks._common import (
    _as_float, _as_tensor, _call, _close, _digits, _earlier, _fail, _largest_gap, _name, _passed, _seeded,
    _single_threaded, _unchanged, _which_mistake,
)
from srgan_edu import degradation

GAUSSIAN_KERNEL = "Exercise 1.1 (Gaussian kernel)"
BLUR_THEN_DECIMATE = "Exercise 1.2 (blur, then decimate)"
NYQUIST_SIGMA = "Exercise 1.3 (a blur derived from the LR Nyquist limit)"


def _blur_with(img: torch.Tensor, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    """``img`` (C, H, W) or (B, C, H, W) convolved with a 2-D ``kernel``, each channel alike; padding
    "replicate", "reflect" or "zeros"."""
    batch = img.double() if img.dim() == 4 else img.double()[None]
    channels, pad = batch.shape[1], kernel.shape[-1] // 2
    weight = kernel.double().expand(channels, 1, *kernel.shape[-2:])
    if padding == "zeros":
        out = F.conv2d(batch, weight, padding=pad, groups=channels)
    else:
        out = F.conv2d(F.pad(batch, (pad, pad, pad, pad), mode=padding), weight, groups=channels)
    return out if img.dim() == 4 else out[0]


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
            mistake = (f"the kernel sums to {_digits(float(got.sum()), 1.0)[0]}; it must sum to 1 (divide it by its "
                       "sum).")
        raise _fail(exercise, f"gaussian_kernel({size}, {sigma}) is wrong: " + (mistake or (
            f"{_largest_gap(got, expected, '[y, x]')} (the middle pixel is [{size // 2}, {size // 2}]). Each value is "
            "exp(-(x^2 + y^2) / (2 sigma^2)) with x, y measured from the middle pixel, and the kernel is divided by "
            "its sum: check the offsets and the exponent at that pixel.")))
    _passed(exercise, "centred, exp(-(x^2 + y^2) / (2 sigma^2)), sums to 1; equal to "
                      "srgan_edu.degradation.gaussian_kernel.")


@_single_threaded
def check_blur_then_decimate(blur_then_decimate: Callable[[torch.Tensor, int, float], torch.Tensor]) -> None:
    """Exercise 1.2: the paper's degradation, a Gaussian blur and then r-fold decimation, by hand.

    ``blur_then_decimate(hr_img, scale, sigma)`` must equal
    ``srgan_edu.degradation.degrade(hr_img, scale, method="gaussian", sigma=sigma)``: blur with
    a (k, k) Gaussian kernel, k = ``degradation.default_kernel_size(sigma)``, the edge pixels
    repeated at the border (``F.pad(..., mode="replicate")``), every channel alike, then keep
    every ``scale``-th pixel, starting with the first. Checked on an image (C, H, W) and a
    batch (B, C, H, W), within rtol 1e-4 of the image's largest value; the input must stay
    unchanged. When the learner's own ``gaussian_kernel`` (exercise 1.1) is wrong and the
    blur uses it, the message says to fix 1.1 first.

    Recognises: decimation before the blur, no blur at all (aliasing), the sigma argument
    ignored, the wrong sampling phase (starting at scale // 2), averaging blocks instead
    of sampling, zero or mirror padding instead of repeated edges, a kernel of another size,
    a wrong exercise 1.1, an input changed in place, a wrong output size.

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
        handed = given.clone()
        got = _as_tensor(exercise, _call(exercise, blur_then_decimate, handed, scale, sigma),
                         _name(blur_then_decimate))
        _unchanged(exercise, (("hr_img", handed, given),))
        expected = degradation.degrade(given, scale, method="gaussian", sigma=sigma).double()
        if got.shape != expected.shape:
            raise _fail(exercise, f"an image of shape {tuple(given.shape)} at scale {scale} should give shape "
                                  f"{tuple(expected.shape)} (every {scale}-th row and column), got {tuple(got.shape)}.")
        if _close(got, expected, rtol=1e-4):
            continue
        blur = degradation.gaussian_blur
        size = degradation.default_kernel_size(sigma)
        own_kernel = _earlier(blur_then_decimate, "gaussian_kernel", degradation.gaussian_kernel)
        if own_kernel is not None:
            try:
                mine = _as_tensor(exercise, own_kernel(size, sigma), "gaussian_kernel")
                own_result = _blur_with(given, mine, "replicate")[..., ::scale, ::scale]
            except Exception:
                own_result = None
            if (own_result is not None and not _close(mine, degradation.gaussian_kernel(size, sigma), rtol=1e-5)
                    and _close(got, own_result, rtol=1e-4)):
                raise _fail(exercise, "your blur_then_decimate is right, but it uses your gaussian_kernel from "
                                      "exercise 1.1, which is wrong: fix exercise 1.1 first (its check cell says "
                                      "how), then rerun this one.")
        reference_kernel = degradation.gaussian_kernel(size, sigma)
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
            ("the border is padded with zeros (F.conv2d's padding=): the edge of the LR image turns dark. Pad with "
             "the edge pixels repeated, F.pad(x, (p, p, p, p), mode='replicate'), then convolve without padding.",
             lambda: _blur_with(given, reference_kernel, "zeros")[..., ::scale, ::scale]),
            ("the border is mirrored (mode='reflect'); the course's degradation repeats the edge pixels "
             "(mode='replicate'), as degradation.gaussian_blur does.",
             lambda: _blur_with(given, reference_kernel, "reflect")[..., ::scale, ::scale]),
        ] + [
            (f"your kernel is {other} x {other}; the course's covers +-3 sigma: "
             f"degradation.default_kernel_size(sigma) = {size} for sigma {sigma}.",
             lambda other=other: _blur_with(given, degradation.gaussian_kernel(other, sigma), "replicate")
             [..., ::scale, ::scale])
            for other in range(3, 2 * size + 2, 2) if other != size
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-4)
        layout = "[b, c, y, x]" if got.dim() == 4 else "[c, y, x]"
        raise _fail(exercise, mistake or (
            f"for an image of shape {tuple(given.shape)} at scale {scale}, sigma {sigma}: "
            f"{_largest_gap(got, expected, layout)} (compared with degradation.degrade(hr_img, {scale}, "
            f"method='gaussian', sigma={sigma})). Check your blurred image at that place before the decimation: "
            "the kernel, the padding, one channel at a time (groups=C), then img[..., ::scale, ::scale]."))
    _passed(exercise, "Gaussian blur, then every r-th pixel from the first; equal to "
                      "srgan_edu.degradation.degrade(..., method='gaussian').")


def _response_at(sigma: float, frequency: float) -> float:
    """The frequency response of the course's sampled 1-D Gaussian (degradation.gaussian_kernel) at ``frequency``
    cycles per pixel: sum_k g_k cos(2 pi f k), measured on the kernel, not taken from a formula."""
    size = degradation.default_kernel_size(sigma)
    one_d = degradation.gaussian_kernel(size, sigma).sum(dim=0)  # the 2-D kernel is outer(g, g), g sums to 1
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    return float((one_d * torch.cos(2 * math.pi * frequency * offsets)).sum())


@_single_threaded
def check_nyquist_sigma(sigma_for_scale: Callable[[int], float]) -> None:
    """Exercise 1.3 (a derivation): the sigma whose Gaussian halves the amplitude at the LR Nyquist frequency.

    The Fourier transform of a Gaussian of standard deviation sigma (pixels) is
    exp(-2 pi^2 sigma^2 f^2) (f in cycles per pixel); an LR image of factor r holds frequencies
    up to 1/(2r). ``sigma_for_scale(r)`` must return the sigma for which that response is 1/2
    at f = 1/(2r), i.e. sigma = r sqrt(2 ln 2) / pi, for r = 2, 3, 4, 8, within rtol 1e-6. The
    pass message confirms it on the course's sampled kernel (its response measured at 1/(2r)).

    Recognises: the Nyquist frequency taken as 1/r, half the power instead of half the
    amplitude, the 2 pi missing (angular and ordinary frequency mixed up), log10 instead of
    the natural log, the course's rule (r - 1) / 2, a kernel whose full width at half maximum is r.

    Args:
        sigma_for_scale: ``scale r (int) -> sigma (float, pixels)``.
    """
    exercise = NYQUIST_SIGMA
    for scale in (2, 3, 4, 8):
        got = _as_float(exercise, _call(exercise, sigma_for_scale, scale), _name(sigma_for_scale))
        expected = scale * math.sqrt(2 * math.log(2)) / math.pi
        if _close(got, expected, rtol=1e-6):
            continue
        mistakes = [
            ("you put the Nyquist frequency at 1/r; an LR pixel spans r HR pixels, and a signal needs two samples "
             "per cycle, so the LR image holds frequencies up to 1/(2r) cycles per HR pixel.",
             lambda: scale * math.sqrt(2 * math.log(2)) / (2 * math.pi)),
            ("you halved the power |H(f)|^2; the exercise asks for half the amplitude, H(f) = 1/2.",
             lambda: scale * math.sqrt(math.log(2)) / math.pi),
            ("the 2 pi is missing: with f in cycles per pixel the transform is exp(-2 pi^2 sigma^2 f^2) "
             "(exp(-sigma^2 omega^2 / 2) holds for the angular frequency omega = 2 pi f).",
             lambda: 2 * scale * math.sqrt(2 * math.log(2))),
            ("you used log10; solving exp(-a) = 1/2 needs the natural log, a = ln 2.",
             lambda: scale * math.sqrt(2 * math.log10(2)) / math.pi),
            ("that is the course's rule (r - 1) / 2 (degradation.gaussian_sigma_for), not the derivation: derive "
             "sigma from exp(-2 pi^2 sigma^2 f^2) = 1/2 at f = 1/(2r).",
             lambda: (scale - 1) / 2),
            ("that sigma gives the *kernel* a full width at half maximum of r pixels (a spatial criterion); the "
             "exercise asks for the frequency response: exp(-2 pi^2 sigma^2 f^2) = 1/2 at f = 1/(2r).",
             lambda: scale / (2 * math.sqrt(2 * math.log(2)))),
        ]
        mistake = _which_mistake(got, mistakes, rtol=1e-6)
        shown = _digits(got, expected)
        measured = _response_at(got, 1 / (2 * scale)) if 0 < got < 50 else float("nan")
        raise _fail(exercise, f"for r = {scale} you give sigma = {shown[0]}, the derivation gives {shown[1]}; "
                              f"measured on the course's sampled kernel, the response at f = 1/(2r) = "
                              f"{1 / (2 * scale):.4g} is {measured:.4f} with yours and "
                              f"{_response_at(expected, 1 / (2 * scale)):.4f} with the derived sigma. " + (
            mistake[:1].upper() + mistake[1:] if mistake else
            "Solve exp(-2 pi^2 sigma^2 f^2) = 1/2 for sigma with f = 1/(2r), and check that your function uses "
            "its scale argument."))
    rows = ", ".join(f"r = {r}: {sigma_for_scale(r):.4f} (response {_response_at(sigma_for_scale(r), 1 / (2 * r)):.4f})"
                     for r in (2, 4))
    _passed(exercise, f"sigma = r sqrt(2 ln 2) / pi; measured on the course's sampled kernel at f = 1/(2r): {rows}.")
