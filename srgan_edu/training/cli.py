"""The ``train`` subcommand: ``python -m srgan_edu train srresnet|srgan ...`` (also under ``torchrun``)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import torch
from torch.utils.data import Dataset

from srgan_edu import checkpoints, data, datasets, distributed, vgg
from srgan_edu.checkpoints import KINDS, CheckpointMismatchError
from srgan_edu.datasets import default_data_dir
from srgan_edu.discriminator import Discriminator
from srgan_edu.images import list_images, load_image
from srgan_edu.paper import CONTENT_LOSSES
from srgan_edu.runtime import error_line, pick_device, seed_everything
from srgan_edu.srresnet import SRResNet
from srgan_edu.training.config import LR_SCHEDULES, TrainConfig
from srgan_edu.training.loop import NonFiniteLossError, run_paths, train_srgan, train_srresnet
from srgan_edu.vgg import VGGWeightsNotFoundError, describe_weights_location


# --- the command line: python -m srgan_edu train srresnet|srgan ... -----------------------------


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu train`` (also under ``torchrun ... -m srgan_edu train``).

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).
    """
    parser.add_argument("model", choices=KINDS, help="srresnet (content loss alone) or srgan (adversarial)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", default=None,
                        help="a folder of HR training images, or the data folder holding DIV2K_train_HR "
                             "(default: $SRGAN_EDU_DATA or ./data)")
    source.add_argument("--builtin", action="store_true",
                        help="train on the built-in images (fast mode; no download) and validate on the held-out ones")
    parser.add_argument("--val-dir", default=None,
                        help="a folder of held-out HR images for validation (default: DIV2K_valid_HR in the data "
                             "folder, or beside a --data-dir of training images; never a test set)")
    parser.add_argument("--out", default=None, help="the run folder (default: runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--init-generator", default=None, metavar="CKPT|MODEL",
                        help="start the generator from this checkpoint or course model (SRResNet-MSE): srgan, "
                             "as the paper does; srresnet, to fine-tune")
    group = parser.add_argument_group("schedule (defaults: the paper's)")
    group.add_argument("--steps", type=int, default=None, help="total updates (paper: 1000000 srresnet, 200000 srgan)")
    group.add_argument("--batch-size", type=int, default=None, help="crops per step and process (paper: 16)")
    group.add_argument("--hr-crop", type=int, default=None, help="side of the HR crops (paper: 96)")
    group.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate (paper: 1e-4)")
    group.add_argument("--lr-drop-step", type=int, default=None,
                       help="step after which the learning rate is divided by 10 (paper: 100000 for srgan)")
    group.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None,
                       help="step: constant with the one drop (the paper); cosine: decays to 0 at the last step, "
                            "for short runs")
    group.add_argument("--content-loss", choices=tuple(CONTENT_LOSSES), default=None,
                       help="content loss (default: mse for srresnet, vgg54 for srgan)")
    group.add_argument("--adversarial-weight", type=float, default=None, help="weight of l_Gen (paper: 1e-3)")
    group.add_argument("--vgg-weights", default=None, metavar="PATH|random",
                       help="VGG19 weights for vgg22/vgg54: a state-dict file, or 'random' (code check only); "
                            "default: the pretrained ImageNet weights")
    group.add_argument("--seed", type=int, default=0, help="seeds the initial weights and the crops")
    network = parser.add_argument_group("networks (defaults: the paper's)")
    network.add_argument("--scale", type=int, default=4, choices=(2, 4, 8), help="upscaling factor (paper: 4)")
    network.add_argument("--num-blocks", type=int, default=16, help="residual blocks (paper: 16)")
    network.add_argument("--num-features", type=int, default=64, help="feature maps (paper: 64)")
    logging_group = parser.add_argument_group("logging and checkpoints")
    logging_group.add_argument("--log-every", type=int, default=None, help="steps between history rows (100)")
    logging_group.add_argument("--val-every", type=int, default=None, help="steps between validations (5000; 0: never)")
    logging_group.add_argument("--val-crop", type=int, default=None,
                               help="validate on HR centre crops of this side (default: whole images)")
    logging_group.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (5000)")
    logging_group.add_argument("--keep-last", type=int, default=None, help="step checkpoints to keep (3)")
    logging_group.add_argument("--no-progress", action="store_true", help="no progress bar")
    speed = parser.add_argument_group("speed")
    speed.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best present)")
    speed.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                       help="mixed precision: --amp also allows fp16 with loss scaling on older GPUs; --no-amp forces "
                            "fp32 (default: bf16 where the CPU or GPU has it natively, else fp32)")
    speed.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                       help="NHWC memory layout (default: on for CUDA)")
    speed.add_argument("--compile", action="store_true", help="torch.compile the networks")
    speed.add_argument("--num-workers", type=int, default=None,
                       help="DataLoader workers (default: 0 with --builtin, else min(8, CPU cores))")


