"""The course's images: built-in photographs, HR folders, and (LR, HR) training patches.

Ledig et al. (CVPR 2017), sec. 3.1-3.2: SRGAN is trained on random 96x96 crops of
high-resolution (HR) photographs; the low-resolution (LR) input is the HR crop
downsampled 4x with bicubic interpolation; LR inputs lie in [0, 1] and HR targets in
[-1, 1]. This module (lessons 00-03) holds, top to bottom:

1. The built-in images: photographs that scikit-image installs with its wheel (no
   network), split into train and test images. The fast mode of every lesson uses them.
2. PyTorch data sets: ``HRImageFolder`` (whole HR images) and ``PairedPatchDataset``
   (random aligned LR/HR crops with flips and 90-degree rotations).

The real data sets (DIV2K, Set5, Set14, BSD100: registry, download, checksums,
sub-images) are in :mod:`srgan_edu.datasets`; ``DATASETS``, ``dataset_dir``,
``dataset_status`` and ``download`` are re-exported here, as the lessons call them
``data.download(...)``.

Every image is a float tensor laid out (C, H, W) with values in [0, 1], except HR patches
in the paper's [-1, 1] range when asked for (``hr_range="signed"``).
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from srgan_edu import paper
# re-exported: the lessons fetch and find the real data sets as data.download(...), data.dataset_dir(...)
from srgan_edu.datasets import DATASETS, dataset_dir, dataset_status, download  # noqa: F401
from srgan_edu.degradation import degrade
from srgan_edu.images import IMAGE_SUFFIXES, list_images, load_image, modcrop, to_signed

# ---------------------------------------------------------------------------------------
# 1. Built-in images (scikit-image's sample photographs; no network needed)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinImage:
    """One photograph that the scikit-image wheel installs in ``skimage/data``."""

    name: str  # what the course calls it
    filename: str  # the file in skimage/data
    description: str  # what is in the picture (and why it is useful for super-resolution)
    credit: str  # photographer or source, and licence, as scikit-image documents them
    split: str  # "train" or "test"


# Only files that are inside the scikit-image wheel itself. Some skimage.data functions
# (e.g. skimage.data.cells3d, kidney, lily) download their image on first use; none of
# those is listed here. The test split holds out three photographs with the textures SR
# is judged on: fur, wood grain, and a night scene with fine lattice structures.
BUILTIN: tuple[BuiltinImage, ...] = (
    BuiltinImage(
        "astronaut", "astronaut.png",
        "Eileen Collins in her NASA suit: a face, fabric, flags, 512x512",
        "NASA Great Images database; public domain", "train",
    ),
    BuiltinImage(
        "motorcycle", "motorcycle_left.png",
        "a motorcycle in a workshop: metal, spokes, clutter, 741x500",
        "Middlebury 2014 stereo data set (Scharstein et al., GCPR 2014), left view "
        "downsampled 4x by scikit-image", "train",
    ),
    BuiltinImage(
        "immunohistochemistry", "ihc.png",
        "stained colon tissue under a microscope: dense cell texture, 512x512",
        "Center for Microscopy And Molecular Imaging (CMMI); no known copyright restrictions",
        "train",
    ),
    BuiltinImage(
        "hubble_deep_field", "hubble_deep_field.jpg",
        "Hubble eXtreme Deep Field: small bright galaxies on black, 1000x872",
        "NASA / HubbleSite; public domain", "train",
    ),
    BuiltinImage(
        "retina", "retina.jpg",
        "fundus photograph of a human retina: smooth shading and thin vessels, 1411x1411",
        "Mikael Haggstrom, Wikimedia Commons; CC0 1.0", "train",
    ),
    BuiltinImage(
        "chelsea", "chelsea.png",
        "Chelsea the cat: fur, whiskers, edges at many scales, 451x300",
        "Stefan van der Walt; CC0", "test",
    ),
    BuiltinImage(
        "coffee", "coffee.png",
        "a coffee cup (Pikolo Espresso Bar): smooth porcelain and coarse wood grain, 600x400",
        "Rachel Michetti; CC0", "test",
    ),
    BuiltinImage(
        "rocket", "rocket.jpg",
        "DSCOVR on a Falcon 9 at night: thin towers, lights, a dark sky, 640x427",
        "SpaceX; released into the public domain", "test",
    ),
)

SPLITS = ("train", "test", "all")


def skimage_data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image (it holds the built-in images)."""
    return Path(str(importlib.resources.files("skimage"))) / "data"


