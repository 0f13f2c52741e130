"""Checks for exercises 02: the Y channel, PSNR on Y with the shave, the MSE-optimal estimate (eq. 4, sec. 3.1)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from srgan_edu.checks._common import (
    _as_float, _as_tensor, _call, _close, _digits, _earlier, _fail, _largest_gap, _name, _passed, _seeded, _sentence, _single_threaded, _which_mistake,
)
from srgan_edu import images, metrics

RGB_TO_Y = "Exercise 2.1 (the Y channel)"
PSNR_Y = "Exercise 2.2 (PSNR on Y with the shave)"
MSE_BEST_GUESS = "Exercise 2.3 (the MSE-optimal guess)"


@_single_threaded
def check_rgb_to_y(rgb_to_y: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2.1: the luma channel Y of ITU-R BT.601, as MATLAB's ``rgb2ycbcr`` computes it.

    ``rgb_to_y(img)`` takes (3, H, W) RGB in [0, 1] and must equal
    :func:`srgan_edu.images.rgb_to_y`: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255,
    shape (1, H, W), values in [16/255, 235/255].

    Recognises: the +16 offset forgotten, the full-range JPEG/Pillow weights
    (0.299, 0.587, 0.114), the coefficients of the 0-255 scale used on [0, 1] values, the
    offset not divided by 255, the channels read in BGR order, the channel dimension dropped.

    Args:
        rgb_to_y: ``(3, H, W) in [0, 1] -> (1, H, W)``.
    """

    exercise = RGB_TO_Y
    with _seeded(21) as generator:
        img = torch.rand(3, 6, 7, generator=generator)
    img[:, 0, 0] = torch.tensor([1.0, 1.0, 1.0])  # white -> 235/255
    img[:, 0, 1] = torch.tensor([0.0, 0.0, 0.0])  # black -> 16/255
    got = _as_tensor(exercise, _call(exercise, rgb_to_y, img.clone()), _name(rgb_to_y))
    expected = images.rgb_to_y(img.double())
    if got.shape != expected.shape:
        if got.shape == expected.shape[1:]:
            raise _fail(exercise, "keep the channel dimension: Y of a (3, H, W) image is (1, H, W) "
                                  "(unsqueeze(0), or keepdim=True), so that it is still an image.")
        raise _fail(exercise, f"a (3, H, W) image gives Y of shape (1, H, W) = {tuple(expected.shape)}, got "
                              f"{tuple(got.shape)}.")
    if _close(got, expected, rtol=1e-5, atol=1e-6):
        _passed(exercise, "Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255: white is 235/255, black 16/255, as "
                          "srgan_edu.images.rgb_to_y.")
        return
    r, g, b = img.double()
    weights = (65.481, 128.553, 24.966)

    def luma(red, green, blue, scale=255.0, offset=16.0):
        return ((offset + weights[0] * red + weights[1] * green + weights[2] * blue) / scale).unsqueeze(0)

    mistakes = [
        ("the offset is missing: MATLAB's Y starts at 16/255 for black (studio range 16-235), so add 16/255.",
         lambda: luma(r, g, b, offset=0.0)),
        ("those are the full-range JPEG/Pillow weights (0.299, 0.587, 0.114). SR papers measure on MATLAB's "
         "rgb2ycbcr: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255.",
         lambda: (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(0)),
        ("the coefficients 65.481, 128.553, 24.966 and the offset 16 are for the 0-255 scale; for an image in "
         "[0, 1] divide them all by 255.", lambda: luma(r, g, b, scale=1.0)),
        ("the offset 16 is on the 0-255 scale: for [0, 1] images it is 16/255.",
         lambda: luma(r, g, b, offset=0.0) + 16.0),
        ("the channels are read in the wrong order (BGR): channel 0 is red, 1 green, 2 blue.",
         lambda: luma(b, g, r)),
        ("you rounded Y to whole 8-bit levels (round(255 Y) / 255): the metric works on the unrounded values, "
         "so keep Y as a float.", lambda: torch.round(luma(r, g, b) * 255) / 255),
        ("you rounded Y down to 8-bit levels (floor or a uint8 conversion): keep Y as a float.",
         lambda: torch.floor(luma(r, g, b) * 255) / 255),
    ]
    mistake = _which_mistake(got, mistakes, rtol=1e-4, atol=1e-6)
    if mistake is None:
        white, black = _digits(float(got.reshape(-1)[0]), 235 / 255), _digits(float(got.reshape(-1)[1]), 16 / 255)
        mistake = (f"{_largest_gap(got, expected, '[c, y, x]')}. White gives {white[0]} (expected 235/255 = "
                   f"{white[1]}), black {black[0]} (expected 16/255 = {black[1]}).")
    raise _fail(exercise, mistake)


def _psnr_case(generator: torch.Generator, height: int, width: int, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An HR image and an estimate whose errors differ in colour, in the border and inside."""
    hr_img = torch.rand(3, height, width, generator=generator, dtype=torch.float64) * 0.8 + 0.1
    sr_img = hr_img + 0.05 * torch.randn(3, height, width, generator=generator, dtype=torch.float64)
    sr_img[0] += 0.08  # a colour cast: Y and RGB measurements disagree
    sr_img[:, :scale, :] = 0.0  # a bad border, as SR networks produce: the shave matters
    sr_img[:, :, -scale:] = 1.0
    return sr_img.clamp(0, 1).float(), hr_img.float()


@_single_threaded
def check_psnr_y(psnr_y: Callable[[torch.Tensor, torch.Tensor, int], float]) -> None:
    """Exercise 2.2: PSNR as SR papers measure it, on Y with ``scale`` pixels shaved from each border.

    ``psnr_y(sr_img, hr_img, scale)`` takes (3, H, W) images in [0, 1] and must equal
    ``srgan_edu.metrics.psnr(sr_img, hr_img, scale=scale)``.

    Recognises: PSNR on RGB instead of Y, the shave forgotten, shaving only the top and left
    borders, shaving twice as much, the peak 255 used for [0, 1] images, 20 log10 of the
    MSE instead of 10 log10 (or the RMSE with 10 log10).

    Args:
        psnr_y: ``(sr_img (3, H, W), hr_img (3, H, W), scale) -> float in dB``.
    """

    exercise = PSNR_Y
    with _seeded(22) as generator:
        cases = [_psnr_case(generator, 24, 28, 4), _psnr_case(generator, 18, 16, 2)]
    for (sr_img, hr_img), scale in zip(cases, (4, 2)):
        got = _as_float(exercise, _call(exercise, psnr_y, sr_img.clone(), hr_img.clone(), scale), _name(psnr_y))
        expected = metrics.psnr(sr_img, hr_img, scale=scale)
        if _close(got, expected, rtol=0, atol=1e-4):
            continue
        if math.isnan(got):
            raise _fail(exercise, f"for scale {scale} your PSNR is NaN: the mean of an empty tensor. Check which axes "
                                  "you sliced: Y has shape (1, H, W), and the shave removes rows and columns, the "
                                  "last two axes (img[..., s:-s, s:-s]), not the channel axis.")
        own = _earlier(psnr_y, "rgb_to_y", images.rgb_to_y)
        if own is not None:
            try:
                own_y = (own(sr_img.clone()).double(), own(hr_img.clone()).double())
                own_error = float(((own_y[0] - own_y[1])[..., scale:-scale, scale:-scale] ** 2).mean())
                own_psnr = 10 * math.log10(1 / own_error)
            except Exception:
                own_psnr = None
            if own_psnr is not None and _close(got, own_psnr, rtol=0, atol=1e-4):
                raise _fail(exercise, f"your psnr_y is right, but it calls your rgb_to_y from exercise 2.1, which is "
                                      "wrong: fix exercise 2.1 first (its check cell says how), then rerun this one.")
        sr_y, hr_y = images.rgb_to_y(sr_img.double()), images.rgb_to_y(hr_img.double())

        def mse(shave_top: int, shave_bottom: int, y: bool = True) -> float:
            a, b = (sr_y, hr_y) if y else (sr_img.double(), hr_img.double())
            height, width = a.shape[-2:]
            a = a[..., shave_top: height - shave_bottom, shave_top: width - shave_bottom]
            b = b[..., shave_top: height - shave_bottom, shave_top: width - shave_bottom]
            return float(((a - b) ** 2).mean())

        mistakes = [
            ("that is the PSNR on RGB. SR papers (and the paper's table) measure on the luma channel Y "
             "(images.rgb_to_y); on RGB the same images score differently.",
             lambda: metrics.psnr(sr_img, hr_img, scale=scale, y_channel=False)),
            (f"you forgot the shave: remove {scale} pixels from every border (the scale) before measuring, "
             "img[..., s:-s, s:-s]. Networks cannot see past the border, and the paper's numbers leave it out.",
             lambda: metrics.psnr(sr_img, hr_img, shave=0)),
            ("you measured on RGB and forgot the shave: convert both images to Y and remove scale pixels from "
             "every border.",
             lambda: metrics.psnr(sr_img, hr_img, shave=0, y_channel=False)),
            ("you shaved only the top and left borders: img[..., s:, s:] keeps the bottom and right ones; use "
             "img[..., s:-s, s:-s].", lambda: 10 * math.log10(1 / mse(scale, 0))),
            (f"you shaved 4 pixels at scale {scale}: the protocol removes `scale` pixels from each border (4 only "
             "because the paper's scale is 4), so use the scale argument.",
             lambda: metrics.psnr(sr_img, hr_img, shave=4) if scale != 4 else float("nan")),
            ("you shaved 2 * scale pixels; the protocol removes scale pixels from each border.",
             lambda: metrics.psnr(sr_img, hr_img, shave=2 * scale)),
            ("wrong range: for images in [0, 1] the peak value is 1, so PSNR = 10 log10(1 / MSE). With 255 you add "
             "48.1 dB.", lambda: 10 * math.log10(255**2 / mse(scale, scale))),
            ("PSNR = 10 log10(peak^2 / MSE), or 20 log10(peak / RMSE); you used 20 log10 with the MSE.",
             lambda: 20 * math.log10(1 / mse(scale, scale))),
            ("PSNR = 10 log10(peak^2 / MSE), or 20 log10(peak / RMSE); you used 10 log10 with the RMSE.",
             lambda: 10 * math.log10(1 / math.sqrt(mse(scale, scale)))),
        ]
        mistake = _which_mistake(got, mistakes, rtol=0, atol=1e-4)
        got_text, expected_text = _digits(got, expected)
        raise _fail(exercise, f"for scale {scale} (an image of {tuple(hr_img.shape)}) the PSNR is {expected_text} dB, "
                              f"you gave {got_text} dB. " + (
            _sentence(mistake) if mistake else
            "None of the usual mistakes gives that number: check each step on this image (your Y of both images, "
            "the shape after the shave, the MSE, then the formula with peak 1)."))
    _passed(exercise, "Y channel, border of scale pixels removed, 10 log10(1 / MSE); equal to "
                      "srgan_edu.metrics.psnr(sr_img, hr_img, scale=scale).")


@_single_threaded
def check_mse_best_guess(best_guess: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2.3: the single estimate with the least expected MSE over HR candidates of unequal probability.

    ``best_guess(candidates, probabilities)`` takes K candidate HR patches (K, C, H, W) that
    share one LR patch and their probabilities (K,) (summing to 1), and must return the
    (C, H, W) estimate that minimises the expected MSE sum_k p_k mean((e - x_k)^2) (eq. 4): the
    probability-weighted pixel-wise mean. The check uses unequal probabilities.

    Recognises: the probabilities ignored (the plain mean), the most probable candidate
    returned, one of the candidates returned, the median (the L1 optimum), a wrong shape;
    otherwise it shows the largest difference and the gap in expected MSE.

    Args:
        best_guess: ``(K, C, H, W), (K,) -> (C, H, W)``.
    """
    exercise = MSE_BEST_GUESS
    with _seeded(23) as generator:
        candidates = torch.rand(5, 3, 6, 8, generator=generator)
    probabilities = torch.tensor([0.4, 0.25, 0.15, 0.12, 0.08])
    got = _as_tensor(exercise, _call(exercise, best_guess, candidates.clone(), probabilities.clone()),
                     _name(best_guess))
    if got.shape != candidates.shape[1:]:
        raise _fail(exercise, f"{candidates.shape[0]} candidates of shape {tuple(candidates.shape[1:])} give one "
                              f"estimate of that shape, got {tuple(got.shape)}. Combine the candidates along "
                              "dimension 0.")
    weights = probabilities.double().reshape(-1, 1, 1, 1)

    def expected_mse(estimate: torch.Tensor) -> float:
        squared = ((estimate.double().unsqueeze(0) - candidates.double()) ** 2).mean(dim=(1, 2, 3))
        return float((probabilities.double() * squared).sum())

    best = (weights * candidates.double()).sum(dim=0)
    if _close(got, best, rtol=1e-5, atol=1e-6):
        _passed(exercise, f"the probability-weighted mean: expected MSE {expected_mse(got):.5f}, lower than the plain "
                          f"mean's ({expected_mse(candidates.mean(dim=0)):.5f}) and any single candidate's (best "
                          f"{min(expected_mse(c) for c in candidates):.5f}).")
        return
    mistakes = [
        ("you ignored the probabilities: the candidates are not equally likely here, and the expected squared "
         "error weighs each one by its probability.", lambda: candidates.mean(dim=0)),
        ("that is the median, which minimises the mean *absolute* error (L1), and it ignores the probabilities. "
         "The squared error of eq. 4 is minimised by another statistic: differentiate sum_k p_k (e - x_k)^2.",
         lambda: candidates.median(dim=0).values),
        (f"you returned the most probable candidate (0, p = {float(probabilities[0]):.2f}): sharp and plausible, "
         f"but its expected MSE is {expected_mse(candidates[0]):.5f}, and a blurrier estimate reaches "
         f"{expected_mse(best):.5f}.", lambda: candidates[0]),
    ] + [
        (f"you returned candidate {k}: sharp and plausible, but its expected MSE is {expected_mse(candidate):.5f}, "
         f"and a blurrier estimate reaches {expected_mse(best):.5f}. One sharp answer is not what minimises the "
         "expected squared error.", lambda candidate=candidate: candidate)
        for k, candidate in enumerate(candidates) if k > 0
    ]
    mistake = _which_mistake(got, mistakes, rtol=1e-5, atol=1e-6)
    if mistake is None:
        got_mse, best_mse = _digits(expected_mse(got), expected_mse(best))
        mistake = (f"your estimate has an expected MSE of {got_mse} over the candidates; the best possible is "
                   f"{best_mse} (a gap of {(expected_mse(got) - expected_mse(best)) / expected_mse(best):.2e} "
                   f"relative); {_largest_gap(got, best, '[c, y, x]')}. Check how you use `probabilities`.")
    raise _fail(exercise, mistake)
