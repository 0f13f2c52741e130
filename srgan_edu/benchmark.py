"""How fast does this machine train? Steps per second of the SRResNet and SRGAN steps (lesson 08).

``python -m srgan_edu benchmark`` (or ``benchmarks/train_throughput.py``) times the very step
functions the trainer uses (:func:`srgan_edu.training.srresnet_step` and
:func:`srgan_edu.training.srgan_step`: G + D + VGG19 phi_5,4) at the paper's batch and crop
size (16 crops of 96x96 HR) on whatever device is present, in several modes:

- ``fp32``: plain 32-bit floats, NCHW memory layout;
- ``channels_last``: fp32 with the NHWC layout that tensor-core convolutions prefer;
- ``amp``: mixed precision as the trainer uses it on CUDA (bf16 where supported, else fp16
  with a gradient scaler), with channels_last;
- ``compile`` (only when asked for): ``torch.compile`` on top of ``amp`` (on a CPU, on top
  of ``channels_last``); the first steps compile, so give it a longer warm-up.

Modes the device cannot do are reported as skipped, with the reason. The data are random
tensors already on the device: this measures the networks, not image decoding. The VGG19
has random weights, which costs exactly as much time as the pretrained ones and needs no
download. Each mode runs ``warmup`` untimed steps (memory allocation, cuDNN autotuning,
compilation), then ``steps`` timed ones.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from srgan_edu import losses, training
from srgan_edu.discriminator import Discriminator
from srgan_edu.srresnet import SRResNet

MODELS = ("srresnet", "srgan")
MODES = ("fp32", "channels_last", "amp", "compile")
DEFAULT_MODES = ("fp32", "channels_last", "amp")

# Dense peak TFLOP/s by device name (vendor data sheets; SXM parts where there are two).
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"bf16": 989.0, "fp16": 989.0, "tf32": 495.0, "fp32": 67.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "tf32": 495.0, "fp32": 67.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5},
    "L4": {"bf16": 121.0, "fp16": 121.0, "tf32": 60.0, "fp32": 30.3},
    "T4": {"fp16": 65.0, "fp32": 8.1},
    "RTX 4090": {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6, "fp32": 82.6},
}


def peak_flops(device_name: str, precision: str) -> float | None:
    """The dense peak FLOP/s of a GPU named ``device_name`` at ``precision`` ("bf16", "fp16",
    "tf32" or "fp32"), or None where the table does not know it (every CPU)."""
    for name, peaks in PEAK_TFLOPS.items():
        if name.lower() in device_name.lower() and precision in peaks:
            return peaks[precision] * 1e12
    return None


def _peak_precision(device: torch.device, autocast_dtype: torch.dtype | None) -> str:
    if autocast_dtype == torch.bfloat16:
        return "bf16"
    if autocast_dtype == torch.float16:
        return "fp16"
    return "tf32" if device.type == "cuda" and torch.backends.cudnn.allow_tf32 else "fp32"


def count_flops(step: Any) -> int:
    """FLOPs of one call of ``step()``, counted by ``torch.utils.flop_counter.FlopCounterMode``
    (forward and backward; a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def _skip_reason(mode: str, device: torch.device) -> str | None:
    """Why ``mode`` cannot run on ``device``, or None when it can."""
    if mode == "amp" and device.type == "cpu" and not training.cpu_has_native_bf16():
        return "this CPU has no native bf16 (AVX512-BF16 or AMX); the trainer runs it in fp32"
    if mode == "amp" and device.type not in ("cuda", "cpu"):
        return f"mixed precision is used on CUDA GPUs and CPUs with native bf16, not on {device.type}"
    if mode == "compile" and not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        return "torch.compile needs a C compiler (none found)"
    return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_mode(
    model: str,
    mode: str,
    *,
    device: torch.device,
    batch_size: int = 16,
    hr_crop: int = 96,
    scale: int = 4,
    num_blocks: int = 16,
    num_features: int = 64,
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Time one model in one mode.

    Args:
        model: ``"srresnet"`` (G with the MSE loss) or ``"srgan"`` (D step, then G step with
            VGG19 phi_5,4 + adversarial loss).
        mode: one of :data:`MODES`.
        device: where to run.
        batch_size, hr_crop, scale: the batch (paper: 16 crops of 96x96 HR, scale 4).
        num_blocks, num_features: the generator's size (paper: 16 and 64); the discriminator's
            first layers have ``num_features`` maps too (64 in the paper).
        steps: timed steps.
        warmup: untimed steps before.
        seed: seeds the weights and the random batch.

    Returns:
        A result row: ``model``, ``mode``, ``status`` ("ok" or "skipped"), ``reason``,
        ``precision``, ``seconds_per_step``, ``steps_per_second``, ``images_per_second``.
    """
    row: dict[str, Any] = {"model": model, "mode": mode, "status": "skipped", "reason": None, "precision": None,
                           "seconds_per_step": None, "steps_per_second": None, "images_per_second": None,
                           "flops_per_step": None, "flops_per_second": None, "peak_flops": None, "mfu": None}
    reason = _skip_reason(mode, device)
    if reason is not None:
        row["reason"] = reason
        return row
    precision = training.Precision.choose(device, amp=mode == "amp" or (mode == "compile" and device.type == "cuda"),
                                          channels_last=mode != "fp32") if mode != "fp32" else \
        training.Precision.choose(device, amp=False, channels_last=False)
    row["precision"] = precision.description
    memory_format = torch.channels_last if precision.channels_last else torch.preserve_format
    torch.manual_seed(seed)
    generator = SRResNet(scale=scale, num_features=num_features, num_blocks=num_blocks)
    generator.to(device=device, memory_format=memory_format).train()
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.9, 0.999))
    generator_scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaler)
    lr_img = torch.rand(batch_size, 3, hr_crop // scale, hr_crop // scale, device=device)
    hr_img = torch.rand(batch_size, 3, hr_crop, hr_crop, device=device) * 2 - 1
    lr_img = lr_img.contiguous(memory_format=memory_format)
    hr_img = hr_img.contiguous(memory_format=memory_format)
    generator_fast = torch.compile(generator) if mode == "compile" else generator

    if model == "srresnet":
        def step() -> dict[str, torch.Tensor]:
            return training.srresnet_step(generator_fast, generator_optimizer, lr_img, hr_img,
                                          losses.mse_content_loss, scaler=generator_scaler,
                                          autocast_dtype=precision.autocast_dtype)
    elif model == "srgan":
        discriminator = Discriminator(in_size=hr_crop, num_features=num_features)
        discriminator.to(device=device, memory_format=memory_format).train()
        discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-4, betas=(0.9, 0.999))
        discriminator_scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaler)
        discriminator_fast = torch.compile(discriminator) if mode == "compile" else discriminator
        # Random VGG19 weights: the same arithmetic as the pretrained ones, no download.
        content = losses.VGGContentLoss("relu5_4", weights=None).to(device=device, memory_format=memory_format)
        perceptual = losses.PerceptualLoss(content, adversarial_weight=1e-3)

        def step() -> dict[str, torch.Tensor]:
            return training.srgan_step(generator_fast, discriminator_fast, generator_optimizer,
                                       discriminator_optimizer, lr_img, hr_img, perceptual,
                                       generator_scaler=generator_scaler, discriminator_scaler=discriminator_scaler,
                                       autocast_dtype=precision.autocast_dtype)
    else:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")

    for _ in range(warmup):
        step()
    # Counted on an untimed step; a compiled step is not seen op by op, so compile is not counted.
    flops = count_flops(step) if mode != "compile" else None
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        parts = step()
    training.check_finite(parts, warmup + steps)  # also waits for the device to finish
    _synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    row.update(status="ok", seconds_per_step=seconds, steps_per_second=1.0 / seconds,
               images_per_second=batch_size / seconds)
    if flops is not None:
        row.update(flops_per_step=flops, flops_per_second=flops / seconds)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = peak_flops(name, _peak_precision(device, precision.autocast_dtype))
        row["peak_flops"] = peak
        if peak is not None and flops is not None:
            row["mfu"] = flops / seconds / peak
    return row


def benchmark_training(
    *,
    device: torch.device | str | None = None,
    models: Sequence[str] = MODELS,
    modes: Sequence[str] = DEFAULT_MODES,
    batch_size: int = 16,
    hr_crop: int = 96,
    scale: int = 4,
    num_blocks: int = 16,
    num_features: int = 64,
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Time every (model, mode) pair; see :func:`time_mode` for the arguments.

    Returns:
        ``{"environment": {...}, "settings": {...}, "results": [row, ...]}``, plain JSON data.
    """
    from srgan_edu import __version__
    from srgan_edu.runtime import pick_device

    device = pick_device(None if device is None else str(device))
    unknown = [m for m in models if m not in MODELS] + [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown model or mode {unknown}; models: {MODELS}, modes: {MODES}")
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    environment = {
        "device": str(device),
        "device_name": device_name,
        "cpu_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "srgan_edu": __version__,
        "platform": platform.platform(),
    }
    settings = {"batch_size": batch_size, "hr_crop": hr_crop, "scale": scale, "num_blocks": num_blocks,
                "num_features": num_features, "steps": steps, "warmup": warmup,
                "vgg19": "random weights (same cost as pretrained; timing only)",
                "data": "random tensors on the device"}
    results = []
    for model in models:
        for mode in modes:
            results.append(time_mode(model, mode, device=device, batch_size=batch_size, hr_crop=hr_crop,
                                     scale=scale, num_blocks=num_blocks, num_features=num_features, steps=steps,
                                     warmup=warmup, seed=seed))
    return {"environment": environment, "settings": settings, "results": results}


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table (also valid Markdown)."""
    env, settings = report["environment"], report["settings"]
    lines = [
        f"device: {env['device']} ({env['device_name']}), {env['cpu_threads']} CPU threads, "
        f"torch {env['torch']}, Python {env['python']}",
        f"batch {settings['batch_size']} x {settings['hr_crop']}x{settings['hr_crop']} HR crops, scale "
        f"{settings['scale']}, SRResNet {settings['num_blocks']} blocks x {settings['num_features']} features; "
        f"{settings['warmup']} warm-up + {settings['steps']} timed steps",
        "",
        "| model | mode | precision | steps/s | images/s | s/step | GFLOP/step | TFLOP/s | MFU |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        if row["status"] == "ok":
            gflop = "-" if row.get("flops_per_step") is None else f"{row['flops_per_step'] / 1e9:.1f}"
            tflops = "-" if row.get("flops_per_second") is None else f"{row['flops_per_second'] / 1e12:.3f}"
            mfu = "-" if row.get("mfu") is None else f"{100 * row['mfu']:.1f} %"
            lines.append(f"| {row['model']} | {row['mode']} | {row['precision']} | {row['steps_per_second']:.3f} | "
                         f"{row['images_per_second']:.2f} | {row['seconds_per_step']:.3f} | {gflop} | {tflops} | {mfu} |")
        else:
            lines.append(f"| {row['model']} | {row['mode']} | skipped: {row['reason']} | - | - | - | - | - | - |")
    if env["device"].startswith("cpu"):
        lines.append("MFU left out on a CPU: it would need the processor's peak FLOP/s for this precision "
                     "(cores x clock x FLOPs per cycle per core), which the table does not know.")
    return "\n".join(lines)


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu benchmark``."""
    parser.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best present)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="what to time")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(DEFAULT_MODES),
                        help="fp32, channels_last, amp (CUDA), compile (opt-in)")
    parser.add_argument("--batch-size", type=int, default=16, help="crops per step (paper: 16)")
    parser.add_argument("--hr-crop", type=int, default=96, help="side of the HR crops (paper: 96)")
    parser.add_argument("--num-blocks", type=int, default=16, help="residual blocks (paper: 16)")
    parser.add_argument("--num-features", type=int, default=64, help="feature maps of G and of D's first layer (paper: 64)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the JSON report to this file")


