"""Seeds, the device, and a short report of the environment (lesson 00).

Notebooks and scripts pick the device with :func:`pick_device`; library functions take
the device from their inputs (``x.device``), so the same code runs on a CPU, a CUDA GPU or
Apple's MPS.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so that a run can be repeated.

    Args:
        seed: any integer.
        deterministic: ask PyTorch for deterministic kernels (slower on a GPU; some
            operations then raise an error instead of running non-deterministically).
            ``False`` switches that request off again, so a notebook cell that is re-run with
            another value gets what it says.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(deterministic)


def pick_device(preferred: str | None = None) -> torch.device:
    """The best device present: CUDA, then Apple's MPS, then the CPU.

    Args:
        preferred: ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"cpu"`` to insist on one; an error
            says so when it is not available rather than silently using another.
    """
    if preferred not in (None, "", "auto"):
        device = torch.device(preferred)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"Device {preferred!r} was asked for, but PyTorch sees no CUDA GPU here. "
                               "Use --device cpu, or install a CUDA build of PyTorch on a GPU machine.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"Device {preferred!r} was asked for, but MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class EnvironmentReport:
    """What lesson 00 prints: versions, the device, and which weights and data are present."""

    python: str  # interpreter version
    torch: str  # PyTorch version
    torchvision: str  # torchvision version
    device: str  # what pick_device() chose, with the GPU's name when there is one
    cpu_threads: int  # threads PyTorch uses on the CPU
    vgg19_weights: str  # where pretrained VGG19 weights were found, or why not
    datasets: dict[str, str] = field(default_factory=dict)  # data set name -> present / missing

    def __str__(self) -> str:
        lines = [
            f"Python        {self.python}",
            f"PyTorch       {self.torch}",
            f"torchvision   {self.torchvision}",
            f"device        {self.device}",
            f"CPU threads   {self.cpu_threads}",
            f"VGG19 weights {self.vgg19_weights}",
        ]
        for name, state in self.datasets.items():
            lines.append(f"{name:<13} {state}")
        return "\n".join(lines)


def environment_report(data_dir: str | os.PathLike | None = None) -> EnvironmentReport:
    """Collect the facts a learner needs before the first lesson.

    Args:
        data_dir: where the data sets live (default: ``data/`` or ``$SRGAN_EDU_DATA``).
    """
    import torchvision

    from srgan_edu import data, vgg

    device = pick_device()
    device_text = str(device)
    if device.type == "cuda":
        device_text += f" ({torch.cuda.get_device_name(device)})"
    status = data.dataset_status(data_dir)
    return EnvironmentReport(
        python=platform.python_version(),
        torch=torch.__version__,
        torchvision=torchvision.__version__,
        device=device_text,
        cpu_threads=torch.get_num_threads(),
        vgg19_weights=vgg.describe_weights_location(),
        datasets=status,
    )


def default_data_dir() -> Path:
    """``$SRGAN_EDU_DATA`` if set, else ``data/`` in the current folder."""
    return Path(os.environ.get("SRGAN_EDU_DATA", "data"))
