"""The paper's evaluation protocol on whole data sets (lessons 02 and 07, paper sec. 3).

For every HR image of Set5, Set14 and BSD100 (or the built-in test images):

1. ``modcrop`` so that height and width divide by the scale;
2. I_LR = MATLAB-style bicubic downscale by the scale, saved as 8-bit (what the paper's LR
   files are);
3. I_SR = bicubic upscale (the baseline) or the generator's output, saved as 8-bit;
4. PSNR and SSIM on the Y channel with ``scale`` pixels shaved from each border
   (:mod:`srgan_edu.metrics`). A single-channel image is taken as Y, as the classic
   evaluation scripts do.

The means per set are printed beside the paper's table 2. The paper's SSIM for bicubic
(0.8211 / 0.7486 / 0.6935) is not reproduced by standard SSIM code; Wang et al.'s SSIM on Y
(Gaussian 11x11, sigma 1.5) gives 0.8104 / 0.7027 / 0.6675 on the same images, the numbers
that most later super-resolution papers report, and that this module reproduces.

Large images are super-resolved in overlapping tiles (:func:`super_resolve`), so that memory
stays bounded however large the test image.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from srgan_edu import course_models, data, datasets, metrics
from srgan_edu.paper import BENCHMARK_SETS, PAPER_TABLE  # noqa: F401  (re-exported, see below)
from srgan_edu.checkpoints import CheckpointError, CheckpointMismatchError, atomic_write_text, load_trained_generator
from srgan_edu.degradation import imresize
from srgan_edu.images import from_uint8, list_images, load_image, modcrop, rgb_to_grey, save_image, to_uint8, to_unit
from srgan_edu.runtime import Precision, autocast, pick_device

# Half the receptive field of the paper's SRResNet (16 blocks) in LR pixels:
# srresnet.receptive_field(SRResNet()) == 80. Tiles with this much context on every side
# give exactly the output of the whole image.
DEFAULT_TILE_OVERLAP = 40

# LR tile side for `evaluate --checkpoint`. Set5/Set14/BSD100 images go through whole (none is
# larger than 256 LR pixels at x4). Measured on a CPU for the paper's SRResNet in fp32: a DIV2K
# image (510 x 339 LR) peaks at 1.6 GB whole and 0.9 GB in tiles; a 4K frame (960 x 540 LR) at
# 4.8 GB whole and 1.2 GB in tiles, the same for any larger image.
DEFAULT_TILE = 256

# The paper's table (PAPER_TABLE) and its benchmark sets are in srgan_edu.paper; named here as
# well, since lessons 02 and 07 read evaluation.PAPER_TABLE and evaluation.BENCHMARK_SETS.


@dataclass
class SetResult:
    """The scores of one method on one image set."""

    name: str  # the set, e.g. "Set5" or "builtin"
    method: str  # "bicubic" or the generator's description
    scale: int  # the SR factor
    psnr: float  # mean PSNR in dB on Y, border shaved
    ssim: float  # mean SSIM on Y, border shaved
    per_image: list[dict] = field(default_factory=list)  # name, psnr, ssim of each image


def bicubic_pair(hr_img: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's LR input and bicubic baseline for one HR image, both quantised to 8 bits.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Args:
        hr_img: (C, H, W) in [0, 1], C = 1 or 3.
        scale: the SR factor.

    Returns:
        (lr_img (C, H'/s, W'/s), bicubic (C, H', W')), floats in [0, 1] on the uint8 grid,
        where (H', W') is the modcropped size.
    """
    hr_uint8 = to_uint8(modcrop(hr_img, scale))  # (H, W, C) uint8
    lr_uint8 = imresize(hr_uint8, 1 / scale)
    up_uint8 = imresize(lr_uint8, float(scale))
    return from_uint8(lr_uint8), from_uint8(up_uint8)


