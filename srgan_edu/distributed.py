"""Several processes, one model: the plumbing for ``torchrun`` and DistributedDataParallel (lesson 08).

``torchrun --nproc_per_node N -m srgan_edu train ...`` starts N copies of the same program
and tells each one who it is through environment variables (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). Each process

1. joins the process group (:func:`setup`): ``nccl`` between GPUs, ``gloo`` on CPUs;
2. wraps its networks in ``DistributedDataParallel`` (:func:`wrap`), which averages the
   gradients of all processes after every backward pass, so every copy takes the same
   optimiser step and the weights stay identical;
3. trains on its own share of each step's samples (the training data stream takes
   ``rank`` and ``world_size``), so N processes see N times the images per step;
4. leaves logging, validation and checkpoints to rank 0 (:attr:`DistributedContext.is_main`).

Without ``torchrun`` (a notebook, ``python -m srgan_edu train``), :func:`setup` returns a
context for one process and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is in a (possibly one-process) training job."""

    rank: int  # 0 .. world_size - 1; rank 0 logs and writes checkpoints
    world_size: int  # number of processes
    local_rank: int  # index on this machine, picks the GPU
    device: torch.device  # this process's device
    backend: str | None  # "nccl", "gloo", or None when not distributed

    @property
    def enabled(self) -> bool:
        """True when this process is one of several."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True for the process that logs, validates and saves (rank 0)."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True when the environment says this is one of several processes (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def current_context(device: torch.device | str | None = None) -> DistributedContext:
    """The context of an already initialised process group, or of a single process.

    Args:
        device: the device for a single process (default: CPU).
    """
    if dist.is_available() and dist.is_initialized():
        backend = dist.get_backend()
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        if device is None:
            device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
        return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, torch.device(device), backend)
    return DistributedContext(0, 1, 0, torch.device(device or "cpu"), None)


def setup(device: torch.device | str | None = None) -> DistributedContext:
    """Join the process group when launched by ``torchrun``; otherwise describe a single process.

    Under ``torchrun`` the device is ``cuda:LOCAL_RANK`` when CUDA is present (backend
    ``nccl``), else the CPU (backend ``gloo``); a ``device`` of ``"cpu"`` forces ``gloo`` on a
    GPU machine too.

    Args:
        device: the device for a single process, or ``"cpu"`` to keep several processes on CPUs.

    Returns:
        This process's :class:`DistributedContext`.
    """
    if dist.is_available() and dist.is_initialized():
        return current_context(device)
    if not launched_by_torchrun():
        return DistributedContext(0, 1, 0, torch.device(device or "cpu"), None)
    if not dist.is_available():
        raise RuntimeError("This PyTorch build has no torch.distributed; torchrun cannot be used with it.")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cpu = device is not None and torch.device(device).type == "cpu"
    if torch.cuda.is_available() and not wants_cpu:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPUs are visible: start torchrun "
                f"with --nproc_per_node at most {torch.cuda.device_count()}."
            )
        torch.cuda.set_device(local_rank)
        this_device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        this_device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, this_device, backend)


def cleanup() -> None:
    """Leave the process group (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``DistributedDataParallel(model)`` when several processes train, else ``model`` itself.

    At construction DDP copies rank 0's weights and buffers to every process, and from then
    on averages gradients during ``backward()``; BatchNorm buffers are re-broadcast from
    rank 0 at every forward pass (statistics stay per process, as with one GPU per batch).
    """
    if not context.enabled:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain network inside DDP and/or ``torch.compile`` wrappers (for saving and validation)."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def all_reduce_mean(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """The mean of ``values`` over all processes (for logging losses of the whole batch)."""
    if not context.enabled:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / context.world_size


def barrier(context: DistributedContext) -> None:
    """Wait until every process gets here (no-op for a single process)."""
    if context.enabled:
        dist.barrier()
