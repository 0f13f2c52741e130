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

**Compile pay-back.** The warm-up steps are timed one by one as well. ``torch.compile`` spends
its compile time in them, so (with ``compile`` and its base mode in one run) the report gives
the extra warm-up time of the compiled run, the time each compiled step saves, and the number
of steps after which a compiled run has caught up (:func:`compile_payback`). The trainer keeps
compile off by default (``TrainConfig.compile``); this is the number that says for which runs
``--compile`` is worth it.

**The data loader** (``--data FOLDER``): the trainer's input pipeline timed on a folder of HR
images, and the step fed by it, lives in :mod:`srgan_edu.benchmark_loader`; its names are
importable from here too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from srgan_edu import __version__, losses, paper, training
from srgan_edu.benchmark_loader import (  # re-exported: the loader's names were first defined here
    STORAGES,
    benchmark_loader,
    default_worker_counts,
    input_bound_verdict,
    loader_dataset,
    loader_lines,
    open_folder,
    synchronize,
    time_loader,
    trainer_loader,
)
from srgan_edu.checkpoints import GENERATOR_CONFIG_LIMITS, atomic_write_text
from srgan_edu.data import HRImageFolder
from srgan_edu.discriminator import Discriminator
from srgan_edu.runtime import pick_device
from srgan_edu.srresnet import SRResNet

MODELS = ("srresnet", "srgan")
MODES = ("fp32", "channels_last", "amp", "compile")
DEFAULT_MODES = ("fp32", "channels_last", "amp")
_loader_lines = loader_lines  # its name when it lived here

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