@torch.no_grad()
def super_resolve(
    generator: nn.Module,
    lr_img: torch.Tensor,
    *,
    tile: int | None = None,
    overlap: int = DEFAULT_TILE_OVERLAP,
) -> torch.Tensor:
    """Run a generator on one LR image, in overlapping tiles when ``tile`` is given.

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    Each tile of ``tile`` x ``tile`` LR pixels is run with ``overlap`` extra pixels of
    context on every side, and only its centre is kept, so the seams vanish once ``overlap``
    covers the network's receptive field and the peak memory is that of one tile.

    Args:
        generator: maps (B, 3, h, w) in [0, 1] to (B, 3, s*h, s*w) in [-1, 1] (SRResNet).
        lr_img: (3, h, w) in [0, 1], on the generator's device.
        tile: LR tile size (None: the whole image at once). Memory grows with
            ``(tile + 2 * overlap) ** 2``, not with the image.
        overlap: LR pixels of context around each tile; at least half the generator's
            receptive field (:func:`srgan_edu.srresnet.receptive_field`) for a seamless
            result, which the default is for the paper's 16-block SRResNet.

    Returns:
        sr_img (3, s*h, s*w) in [0, 1] (clamped), on the input's device.
    """
    if lr_img.dim() != 3:
        raise ValueError(f"super_resolve takes one (C, h, w) image, got shape {tuple(lr_img.shape)}")
    was_training = generator.training
    generator.eval()  # BatchNorm must use its running statistics, never the tile's own
    try:
        height, width = lr_img.shape[-2:]
        if tile is None or (height <= tile and width <= tile):
            return to_unit(generator(lr_img.unsqueeze(0))[0]).clamp(0, 1)
        if tile < 1 or overlap < 0:
            raise ValueError(f"tile must be >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}")
        out = None
        scale = None
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
                y1, x1 = min(top + tile + overlap, height), min(left + tile + overlap, width)
                piece = generator(lr_img[:, y0:y1, x0:x1].unsqueeze(0))[0]  # (3, s*(y1-y0), s*(x1-x0))
                if out is None:
                    scale = piece.shape[-1] // (x1 - x0)
                    out = lr_img.new_empty(piece.shape[0], height * scale, width * scale)
                bottom, right = min(top + tile, height), min(left + tile, width)
                keep = piece[:, (top - y0) * scale : (bottom - y0) * scale, (left - x0) * scale : (right - x0) * scale]
                out[:, top * scale : bottom * scale, left * scale : right * scale] = keep
        return to_unit(out).clamp(0, 1)
    finally:
        generator.train(was_training)


def _score(sr_img: torch.Tensor, hr_img: torch.Tensor, scale: int) -> tuple[float, float]:
    return (
        metrics.psnr(sr_img, hr_img, scale=scale),
        metrics.ssim(sr_img, hr_img, scale=scale),
    )


def _summarise(name: str, method: str, scale: int, per_image: list[dict]) -> SetResult:
    if not per_image:
        raise ValueError(f"{name}: no images to evaluate")
    mean_psnr = sum(r["psnr"] for r in per_image) / len(per_image)
    mean_ssim = sum(r["ssim"] for r in per_image) / len(per_image)
    return SetResult(name, method, scale, mean_psnr, mean_ssim, per_image)


def evaluate_bicubic(images: list[tuple[str, torch.Tensor]], *, scale: int = 4, set_name: str = "images",
                     save_dir: str | os.PathLike | None = None) -> SetResult:
    """The bicubic baseline with the paper's protocol.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Args:
        images: (name, hr_img) pairs, hr_img (C, H, W) in [0, 1] with C = 1 (Y) or 3.
        scale: the SR factor (4 in the paper).
        set_name: a name for the result.
        save_dir: if given, the bicubic images are written there as PNG.
    """
    per_image = []
    for name, hr_img in images:
        _, sr_img = bicubic_pair(hr_img, scale)
        hr_crop = modcrop(hr_img, scale)
        psnr_value, ssim_value = _score(sr_img, hr_crop, scale)
        per_image.append({"name": name, "psnr": psnr_value, "ssim": ssim_value})
        if save_dir is not None:
            save_image(sr_img, Path(save_dir) / f"{Path(name).stem}_bicubic_x{scale}.png")
    return _summarise(set_name, "bicubic", scale, per_image)


