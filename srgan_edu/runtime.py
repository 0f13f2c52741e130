"""Seeds, the device, and a short report of the environment (lesson 00).

Notebooks and scripts pick the device with :func:`pick_device`; library functions take
the device from their inputs (``x.device``), so the same code runs on a CPU, a CUDA GPU or
Apple's MPS.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
from dataclasses import dataclass, field

import numpy as np
import torch
import torchvision

from srgan_edu import datasets, vgg
from srgan_edu.datasets import default_data_dir  # noqa: F401  (re-exported: lesson 08 asks runtime for it)


def error_line(err: BaseException) -> str:
    """An exception as the one line a user reads (a DataLoader worker's error keeps only its last line)."""
    text = str(err).strip() or type(err).__name__
    if "Original Traceback" in text:  # "Caught ValueError in DataLoader worker process 0. Original Traceback..."
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        text = lines[-1].split(": ", 1)[-1] if lines else text
    return " ".join(text.split())


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so that a run can be repeated.

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

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

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

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

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

    Args:
        data_dir: where the data sets live (default: ``data/`` or ``$SRGAN_EDU_DATA``).
    """
    device = pick_device()
    device_text = str(device)
    if device.type == "cuda":
        device_text += f" ({torch.cuda.get_device_name(device)})"
    status = datasets.dataset_status(data_dir)
    return EnvironmentReport(
        python=platform.python_version(),
        torch=torch.__version__,
        torchvision=torchvision.__version__,
        device=device_text,
        cpu_threads=torch.get_num_threads(),
        vgg19_weights=vgg.describe_weights_location(),
        datasets=status,
    )


# --- the precision of the numbers on this device (lessons 06 and 08) ---------------------------


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), as oneDNN reports it.

    On such a CPU bf16 autocast roughly halves a training step (measured in lesson 06 and
    benchmarks/RESULTS.md); elsewhere bf16 is emulated and slower than fp32, so it is not chosen.
    """
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an old or unusual build: be safe, say no
        return False


@dataclass(frozen=True)
class Precision:
    """How the numbers are held during training or inference on one device.

    Weights, BatchNorm statistics, losses and the optimiser state stay fp32 in every case:
    autocast runs the convolutions and matrix products in the lower precision only.
    """

    autocast_dtype: torch.dtype | None  # None: fp32 throughout
    grad_scaler: bool  # fp16 needs loss scaling; bf16 and fp32 do not
    channels_last: bool  # NHWC layout: tensor-core and oneDNN bf16 convolutions prefer it
    description: str  # one line for the log

    @classmethod
    def choose(cls, device: torch.device, *, amp: bool | None = None, channels_last: bool | None = None) -> Precision:
        """The precision for ``device``.

        Args:
            device: where the networks run.
            amp: True: mixed precision (on CUDA bf16 where the GPU has it, else fp16 with a
                gradient scaler; on a CPU bf16 where it is native, else fp32). None (the
                default): bf16 where the hardware has it natively (a CUDA GPU of compute
                capability 8.0 or newer, a CPU with AVX512-BF16 or AMX), fp32 elsewhere;
                fp16 is never chosen without asking. False: fp32.
            channels_last: NHWC layout; None: on with CUDA and with bf16 on a CPU.
        """
        device = torch.device(device)
        dtype, scaled, note = None, False, ""
        if device.type == "cuda":
            # bf16 only where the tensor cores have it (compute capability 8.0: A100, RTX 30xx
            # and newer). torch.cuda.is_bf16_supported() also says yes where bf16 is merely
            # emulated (T4, V100: a learner's usual free GPU), which is slower than fp16.
            major, _minor = torch.cuda.get_device_capability(device)
            if amp is not False and major >= 8:
                dtype = torch.bfloat16
            elif amp:
                dtype, scaled = torch.float16, True
        elif device.type == "cpu" and amp is not False:
            if cpu_has_native_bf16():
                dtype = torch.bfloat16
            elif amp:
                note = " (this CPU has no native bf16, which would be slower than fp32)"
        elif amp:
            note = f" (mixed precision is used on CUDA GPUs and on CPUs with native bf16, not on {device.type})"
        layout = (device.type == "cuda" or dtype is not None) if channels_last is None else channels_last
        layout_text = ", channels_last" if layout else ""
        if dtype is None:
            return cls(None, False, layout, f"fp32{layout_text}{note}")
        kind = "bf16" if dtype == torch.bfloat16 else "fp16 with a gradient scaler"
        where = "native on this CPU" if device.type == "cpu" else device.type
        return cls(dtype, scaled, layout, f"mixed precision ({kind}, {where}){layout_text}")


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for mixed precision, or a context that does nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