def time_mode(
    model: str,
    mode: str,
    *,
    device: torch.device,
    batch_size: int = paper.BATCH_SIZE,
    hr_crop: int = paper.HR_CROP,
    scale: int = paper.SCALE,
    num_blocks: int = 16,
    num_features: int = 64,
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None,
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
        warmup: steps before the timed ones, each timed on its own (``warmup_seconds``).
        seed: seeds the weights and the random batch.
        batches: where each step takes its (lr_img, hr_img) batch, e.g. ``iter(training_loader(...))``
            (moved to the device as the trainer does); None: one random batch already on the
            device, reused, so that only the networks are timed.

    Returns:
        A result row: ``model``, ``mode``, ``status`` ("ok" or "skipped"), ``reason``,
        ``precision``, ``seconds_per_step``, ``steps_per_second``, ``images_per_second``,
        ``warmup_seconds`` (one per warm-up step), ``first_step_seconds``, the FLOP figures,
        and ``fed`` (whether the batches came from ``batches``).
    """
    row: dict[str, Any] = {"model": model, "mode": mode, "status": "skipped", "reason": None, "precision": None,
                           "seconds_per_step": None, "steps_per_second": None, "images_per_second": None,
                           "flops_per_step": None, "flops_per_second": None, "peak_flops": None, "mfu": None,
                           "warmup_seconds": [], "first_step_seconds": None, "fed": batches is not None}
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
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=paper.LEARNING_RATE, betas=(paper.ADAM_BETA1, 0.999))
    generator_scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaler)
    lr_img = torch.rand(batch_size, 3, hr_crop // scale, hr_crop // scale, device=device)
    hr_img = torch.rand(batch_size, 3, hr_crop, hr_crop, device=device) * 2 - 1
    lr_img = lr_img.contiguous(memory_format=memory_format)
    hr_img = hr_img.contiguous(memory_format=memory_format)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        if batches is None:
            return lr_img, hr_img
        lr_batch, hr_batch = next(batches)  # as the trainer moves it
        return (lr_batch.to(device, non_blocking=True).contiguous(memory_format=memory_format),
                hr_batch.to(device, non_blocking=True).contiguous(memory_format=memory_format))

    generator_fast = torch.compile(generator) if mode == "compile" else generator

    if model == "srresnet":
        def step() -> dict[str, torch.Tensor]:
            lr_batch, hr_batch = next_batch()
            return training.srresnet_step(generator_fast, generator_optimizer, lr_batch, hr_batch,
                                          losses.mse_content_loss, scaler=generator_scaler,
                                          autocast_dtype=precision.autocast_dtype)
    elif model == "srgan":
        discriminator = Discriminator(in_size=hr_crop, num_features=num_features)
        discriminator.to(device=device, memory_format=memory_format).train()
        discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=paper.LEARNING_RATE, betas=(paper.ADAM_BETA1, 0.999))
        discriminator_scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaler)
        discriminator_fast = torch.compile(discriminator) if mode == "compile" else discriminator
        # Random VGG19 weights: the same arithmetic as the pretrained ones, no download.
        content = losses.VGGContentLoss(paper.CONTENT_LOSSES[paper.SRGAN_CONTENT_LOSS], weights=None).to(device=device, memory_format=memory_format)
        perceptual = losses.PerceptualLoss(content, adversarial_weight=paper.ADVERSARIAL_WEIGHT)

        def step() -> dict[str, torch.Tensor]:
            lr_batch, hr_batch = next_batch()
            return training.srgan_step(generator_fast, discriminator_fast, generator_optimizer,
                                       discriminator_optimizer, lr_batch, hr_batch, perceptual,
                                       generator_scaler=generator_scaler, discriminator_scaler=discriminator_scaler,
                                       autocast_dtype=precision.autocast_dtype)
    else:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")

    warmup_seconds = []
    for _ in range(warmup):  # one by one: torch.compile spends its compile time here
        start = time.perf_counter()
        step()
        synchronize(device)
        warmup_seconds.append(time.perf_counter() - start)
    row.update(warmup_seconds=warmup_seconds, first_step_seconds=warmup_seconds[0] if warmup_seconds else None)
    # Counted on an untimed step; a compiled step is not seen op by op, so compile is not counted.
    flops = count_flops(step) if mode != "compile" else None
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        parts = step()
    training.check_finite(parts, warmup + steps)  # also waits for the device to finish
    synchronize(device)
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


def trainer_mode(device: torch.device) -> str:
    """The mode that ``python -m srgan_edu train`` uses on ``device`` when not told otherwise
    (:meth:`srgan_edu.training.Precision.choose` with its defaults; compile is off by default)."""
    precision = training.Precision.choose(device)
    if precision.autocast_dtype is not None:
        return "amp"
    return "channels_last" if precision.channels_last else "fp32"


def compile_base_mode(device: torch.device) -> str:
    """The eager mode that ``compile`` is on top of in :func:`time_mode` (same precision and layout)."""
    return "amp" if device.type == "cuda" else "channels_last"


def compile_payback(base: dict[str, Any], compiled: dict[str, Any]) -> dict[str, Any]:
    """After how many steps a compiled run has caught up with the eager one.

    Both rows come from :func:`time_mode` with the same warm-up count ``k``. Over ``n >= k``
    steps the eager run takes ``W_e + (n - k) s_e`` seconds and the compiled one
    ``W_c + (n - k) s_c`` (``W`` the warm-up total, ``s`` the steady seconds per step), so the
    compiled run is ahead from ``n = k + (W_c - W_e) / (s_e - s_c)`` steps on. The eager
    run's own first-step costs (allocation, cuDNN autotuning) are in ``W_e``, so they are not
    blamed on the compiler.

    Returns:
        ``compile_seconds`` (W_c - W_e: the extra warm-up time of the compiled run),
        ``seconds_saved_per_step`` (s_e - s_c), ``payback_steps`` (None where it never pays
        back or cannot be told) and ``reason`` (why not, else None).
    """
    out: dict[str, Any] = {"base_mode": base.get("mode"), "compile_seconds": None, "seconds_saved_per_step": None,
                           "payback_steps": None, "reason": None}
    if base.get("status") != "ok" or compiled.get("status") != "ok":
        out["reason"] = "the compiled mode or its base mode did not run"
        return out
    if not compiled["warmup_seconds"] or len(base["warmup_seconds"]) != len(compiled["warmup_seconds"]):
        out["reason"] = "needs the same warm-up of at least 1 step in both modes (the compile happens there)"
        return out
    extra = sum(compiled["warmup_seconds"]) - sum(base["warmup_seconds"])
    saved = base["seconds_per_step"] - compiled["seconds_per_step"]
    out.update(compile_seconds=extra, seconds_saved_per_step=saved)
    if saved <= 0:
        out["reason"] = "never: a compiled step is not faster than an eager one here"
    else:
        out["payback_steps"] = len(compiled["warmup_seconds"]) + max(0.0, extra) / saved
    return out


def benchmark_training(
    *,
    device: torch.device | str | None = None,
    models: Sequence[str] = MODELS,
    modes: Sequence[str] = DEFAULT_MODES,
    batch_size: int = paper.BATCH_SIZE,
    hr_crop: int = paper.HR_CROP,
    scale: int = paper.SCALE,
    num_blocks: int = 16,
    num_features: int = 64,
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
    data: str | os.PathLike | None = None,
    storages: Sequence[str] = STORAGES,
    worker_counts: Sequence[int] | None = None,
    loader_batches: int = 50,
    loader_warmup: int = 2,
) -> dict[str, Any]:
    """Time every (model, mode) pair, and with ``data`` the data loader too.

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).

    See :func:`time_mode` for the step arguments. With ``compile`` and its base mode
    (:func:`compile_base_mode`) both timed, each model gets a :func:`compile_payback` entry.

    With ``data`` (a folder of HR images) :func:`benchmark_loader` times the loader for each of
    ``storages`` and ``worker_counts`` (``loader_batches`` and ``loader_warmup`` batches per
    row); the mode the trainer uses by default (:func:`trainer_mode`) is timed even when not in
    ``modes``, so that each loader row can stand beside its step rate; and each model's step is
    timed once more in that mode fed by the trainer's default loader on ``data`` (``fed``
    rows: as many steps as ``steps``, at least 16 per worker, so that the prefetched batches do not
    hide a slow loader).

    Returns:
        ``{"environment": {...}, "settings": {...}, "results": [row, ...], "compile": [...],
        "loader": {...} or None, "fed": [row, ...]}``, plain JSON data.
    """
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
                "data": "random tensors on the device", "trainer_mode": trainer_mode(device),
                "loader_batches": loader_batches if data is not None else None,
                "loader_warmup": loader_warmup if data is not None else None}
    modes = list(modes)
    if data is not None and settings["trainer_mode"] not in modes:
        modes.append(settings["trainer_mode"])
    sizes = {"batch_size": batch_size, "hr_crop": hr_crop, "scale": scale, "num_blocks": num_blocks,
             "num_features": num_features, "seed": seed}
    loader, opened = None, {}
    if data is not None:  # first, so that a bad folder is reported before minutes of timing
        loader = benchmark_loader(data, device=device, storages=storages, worker_counts=worker_counts,
                                  batch_size=batch_size, hr_crop=hr_crop, scale=scale, batches=loader_batches,
                                  warmup=loader_warmup, seed=seed, opened=opened)
    results = []
    for model in models:
        for mode in modes:
            results.append(time_mode(model, mode, device=device, steps=steps, warmup=warmup, **sizes))
    rows = {(row["model"], row["mode"]): row for row in results}
    paybacks = []
    for model in models:
        base, compiled = rows.get((model, compile_base_mode(device))), rows.get((model, "compile"))
        if base is not None and compiled is not None:
            paybacks.append({"model": model, **compile_payback(base, compiled)})
    fed = []
    if loader is not None:
        storage, workers = loader["trainer_storage"], loader["trainer_workers"]
        if storage not in opened:
            opened[storage] = open_folder(data, storage, headers=opened["disk"][0])
        images = opened[storage][0]
        for model in models:
            stream = iter(trainer_loader(loader_dataset(images, hr_crop=hr_crop, scale=scale, seed=seed),
                                         device=device, batch_size=batch_size, num_workers=workers, seed=seed))
            row = time_mode(model, settings["trainer_mode"], device=device, steps=max(steps, 16 * workers),
                            warmup=warmup, batches=stream, **sizes)
            del stream  # stops the workers
            fed.append({**row, "storage": storage, "num_workers": workers})
    return {"environment": environment, "settings": settings, "results": results, "compile": paybacks,
            "loader": loader, "fed": fed}


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table (also valid Markdown).

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).
    """
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
    lines += _compile_lines(report)
    lines += loader_lines(report)
    return "\n".join(lines)


