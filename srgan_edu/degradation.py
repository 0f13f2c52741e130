"""The degradation model: how a low-resolution image I_LR is made from I_HR (lesson 01).

The SRGAN paper (sec. 2) obtains I_LR "by applying a Gaussian filter to I_HR followed by a
downsampling operation with downsampling factor r"; its experiments, like most later work,
use MATLAB's ``imresize(I_HR, 1/r, 'bicubic')``, which is a bicubic *antialiased*
downscale. Both are here:

- :func:`gaussian_kernel`, :func:`gaussian_blur` and :func:`decimate` (blur, then keep every
  r-th pixel; without the blur the result aliases);
- :func:`imresize`, a MATLAB-compatible bicubic resize: cubic kernel with a = -0.5, stretched
  by 1/scale when downscaling (the antialiasing), edge pixels repeated at the border,
  output size ``ceil(size * scale)``, rows resized before columns; for uint8 input every
  1-D pass is rounded and clipped as MATLAB does;
- :func:`degrade` (HR -> LR either way) and :func:`upscale` (the classical baselines);
- :func:`zone_plate`, a test pattern that makes aliasing plain.

Images are (C, H, W) or (B, C, H, W) float tensors in [0, 1]; :func:`imresize` also takes
NumPy arrays (H, W) or (H, W, C), uint8 or float, as MATLAB would.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

CUBIC_A = -0.5  # MATLAB's (and Keys') choice for the cubic convolution kernel


def cubic(x: torch.Tensor, a: float = CUBIC_A) -> torch.Tensor:
    """Keys' cubic convolution kernel, non-zero on (-2, 2)."""
    absx = x.abs()
    absx2, absx3 = absx**2, absx**3
    near = (a + 2) * absx3 - (a + 3) * absx2 + 1
    far = a * absx3 - 5 * a * absx2 + 8 * a * absx - 4 * a
    return torch.where(absx <= 1, near, torch.where(absx < 2, far, torch.zeros_like(x)))


def resize_matrix(in_size: int, out_size: int, scale: float, *, antialias: bool = True) -> torch.Tensor:
    """The (out_size, in_size) matrix of MATLAB's bicubic resize along one dimension.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    Row ``i`` holds the weights that output pixel ``i`` gives to each input pixel: the cubic
    kernel centred on the output pixel's position in input coordinates, stretched by
    ``1/scale`` when downscaling so that it also low-pass filters, normalised to sum to 1.
    Taps that fall outside the image are given to the nearest edge pixel.
    """
    kernel_width = 4.0
    stretch = scale < 1 and antialias
    if stretch:
        kernel_width /= scale
    x = torch.arange(1, out_size + 1, dtype=torch.float64)
    # Output pixel x (1-based) sits at u in input coordinates (1-based, pixel centres).
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]  # (out, taps)
    distance = u[:, None] - indices
    weights = scale * cubic(scale * distance) if stretch else cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    clamped = indices.clamp(1, in_size).long() - 1
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    matrix.scatter_add_(1, clamped, weights)
    return matrix


def _output_size(in_size: int, scale: float) -> int:
    return math.ceil(in_size * scale)