def evaluate_generator(
    generator: nn.Module,
    images: list[tuple[str, torch.Tensor]],
    *,
    scale: int = 4,
    set_name: str = "images",
    method: str = "generator",
    tile: int | None = None,
    save_dir: str | os.PathLike | None = None,
) -> SetResult:
    """A trained generator with the paper's protocol (its input is the 8-bit bicubic LR image).

    The generator runs on the device of its parameters. A greyscale image is fed as three
    equal channels, and the output is turned back into one grey channel (``rgb_to_grey``,
    which returns v for R = G = B = v) before it is compared with the grey HR image, exactly
    as the bicubic baseline is. (Its Y channel would be wrong here: BT.601's Y maps [0, 1] to
    [16/255, 235/255], while the grey HR image spans the full [0, 1]; that mix-up costs 1.32 dB,
    20 log10(255/219).)

    Args:
        generator: an SRResNet (or anything with the same interface) for ``scale``.
        images: (name, hr_img) pairs, hr_img (C, H, W) in [0, 1].
        scale: the generator's SR factor.
        set_name: a name for the result.
        method: the name printed in the table.
        tile: LR tile size for :func:`super_resolve` (None: whole images).
        save_dir: if given, the SR images are written there as PNG.
    """
    device = next(generator.parameters()).device
    per_image = []
    for name, hr_img in images:
        lr_img, _ = bicubic_pair(hr_img, scale)
        grey = lr_img.shape[0] == 1
        lr_input = lr_img.expand(3, -1, -1) if grey else lr_img
        sr_img = super_resolve(generator, lr_input.to(device), tile=tile).cpu()
        if not bool(torch.isfinite(sr_img).all()):  # to_uint8 would turn NaN into black and score it
            raise ValueError(f"{name}: the generator's output holds NaN or infinite values (diverged or damaged "
                             f"weights), so there is nothing to measure. Use an earlier checkpoint of the run.")
        sr_img = from_uint8(to_uint8(sr_img))  # what a saved PNG holds
        hr_crop = modcrop(hr_img, scale)
        if sr_img.shape[-2:] != hr_crop.shape[-2:]:
            raise ValueError(
                f"{name}: the generator made a {tuple(sr_img.shape[-2:])} image from a {tuple(lr_img.shape[-2:])} "
                f"input, not {tuple(hr_crop.shape[-2:])}: is it a x{scale} model?"
            )
        sr_measured = rgb_to_grey(sr_img) if grey else sr_img  # grey with grey; RGB is measured on Y
        psnr_value, ssim_value = _score(sr_measured, hr_crop, scale)
        per_image.append({"name": name, "psnr": psnr_value, "ssim": ssim_value})
        if save_dir is not None:
            save_image(sr_img, Path(save_dir) / f"{Path(name).stem}_{method}_x{scale}.png")
    return _summarise(set_name, method, scale, per_image)


def load_set(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[str, torch.Tensor]]:
    """The HR images of a benchmark set as (file name, (C, H, W) [0, 1]); greyscale stays 1-channel.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Raises:
        FileNotFoundError: the set is missing; the message says how to download it.
    """
    if name in datasets.DATASETS:
        folder = datasets.dataset_dir(name, data_dir)
    else:
        folder = Path(data_dir if data_dir is not None else datasets.default_data_dir()) / name
        if not folder.is_dir():
            raise FileNotFoundError(f"No image folder {folder}")
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"{folder} holds no images ({', '.join(s for s in ('png', 'jpg', 'bmp'))} files)")
    return [(p.name, load_image(p, mode="keep")) for p in paths]