def _cli_config(args: argparse.Namespace) -> TrainConfig:
    changes = {
        "steps": args.steps, "batch_size": args.batch_size, "hr_crop": args.hr_crop, "scale": args.scale,
        "learning_rate": args.learning_rate, "lr_drop_step": args.lr_drop_step,
        "lr_schedule": args.lr_schedule, "content_loss": args.content_loss,
        "adversarial_weight": args.adversarial_weight, "seed": args.seed, "log_every": args.log_every,
        "val_every": args.val_every, "val_crop": args.val_crop, "checkpoint_every": args.checkpoint_every,
        "keep_last": args.keep_last,
        "amp": args.amp, "channels_last": args.channels_last, "compile": args.compile,
        "num_workers": args.num_workers,
    }
    changes = {name: value for name, value in changes.items() if value is not None}
    return TrainConfig.srgan(**changes) if args.model == "srgan" else TrainConfig.srresnet(**changes)


def default_num_workers(device: torch.device, *, in_memory: bool) -> int:
    """DataLoader workers for a training run that did not say.

    Images held in memory cost a crop and a small bicubic per sample: the main process does
    that faster than workers would (0). From disk, a GPU needs several workers decoding PNGs
    (up to 8); on a CPU every worker takes a core from the training step itself, so half the
    cores at most (1 on two cores).
    """
    cores = os.cpu_count() or 1
    if in_memory:
        return 0
    if torch.device(device).type == "cuda":
        return min(8, cores)
    return min(8, cores // 2)


def _cli_images(args: argparse.Namespace):
    """(training source, validation images) from --builtin / --data-dir / --val-dir."""
    from PIL import Image

    if args.builtin:
        train = [img for _, img in data.builtin_images("train")]
        val = data.builtin_images("test")
    else:
        data_dir = Path(args.data_dir) if args.data_dir is not None else default_data_dir()
        has_images = data_dir.is_dir() and bool(list_images(data_dir))
        folder = data_dir if has_images else datasets.dataset_dir("DIV2K_train_HR", data_dir)
        try:
            train = data.HRImageFolder(folder, in_memory=None)  # decoded once when it fits in memory
        except Image.DecompressionBombError as err:
            raise ValueError(f"{_bomb_in(folder)}: {err} Remove it from {folder}, or shrink it.") from err
        val = None
        if args.val_dir is None:  # model selection off the test sets: DIV2K_valid_HR, never Set5
            for where in (data_dir, data_dir.parent):  # the data folder, or the one holding --data-dir
                try:
                    args.val_dir = datasets.dataset_dir("DIV2K_valid_HR", where)
                    break
                except FileNotFoundError:
                    continue
    if args.val_dir is not None:
        val = [(path.stem, load_image(path)) for path in list_images(args.val_dir)]
        if not val:  # silently training without validation would lose best.pt and the PSNR curve
            raise ValueError(f"--val-dir {args.val_dir} holds no images (looked for files ending in .png, .jpg, ...): "
                             f"give a folder of held-out HR images, or leave --val-dir out.")
    return train, val


def _bomb_in(folder: Path) -> str:
    """The first image of ``folder`` that Pillow refuses as a decompression bomb (for the message)."""
    from PIL import Image

    for path in list_images(folder):
        try:
            with Image.open(path):
                pass
        except Image.DecompressionBombError:
            return f"Refused to decode {path}"
        except Exception:  # noqa: BLE001 - only looking for the bomb here
            continue
    return f"Refused to decode an image in {folder}"


def cli_main(args: argparse.Namespace) -> int:
    """Run ``train``: 0 when done, 1 when training stopped on a NaN loss, 2 on a usage error."""
    context = distributed.setup(args.device)
    try:
        device = context.device if context.enabled else pick_device(args.device)
        try:
            config = _cli_config(args)
            if args.num_blocks < 0 or args.num_features < 1:
                raise ValueError(f"--num-blocks must be 0 or more and --num-features 1 or more (paper: 16 and 64), "
                                 f"got {args.num_blocks} and {args.num_features}")
            train_source, val_images = _cli_images(args)
            in_memory = not isinstance(train_source, Dataset) or bool(getattr(train_source, "in_memory", False))
            if args.num_workers is None:
                config = dataclasses.replace(config, num_workers=default_num_workers(device, in_memory=in_memory))
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        run_dir = Path(args.out or f"runs/{args.model}")
        paths = run_paths(run_dir)
        vgg_weights: vgg.Weights = vgg.PRETRAINED
        if args.vgg_weights == "random":
            vgg_weights = None
        elif args.vgg_weights is not None:
            vgg_weights = args.vgg_weights
        if context.is_main:
            print(f"Run folder:  {run_dir.resolve()}")
            source_text = (train_source.describe() if hasattr(train_source, "describe")
                           else f"{len(train_source)} built-in images, in memory")
            print(f"Training on: {source_text}; {config.num_workers} DataLoader worker(s)")
            print(f"Validation:  {len(val_images)} images in {args.val_dir or 'the built-in test set'}" if val_images
                  else "Validation:  none (no --val-dir, and no DIV2K_valid_HR in the data folder)")
            print(f"Checkpoints: {paths['checkpoints'].resolve()}")
            print(f"History:     {paths['history_csv'].resolve()} (and history.json, validation.csv)")
            print(f"Samples:     {paths['samples'].resolve()}")
            if config.content_loss != "mse":
                vgg_text = ("RANDOM weights (asked for with --vgg-weights random): the VGG loss is not meaningful, "
                            "use it to check the code only" if vgg_weights is None else
                            (args.vgg_weights or describe_weights_location()))
                print(f"VGG19:       {vgg_text}")
        seed_everything(args.seed)
        generator = SRResNet(scale=args.scale, num_features=args.num_features, num_blocks=args.num_blocks)
        common = dict(run_dir=run_dir, val_images=val_images, device=device, resume=args.resume,
                      vgg_weights=vgg_weights, progress=not args.no_progress)
        try:
            if args.model == "srresnet":
                result = train_srresnet(generator, train_source, config, init_generator=args.init_generator,
                                        **common)
            else:
                discriminator = Discriminator(in_size=config.hr_crop)
                result = train_srgan(generator, discriminator, train_source, config,
                                     init_generator=args.init_generator, **common)
        except NonFiniteLossError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except (CheckpointMismatchError, checkpoints.CheckpointError, OSError,
                VGGWeightsNotFoundError, ValueError) as err:
            print(f"error: {error_line(err)}", file=sys.stderr)
            return 2
        if context.is_main:
            print(f"Done: {result.steps} steps.")
            print(f"Last checkpoint: {result.last_checkpoint}")
            if result.best_checkpoint is not None:
                best_psnr = max(result.validation.column("psnr"))
                print(f"Best checkpoint: {result.best_checkpoint} (highest validation PSNR, {best_psnr:.2f} dB)")
            if args.model == "srgan":
                print(f"Model to use: the last checkpoint, {result.last_checkpoint} (for SRGAN the highest-PSNR "
                      f"checkpoint is the least adversarial one, so no best.pt is chosen by PSNR)")
            print(f"History: {paths['history_csv']}")
            if len(result.validation):
                print(f"Validation: {paths['validation_csv']} (last: PSNR {result.validation.last()['psnr']:.2f} dB, "
                      f"SSIM {result.validation.last()['ssim']:.4f})")
                print(f"Samples: {paths['samples']}")
        return 0
    finally:
        distributed.cleanup()
