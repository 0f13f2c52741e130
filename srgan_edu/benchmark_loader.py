"""The data loader in the benchmark: can the input pipeline keep up with the step? (lesson 08)

A training step waits for its batch, so ``python -m srgan_edu benchmark --data FOLDER``
(:mod:`srgan_edu.benchmark`) also times the trainer's own input pipeline on a folder of HR
images (DIV2K, its sub-images from ``python -m srgan_edu subimages``, or any folder of PNGs):
:class:`srgan_edu.data.HRImageFolder` decoded once into memory or read from disk at every
crop, random crops degraded to LR by :class:`srgan_edu.data.PairedPatchDataset`, batched by
:func:`srgan_edu.training.training_loader` with several worker counts, the trainer's default
(:func:`srgan_edu.training.default_num_workers`) among them (:func:`time_loader`,
:func:`benchmark_loader`). Beside each loader row stands the step rate of each model, so the
table (:func:`loader_lines`) says whether training would wait for its data; and the step is
timed once more fed by the trainer's default loader instead of random tensors
(:func:`srgan_edu.benchmark.benchmark_training`), which is the answer itself: if the fed step
is slower, training is input-bound.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from srgan_edu import data, paper, training
from srgan_edu.data import PairedPatchDataset


def synchronize(device: torch.device) -> None:
    """Wait for the device to finish its queued work (a no-op on a CPU), before reading a clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


STORAGES = ("memory", "disk")


def default_worker_counts(device: torch.device) -> list[int]:
    """0, 1, 2, 4, 8, 16 up to the number of cores, and the trainer's defaults for this device."""
    cores = os.cpu_count() or 1
    counts = {n for n in (0, 1, 2, 4, 8, 16) if n <= cores}
    counts |= {training.default_num_workers(device, in_memory=True),
               training.default_num_workers(device, in_memory=False)}
    return sorted(counts)


def open_folder(folder: str | os.PathLike, storage: str, *,
                headers: Any = None) -> tuple[Any, float | None, str | None]:
    """``(HRImageFolder, seconds to open it, None)``, or ``(None, None, reason)`` where the trainer
    would not hold the images in memory (more than ``data.IN_MEMORY_LIMIT_BYTES`` decoded).

    ``storage`` is ``"memory"`` (every image decoded now and kept, as the trainer does when they
    fit) or ``"disk"`` (decoded again at every crop); opening the folder decodes everything in
    the first case and only reads the file headers in the second. ``headers``: the folder already
    opened from disk, to read its tens of thousands of headers (DIV2K sub-images) only once.
    """
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
    start = time.perf_counter()
    if headers is None:
        headers = data.HRImageFolder(folder, in_memory=False)
    if storage == "disk":
        return headers, time.perf_counter() - start, None
    if headers.decoded_bytes() > data.IN_MEMORY_LIMIT_BYTES:
        return None, None, (f"{headers.decoded_bytes() / 2**30:.1f} GB decoded, more than the "
                            f"{data.IN_MEMORY_LIMIT_BYTES / 2**30:.0f} GB the trainer holds in memory")
    start = time.perf_counter()
    images = data.HRImageFolder(folder, in_memory=True)
    return images, time.perf_counter() - start, None


def loader_dataset(images: Any, *, hr_crop: int, scale: int, seed: int) -> Any:
    """The training patches the trainer makes from a folder: random crops degraded to LR
    (bicubic), flips and rotations, HR in [-1, 1] (as ``training`` does with a folder)."""
    return PairedPatchDataset(images, hr_crop=hr_crop, scale=scale, hr_range="signed", augment=True, seed=seed)


def trainer_loader(dataset: Any, *, device: torch.device, batch_size: int, num_workers: int, seed: int):
    """The trainer's DataLoader (:func:`srgan_edu.training.training_loader`), pinned memory on CUDA."""
    return training.training_loader(dataset, batch_size=batch_size, seed=seed, num_workers=num_workers,
                                    pin_memory=device.type == "cuda")


