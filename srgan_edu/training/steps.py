"""The steps of lesson 06, small enough to read and re-implement in its exercise (eq. 1-6).

:func:`srresnet_step` (eq. 4 or 5), :func:`discriminator_step` (eq. 2), :func:`generator_step`
(eq. 3 and 6) and :func:`srgan_step` (one of each, alternating); :func:`check_finite`, which
stops a run on a NaN loss with a clear message; :func:`validate` and :func:`sample_grid`:
PSNR and SSIM on held-out images, and a fixed grid of samples.

Ranges: LR inputs (B, 3, h, w) in [0, 1]; HR targets and generator outputs (B, 3, 4h, 4w) in
[-1, 1]; the discriminator returns logits (B,).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srgan_edu import distributed, losses
from srgan_edu.degradation import degrade, upscale
from srgan_edu.evaluation import super_resolve
from srgan_edu.images import modcrop, to_unit
from srgan_edu.metrics import psnr, ssim
from srgan_edu.runtime import autocast


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

    Lesson 05 (``notebooks/05_discriminator.ipynb``).

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

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

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
