"""Training SRResNet and SRGAN (Ledig et al., CVPR 2017, sec. 2 and 3.2), lessons 06 and 08.

Read top to bottom:

1. :class:`TrainConfig`: the paper's schedule as the defaults (batch 16 of 96x96 HR crops,
   Adam with beta1 = 0.9; SRResNet 10^6 updates at 1e-4; SRGAN 10^5 updates at 1e-4
   then 10^5 at 1e-5, starting from a trained SRResNet).
2. :class:`History`: one row per logged step (loss parts, D(x), D(G(z)), learning rate,
   images per second), saved as CSV and JSON beside the checkpoints.
3. The step functions, small enough to read in lesson 06 and re-implement in its exercise:
   :func:`srresnet_step` (eq. 4 or 5), :func:`discriminator_step` (eq. 2),
   :func:`generator_step` (eq. 3 and 6) and :func:`srgan_step` (one of each, alternating).
4. :func:`validate`: PSNR and SSIM on held-out images, plus a fixed grid of samples.
5. :func:`train_srresnet` and :func:`train_srgan`: the loop around the steps with mixed
   precision on CUDA, checkpoints (:mod:`srgan_edu.checkpoints`) that resume exactly,
   a stop with a clear message on a NaN loss, and several processes under ``torchrun``
   (:mod:`srgan_edu.distributed`). Each network is a :class:`Trainee` (the network, its
   Adam, its learning-rate schedule, its gradient scaler) that saves and loads itself, so
   G and D are handled alike; ``_train`` reads as the paper's loop in one screen.
6. The ``train`` subcommand of ``python -m srgan_edu``. (``load_generator`` is in
   :mod:`srgan_edu.checkpoints`, and named here too.)

Ranges, as everywhere in the course: LR inputs (B, 3, h, w) in [0, 1]; HR targets and
generator outputs (B, 3, 4h, 4w) in [-1, 1]; the discriminator returns logits (B,).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from srgan_edu import __version__, checkpoints, course_models, data, datasets, distributed, losses, paper, vgg
from srgan_edu.checkpoints import (  # noqa: F401  (KINDS and the two loaders re-exported: lessons 05-08 call training.load_generator)
    KINDS,
    CheckpointManager,
    CheckpointMismatchError,
    TrainedGenerator,
    load_generator,
    load_trained_generator,
)
from srgan_edu.data import HRImageFolder, PairedPatchDataset
from srgan_edu.datasets import default_data_dir
from srgan_edu.degradation import degrade, upscale
from srgan_edu.discriminator import Discriminator
from srgan_edu.evaluation import super_resolve
from srgan_edu.images import list_images, load_image, modcrop, save_image, to_unit
from srgan_edu.metrics import psnr, ssim
from srgan_edu.paper import CONTENT_LOSSES  # noqa: F401  (name -> VGG19 layer phi_i,j; re-exported)
from srgan_edu.runtime import (  # noqa: F401  (Precision and autocast re-exported: lesson 06 and the benchmark use them)
    Precision,
    autocast,
    cpu_has_native_bf16,
    error_line,
    pick_device,
    seed_everything,
)
from srgan_edu.srresnet import SRResNet
from srgan_edu.vgg import VGGWeightsNotFoundError, describe_weights_location

LR_SCHEDULES = ("step", "cosine")  # the paper's constant rate with one drop, or a cosine decay for short runs


# --- 1. the configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the defaults are the paper's SRResNet schedule (use :meth:`srgan` for SRGAN's).

    ``TrainConfig.srresnet(steps=200)`` and ``TrainConfig.srgan(steps=200)`` start from the
    paper's values and change only what is named.
    """

    steps: int = paper.SRRESNET_STEPS  # generator updates in total (paper: 10^6 SRResNet, 2 x 10^5 SRGAN)
    batch_size: int = paper.BATCH_SIZE  # HR crops per step and per process (paper: 16)
    hr_crop: int = paper.HR_CROP  # side of the HR training crops; the LR crops are hr_crop / scale (paper: 96)
    scale: int = paper.SCALE  # upscaling factor (paper: 4)
    learning_rate: float = paper.LEARNING_RATE  # Adam step size (paper: 1e-4)
    discriminator_learning_rate: float | None = None  # None: the same as learning_rate (the paper)
    lr_drop_step: int | None = None  # step after which the learning rates are multiplied by lr_drop_factor
    lr_drop_factor: float = paper.LEARNING_RATE_DROP  # paper: 1e-4 -> 1e-5 halfway through SRGAN training
    lr_schedule: str = "step"  # "step": constant, times lr_drop_factor after lr_drop_step (the paper); "cosine": to 0 at the last step
    adam_beta1: float = paper.ADAM_BETA1  # paper: 0.9 (PyTorch's default too)
    adam_beta2: float = 0.999  # not stated in the paper; Adam's usual value
    content_loss: str = "mse"  # "mse" (eq. 4), "vgg22" or "vgg54" (eq. 5, phi_2,2 or phi_5,4)
    adversarial_weight: float = paper.ADVERSARIAL_WEIGHT  # weight of l_Gen in l_SR (eq. 3); SRGAN only
    seed: int = 0  # seeds the training crops, so a run and its resumption draw the same batches
    log_every: int = 100  # steps between history rows (each row averages the steps since the last)
    val_every: int = 5_000  # steps between validations (PSNR/SSIM and a grid of samples); 0: never
    val_crop: int | None = None  # validate on HR centre crops of this side (None: whole images); bounds the time
    checkpoint_every: int = 5_000  # steps between checkpoints (and one at the end)
    keep_last: int = 3  # step checkpoints kept (best.pt is kept as well)
    amp: bool | None = None  # mixed precision; None: bf16 where native (CPU or GPU), else fp32 (see Precision)
    channels_last: bool | None = None  # NHWC memory layout; None: on for CUDA and for bf16 on a CPU
    compile: bool = False  # torch.compile the networks (first steps are slow while it compiles)
    num_workers: int = 0  # DataLoader worker processes (decoding large PNGs needs several)

    @classmethod
    def srresnet(cls, **changes: Any) -> TrainConfig:
        """The paper's SRResNet schedule: 10^6 updates at 1e-4 with the MSE loss, then ``changes``."""
        return cls(**changes)

    @classmethod
    def srgan(cls, **changes: Any) -> TrainConfig:
        """The paper's SRGAN schedule: 10^5 updates at 1e-4, 10^5 at 1e-5, VGG54 loss, then ``changes``."""
        values = {"steps": paper.SRGAN_STEPS, "lr_drop_step": paper.SRGAN_DROP_STEP, "content_loss": paper.SRGAN_CONTENT_LOSS}
        values.update(changes)
        return cls(**values)

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.content_loss not in CONTENT_LOSSES:
            raise ValueError(f"content_loss must be one of {', '.join(CONTENT_LOSSES)}, got {self.content_loss!r}")
        positive = ("steps", "batch_size", "hr_crop", "scale", "log_every", "checkpoint_every", "keep_last")
        integers = positive + ("seed", "val_every", "num_workers", "val_crop", "lr_drop_step")
        for name in integers:  # steps=2.5 would train 3 steps and never reach its final checkpoint
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        for name in ("learning_rate", "lr_drop_factor", "adam_beta1", "adam_beta2", "adversarial_weight",
                     "discriminator_learning_rate"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be 0 or more (paper: 1e-3), got {self.adversarial_weight}")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.hr_crop % self.scale:
            raise ValueError(f"hr_crop={self.hr_crop} must be a multiple of scale={self.scale}")
        if self.val_every < 0 or self.num_workers < 0:
            raise ValueError("val_every and num_workers must be >= 0")
        if self.val_crop is not None and self.val_crop < self.scale:
            raise ValueError(f"val_crop must be at least scale={self.scale} (or None for whole images)")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.lr_drop_step is not None and self.lr_drop_step < 1:
            raise ValueError(f"lr_drop_step must be a step of 1 or more, or None for no drop; got {self.lr_drop_step}"
                             " (to train at the lower rate from the start, lower learning_rate instead)")


# Settings that a resumed run must share with its checkpoint: changing them would silently
# make the "continued" run a different one. Everything else (steps, logging, precision) may change.
_RECIPE_FIELDS = (
    "batch_size", "hr_crop", "scale", "learning_rate", "discriminator_learning_rate", "lr_drop_step",
    "lr_drop_factor", "lr_schedule", "adam_beta1", "adam_beta2", "content_loss", "adversarial_weight", "seed",
)


# --- 2. the history of a run ----------------------------------------------------------------


class History:
    """Rows of numbers, one per logged step, with CSV and JSON files.

    Each row is a dict such as ``{"step": 100, "content_loss": 0.02, "learning_rate": 1e-4,
    "images_per_second": 85.3}``; rows may differ in their columns (CSV cells are then empty).

    Args:
        rows: rows to start with (e.g. from a checkpoint).
    """

    def __init__(self, rows: Sequence[dict[str, Any]] | None = None) -> None:
        self.rows: list[dict[str, Any]] = [dict(row) for row in rows or []]

    def append(self, row: dict[str, Any]) -> None:
        """Add one row (numbers, strings or None)."""
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def __repr__(self) -> str:
        return f"History({len(self.rows)} rows, columns {self.columns()})"

    def columns(self) -> list[str]:
        """Every column name, in the order first seen."""
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def column(self, name: str) -> list[float]:
        """One column, with NaN where a row lacks it (so that it lines up with :meth:`steps`)."""
        return [float(row[name]) if row.get(name) is not None else math.nan for row in self.rows]

    def steps(self) -> list[int]:
        """The ``step`` column."""
        return [int(row["step"]) for row in self.rows]

    def last(self) -> dict[str, Any]:
        """The newest row (empty dict when there is none)."""
        return dict(self.rows[-1]) if self.rows else {}

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the rows as CSV (atomically), one column per name."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.columns())
        writer.writeheader()
        writer.writerows(self.rows)
        return checkpoints.atomic_write_text(path, text.getvalue())

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the rows as a JSON list of objects (atomically)."""
        return checkpoints.atomic_write_text(path, json.dumps(self.rows, indent=1))

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> History:
        """Read a file written by :meth:`to_csv` (numbers come back as int or float)."""
        rows = []
        with open(path, newline="", encoding="utf-8") as handle:
            for raw in csv.DictReader(handle):
                rows.append({key: _parse_number(value) for key, value in raw.items() if value != ""})
        return cls(rows)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> History:
        """Read a file written by :meth:`to_json`."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


def _parse_number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# --- 3. the steps -------------------------------------------------------------------------------


def _backward_and_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                       scaler: torch.amp.GradScaler | None) -> None:
    """loss.backward() and optimizer.step(), through the gradient scaler when fp16 needs one."""
    if scaler is not None and scaler.is_enabled():
        # fp16 gradients underflow to 0 below about 6e-8: scale the loss up, unscale before the step,
        # and skip the step when the scaled gradients overflowed (the scaler then lowers its scale).
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def srresnet_step(
    generator: nn.Module,
    optimizer: torch.optim.Optimizer,
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    scaler: torch.amp.GradScaler | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """One update of SRResNet with a content loss alone (eq. 4 for MSE, eq. 5 for VGG).

    Args:
        generator: the SRResNet, in train mode.
        optimizer: its Adam optimiser.
        lr_img: (B, 3, h, w) in [0, 1].
        hr_img: (B, 3, scale*h, scale*w) in [-1, 1].
        content_loss: ``content_loss(sr_img, hr_img)`` -> scalar, e.g.
            :func:`srgan_edu.losses.mse_content_loss`.
        scaler: a gradient scaler for fp16 (None otherwise).
        autocast_dtype: ``torch.bfloat16`` or ``torch.float16`` for mixed precision, None for fp32.

    Returns:
        ``{"content_loss": scalar tensor}`` (detached).
    """
    with autocast(lr_img.device, autocast_dtype):
        sr_img = generator(lr_img)  # (B, 3, h, w) in [0, 1] -> (B, 3, 4h, 4w) in [-1, 1]
        loss = content_loss(sr_img, hr_img)
    optimizer.zero_grad(set_to_none=True)
    _backward_and_step(loss, optimizer, scaler)
    return {"content_loss": loss.detach()}


def discriminator_step(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    hr_img: torch.Tensor,
    sr_img: torch.Tensor,
    *,
    scaler: torch.amp.GradScaler | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """One update of D (eq. 2): push D(hr_img) towards 1 and D(sr_img) towards 0.

    D minimises -log D(I_HR) - log(1 - D(G(I_LR))), computed on logits by
    :func:`srgan_edu.losses.discriminator_loss`. The generator's output is detached, so this
    step changes D only.

    Args:
        discriminator: D, in train mode; returns logits.
        optimizer: D's Adam optimiser.
        hr_img: real HR crops (B, 3, H, W) in [-1, 1].
        sr_img: the generator's outputs for the same batch, (B, 3, H, W) in [-1, 1].
        scaler: a gradient scaler for fp16 (None otherwise).
        autocast_dtype: ``torch.bfloat16`` or ``torch.float16`` for mixed precision, None for fp32.

    Returns:
        ``{"discriminator_loss", "d_real", "d_fake"}``: the loss, and the means of D(x) and
        D(G(z)) (probabilities in [0, 1]) before the update. Detached scalar tensors.
    """
    with autocast(hr_img.device, autocast_dtype):
        real_logits = discriminator(hr_img)  # (B,)
        fake_logits = discriminator(sr_img.detach())  # (B,); detached: no gradient reaches G
        loss = losses.discriminator_loss(real_logits, fake_logits)  # autocast computes it in fp32
    optimizer.zero_grad(set_to_none=True)
    _backward_and_step(loss, optimizer, scaler)
    return {
        "discriminator_loss": loss.detach(),
        "d_real": torch.sigmoid(real_logits.detach().float()).mean(),  # D(x)
        "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),  # D(G(z))
    }


def generator_step(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    sr_img: torch.Tensor,
    hr_img: torch.Tensor,
    perceptual_loss: losses.PerceptualLoss,
    *,
    scaler: torch.amp.GradScaler | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """One update of G with the perceptual loss l_SR = l_X + 1e-3 l_Gen (eq. 3, 6).

    ``sr_img`` must still carry its graph back to the generator (computed as
    ``generator(lr_img)`` with gradients on). D only judges here: its weights are frozen for
    this step, so the backward pass computes gradients for G alone.

    Args:
        discriminator: D (the plain network, not a DistributedDataParallel wrapper).
        optimizer: G's Adam optimiser.
        sr_img: G(lr_img), (B, 3, H, W) in [-1, 1], with gradient.
        hr_img: the targets, (B, 3, H, W) in [-1, 1].
        perceptual_loss: a :class:`srgan_edu.losses.PerceptualLoss`.
        scaler: a gradient scaler for fp16 (None otherwise).
        autocast_dtype: ``torch.bfloat16`` or ``torch.float16`` for mixed precision, None for fp32.

    Returns:
        ``{"generator_loss", "content_loss", "adversarial_loss"}``: l_SR, l_X and l_Gen
        (before its 1e-3 weight). Detached scalar tensors.
    """
    discriminator.requires_grad_(False)  # gradients flow *through* D to G, not into D's weights
    try:
        with autocast(hr_img.device, autocast_dtype):
            fake_logits = discriminator(sr_img)  # (B,)
            parts = perceptual_loss(sr_img, hr_img, fake_logits)
    finally:
        discriminator.requires_grad_(True)
    optimizer.zero_grad(set_to_none=True)
    _backward_and_step(parts.total, optimizer, scaler)
    return {
        "generator_loss": parts.total.detach(),
        "content_loss": parts.content.detach(),
        "adversarial_loss": parts.adversarial.detach(),
    }


def srgan_step(
    generator: nn.Module,
    discriminator: nn.Module,
    generator_optimizer: torch.optim.Optimizer,
    discriminator_optimizer: torch.optim.Optimizer,
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    perceptual_loss: losses.PerceptualLoss,
    *,
    generator_scaler: torch.amp.GradScaler | None = None,
    discriminator_scaler: torch.amp.GradScaler | None = None,
    autocast_dtype: torch.dtype | None = None,
    judge: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """One SRGAN iteration: G makes a batch, D takes one step on it, then G takes one step (k = 1).

    The same G(lr_img) serves both steps, as in the min-max game of eq. 2: D learns on it
    detached, then G learns from the updated D's verdict on it.

    Args:
        generator, discriminator: G and D in train mode (possibly wrapped in DDP).
        generator_optimizer, discriminator_optimizer: their optimisers.
        lr_img: (B, 3, h, w) in [0, 1]; hr_img: (B, 3, scale*h, scale*w) in [-1, 1].
        perceptual_loss: l_SR (eq. 3).
        generator_scaler, discriminator_scaler: gradient scalers for fp16 (None otherwise).
        autocast_dtype: mixed precision dtype, None for fp32.
        judge: the discriminator as the generator step uses it (the plain network when
            ``discriminator`` is wrapped in DistributedDataParallel); default ``discriminator``.

    Returns:
        The union of :func:`discriminator_step`'s and :func:`generator_step`'s parts.
    """
    with autocast(lr_img.device, autocast_dtype):
        sr_img = generator(lr_img)  # (B, 3, h, w) in [0, 1] -> (B, 3, 4h, 4w) in [-1, 1]
    parts = discriminator_step(discriminator, discriminator_optimizer, hr_img, sr_img,
                               scaler=discriminator_scaler, autocast_dtype=autocast_dtype)
    parts |= generator_step(judge if judge is not None else discriminator, generator_optimizer, sr_img, hr_img,
                            perceptual_loss, scaler=generator_scaler, autocast_dtype=autocast_dtype)
    return parts


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped before saving anything from that step."""


def check_finite(parts: dict[str, torch.Tensor], step: int, *, last_checkpoint: Path | None = None,
                 context: distributed.DistributedContext | None = None) -> None:
    """Raise :class:`NonFiniteLossError` naming the step and the loss part when one is NaN or infinite.

    One device-to-host copy for all parts together (a sync per step, cheap next to a step).
    Under ``torchrun`` (``context`` enabled) the parts are averaged over the processes first, so
    a NaN in any process stops all of them at the same step; a process that stopped alone would
    leave the others waiting in the next collective until the timeout.
    """
    values = torch.stack([value.detach().float().reshape(()) for value in parts.values()])
    if context is not None and context.enabled:
        values = distributed.all_reduce_mean(values, context)  # NaN or inf anywhere -> NaN or inf here
    if bool(torch.isfinite(values).all()):
        return
    bad = [f"{name} = {value:g}" for name, value in zip(parts, values.tolist()) if not math.isfinite(value)]
    if context is not None and context.enabled:
        bad[-1] += f" (averaged over the {context.world_size} processes)"
    kept = (f"The last good checkpoint, {last_checkpoint}, is untouched; resume from it (--resume) after the fix."
            if last_checkpoint else "No checkpoint had been written yet.")
    raise NonFiniteLossError(
        f"Training stopped at step {step}: {', '.join(bad)} (not a finite number). {kept} Usual causes: a "
        f"learning rate too high, fp16 overflow (use bf16 or turn --amp off), or broken input images (NaN pixels)."
    )


# --- 4. validation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationSet:
    """Held-out images prepared once: HR cropped to a multiple of the scale and its LR version."""

    names: tuple[str, ...]  # image names
    hr_images: tuple[torch.Tensor, ...]  # (3, H, W) in [0, 1], H and W multiples of scale
    lr_images: tuple[torch.Tensor, ...]  # (3, H/scale, W/scale) in [0, 1], bicubic (the paper's degradation)
    scale: int  # upscaling factor

    @classmethod
    def from_images(cls, images: Sequence[tuple[str, torch.Tensor]] | Sequence[torch.Tensor], *,
                    scale: int, crop: int | None = None) -> ValidationSet:
        """Build from (name, (3, H, W) [0, 1]) pairs, or bare images.

        Args:
            images: the held-out HR images.
            scale: the upscaling factor.
            crop: keep only a centre crop of this side (None: whole images).
        """
        names, hrs, lrs = [], [], []
        for position, item in enumerate(images):
            name, img = item if isinstance(item, tuple) else (f"image {position}", item)
            img = img.detach().to("cpu", torch.float32)
            if crop is not None:
                top, left = max(0, (img.shape[-2] - crop) // 2), max(0, (img.shape[-1] - crop) // 2)
                img = img[:, top : top + crop, left : left + crop]
            hr_img = modcrop(img, scale)
            names.append(name)
            hrs.append(hr_img)
            lrs.append(degrade(hr_img, scale).clamp(0, 1))
        return cls(tuple(names), tuple(hrs), tuple(lrs), scale)


@torch.no_grad()
def validate(generator: nn.Module, validation_set: ValidationSet) -> dict[str, float]:
    """Mean PSNR and SSIM of the generator on held-out images (Y channel, border of ``scale`` shaved).

    The generator runs in eval mode (BatchNorm uses its running statistics, as at test
    time) and is put back into its previous mode afterwards.

    Args:
        generator: lr_img (B, 3, h, w) [0, 1] -> (B, 3, scale*h, scale*w) [-1, 1].
        validation_set: from :meth:`ValidationSet.from_images`.

    Returns:
        ``{"psnr": dB, "ssim": in [0, 1]}``, means over the images.
    """
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        scores = []
        for lr_img, hr_img in zip(validation_set.lr_images, validation_set.hr_images):
            sr_img = _super_resolve(generator, lr_img.to(device)).cpu()
            scores.append((psnr(sr_img, hr_img, scale=validation_set.scale),
                           ssim(sr_img, hr_img, scale=validation_set.scale)))
    finally:
        generator.train(was_training)
    return {"psnr": float(np.mean([s[0] for s in scores])), "ssim": float(np.mean([s[1] for s in scores]))}


def _super_resolve(generator: nn.Module, lr_img: torch.Tensor) -> torch.Tensor:
    """(3, h, w) [0, 1] -> (3, scale*h, scale*w) [0, 1] with a model already in eval mode."""
    return super_resolve(generator, lr_img)


@torch.no_grad()
def sample_grid(generator: nn.Module, validation_set: ValidationSet, *, num_images: int = 4,
                crop: int = 128) -> torch.Tensor:
    """A fixed grid of samples: one row per image with bicubic | generator | HR, centre crops.

    The crops are the same at every call, so grids saved during training show progress.

    Args:
        generator: the model (its mode is restored afterwards).
        validation_set: the held-out images.
        num_images: rows (at most the number of images).
        crop: side of the HR centre crop (rounded down to a multiple of the scale).

    Returns:
        (3, rows * crop + padding, 3 * crop + padding) in [0, 1].
    """
    from torchvision.utils import make_grid

    scale = validation_set.scale
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    tiles = []
    try:
        for lr_img, hr_img in list(zip(validation_set.lr_images, validation_set.hr_images))[:num_images]:
            lr_crop = min(crop // scale, *lr_img.shape[-2:])
            top = (lr_img.shape[-2] - lr_crop) // 2
            left = (lr_img.shape[-1] - lr_crop) // 2
            lr_patch = lr_img[:, top : top + lr_crop, left : left + lr_crop]
            hr_patch = hr_img[:, top * scale : (top + lr_crop) * scale, left * scale : (left + lr_crop) * scale]
            sr_patch = to_unit(generator(lr_patch[None].to(device))[0]).clamp(0, 1).float().cpu()
            bicubic = upscale(lr_patch, scale, method="bicubic").clamp(0, 1)
            tiles += [bicubic, sr_patch, hr_patch]
    finally:
        generator.train(was_training)
    return make_grid(tiles, nrow=3, padding=2, pad_value=1.0)


# --- 5. the training loop ---------------------------------------------------------------------


class TrainingStream(Sampler):
    """Batches of sample indices forever, each batch a pure function of (seed, step, rank).

    Sample number ``p = (step * world_size + rank) * batch_size + i`` of the whole run is
    item ``p % n`` of a permutation of the n samples drawn for epoch ``p // n``. Nothing
    depends on what happened before, so a resumed run (``start_step``) draws exactly the
    batches the uninterrupted run would have drawn, whatever ``num_workers`` is, and the
    processes of a ``torchrun`` job draw disjoint samples.

    It takes the place of ``torch.utils.data.DistributedSampler``, which shards by rank too but
    draws its order from an epoch counter that the caller must set, and would start a resumed
    run at the beginning of its epoch rather than at the batch where the run stopped.

    Yields lists of ``(epoch, index)``; :class:`EpochIndexed` passes the epoch on to
    datasets with a ``set_epoch`` method (:class:`srgan_edu.data.PairedPatchDataset` picks its
    crops from (seed, epoch, index)).

    Args:
        num_samples: the data set's length.
        batch_size: samples per batch and process.
        seed: seeds the permutations.
        start_step: the first batch to yield (the steps already done).
        rank, world_size: this process and the number of processes.
    """

    def __init__(self, num_samples: int, batch_size: int, *, seed: int, start_step: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        if num_samples < 1:
            raise ValueError("the training data set is empty")
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.start_step, self.rank, self.world_size = start_step, rank, world_size
        self._cached: tuple[int, list[int]] | None = None

    def _permutation(self, epoch: int) -> list[int]:
        if self._cached is None or self._cached[0] != epoch:
            mixed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
            order = torch.randperm(self.num_samples, generator=torch.Generator().manual_seed(mixed))
            self._cached = (epoch, order.tolist())
        return self._cached[1]

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The (epoch, index) pairs of batch ``step`` (0-based) for this process."""
        first = (step * self.world_size + self.rank) * self.batch_size
        items = []
        for position in range(first, first + self.batch_size):
            epoch, offset = divmod(position, self.num_samples)
            items.append((epoch, self._permutation(epoch)[offset]))
        return items

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is endless
        return sys.maxsize


class EpochIndexed(Dataset):
    """Wraps a data set so that it is indexed by ``(epoch, index)`` (see :class:`TrainingStream`)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


def training_loader(dataset: Dataset, *, batch_size: int, seed: int, start_step: int = 0, rank: int = 0,
                    world_size: int = 1, num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """An endless DataLoader of (lr_img, hr_img) batches that resumes exactly at ``start_step``."""
    stream = TrainingStream(len(dataset), batch_size, seed=seed, start_step=start_step, rank=rank,
                            world_size=world_size)
    return DataLoader(
        EpochIndexed(dataset),
        batch_sampler=stream,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),  # so the loader never draws from the global generator
    )


def make_content_loss(name: str, *, vgg_weights=None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``"mse"`` -> :func:`losses.mse_content_loss`; ``"vgg22"``/``"vgg54"`` -> :class:`losses.VGGContentLoss`.

    Args:
        name: one of ``"mse"``, ``"vgg22"`` (phi_2,2), ``"vgg54"`` (phi_5,4).
        vgg_weights: for the VGG losses, as :class:`srgan_edu.vgg.VGGFeatures` takes them
            (``vgg.PRETRAINED``, a path, or None for random features).
    """
    if name not in CONTENT_LOSSES:
        raise ValueError(f"content loss must be one of {', '.join(CONTENT_LOSSES)}, got {name!r}")
    layer = CONTENT_LOSSES[name]
    if layer is None:
        return losses.mse_content_loss
    return losses.VGGContentLoss(layer, weights=vgg_weights)


@dataclass
class TrainResult:
    """What a training run leaves behind."""

    generator: nn.Module  # the trained generator (plain network, on the training device, train mode)
    discriminator: nn.Module | None  # the trained discriminator (SRGAN only)
    history: History  # one row per logged step
    validation: History  # one row per validation: step, psnr, ssim
    run_dir: Path  # the run's folder
    last_checkpoint: Path | None  # the newest checkpoint (None on processes other than rank 0)
    best_checkpoint: Path | None  # SRResNet: best validation PSNR; SRGAN: None (the last one is the choice)
    steps: int  # steps done in total (including those before a resume)

    @property
    def history_csv(self) -> Path:
        return self.run_dir / "history.csv"

    @property
    def samples_dir(self) -> Path:
        return self.run_dir / "samples"


def run_paths(run_dir: str | os.PathLike) -> dict[str, Path]:
    """Where a run keeps its files: checkpoints/, history.csv/.json, validation.csv, samples/."""
    run_dir = Path(run_dir)
    return {
        "run": run_dir,
        "checkpoints": run_dir / "checkpoints",
        "history_csv": run_dir / "history.csv",
        "history_json": run_dir / "history.json",
        "validation_csv": run_dir / "validation.csv",
        "samples": run_dir / "samples",
    }


def train_srresnet(
    generator: nn.Module,
    train_data: Dataset | str | os.PathLike | Sequence[torch.Tensor] | Sequence[tuple[str, torch.Tensor]],
    config: TrainConfig | None = None,
    *,
    run_dir: str | os.PathLike,
    val_images: Sequence[tuple[str, torch.Tensor]] | None = None,
    device: torch.device | str | None = None,
    resume: bool = False,
    init_generator: str | os.PathLike | None = None,
    content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    vgg_weights: vgg.Weights = vgg.PRETRAINED,
    progress: bool = True,
    on_log: Callable[[History, History], None] | None = None,
) -> TrainResult:
    """Train SRResNet with a content loss (MSE by default, eq. 4), as in the paper's sec. 3.2.

    Args:
        generator: the :class:`srgan_edu.srresnet.SRResNet` to train (changed in place).
        train_data: a data set of (lr_img (3, h, w) [0, 1], hr_img (3, H, W) [-1, 1]) pairs, or
            HR images (a folder, a list of images or of (name, image) pairs) from which a
            seeded :class:`srgan_edu.data.PairedPatchDataset` is made with the config's crop and scale.
        config: the schedule (default: the paper's, :meth:`TrainConfig.srresnet`).
        run_dir: the run's folder: checkpoints/, history.csv, validation.csv, samples/.
        val_images: held-out (name, (3, H, W) [0, 1]) images for PSNR/SSIM and sample grids.
        device: where to train (default: where the generator is; under ``torchrun``, this
            process's GPU or CPU).
        resume: continue from the newest checkpoint in ``run_dir`` (start afresh if there is none).
        init_generator: fine-tune: start a new run from these generator weights, a checkpoint
            file or a course model's name (``"SRResNet-MSE"``); ignored when resuming.
        content_loss: a custom ``loss(sr_img, hr_img)`` instead of ``config.content_loss``.
        vgg_weights: for VGG content losses: ``vgg.PRETRAINED`` (default), a path, or None (random).
        progress: show a tqdm progress bar.
        on_log: called as ``on_log(history, validation)`` after each new row (e.g.
            :class:`srgan_edu.viz.LiveTrainingCurves` to plot live in a notebook).

    Returns:
        A :class:`TrainResult`.

    Raises:
        NonFiniteLossError: a loss became NaN/inf; the message names the step and the part.
        CheckpointMismatchError: resuming a run of another model or with other settings.
        FileExistsError: ``run_dir`` holds checkpoints and ``resume`` is False.
    """
    return _train("srresnet", generator, None, train_data, config or TrainConfig.srresnet(), run_dir=run_dir,
                  val_images=val_images, device=device, resume=resume, init_generator=init_generator,
                  content_loss=content_loss, vgg_weights=vgg_weights, progress=progress, on_log=on_log)


def train_srgan(
    generator: nn.Module,
    discriminator: nn.Module,
    train_data: Dataset | str | os.PathLike | Sequence[torch.Tensor] | Sequence[tuple[str, torch.Tensor]],
    config: TrainConfig | None = None,
    *,
    run_dir: str | os.PathLike,
    init_generator: str | os.PathLike | None = None,
    val_images: Sequence[tuple[str, torch.Tensor]] | None = None,
    device: torch.device | str | None = None,
    resume: bool = False,
    content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    vgg_weights: vgg.Weights = vgg.PRETRAINED,
    progress: bool = True,
    on_log: Callable[[History, History], None] | None = None,
) -> TrainResult:
    """Train SRGAN (eq. 1-3, 6): alternate one D step and one G step on each batch.

    The generator should start from a trained SRResNet (``init_generator``), as in the
    paper: a randomly initialised G makes outputs D rejects at once, and the adversarial
    game then has nothing to work with.

    Args:
        generator: the :class:`srgan_edu.srresnet.SRResNet` to train (changed in place).
        discriminator: the :class:`srgan_edu.discriminator.Discriminator`, built for
            ``config.hr_crop`` crops (changed in place).
        train_data: as for :func:`train_srresnet`.
        config: the schedule (default: the paper's, :meth:`TrainConfig.srgan`).
        run_dir: the run's folder.
        init_generator: an SRResNet (or SRGAN) checkpoint whose generator weights to start from;
            ignored when resuming (the checkpoint has them).
        val_images, device, resume, content_loss, vgg_weights, progress, on_log: as for
            :func:`train_srresnet`.

    Returns:
        A :class:`TrainResult`.
    """
    if discriminator is None:
        raise ValueError("train_srgan needs a discriminator; use train_srresnet to train the generator alone")
    return _train("srgan", generator, discriminator, train_data, config or TrainConfig.srgan(), run_dir=run_dir,
                  val_images=val_images, device=device, resume=resume, init_generator=init_generator,
                  content_loss=content_loss, vgg_weights=vgg_weights, progress=progress, on_log=on_log)


def _as_dataset(train_data, config: TrainConfig) -> Dataset:
    if isinstance(train_data, Dataset) and not isinstance(train_data, HRImageFolder):
        return train_data  # already (lr_img, hr_img) pairs

    return PairedPatchDataset(train_data, hr_crop=config.hr_crop, scale=config.scale, hr_range="signed",
                              augment=True, seed=config.seed)


def _check_recipe(saved: dict[str, Any], config: TrainConfig, source: Path) -> None:
    defaults = TrainConfig()  # a checkpoint from before a field existed trained with its default
    fields = _RECIPE_FIELDS + (("steps",) if config.lr_schedule == "cosine" else ())  # the cosine ends at steps
    changed = [f"{name}: checkpoint {saved.get(name, getattr(defaults, name))!r}, now {getattr(config, name)!r}"
               for name in fields if saved.get(name, getattr(defaults, name)) != getattr(config, name)]
    if changed:
        raise CheckpointMismatchError(
            f"Cannot resume {source} with other training settings ({'; '.join(changed)}): the continued run would "
            f"not be the run it claims to be. Use the same settings (only steps, logging, checkpoint and precision "
            f"options may change), or start a new run in another folder."
        )


def _init_generator_weights(generator: nn.Module, source: str | os.PathLike, device: Any) -> str:
    """Load ``source`` (a checkpoint file, or a course model's name) into ``generator``; says what it was."""
    if not Path(source).exists() and str(source).strip().lower().replace("_", "-") in {
            name.lower() for name in course_models.names()}:
        shipped = course_models.load(str(source), device=device)
        wanted = dict(getattr(generator, "config", {}) or {})
        if wanted and dict(shipped.config) != wanted:
            raise CheckpointMismatchError(
                f"The course model {source} is a generator with {dict(shipped.config)}, this run builds "
                f"{wanted}: start with the paper's generator (the defaults) to fine-tune it.")
        generator.load_state_dict(shipped.state_dict())
        return f"the course model {course_models.resolve(str(source)).value}"
    state = checkpoints.load_checkpoint(source, map_location=device)
    checkpoints.check_compatible(state, kinds=KINDS, generator_config=getattr(generator, "config", None),
                                 source=source)
    generator.load_state_dict(state["generator"])
    return f"{source} ({checkpoints.describe(state)})"


@dataclass
class Trainee:
    """One network in training, with what trains it: G and D are handled alike.

    ``net`` is the plain network (saved, validated, returned); ``fast`` is the same network
    wrapped for speed (DistributedDataParallel, torch.compile), which the steps call. The
    checkpoint keys are the name and ``<name>_optimizer``, ``<name>_scheduler``, ``<name>_scaler``.
    """

    name: str  # "generator" or "discriminator"
    net: nn.Module
    optimizer: torch.optim.Optimizer  # Adam (beta1 = 0.9, the paper's)
    scheduler: torch.optim.lr_scheduler.LRScheduler  # a step drop (the paper's) or a cosine decay
    scaler: torch.amp.GradScaler  # loss scaling, enabled for fp16 only
    fast: nn.Module | None = None  # set by wrap_for_speed

    @classmethod
    def build(cls, name: str, net: nn.Module, config: TrainConfig, learning_rate: float,
              precision: Precision, device: torch.device) -> Trainee:
        optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, betas=(config.adam_beta1, config.adam_beta2))
        if config.lr_schedule == "cosine":  # from learning_rate down to 0 at config.steps
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
        else:
            milestones = [config.lr_drop_step] if config.lr_drop_step else []
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones,
                                                             gamma=config.lr_drop_factor)
        return cls(name, net, optimizer, scheduler, torch.amp.GradScaler(device.type, enabled=precision.grad_scaler))

    def wrap_for_speed(self, context: distributed.DistributedContext, *, compile: bool) -> None:
        # torch.compile goes outside DistributedDataParallel (compile(DDP(net))), so that DDP's
        # gradient all-reduce can still overlap the backward pass.
        self.fast = distributed.wrap(self.net, context)
        if compile:
            self.fast = torch.compile(self.fast)

    def state_dict(self) -> dict[str, Any]:
        return {self.name: self.net.state_dict(),
                f"{self.name}_optimizer": self.optimizer.state_dict(),
                f"{self.name}_scheduler": self.scheduler.state_dict(),
                f"{self.name}_scaler": self.scaler.state_dict()}

    @staticmethod
    def absent(name: str) -> dict[str, None]:
        """The keys of a network a run does not have (SRResNet's discriminator), as checkpoints hold them."""
        return {name: None, f"{name}_optimizer": None, f"{name}_scheduler": None, f"{name}_scaler": None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state[self.name])
        self.optimizer.load_state_dict(state[f"{self.name}_optimizer"])
        self.scheduler.load_state_dict(state[f"{self.name}_scheduler"])
        if state[f"{self.name}_scaler"] and self.scaler.is_enabled():  # an fp32 run saved a disabled scaler
            self.scaler.load_state_dict(state[f"{self.name}_scaler"])


class _Meter:
    """Averages the loss parts between two history rows and times the steps (not the pauses)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps, self.start = 0, time.perf_counter()

    def add(self, parts: dict[str, torch.Tensor]) -> None:
        for name, value in parts.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.float()
        self.steps += 1

    def row(self, step: int, learning_rate: float, images_per_step: int,
            context: distributed.DistributedContext) -> dict[str, float]:
        names = list(self.sums)
        means = distributed.all_reduce_mean(torch.stack([self.sums[n] for n in names]) / self.steps, context)
        elapsed = time.perf_counter() - self.start
        row = {"step": step, **{n: float(v) for n, v in zip(names, means.tolist())},
               "learning_rate": learning_rate, "images_per_second": self.steps * images_per_step / elapsed}
        self.sums, self.steps = {}, 0
        return row

    def resume(self, paused_at: float, *, logged: bool) -> None:
        """After validation and saving: a new interval starts now, or the pause is not counted."""
        if logged:
            self.start = time.perf_counter()
        else:
            self.start += time.perf_counter() - paused_at


class _Run:
    """One call of :func:`train_srresnet` or :func:`train_srgan`, cut into the steps it takes."""

    def __init__(self, kind, generator, discriminator, config: TrainConfig, *, run_dir, device,
                 content_loss, vgg_weights) -> None:
        self.kind, self.config = kind, config
        self.context = self._context(device, generator)
        self.device = self.context.device
        self.paths = run_paths(run_dir)
        self.manager = CheckpointManager(self.paths["checkpoints"], keep_last=config.keep_last)
        self.precision = Precision.choose(self.device, amp=config.amp, channels_last=config.channels_last)
        self.memory_format = torch.channels_last if self.precision.channels_last else torch.preserve_format
        self.say = print if self.context.is_main else (lambda *args, **kwargs: None)  # one voice under torchrun
        _check_networks(generator, discriminator, config)
        for net in (generator, discriminator):
            if net is not None:
                net.to(device=self.device, memory_format=self.memory_format).train()
        self.generator = Trainee.build("generator", generator, config, config.learning_rate, self.precision,
                                       self.device)
        self.discriminator = None if discriminator is None else Trainee.build(
            "discriminator", discriminator, config, config.discriminator_learning_rate or config.learning_rate,
            self.precision, self.device)
        self.trainees = [t for t in (self.generator, self.discriminator) if t is not None]
        if content_loss is None:
            content_loss = make_content_loss(config.content_loss, vgg_weights=vgg_weights)
        if isinstance(content_loss, nn.Module):
            content_loss = content_loss.to(self.device)
        self.content_loss = content_loss
        self.perceptual_loss = losses.PerceptualLoss(content_loss, config.adversarial_weight) if kind == "srgan" else None
        self.history, self.validation = History(), History()
        self.step, self.best_psnr = 0, -math.inf
        self.latest = self.manager.latest()

    @staticmethod
    def _context(device, generator: nn.Module) -> distributed.DistributedContext:
        context = distributed.current_context(device)
        if not context.enabled:
            device = torch.device(device) if device is not None else next(generator.parameters()).device
            context = dataclasses.replace(context, device=device)
        return context

    # --- resume or initialise -------------------------------------------------------------------

    def resume_or_initialise(self, *, resume: bool, init_generator) -> None:
        latest = self.latest
        if latest is not None and not resume:
            raise FileExistsError(
                f"{self.paths['run']} already holds a run (newest checkpoint {latest.name}). Pass resume=True "
                f"(--resume) to continue it, or choose another run folder (--out).")
        if resume and latest is not None:
            self._resume(latest)
            return
        if resume:
            self.say(f"Nothing to resume in {self.paths['checkpoints']}: starting a new run.")
        if init_generator is not None:
            described = _init_generator_weights(self.generator.net, init_generator, self.device)
            self.say(f"Generator initialised from {described}")
        elif self.kind == "srgan":
            self.say("Note: the generator starts from its current weights, not from a trained SRResNet checkpoint "
                     "(the paper initialises SRGAN from SRResNet; pass init_generator / --init-generator).")

    def _resume(self, latest: Path) -> None:
        try:
            state = checkpoints.load_checkpoint(latest, map_location=self.device)
        except checkpoints.CheckpointError as err:
            older = [path for _, path in self.manager.step_files() if path != latest]
            hint = (f"The previous checkpoint, {older[-1]}, is intact: move the damaged {latest.name} out of "
                    f"{latest.parent} and --resume again to continue from it." if older else
                    "No older checkpoint is left in the folder: start a new run in another folder (--out).")
            raise checkpoints.CheckpointError(f"The newest checkpoint cannot be resumed: {err} {hint}") from err
        discriminator = self.discriminator.net if self.discriminator is not None else None
        checkpoints.check_compatible(
            state, kinds=(self.kind,), generator_config=getattr(self.generator.net, "config", None),
            discriminator_config=getattr(discriminator, "config", None) if discriminator is not None else None,
            source=latest)
        _check_recipe(state["train_config"], self.config, latest)
        for trainee in self.trainees:
            trainee.load_state_dict(state)
        self.history, self.validation = History(state["history"]), History(state["validation"])
        self.step, self.best_psnr = int(state["step"]), float(state["best_psnr"])
        checkpoints.restore_rng_states(state["rng"])
        if state["data"]["world_size"] != self.context.world_size:
            self.say(f"Note: the checkpoint was written by {state['data']['world_size']} process(es), this run has "
                     f"{self.context.world_size}; training continues, but on other batches than the original run "
                     f"would have.")
        self.say(f"Resuming {checkpoints.describe(state)} from {latest}")

    # --- wrap for speed, and one training step ----------------------------------------------------

    def wrap_for_speed(self) -> None:
        """The plain networks are saved and validated; the wrapped ones (DDP, torch.compile) are trained."""
        for trainee in self.trainees:
            trainee.wrap_for_speed(self.context, compile=self.config.compile)
        self.judge = None
        if self.discriminator is not None:
            # D as the generator step uses it: outside DDP (its weights do not change in that step)
            self.judge = self.discriminator.fast
            if self.context.enabled:
                self.judge = torch.compile(self.discriminator.net) if self.config.compile else self.discriminator.net

    def batches(self, train_data) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The endless stream of (lr_img, hr_img) batches on the device, from where the run stands.

        The data set and its loader are made here, at once (a bad image folder fails before the run
        folder is touched); the loader's workers start at the first batch.
        """
        config = self.config
        loader = training_loader(_as_dataset(train_data, config), batch_size=config.batch_size,
                                 seed=config.seed, start_step=self.step, rank=self.context.rank,
                                 world_size=self.context.world_size, num_workers=config.num_workers,
                                 pin_memory=self.device.type == "cuda")

        def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for lr_img, hr_img in loader:
                yield (lr_img.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format),
                       hr_img.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format))

        return stream()

    def train_step(self, lr_img: torch.Tensor, hr_img: torch.Tensor) -> dict[str, torch.Tensor]:
        g, d, dtype = self.generator, self.discriminator, self.precision.autocast_dtype
        if d is None:
            return srresnet_step(g.fast, g.optimizer, lr_img, hr_img, self.content_loss, scaler=g.scaler,
                                 autocast_dtype=dtype)
        return srgan_step(g.fast, d.fast, g.optimizer, d.optimizer, lr_img, hr_img, self.perceptual_loss,
                          generator_scaler=g.scaler, discriminator_scaler=d.scaler, autocast_dtype=dtype,
                          judge=self.judge)

    # --- validate and checkpoint ------------------------------------------------------------------

    def validation_due(self, validation_set: ValidationSet | None) -> bool:
        config, step = self.config, self.step
        return (self.context.is_main and validation_set is not None and config.val_every > 0
                and (step % config.val_every == 0 or step == config.steps))

    def validate(self, validation_set: ValidationSet) -> bool:
        """PSNR/SSIM and a sample grid; True when this is the best checkpoint so far."""
        step = self.step
        scores = validate(self.generator.net, validation_set)
        self.validation.append({"step": step, **scores})
        # SRGAN: the highest-PSNR checkpoint is the least adversarial one, so best.pt is not
        # chosen by PSNR; the last checkpoint is the model (the CLI says so).
        is_best = self.kind == "srresnet" and scores["psnr"] > self.best_psnr
        self.best_psnr = max(self.best_psnr, scores["psnr"])
        save_image(sample_grid(self.generator.net, validation_set), self.paths["samples"] / f"step_{step:08d}.png")
        return is_best

    def checkpoint(self, *, is_best: bool) -> None:
        step, config = self.step, self.config
        if self.context.is_main and (step % config.checkpoint_every == 0 or step == config.steps):
            self.last_checkpoint = self.manager.save(self.state_dict(), step=step, is_best=is_best)
            self.write_histories()
        elif is_best:  # the best validation so far fell between two step checkpoints
            self.manager.save_best(self.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint (format 1): runs written before Trainee existed resume with it, and it with them."""
        discriminator = self.discriminator
        return {
            "format": checkpoints.CHECKPOINT_FORMAT,
            "kind": self.kind,
            "step": self.step,
            "generator_config": dict(getattr(self.generator.net, "config", {})),
            "discriminator_config": dict(getattr(discriminator.net, "config", {})) if discriminator else None,
            "train_config": dataclasses.asdict(self.config),
            **self.generator.state_dict(),
            **(discriminator.state_dict() if discriminator else Trainee.absent("discriminator")),
            "history": self.history.rows,
            "validation": self.validation.rows,
            "best_psnr": self.best_psnr,
            "rng": checkpoints.capture_rng_states(),
            "data": {"seed": self.config.seed, "next_step": self.step, "batch_size": self.config.batch_size,
                     "world_size": self.context.world_size},
            "versions": {"torch": str(torch.__version__), "srgan_edu": str(__version__)},
        }

    def write_histories(self) -> None:
        self.history.to_csv(self.paths["history_csv"])
        self.history.to_json(self.paths["history_json"])
        if len(self.validation):
            self.validation.to_csv(self.paths["validation_csv"])

    def result(self) -> TrainResult:
        main = self.context.is_main
        return TrainResult(generator=self.generator.net,
                           discriminator=self.discriminator.net if self.discriminator else None,
                           history=self.history, validation=self.validation, run_dir=self.paths["run"],
                           last_checkpoint=self.manager.latest() if main else None,
                           best_checkpoint=self.manager.best() if main else None, steps=self.step)


def _check_networks(generator: nn.Module, discriminator: nn.Module | None, config: TrainConfig) -> None:
    if discriminator is not None and getattr(discriminator, "in_size", config.hr_crop) != config.hr_crop:
        raise ValueError(f"The discriminator was built for {discriminator.in_size}x{discriminator.in_size} crops but "
                         f"the config trains on {config.hr_crop}x{config.hr_crop}: build "
                         f"Discriminator(in_size={config.hr_crop}) or change hr_crop.")
    if getattr(generator, "scale", config.scale) != config.scale:
        raise ValueError(f"The generator upscales {generator.scale}x but the config says scale={config.scale}.")


def _train(kind, generator, discriminator, train_data, config: TrainConfig, *, run_dir, val_images, device,
           resume, init_generator, content_loss, vgg_weights, progress, on_log) -> TrainResult:
    """The loop: build, resume or initialise, wrap for speed, then train, log, validate and checkpoint."""
    run = _Run(kind, generator, discriminator, config, run_dir=run_dir, device=device,
               content_loss=content_loss, vgg_weights=vgg_weights)
    run.resume_or_initialise(resume=resume, init_generator=init_generator)
    run.wrap_for_speed()
    batches = run.batches(train_data)
    validation_set = ValidationSet.from_images(val_images, scale=config.scale, crop=config.val_crop) if val_images else None
    if run.context.is_main:
        _prepare_run_folder(run.paths, [t.net for t in run.trainees], fresh=run.step == 0 and run.latest is None,
                            say=run.say)
    run.say(f"Training {kind} on {run.device} in {run.precision.description}"
            f"{f', {run.context.world_size} processes' if run.context.enabled else ''}; run folder {run.paths['run']}")
    run.last_checkpoint = run.manager.latest()
    meter = _Meter()
    bar = tqdm(total=config.steps, initial=run.step, desc=f"train {kind}",
               disable=not (progress and run.context.is_main), dynamic_ncols=True)
    try:
        while run.step < config.steps:
            lr_img, hr_img = next(batches)
            learning_rate = run.generator.optimizer.param_groups[0]["lr"]
            parts = run.train_step(lr_img, hr_img)
            run.step += 1
            check_finite(parts, run.step, last_checkpoint=run.last_checkpoint, context=run.context)
            for trainee in run.trainees:
                trainee.scheduler.step()
            meter.add(parts)
            bar.update(1)

            logged = run.step % config.log_every == 0 or run.step == config.steps
            if logged:
                row = meter.row(run.step, learning_rate, config.batch_size * run.context.world_size, run.context)
                run.history.append(row)
                bar.set_postfix({n: f"{row[n]:.4g}" for n in ("content_loss", "d_real", "d_fake") if n in row})
            paused_at = time.perf_counter()  # validation and saving are not training speed
            validated = run.validation_due(validation_set)
            is_best = run.validate(validation_set) if validated else False
            if run.context.is_main and (logged or validated) and on_log is not None:
                on_log(run.history, run.validation)
            run.checkpoint(is_best=is_best)
            meter.resume(paused_at, logged=logged)
    except NonFiniteLossError:
        if run.context.is_main:
            run.write_histories()  # the curve that led to the blow-up, for the post-mortem
        raise
    finally:
        bar.close()
        batches.close()  # stops DataLoader workers
    distributed.barrier(run.context)
    return run.result()


def _prepare_run_folder(paths: dict[str, Path], networks: list[nn.Module], *,
                        fresh: bool, say: Callable[..., None]) -> None:
    """Before the first step: remove a killed save's temporaries, keep an earlier run's history, and
    make sure checkpoints can be written (an unwritable or full folder would otherwise be found
    only at the first checkpoint, thousands of steps later)."""
    run = paths["run"]
    if run.exists() and not run.is_dir():
        raise NotADirectoryError(f"The run folder {run} is a file, not a folder: choose another --out.")
    removed = checkpoints.remove_stale_temporaries(paths["checkpoints"])
    if removed:
        say(f"Removed {len(removed)} temporary file(s) left by a save that was interrupted: "
            f"{', '.join(path.name for path in removed)}")
    kept = [paths[name] for name in ("history_csv", "history_json", "validation_csv") if paths[name].is_file()]
    if fresh and kept:  # a run that stopped (e.g. on a NaN) before its first checkpoint: its post-mortem stays
        folder = run / time.strftime("previous_run_%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        for path in kept:
            os.replace(path, folder / path.name)
        say(f"Kept the history of the earlier run in this folder (it wrote no checkpoint) in {folder}")
    try:
        paths["checkpoints"].mkdir(parents=True, exist_ok=True)
        probe = paths["checkpoints"] / f".write_test.tmp{os.getpid()}"
        try:
            probe.write_bytes(b"srgan-edu")
        finally:
            probe.unlink(missing_ok=True)
    except OSError as err:
        raise PermissionError(f"Cannot write in the run folder {run} ({err.strerror or err}): choose a folder "
                              f"you can write to (--out), or fix its permissions.") from err
    # a checkpoint holds the weights and Adam's two moments, for every network
    needed = 3 * sum(p.numel() * p.element_size() for net in networks for p in net.parameters()) + 2**20
    free = shutil.disk_usage(paths["checkpoints"]).free
    if free < needed:
        raise OSError(f"The disk of {run} has {free / 2**20:.1f} MiB free, but one checkpoint needs about "
                      f"{needed / 2**20:.1f} MiB: free some space or choose another --out.")


# --- the command line: python -m srgan_edu train srresnet|srgan ... -----------------------------


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu train`` (also under ``torchrun ... -m srgan_edu train``)."""
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
