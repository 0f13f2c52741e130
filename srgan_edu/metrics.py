"""PSNR and SSIM, measured the way super-resolution papers measure them (lesson 02).

The SRGAN paper (sec. 3.1) reports PSNR [dB] and SSIM "calculated on the y-channel of
center-cropped, removal of a 4-pixel wide strip from each border images". So:

1. convert RGB to the luma channel Y (ITU-R BT.601, MATLAB's ``rgb2ycbcr``);
2. shave ``scale`` pixels from every border (the default here);
3. PSNR = 10 log10(range^2 / MSE) (eq. 4's MSE), and SSIM as Wang et al. (2004): an 11x11
   Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, over the 'valid' part of the image.

Measured on RGB, or on an LR image made without antialiasing, the same pictures score 1-2 dB
apart; the border shave moves bicubic PSNR by at most 0.2 dB. Lesson 02 shows both. Images are (C, H, W) or (B, C, H, W)
floats with values in [0, data_range] ([0, 1] by default); a 1-channel image is taken to be Y.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from srgan_edu.images import rgb_to_y

SSIM_WINDOW = 11  # Wang et al. (2004)
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def prepare_for_metric(
    sr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    scale: int | None = None,
    shave: int | None = None,
    y_channel: bool = True,
    data_range: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two images and apply the protocol: Y channel, then shave. Returns (B, C, H', W') float64 on the CPU."""
    if not isinstance(sr_img, torch.Tensor) or not isinstance(hr_img, torch.Tensor):
        raise TypeError("psnr and ssim take torch tensors laid out (C, H, W) or (B, C, H, W)")
    if sr_img.shape != hr_img.shape:
        raise ValueError(
            f"the two images differ in shape: {tuple(sr_img.shape)} vs {tuple(hr_img.shape)}. "
            "Crop the HR image with images.modcrop(hr_img, scale) so that it matches the SR output."
        )
    if sr_img.dim() not in (3, 4) or sr_img.shape[-3] not in (1, 3):
        raise ValueError(
            f"expected (C, H, W) or (B, C, H, W) with C = 1 or 3, got shape {tuple(sr_img.shape)}; "
            "an (H, W, 3) array needs .permute(2, 0, 1)"
        )
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    for name, img in (("sr_img", sr_img), ("hr_img", hr_img)):
        if not img.is_floating_point():
            raise ValueError(f"{name} is {img.dtype}; psnr and ssim take floats: img.float() / 255 for 8-bit images.")
        if not bool(torch.isfinite(img).all()):
            raise ValueError(f"{name} holds NaN or infinite values: a network that diverged, or a broken image. "
                             "There is nothing meaningful to measure; check where the image came from.")
        top, bottom = float(img.max()), float(img.min())
        if data_range <= 1.0 and top > 1.5:
            raise ValueError(
                f"{name} has values up to {top:.1f}, but data_range is {data_range}: it looks like a "
                "[0, 255] image. Divide by 255, or pass data_range=255."
            )
        # unclamped bicubic overshoots below 0 by a few hundredths; -0.25 is another range
        if bottom < -0.25 * data_range:
            raise ValueError(
                f"{name} has values down to {bottom:.2f}: it looks like a [-1, 1] image (the range of "
                "the HR targets and of SRResNet's output). Measure in [0, 1]: images.to_unit(img), "
                "then .clamp(0, 1)."
            )
    if data_range > 1.5 and max(float(sr_img.max()), float(hr_img.max())) <= 1.0:
        raise ValueError(
            f"data_range is {data_range}, but both images are within [0, 1]: they are [0, 1] images, and the "
            "PSNR would come out about 48 dB too high. Pass data_range=1 (the default), or multiply both by 255."
        )
    if data_range <= 1.0:  # a [-1, 1] image bright enough to pass the check above
        for name, img, other in (("sr_img", sr_img, hr_img), ("hr_img", hr_img, sr_img)):
            if float(img.min()) < -0.02 and float(other.min()) >= -0.02:
                img64, other64 = img.detach().double().cpu(), other.detach().double().cpu()
                as_is = float((img64 - other64).pow(2).mean())
                if float(((img64 + 1) / 2 - other64).pow(2).mean()) < as_is / 4:
                    raise ValueError(
                        f"{name} looks like a [-1, 1] image (it matches the other image far better once mapped "
                        "to [0, 1]): measure in [0, 1]: images.to_unit(img).clamp(0, 1).")
    # On the CPU in float64, wherever the images are: the same numbers on every device, two
    # images on different devices can be compared, and Apple's MPS has no float64.
    sr = sr_img.detach().to(device="cpu", dtype=torch.float64)
    hr = hr_img.detach().to(device="cpu", dtype=torch.float64)
    if sr.dim() == 3:
        sr, hr = sr.unsqueeze(0), hr.unsqueeze(0)
    if y_channel and sr.shape[1] == 3:
        # rgb_to_y works on [0, 1]; the offset of 16 scales with the range.
        sr = rgb_to_y(sr / data_range) * data_range
        hr = rgb_to_y(hr / data_range) * data_range
    shave = (scale or 0) if shave is None else shave
    if shave < 0:
        raise ValueError(f"shave must be >= 0, got {shave}")
    if shave:
        height, width = sr.shape[-2:]
        if 2 * shave >= min(height, width):
            raise ValueError(f"cannot shave {shave} pixels from each border of a {height}x{width} image")
        sr = sr[..., shave:-shave, shave:-shave]
        hr = hr[..., shave:-shave, shave:-shave]
    return sr, hr


