"""Super-resolve your own photograph: ``python -m srgan_edu upscale PHOTO --model NAME --out OUT.png``.

The first thing everyone tries with a super-resolution model. The photograph is the LR
input as it is (no downscaling first: that is what ``evaluate`` does to measure), the
output is ``scale`` times larger on each side, and large photographs go through the network
in tiles (:func:`srgan_edu.evaluation.super_resolve`), so memory stays bounded and the
result is the same as in one piece.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from srgan_edu import course_models
from srgan_edu.checkpoints import load_generator
from srgan_edu.evaluation import DEFAULT_TILE, super_resolve
from srgan_edu.images import IMAGE_SUFFIXES, load_image, rgb_to_grey, save_image
from srgan_edu.runtime import Precision, pick_device

MIN_SIDE = 8  # pixels: below this a photograph holds too little for the network to work on


def upscale_image(generator: nn.Module, lr_img: torch.Tensor, *, tile: int | None = DEFAULT_TILE,
                  autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """One photograph through the generator.

    Args:
        generator: an SRResNet, lr_img (B, 3, h, w) [0, 1] -> (B, 3, s*h, s*w) [-1, 1].
        lr_img: (3, h, w) or (1, h, w) in [0, 1]; grey comes back grey.
        tile: LR tile side for large images (None: whole).
        autocast_dtype: ``torch.bfloat16`` for mixed precision, None for fp32.

    Returns:
        (C, s*h, s*w) in [0, 1], float32, C as the input's.
    """
    if lr_img.dim() != 3 or lr_img.shape[0] not in (1, 3):
        raise ValueError(f"upscale_image takes one (3, h, w) or (1, h, w) image, got {tuple(lr_img.shape)}")
    grey = lr_img.shape[0] == 1
    device = next(generator.parameters()).device
    lr_input = (lr_img.expand(3, -1, -1) if grey else lr_img).to(device)
    if autocast_dtype is None:
        sr_img = super_resolve(generator, lr_input, tile=tile)
    else:
        with torch.autocast(device_type=device.type, dtype=autocast_dtype):
            sr_img = super_resolve(generator, lr_input, tile=tile)
    sr_img = sr_img.float().cpu()
    return rgb_to_grey(sr_img) if grey else sr_img


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu upscale``."""
    parser.add_argument("photo", type=Path, help="the photograph to enlarge (PNG, JPEG, BMP, TIFF, ...)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--model", default="SRResNet-MSE",
                      help=f"a course model: {', '.join(course_models.names())} (default SRResNet-MSE)")
    what.add_argument("--checkpoint", type=Path, help="or the generator of your own training checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="where to write the enlarged image (.png recommended)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE,
                        help=f"LR tile side for large photographs (default {DEFAULT_TILE}; 0: never tile)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best present)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision (default: bf16 where the CPU or GPU has it natively, else fp32)")


def cli_main(args: argparse.Namespace) -> int:
    """Run ``upscale``: 0 when written, 2 on a usage error (one ``error:`` line)."""
    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    if args.tile < 0:
        return fail(f"--tile must be 0 (never tile) or a positive number of LR pixels, got {args.tile}")
    if args.out.suffix.lower() not in IMAGE_SUFFIXES:
        return fail(f"--out {args.out} needs an image suffix ({', '.join(IMAGE_SUFFIXES)}); .png keeps every pixel")
    if args.out.is_dir():
        return fail(f"--out {args.out} is a folder; give a file name such as {args.out / 'enlarged.png'}")
    if args.out.exists() and not args.overwrite:
        return fail(f"{args.out} exists; choose another --out or pass --overwrite to replace it")
    if args.out.resolve() == args.photo.resolve():
        return fail("--out is the photograph itself; write the enlarged image to another file")
    if not args.photo.is_file():
        return fail(f"no file at {args.photo}" + (" (it is a folder)" if args.photo.is_dir() else ""))
    try:
        lr_img = load_image(args.photo, mode="keep")
    except ValueError as err:
        return fail(str(err))
    if min(lr_img.shape[-2:]) < MIN_SIDE:
        return fail(f"{args.photo} is {lr_img.shape[-1]}x{lr_img.shape[-2]} pixels; the network needs at least "
                    f"{MIN_SIDE} on each side")
    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as err:
        return fail(str(err))
    try:
        if args.checkpoint is not None:
            generator, label = load_generator(args.checkpoint, map_location=device), str(args.checkpoint)
        else:
            generator, label = course_models.load(args.model, device=device), course_models.resolve(args.model).value
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # unknown name, missing or damaged file
        return fail(str(err))
    precision = Precision.choose(device, amp=args.amp, channels_last=False)
    scale = getattr(generator, "scale", 4)
    sr_img = upscale_image(generator, lr_img, tile=args.tile or None, autocast_dtype=precision.autocast_dtype)
    try:
        save_image(sr_img, args.out)  # written beside it and renamed: whole or not at all
    except OSError as err:
        return fail(f"cannot write {args.out} ({err.strerror or err}); check that its folder is writable")
    height, width = lr_img.shape[-2:]
    print(f"{args.photo} ({width}x{height}) -> {args.out} ({width * scale}x{height * scale}) with {label}, "
          f"{precision.description} on {device}")
    return 0
