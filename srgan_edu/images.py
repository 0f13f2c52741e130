"""Images as tensors: loading, saving, colour spaces and ``modcrop`` (lesson 01).

Every image in the course is a float tensor laid out (C, H, W), or (B, C, H, W) for a
batch, with values in [0, 1] unless a function says otherwise. The SRGAN generator works
in [-1, 1] (``to_signed`` / ``to_unit`` convert). Metrics follow the super-resolution
convention of measuring on the luma channel Y of ITU-R BT.601, computed exactly as
MATLAB's ``rgb2ycbcr`` does (Y in [16, 235] on the 8-bit scale).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# MATLAB rgb2ycbcr for inputs in [0, 1]: rows give Y, Cb, Cr on the 8-bit scale / 255.
_RGB_TO_YCBCR = torch.tensor(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=torch.float64,
) / 255.0
_YCBCR_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0


def load_image(path: str | os.PathLike, *, mode: str = "RGB") -> torch.Tensor:
    """Read an image file as a float tensor in [0, 1].

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

    Any mode Pillow reads is accepted: RGB, RGBA (alpha dropped over black would change
    colours, so it is simply discarded), L, LA, P (palette), 1 (bilevel), 16-bit and
    32-bit integer greyscale (I;16, I) and CMYK.

    Args:
        path: the image file.
        mode: ``"RGB"`` for 3 channels, ``"L"`` for 1 channel, or ``"keep"`` to return
            1 channel for greyscale files and 3 for everything else.

    Returns:
        A float32 tensor of shape (C, H, W) with values in [0, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not an image Pillow can read, or ``mode`` is unknown.
    """
    if mode not in ("RGB", "L", "keep"):
        raise ValueError(f"mode must be 'RGB', 'L' or 'keep', not {mode!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an image file (its name only looks like one): rename or remove it.")
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {path}. Check the path (it is resolved from {Path.cwd()}).")
    try:
        with Image.open(path) as pil:
            pil.load()
            array = _pil_to_float_array(pil)
    except Image.DecompressionBombError as err:
        raise ValueError(f"Refused to decode {path}: {err} Such a huge image is usually a broken or hostile file; "
                         f"remove it, or shrink it with an image editor.") from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(
            f"Cannot read {path} as an image ({err}). It may be corrupt, truncated, or not an "
            f"image at all; supported files include {', '.join(IMAGE_SUFFIXES)}."
        ) from err
    img = torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (H, W, C) -> (C, H, W)
    if mode == "RGB" and img.shape[0] == 1:
        img = img.expand(3, -1, -1).contiguous()
    elif mode == "L" and img.shape[0] == 3:
        img = rgb_to_grey(img)
    return img


def _pil_to_float_array(pil: Image.Image) -> np.ndarray:
    """(H, W, 1) for greyscale files, (H, W, 3) otherwise; float32 in [0, 1]."""
    if pil.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(pil, dtype=np.float64) / 65535.0
        return array[..., None].astype(np.float32)
    if pil.mode in ("I", "F"):
        # These files do not say their range; take the smallest usual one that holds the data:
        # [0, 1] for floats (a float TIFF), else 8-bit, else 16-bit (Pillow opens some 16-bit
        # PNGs as "I"). Anything brighter is clipped to the 16-bit range.
        array = np.asarray(pil, dtype=np.float64)
        peak = float(array.max()) if array.size else 0.0
        if pil.mode == "F" and peak <= 1.0:
            top = 1.0
        else:
            top = 255.0 if peak <= 255 else 65535.0
        return (np.clip(array, 0, top) / top)[..., None].astype(np.float32)
    if pil.mode in ("L", "LA", "1"):
        array = np.asarray(pil.convert("L"), dtype=np.float32) / 255.0
        return array[..., None]
    if pil.mode == "P":
        pil = pil.convert("RGBA") if "transparency" in pil.info else pil.convert("RGB")
    array = np.asarray(pil.convert("RGB"), dtype=np.float32) / 255.0
    return array


def save_image(img: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a (C, H, W) image in [0, 1] (values outside are clipped) as 8-bit.

    The file is written next to its destination first and then renamed, so an
    interrupted save never leaves a half-written image. Parent folders are created.
    """
    if img.dim() == 4 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"save_image expects a (C, H, W) tensor with C = 1 or 3, got shape {tuple(img.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = to_uint8(img)
    pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"Unknown image suffix {path.suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    try:
        pil.save(tmp, format=fmt)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8, rounded as MATLAB's im2uint8 does.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).
    """
    array = img.detach().to("cpu", torch.float64).clamp(0, 1).mul(255.0).round()
    return array.permute(1, 2, 0).numpy().astype(np.uint8)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) uint8 -> (C, H, W) float32 in [0, 1].

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).
    """
    if array.dtype != np.uint8:
        raise ValueError(f"from_uint8 expects a uint8 array, got {array.dtype}")
    if array.ndim == 2:
        array = array[..., None]
    return torch.from_numpy(array.astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()


def rgb_to_ycbcr(img: torch.Tensor) -> torch.Tensor:
    """RGB -> YCbCr (ITU-R BT.601, MATLAB ``rgb2ycbcr``), both in [0, 1].

    Shape: (3, H, W) or (B, 3, H, W) -> the same. Y lies in [16/255, 235/255].
    """
    _check_rgb(img, "rgb_to_ycbcr")
    matrix = _RGB_TO_YCBCR.to(img.device, img.dtype)
    offset = _YCBCR_OFFSET.to(img.device, img.dtype)
    out = torch.einsum("ij,...jhw->...ihw", matrix, img)
    return out + offset.view(3, 1, 1)


def rgb_to_y(img: torch.Tensor) -> torch.Tensor:
    """The luma channel Y (BT.601, MATLAB ``rgb2ycbcr``) of an RGB image in [0, 1].

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Shape: (3, H, W) -> (1, H, W); (B, 3, H, W) -> (B, 1, H, W). Values in [16/255, 235/255].
    """
    _check_rgb(img, "rgb_to_y")
    weights = _RGB_TO_YCBCR[0].to(img.device, img.dtype)
    y = torch.einsum("j,...jhw->...hw", weights, img) + 16.0 / 255.0
    return y.unsqueeze(-3)


def rgb_to_grey(img: torch.Tensor) -> torch.Tensor:
    """Greyscale as Pillow's ``convert('L')`` (ITU-R 601-2 luma without offset), [0, 1]."""
    _check_rgb(img, "rgb_to_grey")
    weights = torch.tensor([0.299, 0.587, 0.114], device=img.device, dtype=img.dtype)
    return torch.einsum("j,...jhw->...hw", weights, img).unsqueeze(-3)


def _check_rgb(img: torch.Tensor, name: str) -> None:
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(img).__name__}")
    if img.dim() not in (3, 4) or img.shape[-3] != 3:
        raise ValueError(
            f"{name} expects an RGB image laid out (3, H, W) or (B, 3, H, W), got shape "
            f"{tuple(img.shape)}. A greyscale image is already luma; an (H, W, 3) array needs "
            f".permute(2, 0, 1)."
        )
    if not img.is_floating_point():
        raise ValueError(f"{name} expects floats in [0, 1], got {img.dtype}; divide uint8 images by 255")


def modcrop(img: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom and right edges so that height and width divide by ``scale``.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    The paper's evaluation (and MATLAB's classic scripts) crop HR images this way before
    downscaling, so that LR and HR line up exactly. Shape (..., H, W) -> (..., H', W').
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    height, width = img.shape[-2:]
    if img.dim() >= 3 and width in (1, 3, 4) and img.shape[-3] not in (1, 3, 4):
        raise ValueError(f"got shape {tuple(img.shape)}: this looks like an (H, W, C) image; images here are laid "
                         f"out (C, H, W): use img.permute(2, 0, 1)")
    if height < scale or width < scale:
        raise ValueError(f"image of size {height}x{width} is smaller than the scale {scale}")
    return img[..., : height - height % scale, : width - width % scale]


def to_signed(img: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], the range of the paper's HR targets and generator output.

    Lesson 04 (``notebooks/04_vgg_content_loss.ipynb``).
    """
    return img * 2.0 - 1.0


def to_unit(img: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (no clipping; clip with ``.clamp(0, 1)`` before saving or measuring).

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).
    """
    return (img + 1.0) * 0.5


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly in ``folder``, sorted by name (hidden files skipped).

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder}")
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