def imresize(img, scale: float | None = None, *, output_size: tuple[int, int] | None = None, antialias: bool = True):
    """MATLAB's ``imresize(img, scale, 'bicubic')``.

    Args:
        img: a torch tensor (C, H, W) or (B, C, H, W) of floats, or a NumPy array (H, W) or
            (H, W, C), uint8 or float.
        scale: the factor (``1/4`` shrinks by four, ``4`` enlarges by four). Give either this
            or ``output_size``.
        output_size: (height, width) of the result.
        antialias: stretch the kernel when downscaling (MATLAB's default). Without it the
            downscale aliases, which lesson 01 shows.

    Returns:
        The same kind of object as ``img``. For uint8 NumPy input each 1-D pass is rounded
        half away from zero and clipped to [0, 255], as MATLAB does; float input is neither
        rounded nor clipped (bicubic overshoots slightly past the input range). Torch
        tensors keep their dtype and device (the arithmetic runs in float64 there, except
        on Apple's MPS, which has no float64).

    Shape:
        (C, H, W) -> (C, ceil(H * scale), ceil(W * scale)), likewise (B, C, H, W), (H, W) and
        (H, W, C); or the given ``output_size``.

    Raises:
        ValueError: both or neither of ``scale`` and ``output_size``, a non-positive size,
            an integer tensor, or a NumPy dtype other than uint8 and float.
        TypeError: ``img`` is neither a tensor nor an array.
    """
    if (scale is None) == (output_size is None):
        raise ValueError("give exactly one of scale or output_size")
    is_numpy = isinstance(img, np.ndarray)
    if is_numpy:
        if img.ndim not in (2, 3):
            raise ValueError(f"imresize expects a NumPy array (H, W) or (H, W, C), got shape {img.shape}")
        if img.dtype != np.uint8 and img.dtype.kind != "f":
            raise ValueError(
                f"imresize takes uint8 or float NumPy arrays, not {img.dtype}; convert with "
                ".astype(np.float64) (no rounding) or to uint8 (MATLAB's 8-bit rounding)"
            )
        height, width = img.shape[:2]
    elif isinstance(img, torch.Tensor):
        if img.dim() not in (3, 4):
            raise ValueError(f"imresize expects a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(img.shape)}")
        if not img.is_floating_point():
            raise ValueError(f"imresize expects a float tensor in [0, 1], got {img.dtype}; use .float() / 255")
        height, width = img.shape[-2:]
    else:
        raise TypeError(f"imresize takes a torch.Tensor or a numpy.ndarray, not {type(img).__name__}")
    if scale is not None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scale_h = scale_w = float(scale)
        out_h, out_w = _output_size(height, scale_h), _output_size(width, scale_w)
    else:
        out_h, out_w = output_size
        if out_h < 1 or out_w < 1:
            raise ValueError(f"output_size must be positive, got {output_size}")
        scale_h, scale_w = out_h / height, out_w / width
    rows = resize_matrix(height, out_h, scale_h, antialias=antialias)
    cols = resize_matrix(width, out_w, scale_w, antialias=antialias)
    # MATLAB resizes the dimension with the smaller scale change first (rows on a tie).
    rows_first = scale_h <= scale_w
    if is_numpy:
        return _imresize_numpy(img, rows, cols, rows_first)
    rows = rows.to(img.device)
    cols = cols.to(img.device)
    work = img.to(torch.float64) if img.device.type != "mps" else img
    rows, cols = rows.to(work.dtype), cols.to(work.dtype)
    if rows_first:
        out = torch.matmul(rows, work)  # (..., H, W) -> (..., out_h, W)
        out = torch.matmul(out, cols.T)  # -> (..., out_h, out_w)
    else:
        out = torch.matmul(work, cols.T)
        out = torch.matmul(rows, out)
    return out.to(img.dtype)


def _imresize_numpy(array: np.ndarray, rows: torch.Tensor, cols: torch.Tensor, rows_first: bool) -> np.ndarray:
    is_uint8 = array.dtype == np.uint8
    work = array.astype(np.float64)
    squeeze = work.ndim == 2
    if squeeze:
        work = work[..., None]
    rows_np, cols_np = rows.numpy(), cols.numpy()

    def along_rows(x):
        return np.einsum("oh,hwc->owc", rows_np, x)

    def along_cols(x):
        return np.einsum("ow,hwc->hoc", cols_np, x)

    for step in (along_rows, along_cols) if rows_first else (along_cols, along_rows):
        work = step(work)
        if is_uint8:
            work = np.clip(np.sign(work) * np.floor(np.abs(work) + 0.5), 0, 255)
    if squeeze:
        work = work[..., 0]
    return work.astype(np.uint8) if is_uint8 else work.astype(array.dtype if array.dtype.kind == "f" else np.float64)