def _compile_lines(report: dict[str, Any]) -> list[str]:
    steps_per_second = {(row["model"], row["mode"]): row["steps_per_second"] for row in report["results"]}
    lines = []
    for entry in report.get("compile", []):
        if not lines:
            lines += ["", "torch.compile: its compile time (the compiled warm-up minus the eager one) against "
                      "the time each compiled step saves",
                      "", "| model | against | first step s | compile s | s saved/step | pays back after |",
                      "|---|---|---:|---:|---:|---|"]
        model = entry["model"]
        first = next((row["first_step_seconds"] for row in report["results"]
                      if (row["model"], row["mode"]) == (model, "compile")), None)
        cells = [f"{value:.3f}" if value is not None else "-"
                 for value in (first, entry["compile_seconds"], entry["seconds_saved_per_step"])]
        if entry["payback_steps"] is None:
            verdict = entry["reason"]
        else:
            rate = steps_per_second.get((model, entry["base_mode"]))  # the eager run's clock
            minutes = f" ({entry['payback_steps'] / rate / 60:.1f} min of eager training)" if rate else ""
            steps = round(entry["payback_steps"])
            verdict = f"{steps:,} step{'' if steps == 1 else 's'}{minutes}"
        lines.append(f"| {model} | {entry['base_mode']} | {' | '.join(cells)} | {verdict} |")
    if lines:
        lines.append("The trainer leaves compile off by default (--compile turns it on): worth it for runs "
                     "much longer than the pay-back (the paper: 10^6 SRResNet, 2 x 10^5 SRGAN updates; a "
                     "fast-mode lesson: a few hundred).")
    return lines


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu benchmark``."""
    parser.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best present)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="what to time")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(DEFAULT_MODES),
                        help="fp32, channels_last, amp (CUDA), compile (opt-in)")
    parser.add_argument("--batch-size", type=int, default=paper.BATCH_SIZE, help=f"crops per step (paper: {paper.BATCH_SIZE})")
    parser.add_argument("--hr-crop", type=int, default=paper.HR_CROP, help=f"side of the HR crops (paper: {paper.HR_CROP})")
    parser.add_argument("--num-blocks", type=int, default=16, help="residual blocks (paper: 16)")
    parser.add_argument("--num-features", type=int, default=64, help="feature maps of G and of D's first layer (paper: 64)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the JSON report to this file")
    loader = parser.add_argument_group("the data loader (with --data)")
    loader.add_argument("--data", default=None, metavar="FOLDER",
                        help="also time the training data loader on this folder of HR images (e.g. DIV2K sub-images) "
                             "and the step fed by it")
    loader.add_argument("--loader-storage", nargs="+", choices=STORAGES, default=list(STORAGES),
                        help="memory (decoded once) and/or disk (decoded at every crop)")
    loader.add_argument("--loader-workers", nargs="+", type=int, default=None, metavar="N",
                        help="DataLoader workers to try (default: 0 1 2 4 8 16 up to the cores); the trainer's "
                             "default is always added")
    loader.add_argument("--loader-batches", type=int, default=50, help="timed batches per loader row")
    loader.add_argument("--loader-warmup", type=int, default=2,
                        help="untimed batches per loader row (plus 2 per worker)")


def cli_main(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table, then the JSON report."""
    if args.steps < 1 or args.warmup < 0:
        print("error: --steps must be at least 1 and --warmup at least 0", file=sys.stderr)
        return 2
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
    if "compile" in args.modes and args.warmup < 1:
        problems.append("--modes compile needs --warmup 1 or more (the compile happens in the warm-up, and its time "
                        "is reported from there)")
    if args.data is not None:
        if args.loader_batches < 1 or args.loader_warmup < 0:
            problems.append("--loader-batches must be at least 1 and --loader-warmup at least 0")
        if args.loader_workers is not None and min(args.loader_workers) < 0:
            problems.append(f"--loader-workers must be 0 or more, got {args.loader_workers}")
        if not Path(args.data).is_dir():
            problems.append(f"--data {args.data} is not a folder; give a folder of HR images (e.g. the output of "
                            f"`python -m srgan_edu subimages DIV2K_train_HR`)")
        elif not problems:  # before any timing: a folder without images, or images smaller than a crop
            try:
                loader_dataset(HRImageFolder(args.data, in_memory=False), hr_crop=args.hr_crop, scale=4, seed=0)
            except (FileNotFoundError, ValueError) as err:
                problems.append(f"--data {args.data}: {err}")
    if problems:
        print(f"error: {'; '.join(problem.rstrip('.') for problem in problems)}.", file=sys.stderr)
        return 2
    report = benchmark_training(device=args.device, models=args.models, modes=args.modes,
                                batch_size=args.batch_size, hr_crop=args.hr_crop, num_blocks=args.num_blocks,
                                num_features=args.num_features, steps=args.steps, warmup=args.warmup,
                                data=args.data, storages=args.loader_storage, worker_counts=args.loader_workers,
                                loader_batches=args.loader_batches, loader_warmup=args.loader_warmup)
    print(format_table(report))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        path = Path(args.json)
        try:  # atomically: a full disk leaves the previous report intact
            atomic_write_text(path, text + "\n")
        except OSError as err:
            print(f"error: cannot write --json {path} ({err.strerror or err}): choose a writable file path.",
                  file=sys.stderr)
            return 2
        print(f"JSON written to {path}", file=sys.stderr)
    return 0
