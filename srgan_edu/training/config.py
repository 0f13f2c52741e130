"""What a training run is asked to do, and what it records (lessons 06 and 08).

:class:`TrainConfig`: the paper's schedule as the defaults (:mod:`srgan_edu.paper`: batch 16 of
96x96 HR crops, Adam with beta1 = 0.9; SRResNet 10^6 updates at 1e-4; SRGAN 10^5 updates at
1e-4 then 10^5 at 1e-5, starting from a trained SRResNet). :class:`History`: one row per
logged step, saved as CSV and JSON beside the checkpoints. :func:`make_content_loss`: the
content loss a config names.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srgan_edu import checkpoints, losses, paper
from srgan_edu.paper import CONTENT_LOSSES


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


# --- the content loss a config names ---------------------------------------------------------


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
