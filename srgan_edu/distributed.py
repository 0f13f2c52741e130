"""Several processes, one model: the plumbing for ``torchrun`` and DistributedDataParallel (lesson 08).

``torchrun --nproc_per_node N -m srgan_edu train ...`` starts N copies of the same program
and tells each one who it is through environment variables (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). Each process

1. joins the process group (:func:`setup`): ``nccl`` between GPUs, ``gloo`` on CPUs;
2. wraps its networks in ``DistributedDataParallel`` (:func:`wrap`), which averages the
   gradients of all processes after every backward pass, so every copy takes the same
   optimiser step and the weights stay identical; before that, every BatchNorm layer becomes a
   synchronised one (:func:`sync_batchnorm`), so that N processes x B crops normalise over all
   N x B crops, as one process with N x B crops would;
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


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the crops of all processes, on any device.

    PyTorch's own :class:`torch.nn.SyncBatchNorm` accepts only GPU (and XPU/HPU) tensors, so
    on CPUs (the ``gloo`` backend, and the tests) this one does the same in plain autograd:
    the per-channel sum and count are added over all processes (one all-reduce), then the
    squared deviations from that mean (a second all-reduce). The gradient flows back through
    both all-reduces (``torch.distributed.nn.functional.all_reduce``), so every crop's loss
    reaches every other crop's normalisation, as in one big batch. In eval mode, or with one
    process, it is exactly ``nn.BatchNorm2d``.

    Shape: (B, C, H, W) -> (B, C, H, W); any value range.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        import warnings

        from torch.distributed.nn.functional import all_reduce  # differentiable all-reduce

        with warnings.catch_warnings():  # "deprecated" in favour of a private module; it works and is tested
            warnings.simplefilter("ignore", FutureWarning)
            return self._synced_forward(x, all_reduce)

    def _synced_forward(self, x: torch.Tensor, all_reduce) -> torch.Tensor:

        x32 = x.float()  # statistics in float32, also under bf16 autocast
        channels = x32.shape[1]
        count = torch.full((1,), x32.numel() // channels, dtype=x32.dtype, device=x32.device)
        totals = all_reduce(torch.cat([x32.sum(dim=(0, 2, 3)), count]))  # (C + 1,) over all processes
        num = totals[-1]
        mean = totals[:channels] / num
        centred = x32 - mean.view(1, -1, 1, 1)
        var = all_reduce((centred * centred).sum(dim=(0, 2, 3))) / num  # biased, as BatchNorm normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * num / (num - 1), factor)  # unbiased, as BatchNorm keeps
        out = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            out = out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return out.to(x.dtype)


def sync_batchnorm(model: nn.Module, context: DistributedContext) -> nn.Module:
    """Make every BatchNorm2d of ``model`` normalise over the crops of all processes (in place).

    Without this, 4 processes x 4 crops would normalise each BatchNorm over 4 crops, not the
    16 of one process with batch 16, which is a different optimisation. On GPUs (``nccl``) the
    layers become :class:`torch.nn.SyncBatchNorm`; elsewhere :class:`GlooSyncBatchNorm`. The
    parameters and buffers are the same tensors (the optimiser keeps them, checkpoints keep
    their keys). The price: every BatchNorm layer in training mode waits for a small
    all-reduce of its statistics across the processes, in the forward and in the backward
    pass, so the processes synchronise many times per step instead of once for the gradients.
    One process: ``model`` unchanged.
    """
    if not context.enabled:
        return model
    if context.backend == "nccl":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.BatchNorm2d:
                synced = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                           child.track_running_stats, device=None)
                if child.affine:
                    synced.weight, synced.bias = child.weight, child.bias  # the same Parameters
                synced.running_mean, synced.running_var = child.running_mean, child.running_var
                synced.num_batches_tracked = child.num_batches_tracked
                synced.train(child.training)
                setattr(parent, name, synced)
    return model


def wrap(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``DistributedDataParallel(model)`` with synchronised BatchNorm when several processes train, else ``model``.

    First every BatchNorm layer of ``model`` becomes a synchronised one (:func:`sync_batchnorm`,
    in place, so the plain network that is validated and saved has them too; in eval mode they
    are ordinary BatchNorm). At construction DDP copies rank 0's weights and buffers to every
    process, and from then on averages gradients during ``backward()``.
    """
    if not context.enabled:
        return model
    sync_batchnorm(model, context)
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


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