def cli_main(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table, then the JSON report."""
    if args.steps < 1 or args.warmup < 0:
        print("error: --steps must be at least 1 and --warmup at least 0", file=sys.stderr)
        return 2
    from srgan_edu.checkpoints import GENERATOR_CONFIG_LIMITS

    problems = []
    if args.batch_size < 1:
        problems.append(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.hr_crop < 16 or args.hr_crop % 4:
        problems.append(f"--hr-crop must be a multiple of 4 (the scale) and at least 16, got {args.hr_crop}")
    for option, key, value in (("--num-blocks", "num_blocks", args.num_blocks),
                               ("--num-features", "num_features", args.num_features)):
        low, high = GENERATOR_CONFIG_LIMITS[key]
        if not low <= value <= high:
            problems.append(f"{option} must be from {low} to {high} (paper: {16 if key == 'num_blocks' else 64}), "
                            f"got {value}")
    if args.json and Path(args.json).is_dir():
        problems.append(f"--json {args.json} is a folder; give a file name")
    if problems:
        print(f"error: {'; '.join(problems)}.", file=sys.stderr)
        return 2
    report = benchmark_training(device=args.device, models=args.models, modes=args.modes,
                                batch_size=args.batch_size, hr_crop=args.hr_crop, num_blocks=args.num_blocks,
                                num_features=args.num_features, steps=args.steps, warmup=args.warmup)
    print(format_table(report))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        from srgan_edu.checkpoints import atomic_write_text

        path = Path(args.json)
        try:  # atomically: a full disk leaves the previous report intact
            atomic_write_text(path, text + "\n")
        except OSError as err:
            print(f"error: cannot write --json {path} ({err.strerror or err}): choose a writable file path.",
                  file=sys.stderr)
            return 2
        print(f"JSON written to {path}", file=sys.stderr)
    return 0