@lru_cache(maxsize=None)
def _load_builtin(filename: str) -> torch.Tensor:
    path = skimage_data_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"The built-in image {filename} is not in {path.parent}. It ships with "
            "scikit-image's wheel; reinstall it with `pip install --force-reinstall scikit-image`."
        )
    return load_image(path, mode="RGB")


def builtin_images(split: str = "all") -> list[tuple[str, torch.Tensor]]:
    """The built-in photographs as (name, image) pairs, read from disk (never downloaded).

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

    Args:
        split: ``"train"``, ``"test"`` or ``"all"`` (train images first).

    Returns:
        A list of ``(name, img)`` with ``img`` a float32 tensor (3, H, W) in [0, 1]. Each
        call returns fresh copies, so changing one in place does not change the next call.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, not {split!r}")
    chosen = [item for item in BUILTIN if split == "all" or item.split == split]
    chosen.sort(key=lambda item: item.split != "train")  # train first, in table order
    return [(item.name, _load_builtin(item.filename).clone()) for item in chosen]


# ---------------------------------------------------------------------------------------
# 2. PyTorch data sets: whole HR images, and random aligned (LR, HR) patches
# ---------------------------------------------------------------------------------------


# Training sets up to this size (decoded, 8 bits per channel) are decoded once and kept in
# memory: 72 photographs of 1024x768 take 170 MB, and a crop then costs no PNG decode (which
# on two cores took a third of each step). DIV2K's 800 training images (6.7 GB) stay on disk.
IN_MEMORY_LIMIT_BYTES = 2 * 2**30


class HRImageFolder(Dataset):
    """The HR images in one folder (not its subfolders), sorted by file name.

    ``dataset[i]`` is a float32 tensor (3, H, W) in [0, 1]; greyscale files are repeated
    to three channels. By default images are read from disk on each access (DIV2K does not
    fit in memory as floats: 800 images of about 2040x1400 pixels); with ``in_memory`` they
    are decoded once and kept as 8-bit tensors, a quarter of the float size.

    Args:
        folder: the folder, e.g. ``dataset_dir("DIV2K_train_HR")``.
        in_memory: True: decode every image now and keep it; False: read at each access;
            None: keep them when their decoded size is at most ``IN_MEMORY_LIMIT_BYTES``
            (:attr:`in_memory` then says which was chosen).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: the folder holds no image files, or one of them cannot be read.
    """

    def __init__(self, folder: str | os.PathLike, *, in_memory: bool | None = False):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(
                f"No folder at {self.folder}. For a data set, use dataset_dir(NAME) after "
                "`python -m srgan_edu download NAME`."
            )
        self.paths = list_images(self.folder)
        if not self.paths:
            raise ValueError(
                f"No images in {self.folder} (looked for files ending in "
                f"{', '.join(IMAGE_SUFFIXES)}, directly in that folder). Check the path, or "
                "whether the images are one folder further down."
            )
        self._sizes = [self._read_size(path) for path in self.paths]
        if in_memory is None:
            in_memory = self.decoded_bytes() <= IN_MEMORY_LIMIT_BYTES
        self.in_memory = bool(in_memory)
        self._decoded: list[torch.Tensor] = []
        if self.in_memory:  # (3, H, W) uint8: 8-bit files are held exactly
            self._decoded = [load_image(path, mode="RGB").mul(255).round_().to(torch.uint8) for path in self.paths]

    @staticmethod
    def _read_size(path: Path) -> tuple[int, int]:
        try:
            with Image.open(path) as pil:
                width, height = pil.size
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise ValueError(f"Cannot read {path} as an image ({err}): remove it from the folder or replace it.") from err
        return height, width

    @property
    def names(self) -> list[str]:
        """The file names without their suffix, e.g. ``"0001"``."""
        return [path.stem for path in self.paths]

    def image_size(self, index: int) -> tuple[int, int]:
        """(H, W) of image ``index``, read from the file header without decoding it."""
        return self._sizes[index]

    def decoded_bytes(self) -> int:
        """The images' size decoded at 8 bits per channel, in bytes (3 channels each)."""
        return sum(3 * height * width for height, width in self._sizes)

    def describe(self) -> str:
        """One line for a training log: how many images, and whether they are held in memory."""
        size = f"{self.decoded_bytes() / 2**20:.0f} MB decoded"
        where = ("decoded once and held in memory" if self.in_memory else
                 f"read from disk at each crop (more than {IN_MEMORY_LIMIT_BYTES // 2**30} GB to hold)"
                 if self.decoded_bytes() > IN_MEMORY_LIMIT_BYTES else "read from disk at each crop")
        return f"{len(self)} images in {self.folder} ({size}), {where}"

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.in_memory:
            return self._decoded[index].to(torch.float32).div_(255)
        return load_image(self.paths[index], mode="RGB")