def psnr(
    sr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    scale: int | None = None,
    shave: int | None = None,
    y_channel: bool = True,
    data_range: float = 1.0,
) -> float | torch.Tensor:
    """Peak signal-to-noise ratio in dB, the SR way.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Args:
        sr_img: the estimate, (C, H, W) or (B, C, H, W), values in [0, data_range].
        hr_img: the reference, same shape.
        scale: the SR factor; the border shave defaults to it (the paper: 4).
        shave: pixels removed from each border (default: ``scale``, or 0 without ``scale``).
        y_channel: measure on Y (BT.601) when the images are RGB; a 1-channel image is Y.
        data_range: the value of white (1.0 for [0, 1] images, 255 for [0, 255]).

    Returns:
        A float for one image, or a (B,) tensor of per-image values for a batch (average
        those, not the MSEs, as papers do). Identical images have MSE 0 and PSNR ``inf``
        (``math.inf``), with no warning: that is the mathematical answer, and a mean over a
        set containing one stays ``inf``, which makes the exact copy impossible to miss.

    Raises:
        TypeError: the images are not torch tensors.
        ValueError: shapes differ (say how to ``modcrop``); the layout is not (C, H, W) or
            (B, C, H, W) with C = 1 or 3 (an (H, W, 3) array); values above 1.5 with
            ``data_range=1`` (a [0, 255] image); a shave that leaves no pixels; a
            non-positive ``data_range``.
    """
    sr, hr = prepare_for_metric(sr_img, hr_img, scale=scale, shave=shave, y_channel=y_channel, data_range=data_range)
    batched = sr_img.dim() == 4
    mse = ((sr - hr) ** 2).flatten(1).mean(dim=1)
    values = 10 * torch.log10(data_range**2 / mse)  # mse = 0 gives +inf
    return values.float() if batched else float(values[0])