def time_loader(
    dataset: Any,
    *,
    device: torch.device,
    num_workers: int,
    batch_size: int = paper.BATCH_SIZE,
    batches: int = 50,
    warmup: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Time the trainer's DataLoader alone: how many crops per second it delivers to ``device``.

    The first batch (starting the worker processes) is timed on its own. Workers fill a queue of
    ``2 * num_workers`` batches ahead (the DataLoader's prefetch) while the first batch is
    awaited, so ``warmup + 2 * num_workers`` batches are drawn untimed before ``batches`` timed
    ones: otherwise the timed loop would start by emptying a full queue and look faster.

    Nothing else runs meanwhile: on a CPU the workers have every core to themselves here, which
    they will share with the training step in a real run (:func:`srgan_edu.benchmark.benchmark_training`
    times that too).

    Returns:
        A row: ``num_workers``, ``first_batch_seconds``, ``seconds_per_batch``,
        ``batches_per_second``, ``crops_per_second``, ``warmup_batches``, ``batches``.
    """
    loader = trainer_loader(dataset, device=device, batch_size=batch_size, num_workers=num_workers, seed=seed)
    untimed = warmup + 2 * num_workers

    def fetch() -> None:
        lr_img, hr_img = next(stream)
        lr_img.to(device, non_blocking=True), hr_img.to(device, non_blocking=True)

    start = time.perf_counter()
    stream = iter(loader)
    fetch()
    first = time.perf_counter() - start
    for _ in range(untimed):
        fetch()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(batches):
        fetch()
    synchronize(device)
    seconds = (time.perf_counter() - start) / batches
    del stream  # stops the workers
    return {"num_workers": num_workers, "first_batch_seconds": first, "seconds_per_batch": seconds,
            "batches_per_second": 1.0 / seconds, "crops_per_second": batch_size / seconds,
            "warmup_batches": untimed, "batches": batches}


def input_bound_verdict(loader_row: dict[str, Any], steps_per_second: float) -> str:
    """What a loader row means for a step that runs ``steps_per_second`` on ready data.

    With 0 workers the main process makes each batch between two steps, so the two times add
    up; with workers the batches are made meanwhile, and the step waits only when the loader
    delivers fewer batches per second than the step takes (on a CPU the workers also take cores
    from the step, which this estimate does not see; the fed step measures it).
    """
    batches_per_second = loader_row["batches_per_second"]
    if loader_row["num_workers"] == 0:
        added = steps_per_second / batches_per_second  # loader seconds per batch / step seconds
        fed = 1.0 / (1.0 / steps_per_second + 1.0 / batches_per_second)
        return f"in series: +{100 * added:.0f} % per step ({fed:.3g} steps/s)"
    ratio = batches_per_second / steps_per_second
    if ratio < 1:
        return f"input-bound: {ratio:.2f}x the step rate"
    return f"keeps up: {ratio:.1f}x the step rate"


def benchmark_loader(
    folder: str | os.PathLike,
    *,
    device: torch.device,
    storages: Sequence[str] = STORAGES,
    worker_counts: Sequence[int] | None = None,
    batch_size: int = paper.BATCH_SIZE,
    hr_crop: int = paper.HR_CROP,
    scale: int = paper.SCALE,
    batches: int = 50,
    warmup: int = 2,
    seed: int = 0,
    opened: dict[str, tuple[Any, float | None, str | None]] | None = None,
) -> dict[str, Any]:
    """Time the trainer's DataLoader on ``folder`` for every (storage, worker count).

    Args:
        folder: a folder of HR images (directly in it), e.g. DIV2K or its sub-images.
        device: where the batches go (pinned memory on CUDA, as in the trainer).
        storages: ``"memory"`` and/or ``"disk"`` (see :func:`open_folder`).
        worker_counts: DataLoader workers to try (default :func:`default_worker_counts`); the
            trainer's default for this folder and device is always among them.
        batch_size, hr_crop, scale: the batches (paper: 16 crops of 96x96 HR, scale 4).
        batches, warmup: timed and untimed batches per row (see :func:`time_loader`).
        seed: seeds the crops.
        opened: a dict to reuse and fill with :func:`open_folder`'s answer for each storage, so
            that a caller can reuse the opened folders (no second decoding).

    Returns:
        ``{"folder", "images", "decoded_bytes", "trainer_storage", "trainer_workers", "rows"}``;
        each row has ``storage``, ``open_seconds``, ``trainer_default`` (the setting a
        ``train`` run on this folder and device uses when not told), ``status`` ("ok" or
        "skipped"), ``reason`` and the figures of :func:`time_loader`.
    """
    device = torch.device(device)
    opened = {} if opened is None else opened
    start = time.perf_counter()
    headers = data.HRImageFolder(folder, in_memory=False)  # also raises for a missing or empty folder
    opened.setdefault("disk", (headers, time.perf_counter() - start, None))
    loader_dataset(headers, hr_crop=hr_crop, scale=scale, seed=seed)  # raises for an image smaller than a crop
    fits = headers.decoded_bytes() <= data.IN_MEMORY_LIMIT_BYTES  # what HRImageFolder(in_memory=None) decides
    trainer_storage = "memory" if fits else "disk"
    trainer_workers = training.default_num_workers(device, in_memory=fits)
    counts = sorted(set(default_worker_counts(device) if worker_counts is None else worker_counts) | {trainer_workers})
    rows = []
    for storage in storages:
        if storage not in opened:
            opened[storage] = open_folder(folder, storage, headers=headers)
        images, open_seconds, reason = opened[storage]
        for num_workers in counts:
            row: dict[str, Any] = {"storage": storage, "num_workers": num_workers, "open_seconds": open_seconds,
                                   "trainer_default": (storage, num_workers) == (trainer_storage, trainer_workers),
                                   "status": "skipped", "reason": reason}
            if images is not None:
                dataset = loader_dataset(images, hr_crop=hr_crop, scale=scale, seed=seed)
                row.update(time_loader(dataset, device=device, num_workers=num_workers, batch_size=batch_size,
                                       batches=batches, warmup=warmup, seed=seed), status="ok")
            rows.append(row)
    return {"folder": str(Path(folder).resolve()), "images": len(headers), "decoded_bytes": headers.decoded_bytes(),
            "trainer_storage": trainer_storage, "trainer_workers": trainer_workers, "rows": rows}


def loader_lines(report: dict[str, Any]) -> list[str]:
    """The loader part of :func:`srgan_edu.benchmark.format_table`: one row per (storage, worker
    count) beside each model's step rate, then the fed step against the step on random tensors."""
    loader = report.get("loader")
    if not loader:
        return []
    settings = report["settings"]
    mode = settings["trainer_mode"]
    step_rates = {row["model"]: row["steps_per_second"] for row in report["results"]
                  if row["mode"] == mode and row["status"] == "ok"}
    lines = ["", f"data loader: {loader['images']} images in {loader['folder']} "
             f"({loader['decoded_bytes'] / 2**20:.0f} MB decoded), batches of {settings['batch_size']} "
             f"{settings['hr_crop']}x{settings['hr_crop']} crops; {settings['loader_warmup']} + 2 x workers "
             f"untimed and {settings['loader_batches']} timed batches per row, the loader alone",
             "", "| storage | workers | open s | first batch s | crops/s | batches/s | "
             + " | ".join(f"vs {model} {mode} ({rate:.3g} steps/s)" for model, rate in step_rates.items()) + " |",
             "|---|---:|---:|---:|---:|---:|" + "---|" * len(step_rates)]
    for row in loader["rows"]:
        default = " (trainer's default)" if row["trainer_default"] else ""
        if row["status"] != "ok":
            lines.append(f"| {row['storage']}{default} | {row['num_workers']} | skipped: {row['reason']} | - | - | - | "
                         + "- | " * len(step_rates))
            continue
        verdicts = [input_bound_verdict(row, rate) for rate in step_rates.values()]
        lines.append(f"| {row['storage']}{default} | {row['num_workers']} | {row['open_seconds']:.2f} | "
                     f"{row['first_batch_seconds']:.2f} | {row['crops_per_second']:.1f} | "
                     f"{row['batches_per_second']:.2f} | " + " | ".join(verdicts) + " |")
    lines.append("memory: decoded once when the folder is opened (open s); disk: decoded again at every crop. "
                 "With workers the loader shares the cores with the step in a real run, so on a CPU the fed "
                 "step below is the figure to trust.")
    fed = report.get("fed", [])
    if fed:
        lines += ["", "the step fed by the trainer's default loader, against the same step on random tensors:",
                  "", "| model | mode | storage | workers | steps/s fed | steps/s on tensors | fed / tensors |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for row in fed:
            alone = step_rates.get(row["model"])
            ratio = f"{row['steps_per_second'] / alone:.2f}" if alone else "-"
            lines.append(f"| {row['model']} | {row['mode']} | {row['storage']} | {row['num_workers']} | "
                         f"{row['steps_per_second']:.3f} | {'-' if alone is None else f'{alone:.3f}'} | {ratio} |")
        lines.append("fed / tensors well below 1: training waits for its data (input-bound); try more workers "
                     "(--num-workers), sub-images (python -m srgan_edu subimages) or images held in memory.")
    return lines