def _check_crop(hr_crop: int, scale: int) -> None:
    if scale < 1 or hr_crop < 1:
        raise ValueError(f"hr_crop and scale must be positive, got hr_crop={hr_crop}, scale={scale}")
    if hr_crop % scale:
        raise ValueError(
            f"hr_crop={hr_crop} must be a multiple of scale={scale}, so that the LR crop "
            f"({hr_crop}/{scale}) is a whole number of pixels; try {hr_crop - hr_crop % scale or scale}."
        )


def _crop_too_large(hr_crop: int, name: str, height: int, width: int, scale: int) -> ValueError:
    largest = min(height, width) // scale * scale
    return ValueError(
        f"hr_crop={hr_crop} is larger than image {name!r} ({height}x{width} pixels, "
        f"{largest}x{largest} at most after cropping to a multiple of scale={scale}). Use a "
        f"smaller hr_crop, or leave this image out."
    )


def _draw(high: int, generator: torch.Generator | None) -> int:
    """A uniform integer in [0, high)."""
    return int(torch.randint(0, high, (1,), generator=generator).item())


def paired_random_crop(
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    hr_crop: int,
    scale: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop the same random region from an aligned LR/HR pair.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    The LR crop starts at a whole LR pixel ``(i, j)`` and the HR crop at ``(scale*i,
    scale*j)``, so the two still show exactly the same part of the scene.

    Args:
        lr_img: (C, h, w) or (B, C, h, w), any range.
        hr_img: (C, scale*h, scale*w) or (B, C, scale*h, scale*w).
        hr_crop: side of the square HR crop; a multiple of ``scale``.
        scale: the upscaling factor between the two.
        generator: a seeded ``torch.Generator`` for repeatable crops.

    Returns:
        ``(lr_crop, hr_crop)`` of shapes (..., hr_crop/scale, hr_crop/scale) and
        (..., hr_crop, hr_crop); views into the inputs.
    """
    _check_crop(hr_crop, scale)
    lr_height, lr_width = lr_img.shape[-2:]
    if tuple(hr_img.shape[-2:]) != (lr_height * scale, lr_width * scale):
        raise ValueError(
            f"HR image {tuple(hr_img.shape[-2:])} is not scale={scale} times the LR image "
            f"{(lr_height, lr_width)}; crop the HR image with images.modcrop(hr_img, scale) "
            "before making the LR image."
        )
    lr_crop = hr_crop // scale
    if lr_crop > min(lr_height, lr_width):
        raise _crop_too_large(hr_crop, "hr_img", *hr_img.shape[-2:], scale)
    i = _draw(lr_height - lr_crop + 1, generator)
    j = _draw(lr_width - lr_crop + 1, generator)
    return (
        lr_img[..., i : i + lr_crop, j : j + lr_crop],
        hr_img[..., i * scale : (i + lr_crop) * scale, j * scale : (j + lr_crop) * scale],
    )


def augment_pair(
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random flip/rotation, the same one, to an LR patch and its HR patch.

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

    Three fair coin flips choose a left-right flip, an up-down flip and a transpose; their
    combinations are the 8 symmetries of a square (the identity, 90/180/270-degree
    rotations, and four mirror images), each with probability 1/8. Patches should be
    square, or the transpose swaps their height and width.

    Args:
        lr_img: (..., h, w).
        hr_img: (..., H, W).
        generator: a seeded ``torch.Generator`` for repeatable choices.

    Returns:
        ``(lr_img, hr_img)`` transformed, contiguous.
    """
    flip_lr, flip_ud, transpose = (torch.rand(3, generator=generator) < 0.5).tolist()
    if flip_lr:
        lr_img, hr_img = lr_img.flip(-1), hr_img.flip(-1)
    if flip_ud:
        lr_img, hr_img = lr_img.flip(-2), hr_img.flip(-2)
    if transpose:
        lr_img, hr_img = lr_img.transpose(-1, -2), hr_img.transpose(-1, -2)
    return lr_img.contiguous(), hr_img.contiguous()


class PairedPatchDataset(Dataset):
    """Random (LR, HR) training patches, made on the fly from HR images (paper sec. 3.2).

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

    Each sample picks an HR image, draws a random square HR crop aligned to the scale grid,
    makes its LR version with :func:`srgan_edu.degradation.degrade`, and (with ``augment``)
    applies one random flip/rotation to both. Only the crop is degraded, never the whole
    (up to 2K) image: a margin of ``context`` LR pixels of real image around the crop
    feeds the resampling kernel and is then cut off, so the LR patch equals the matching
    crop of the degraded whole image (checked in tests/test_data.py).

    Randomness is repeatable and does not depend on ``num_workers``: sample ``index``
    uses a ``torch.Generator`` seeded from ``(seed, epoch, index)``. Call
    :meth:`set_epoch` at the start of each epoch to get new crops (as with PyTorch's
    ``DistributedSampler``). With ``seed=None`` each sample draws its seed from PyTorch's
    global generator, which DataLoader seeds differently in each worker.

    Args:
        source: a folder of HR images (or an :class:`HRImageFolder`), or a list of HR
            images (3, H, W) in [0, 1], or of ``(name, image)`` pairs as returned by
            :func:`builtin_images`.
        hr_crop: side of the square HR crop (the paper: 96); a multiple of ``scale``.
        scale: the upscaling factor (the paper: 4).
        hr_range: ``"signed"`` for HR targets in [-1, 1] (the paper), ``"unit"`` for [0, 1].
        augment: random flips and 90-degree rotations.
        method: the degradation, ``"bicubic"`` (the paper) or ``"gaussian"``.
        length: samples per epoch (default: one per image); sample ``i`` uses image
            ``i % num_images``, so a few built-in images can give many patches.
        seed: a non-negative seed for repeatable patches; ``None`` uses PyTorch's global
            generator.
        context: LR pixels of margin around each crop for the degradation kernel.

    Shape:
        ``dataset[i]`` is ``(lr_img, hr_img)``: lr_img (3, hr_crop/scale, hr_crop/scale) in
        [0, 1] (clamped: bicubic overshoots); hr_img (3, hr_crop, hr_crop) in [-1, 1] or [0, 1].
    """

    def __init__(
        self,
        source: str | os.PathLike | HRImageFolder | Sequence[torch.Tensor] | Sequence[tuple[str, torch.Tensor]],
        *,
        hr_crop: int = paper.HR_CROP,
        scale: int = 4,
        hr_range: str = "signed",
        augment: bool = True,
        method: str = "bicubic",
        length: int | None = None,
        seed: int | None = None,
        context: int = 4,
    ):
        _check_crop(hr_crop, scale)
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed}")
        if hr_range not in ("signed", "unit"):
            raise ValueError(f"hr_range must be 'signed' ([-1, 1]) or 'unit' ([0, 1]), not {hr_range!r}")
        self.hr_crop, self.scale, self.hr_range = hr_crop, scale, hr_range
        self.augment, self.method, self.seed, self.context = augment, method, seed, context
        self.epoch = 0
        self._folder: HRImageFolder | None = None
        self._images: list[torch.Tensor] = []
        if isinstance(source, (str, os.PathLike, HRImageFolder)):
            self._folder = source if isinstance(source, HRImageFolder) else HRImageFolder(source)
            self.names = self._folder.names
            sizes = [self._folder.image_size(i) for i in range(len(self._folder))]
        else:
            self.names, self._images = self._unpack_tensors(source)
            sizes = [tuple(img.shape[-2:]) for img in self._images]
        for name, (height, width) in zip(self.names, sizes):
            if min(height, width) // scale * scale < hr_crop:
                raise _crop_too_large(hr_crop, name, height, width, scale)
        self.num_images = len(self.names)
        self.length = self.num_images if length is None else int(length)
        if self.length < 1:
            raise ValueError(f"length must be at least 1, got {length}")

    @staticmethod
    def _unpack_tensors(source) -> tuple[list[str], list[torch.Tensor]]:
        items = list(source)
        if not items:
            raise ValueError("PairedPatchDataset got an empty list of images; pass at least one.")
        names, images = [], []
        for position, item in enumerate(items):
            name, img = item if isinstance(item, tuple) else (f"image {position}", item)
            if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] != 3:
                shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
                raise ValueError(
                    f"{name}: expected an RGB image tensor (3, H, W) in [0, 1], got {shape}"
                )
            if not img.is_floating_point():
                raise ValueError(f"{name}: expected floats in [0, 1], got {img.dtype}; for 8-bit images pass "
                                 f"img.float() / 255")
            if img.numel() and not bool(torch.isfinite(img).all()):
                raise ValueError(f"{name} holds NaN or infinite values; PairedPatchDataset takes images in [0, 1]")
            low, high = (float(img.min()), float(img.max())) if img.numel() else (0.0, 0.0)
            if high > 1.0 + 1e-3:
                raise ValueError(f"{name} has values up to {high:.4g}: expected [0, 1] (a [0, 255] image? divide "
                                 f"by 255). The HR targets would reach {2 * high - 1:.4g} instead of 1.")
            if low < -1e-3:
                raise ValueError(f"{name} has values down to {low:.4g}: expected [0, 1] (a [-1, 1] image? use "
                                 f"images.to_unit(img)). PairedPatchDataset maps the HR targets to [-1, 1] itself.")
            names.append(name)
            images.append(img.detach().to("cpu", torch.float32))
        return names, images

    def set_epoch(self, epoch: int) -> None:
        """Use the crops of epoch ``epoch`` (call before iterating a DataLoader each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _generator(self, index: int) -> torch.Generator:
        if self.seed is None:
            sample_seed = int(torch.randint(0, 2**62, (1,)).item())
        else:  # mixes the three numbers well, so nearby seeds give unrelated crops
            state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2)
            sample_seed = (int(state[0]) << 31 ^ int(state[1])) & (2**63 - 1)
        return torch.Generator().manual_seed(sample_seed)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        image_index = index % self.num_images
        if self._folder is not None:
            hr_full = self._folder[image_index]
        else:
            hr_full = self._images[image_index]
        hr_full = modcrop(hr_full, self.scale)  # (3, H, W), H and W multiples of scale
        generator = self._generator(index)
        scale, lr_crop = self.scale, self.hr_crop // self.scale
        lr_height, lr_width = hr_full.shape[-2] // scale, hr_full.shape[-1] // scale
        i = _draw(lr_height - lr_crop + 1, generator)  # top-left of the crop, in LR pixels
        j = _draw(lr_width - lr_crop + 1, generator)
        # Degrade the crop plus a margin of real image (clipped at the image border, where
        # the whole-image degradation pads in the same way) and cut the margin off again.
        top, left = min(self.context, i), min(self.context, j)
        bottom = min(self.context, lr_height - i - lr_crop)
        right = min(self.context, lr_width - j - lr_crop)
        region = hr_full[
            :,
            (i - top) * scale : (i + lr_crop + bottom) * scale,
            (j - left) * scale : (j + lr_crop + right) * scale,
        ]
        lr_region = degrade(region, scale, method=self.method)  # (3, h + margins, w + margins)
        lr_img = lr_region[:, top : top + lr_crop, left : left + lr_crop].clamp(0.0, 1.0)
        hr_img = hr_full[:, i * scale : (i + lr_crop) * scale, j * scale : (j + lr_crop) * scale]
        if self.augment:
            lr_img, hr_img = augment_pair(lr_img, hr_img, generator)
        if self.hr_range == "signed":
            hr_img = to_signed(hr_img)  # [0, 1] -> [-1, 1], the paper's HR targets
        return lr_img.contiguous(), hr_img.contiguous()