def _gaussian_window(device: torch.device) -> torch.Tensor:
    """The 1-D Gaussian of the SSIM window; the 11x11 window is its outer product."""
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64, device=device) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _local_mean(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted local means over the 'valid' region, (N, 1, H, W) -> (N, 1, H-10, W-10).

    The window is separable, so two 1-D passes give the 11x11 result at a fifth of the cost.
    """
    x = F.conv2d(x, window.view(1, 1, 1, SSIM_WINDOW))
    return F.conv2d(x, window.view(1, 1, SSIM_WINDOW, 1))


def ssim_map(
    sr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    scale: int | None = None,
    shave: int | None = None,
    y_channel: bool = True,
    data_range: float = 1.0,
) -> torch.Tensor:
    """The local SSIM of every window position (Wang et al., 2004); arguments as :func:`psnr`.

    Local means, variances and covariance come from an 11x11 Gaussian window (sigma 1.5,
    K1 = 0.01, K2 = 0.03) over the 'valid' region only (no padding), after the Y conversion
    and the shave. Variances divide by the window's weight sum (1), not N - 1, as Wang's
    MATLAB code does. :func:`ssim` is the mean of this map.

    Returns:
        (B, C, H' - 10, W' - 10) float64 in [-1, 1], where (H', W') is the size after the
        shave; B = 1 for a (C, H, W) input; C = 1 when measured on Y.

    Raises:
        ValueError: as :func:`psnr`, or fewer than 11x11 pixels left after the shave.
    """
    sr, hr = prepare_for_metric(sr_img, hr_img, scale=scale, shave=shave, y_channel=y_channel, data_range=data_range)
    if min(sr.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after the shave, "
                         f"got {sr.shape[-2]}x{sr.shape[-1]}")
    batch, channels = sr.shape[:2]
    window = _gaussian_window(sr.device)
    x = sr.reshape(batch * channels, 1, *sr.shape[-2:])  # every channel alike
    y = hr.reshape(batch * channels, 1, *hr.shape[-2:])
    mu_x, mu_y = _local_mean(x, window), _local_mean(y, window)  # 'valid': (H'-10, W'-10)
    var_x = _local_mean(x * x, window) - mu_x**2
    var_y = _local_mean(y * y, window) - mu_y**2
    cov = _local_mean(x * y, window) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    luminance_term = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    structure_term = (2 * cov + c2) / (var_x + var_y + c2)  # contrast and structure together
    return (luminance_term * structure_term).reshape(batch, channels, *mu_x.shape[-2:])


def ssim(
    sr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    scale: int | None = None,
    shave: int | None = None,
    y_channel: bool = True,
    data_range: float = 1.0,
) -> float | torch.Tensor:
    """Structural similarity (Wang et al., 2004) the SR way; arguments as :func:`psnr`.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Local means, variances and covariance come from an 11x11 Gaussian window (sigma 1.5)
    over the 'valid' region only (no padding); the SSIM map (:func:`ssim_map`) is averaged
    over pixels and, for an RGB measurement (``y_channel=False``), over channels. This is
    scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` and the SSIM that later SR papers report; the SRGAN
    paper's own SSIM numbers come from a different implementation (see
    :mod:`srgan_edu.evaluation`).

    Returns:
        A float in [-1, 1] for one image (1.0 for identical images), or a (B,) tensor for a
        batch.
    """
    batched = sr_img.dim() == 4
    local = ssim_map(sr_img, hr_img, scale=scale, shave=shave, y_channel=y_channel, data_range=data_range)
    values = local.flatten(1).mean(dim=1)
    return values.float() if batched else float(values[0])


def mse_to_psnr(mse: float, data_range: float = 1.0) -> float:
    """PSNR in dB of a mean squared error (``inf`` for 0).

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).
    """
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def high_frequency_energy(img: torch.Tensor, *, cutoff: float = 1 / 8, shave: int = 4) -> float:
    """The share of an image's Y-channel energy above ``cutoff`` cycles per pixel (lessons 06-07).

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

    At scale 4 the LR image holds frequencies up to 1/8 cycle per HR pixel: everything above
    is what a super-resolver must invent. Bicubic and MSE-trained networks leave that band
    nearly empty (the blur of lesson 02); SRGAN fills it with texture. Compare
    ``high_frequency_energy(sr_img) / high_frequency_energy(hr_img)``: 1 means as much fine
    detail as the real photograph (not that it is the right detail: PSNR says that).
    It needs no download, unlike a VGG distance.

    Args:
        img: (3, H, W) or (1, H, W) in [0, 1].
        cutoff: in cycles per pixel, from 0 to 0.5 (Nyquist); 1/8 for scale 4.
        shave: border pixels removed first (the image edge is not texture).

    Returns:
        A float in [0, 1]: the energy above the cutoff over the energy of all non-zero
        frequencies (a Hann window keeps the borders from adding false high frequencies).
    """
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"high_frequency_energy takes one (3, H, W) or (1, H, W) image, got {tuple(img.shape)}")
    if not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff must be between 0 and 0.5 cycles per pixel, got {cutoff}")
    luma = (rgb_to_y(img) if img.shape[0] == 3 else img)[0].double()
    if shave:
        luma = luma[shave:-shave, shave:-shave]
    if min(luma.shape) < 8:
        raise ValueError(f"the image is too small ({tuple(luma.shape)} after the shave) to measure its spectrum")
    luma = luma - luma.mean()
    window = torch.outer(torch.hann_window(luma.shape[0], periodic=False, dtype=torch.float64),
                         torch.hann_window(luma.shape[1], periodic=False, dtype=torch.float64))
    power = torch.fft.fft2(luma * window).abs() ** 2
    fy = torch.fft.fftfreq(luma.shape[0], dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(luma.shape[1], dtype=torch.float64)[None, :]
    high = torch.maximum(fy.abs(), fx.abs()) > cutoff  # outside the square band an LR image can carry
    total = float(power.sum())
    return float(power[high].sum()) / total if total > 0 else 0.0