def evaluate_sets(
    *,
    sets: tuple[str, ...] = BENCHMARK_SETS,
    data_dir: str | os.PathLike | None = None,
    scale: int = 4,
    generator: nn.Module | None = None,
    method: str | None = None,
    tile: int | None = None,
    save_dir: str | os.PathLike | None = None,
) -> list[SetResult]:
    """Evaluate bicubic (no ``generator``) or a generator on each named set.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    ``"builtin"`` as a set name means the built-in test photographs (no download needed).
    """
    results = []
    for set_name in sets:
        if set_name == "builtin":
            images = data.builtin_images("test")
        else:
            images = load_set(set_name, data_dir)
        set_save = Path(save_dir) / set_name if save_dir is not None else None
        if generator is None:
            results.append(evaluate_bicubic(images, scale=scale, set_name=set_name, save_dir=set_save))
        else:
            results.append(
                evaluate_generator(generator, images, scale=scale, set_name=set_name,
                                   method=method or "generator", tile=tile, save_dir=set_save)
            )
    return results


def paper_row(method: str, set_name: str) -> dict[str, float]:
    """The paper's numbers for a method on a set ({} when the paper has none)."""
    key = {"srresnet": "SRResNet", "srgan": "SRGAN", "bicubic": "bicubic"}.get(method.lower(), method)
    return PAPER_TABLE.get(key, {}).get(set_name, {})


def format_table(results: list[SetResult], *, paper_method: str | None = None) -> str:
    """A text table of mean PSNR / SSIM per set, beside the paper's numbers.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Args:
        results: from :func:`evaluate_sets`.
        paper_method: which row of the paper to compare with (default: each result's method;
            "SRResNet" or "SRGAN" for a trained generator).
    """
    lines = [
        f"{'set':<8} {'images':>6} {'PSNR (dB)':>10} {'paper':>7} {'SSIM':>7} {'paper':>7} {'Wang SSIM*':>10}",
        "-" * 62,
    ]
    for result in results:
        paper = paper_row(paper_method or result.method, result.name)

        def show(key: str, digits: int) -> str:
            return f"{paper[key]:.{digits}f}" if key in paper else "-"

        lines.append(
            f"{result.name:<8} {len(result.per_image):>6} {result.psnr:>10.2f} {show('psnr', 2):>7} "
            f"{result.ssim:>7.4f} {show('ssim', 4):>7} {show('ssim_wang', 4):>10}"
        )
    lines.append(
        "PSNR and SSIM on Y (BT.601), border of `scale` pixels shaved, 8-bit images.\n"
        "* The paper's bicubic SSIM is not reproduced by standard SSIM code; Wang et al.'s SSIM on Y\n"
        "  (11x11 Gaussian, sigma 1.5) gives the 'Wang SSIM' numbers that later papers report."
    )
    return "\n".join(lines)