def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    """A (size, size) Gaussian kernel that sums to 1 (float64), centred, ``size`` odd.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd number, got {size}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    one_d = _gaussian_1d(size, sigma)
    return torch.outer(one_d, one_d)


def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def default_kernel_size(sigma: float) -> int:
    """The odd size that covers +-3 sigma, as most image libraries choose.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).
    """
    return 2 * math.ceil(3 * sigma) + 1


def gaussian_blur(img: torch.Tensor, sigma: float, *, size: int | None = None) -> torch.Tensor:
    """Blur with a Gaussian, separably, edge pixels repeated at the border.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    Args:
        img: (C, H, W) or (B, C, H, W) float.
        sigma: standard deviation in pixels.
        size: kernel size (odd); by default it covers +-3 sigma.

    Returns:
        The blurred image, same shape, dtype and device.
    """
    _check_image(img, "gaussian_blur")
    size = size or default_kernel_size(sigma)
    kernel = _gaussian_1d(size, sigma) if sigma > 0 else None
    if kernel is None:
        raise ValueError(f"sigma must be positive, got {sigma}")
    batch = img if img.dim() == 4 else img.unsqueeze(0)
    channels = batch.shape[1]
    kernel = kernel.to(img.device, img.dtype)
    pad = size // 2
    x = batch.reshape(-1, 1, *batch.shape[-2:])  # (B*C, 1, H, W): every channel alike
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, size))  # along the width
    x = F.conv2d(x, kernel.view(1, 1, size, 1))  # along the height
    out = x.reshape(batch.shape[0], channels, *x.shape[-2:])
    return out if img.dim() == 4 else out[0]


def decimate(img: torch.Tensor, scale: int) -> torch.Tensor:
    """Keep every ``scale``-th pixel, starting with the first: (..., H, W) -> (..., ceil(H/s), ceil(W/s)).

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    On its own this aliases: detail finer than the new pixel grid folds back as false
    patterns (moire). Blur first (:func:`gaussian_blur`) or use :func:`imresize`.
    """
    _check_scale(scale)
    return img[..., ::scale, ::scale]


def gaussian_sigma_for(scale: int) -> float:
    """The blur we use before r-fold decimation: sigma = (r - 1) / 2, scikit-image's choice.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).
    """
    return (scale - 1) / 2


def degrade(hr_img: torch.Tensor, scale: int, *, method: str = "bicubic", sigma: float | None = None) -> torch.Tensor:
    """Make I_LR from I_HR.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    Args:
        hr_img: (C, H, W) or (B, C, H, W) float in [0, 1]. H and W should be multiples of
            ``scale`` (see :func:`srgan_edu.images.modcrop`) so that LR and HR align; other
            sizes give ceil(H/r) x ceil(W/r), as MATLAB's ``imresize(hr, 1/r)`` does.
        scale: the downsampling factor r (4 in the paper).
        method: ``"bicubic"`` (MATLAB's antialiased ``imresize``, what the paper's numbers use)
            or ``"gaussian"`` (Gaussian filter, then keep every r-th pixel: the paper's wording).
        sigma: the Gaussian's standard deviation (``"gaussian"`` only); default
            :func:`gaussian_sigma_for` ``(scale)``.

    Returns:
        lr_img (C, H/r, W/r) or (B, C, H/r, W/r), float, not clipped (bicubic may overshoot
        [0, 1] by a little; clip before saving).
    """
    _check_image(hr_img, "degrade")
    _check_scale(scale)
    height, width = hr_img.shape[-2:]
    if height < scale or width < scale:
        raise ValueError(f"the HR image ({height}x{width}) is smaller than the scale {scale}")
    if method == "bicubic":
        # by the factor, not to a size: for sizes that do not divide by r, resizing to
        # ceil(H/r) would stretch the kernel by another factor than 1/r, unlike MATLAB
        return imresize(hr_img, 1 / scale)
    if method == "gaussian":
        blurred = gaussian_blur(hr_img, sigma if sigma is not None else gaussian_sigma_for(scale))
        return decimate(blurred, scale)
    raise ValueError(f"method must be 'bicubic' or 'gaussian', not {method!r}")


def upscale(lr_img: torch.Tensor, scale: int, *, method: str = "bicubic") -> torch.Tensor:
    """The classical baselines: enlarge ``scale`` times by interpolation.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Args:
        lr_img: (C, h, w) or (B, C, h, w) float in [0, 1].
        scale: the factor.
        method: ``"nearest"`` (copies pixels: blocks), ``"bilinear"`` (PyTorch's, half-pixel
            centres) or ``"bicubic"`` (MATLAB's ``imresize``, the paper's baseline).

    Returns:
        (C, scale*h, scale*w) or (B, C, scale*h, scale*w), not clipped.
    """
    _check_image(lr_img, "upscale")
    _check_scale(scale)
    if method == "bicubic":
        return imresize(lr_img, scale)
    if method not in ("nearest", "bilinear"):
        raise ValueError(f"method must be 'nearest', 'bilinear' or 'bicubic', not {method!r}")
    batch = lr_img if lr_img.dim() == 4 else lr_img.unsqueeze(0)
    kwargs = {"align_corners": False} if method == "bilinear" else {}
    out = F.interpolate(batch, scale_factor=scale, mode=method, **kwargs)
    return out if lr_img.dim() == 4 else out[0]


def zone_plate(size: int = 256, *, max_frequency: float = 0.5) -> torch.Tensor:
    """A test pattern of rings whose frequency grows from the centre outwards.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    The local frequency at distance ``rho`` from the centre is proportional to ``rho`` and
    reaches ``max_frequency`` cycles per pixel in the corners. Every frequency up to that is
    present, so a downscale that aliases shows it at once: false rings appear where the
    pattern is finer than the new grid's Nyquist limit, ``0.5 / r`` cycles per pixel.

    Args:
        size: side in pixels.
        max_frequency: cycles per pixel in the corners (0.5, the Nyquist limit, at most).

    Returns:
        (1, size, size) float32 in [0, 1] (a greyscale image).
    """
    if size < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    if not 0 < max_frequency <= 0.5:
        raise ValueError(f"max_frequency must be in (0, 0.5] cycles per pixel (the Nyquist limit), got {max_frequency}")
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    radius_sq = coords[:, None] ** 2 + coords[None, :] ** 2
    corner = radius_sq.max().sqrt()
    # phase pi * k * rho^2 has local frequency k * rho cycles per pixel
    phase = torch.pi * (max_frequency / corner) * radius_sq
    return (0.5 + 0.5 * torch.cos(phase)).float().unsqueeze(0)


def _check_image(img: torch.Tensor, name: str) -> None:
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(img).__name__}")
    if img.dim() not in (3, 4):
        raise ValueError(f"{name} expects an image laid out (C, H, W) or (B, C, H, W), got shape {tuple(img.shape)}")
    if not img.is_floating_point():
        raise ValueError(f"{name} expects floats in [0, 1], got {img.dtype}; divide uint8 images by 255")


def _check_scale(scale: int) -> None:
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