def _sr_factor(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"the SR factor must be an integer of 2 or more (the paper uses 4), not {text!r}")
    return value


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu evaluate``."""
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--method", choices=["bicubic"], default=None, help="evaluate the bicubic baseline (default)")
    what.add_argument("--checkpoint", type=Path, help="evaluate the generator of a training checkpoint")
    what.add_argument("--model", default=None, metavar="NAME",
                      help="evaluate a course model shipped with srgan-edu: SRResNet-MSE or SRGAN-MSE")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with Set5/, Set14/, BSD100/ (default: $SRGAN_EDU_DATA or data/)")
    parser.add_argument("--sets", nargs="+", default=list(BENCHMARK_SETS), help="image sets to evaluate (default: Set5 Set14 BSD100)")
    parser.add_argument("--builtin", action="store_true", help="evaluate on the built-in test photographs instead (no download)")
    parser.add_argument("--scale", type=_sr_factor, default=4, help="SR factor (default 4, as the paper)")
    parser.add_argument("--json", type=Path, help="also write the results (per image too) to this JSON file")
    parser.add_argument("--save-dir", type=Path, help="write the SR images to this folder, one subfolder per set")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE,
                        help=f"images larger than this many LR pixels on a side are super-resolved in tiles of "
                             f"this size (with {DEFAULT_TILE_OVERLAP} pixels of context), so that memory stays "
                             f"bounded; the result is the same as in one piece (default {DEFAULT_TILE}; 0: never tile)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best present)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision for the generator (default: bf16 where the CPU or GPU has it natively, "
                             "else fp32; --no-amp for fp32: scores move by hundredths of a dB)")


def cli_main(args: argparse.Namespace) -> int:
    """Run ``python -m srgan_edu evaluate``; print the table (and write JSON)."""
    for option, path, want_dir in (("--json", args.json, False), ("--save-dir", args.save_dir, True)):
        if path is not None and path.exists() and path.is_dir() != want_dir:  # found now, not after the evaluation
            print(f"error: {option} {path} is a {'folder' if path.is_dir() else 'file'}; give "
                  f"{'a folder' if want_dir else 'a file name'} there.", file=sys.stderr)
            return 2
    sets = ("builtin",) if args.builtin else tuple(args.sets)
    generator = None
    method = "bicubic"
    if args.model is not None:
        try:
            chosen = course_models.resolve(args.model)
            generator = course_models.load(chosen, device=pick_device(args.device))
        except (ValueError, course_models.CourseModelError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.scale != generator.scale:
            print(f"error: {chosen.value} is a x{generator.scale} model, but --scale is {args.scale}. "
                  f"Pass --scale {generator.scale}.", file=sys.stderr)
            return 2
        method = chosen.value
        # The paper's SRResNet row is SRResNet-MSE; its SRGAN row is SRGAN-VGG54, not this model's.
        paper_kind = "srresnet" if chosen is course_models.CourseModel.SRRESNET_MSE else method
    elif args.checkpoint is not None:
        device = pick_device(args.device)
        try:
            trained = load_trained_generator(args.checkpoint, map_location=device)
        except (FileNotFoundError, CheckpointError, CheckpointMismatchError) as err:
            print(f"error: cannot load the generator from {args.checkpoint}: {err}", file=sys.stderr)
            return 2
        generator = trained.generator
        model_scale = getattr(generator, "scale", args.scale)
        if model_scale != args.scale:
            print(f"error: {args.checkpoint} holds a x{model_scale} generator, but --scale is {args.scale}. "
                  f"Pass --scale {model_scale}.", file=sys.stderr)
            return 2
        method = f"{trained.kind}-{Path(args.checkpoint).stem}"  # also in the SR images' file names
        paper_kind = trained.kind
    precision_text = None
    autocast_context = contextlib.nullcontext()
    if generator is not None:
        model_device = next(generator.parameters()).device
        precision = Precision.choose(model_device, amp=args.amp, channels_last=False)
        precision_text = f"{precision.description} on {model_device}"
        autocast_context = autocast(model_device, precision.autocast_dtype)
    try:
        with autocast_context:
            results = evaluate_sets(sets=sets, data_dir=args.data_dir, scale=args.scale, generator=generator,
                                    method=method, tile=args.tile or None, save_dir=args.save_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # an unreadable image, an image smaller than the scale, a wrong-scale model
        print(f"error: {err}", file=sys.stderr)
        return 2
    paper_method = "bicubic" if generator is None else paper_kind  # the paper's row for what was trained
    print(f"Method: {method}, scale x{args.scale}" + (f" ({precision_text})" if precision_text else ""))
    print(format_table(results, paper_method=paper_method))
    if args.save_dir is not None:
        print(f"SR images written under {args.save_dir}")
    if args.json is not None:
        payload = {"method": method, "scale": args.scale, "protocol": "Y (BT.601), shave=scale, 8-bit",
                   "results": [asdict(r) for r in results],
                   "paper": {r.name: paper_row(paper_method or method, r.name) for r in results}}
        try:  # atomically: a full disk leaves the previous results file intact
            atomic_write_text(args.json, json.dumps(payload, indent=2, allow_nan=True) + "\n")
        except OSError as err:
            print(f"error: cannot write --json {args.json} ({err.strerror or err}): choose a writable file path.",
                  file=sys.stderr)
            return 2
        print(f"JSON written to {args.json}")
    if any(math.isnan(r.psnr) for r in results):
        return 1
    return 0
