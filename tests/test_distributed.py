"""Two processes on the CPU (gloo) train one SRGAN with DistributedDataParallel and end with identical weights."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import Dataset

from srgan_edu import distributed, training
from srgan_edu.discriminator import Discriminator
from srgan_edu.srresnet import SRResNet


class TinyPairs(Dataset):
    """Eight (lr_img [0, 1], hr_img [-1, 1]) 24x24 pairs that differ by index and epoch."""

    def __init__(self):
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int):
        generator = torch.Generator().manual_seed(1000 * self.epoch + index)
        hr_img = torch.rand(3, 24, 24, generator=generator)
        return torch.nn.functional.avg_pool2d(hr_img[None], 4)[0], hr_img * 2 - 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _join(rank: int, world_size: int, port: int) -> distributed.DistributedContext:
    """What torchrun does for a process: the rendezvous variables, then the library's setup."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    return distributed.setup("cpu")


def _train_on_rank(rank: int, world_size: int, port: int, out_dir: str, compile_networks: bool = False) -> None:
    context = _join(rank, world_size, port)
    try:
        assert context.enabled and context.backend == "gloo" and context.rank == rank
        torch.manual_seed(rank)  # different initial weights on purpose: DDP must start every rank from rank 0's
        generator = SRResNet(num_blocks=1, num_features=8)
        discriminator = Discriminator(in_size=24, num_features=8)
        config = training.TrainConfig(steps=4, batch_size=2, hr_crop=24, log_every=2, val_every=0,
                                      checkpoint_every=2, content_loss="mse", compile=compile_networks)
        result = training.train_srgan(generator, discriminator, TinyPairs(), config,
                                      run_dir=os.path.join(out_dir, "run"), progress=False)
        torch.save({"generator": dict(generator.named_parameters()),
                    "discriminator": dict(discriminator.named_parameters()),
                    "history": result.history.rows,
                    "last_checkpoint": str(result.last_checkpoint)},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        distributed.cleanup()


def test_a_single_process_context_does_nothing():
    context = distributed.setup("cpu")
    assert not context.enabled and context.is_main and context.world_size == 1
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, context) is model
    values = torch.tensor([1.0, 2.0])
    assert torch.equal(distributed.all_reduce_mean(values, context), values)


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="this PyTorch has no gloo backend")
@pytest.mark.parametrize("compile_networks", [False, True], ids=["eager", "compiled"])
def test_two_gloo_processes_end_with_identical_weights(tmp_path, compile_networks):
    # compiled: torch.compile(DDP(net)), the order that keeps DDP's all-reduce overlapping the backward
    mp.spawn(_train_on_rank, args=(2, _free_port(), str(tmp_path), compile_networks), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for network in ("generator", "discriminator"):
        for name, param in rank0[network].items():
            assert torch.equal(param, rank1[network][name]), f"{network} {name} differs between ranks"
    # The ranks started from different weights; had DDP not synchronised them, they would differ still.
    torch.manual_seed(1)
    assert not torch.equal(SRResNet(num_blocks=1, num_features=8).head[0].weight, rank0["generator"]["head.0.weight"])
    # Logged losses are averaged over both ranks, so both logs agree.
    assert rank0["history"][-1]["content_loss"] == rank1["history"][-1]["content_loss"]
    # Only rank 0 writes checkpoints; they hold the synchronised weights.
    assert rank1["last_checkpoint"] == "None"
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step_00000002.pt", "step_00000004.pt"]
    saved = training.load_generator(tmp_path / "run" / "checkpoints" / "step_00000004.pt")
    for name, param in saved.named_parameters():
        assert torch.equal(param, rank0["generator"][name])


def _check_on_rank(rank: int, world_size: int, port: int, out_dir: str) -> None:
    context = _join(rank, world_size, port)
    try:
        loss = float("nan") if rank == 1 else 0.5  # only rank 1's batch blew up
        parts = {"content_loss": torch.tensor(0.25), "adversarial_loss": torch.tensor(loss)}
        try:
            training.check_finite(parts, step=7, context=context)
            outcome = "went on"
        except training.NonFiniteLossError as err:
            outcome = str(err)
        with open(os.path.join(out_dir, f"rank{rank}.txt"), "w") as out:
            out.write(outcome)
    finally:
        distributed.cleanup()


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="this PyTorch has no gloo backend")
def test_a_nan_in_one_process_stops_every_process_at_the_same_step(tmp_path):
    # Were rank 0 to go on alone, it would wait for rank 1 in the next collective until the timeout.
    mp.spawn(_check_on_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        outcome = (tmp_path / f"rank{rank}.txt").read_text()
        assert "stopped at step 7" in outcome and "adversarial_loss = nan" in outcome, outcome
        assert "content_loss" not in outcome.split("stopped at step 7")[1].split("(not a finite")[0]


def _four_crops() -> tuple[torch.Tensor, torch.Tensor]:
    """(lr_img (4, 3, 6, 6) in [0, 1], hr_img (4, 3, 24, 24) in [-1, 1]); the crops differ in brightness on purpose,
    so that statistics over 2 crops are not those over 4."""
    generator = torch.Generator().manual_seed(7)
    hr_img = torch.rand(4, 3, 24, 24, generator=generator) * torch.tensor([0.3, 0.5, 0.8, 1.0]).view(4, 1, 1, 1)
    return torch.nn.functional.avg_pool2d(hr_img, 4), hr_img * 2 - 1


def _one_update(rank: int, world_size: int, lr_img: torch.Tensor, hr_img: torch.Tensor, synced: bool) -> dict:
    """One SRResNet update and one discriminator forward on this rank's share of the 4 crops."""
    torch.manual_seed(0)
    generator = SRResNet(num_blocks=1, num_features=8)
    discriminator = Discriminator(in_size=24, num_features=8)
    context = distributed.current_context("cpu")
    if synced:
        generator_train, discriminator_train = distributed.wrap(generator, context), distributed.wrap(discriminator, context)
    else:  # what lesson 08 had before: DDP with per-process BatchNorm
        generator_train = torch.nn.parallel.DistributedDataParallel(generator) if context.enabled else generator
        discriminator_train = discriminator
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3)
    share = slice(rank * 4 // world_size, (rank + 1) * 4 // world_size)
    sr_img = generator_train(lr_img[share])
    loss = torch.nn.functional.mse_loss(sr_img, hr_img[share])
    optimizer.zero_grad()
    loss.backward()
    grads = {name: param.grad.clone() for name, param in generator.named_parameters()}
    optimizer.step()
    discriminator_train(hr_img[share])
    buffers = {f"generator.{name}": value.clone() for name, value in generator.named_buffers() if "running" in name}
    buffers.update({f"discriminator.{name}": value.clone() for name, value in discriminator.named_buffers()
                    if "running" in name})
    return {"grads": grads, "params": {n: p.detach().clone() for n, p in generator.named_parameters()},
            "buffers": buffers}


def _bn_on_rank(rank: int, world_size: int, port: int, out_dir: str) -> None:
    _join(rank, world_size, port)
    try:
        lr_img, hr_img = _four_crops()
        torch.save({"synced": _one_update(rank, world_size, lr_img, hr_img, synced=True),
                    "per_process": _one_update(rank, world_size, lr_img, hr_img, synced=False)},
                   os.path.join(out_dir, f"bn_rank{rank}.pt"))
    finally:
        distributed.cleanup()


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="this PyTorch has no gloo backend")
def test_two_processes_x_2_crops_match_one_process_x_4_crops_with_synchronised_batchnorm(tmp_path):
    torch.set_num_threads(1)
    one = _one_update(0, 1, *_four_crops(), synced=True)  # a single process: plain BatchNorm over 4 crops
    mp.spawn(_bn_on_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        two = torch.load(tmp_path / f"bn_rank{rank}.pt", weights_only=True)
        # A conv bias right before a BatchNorm has no gradient (the BatchNorm subtracts it again): its gradient
        # is rounding noise, which Adam's first step (about learning_rate * sign(grad)) turns into +-1e-3 either way.
        no_gradient = {name for name, grad in one["grads"].items() if grad.abs().max() < 1e-6}
        assert no_gradient == {"body.0.conv1.bias", "body.0.conv2.bias", "body_end.0.bias"}
        for part in ("buffers", "grads", "params"):
            assert one[part].keys() == two["synced"][part].keys()
            for name, value in one[part].items():
                if part == "params" and name in no_gradient:
                    continue
                torch.testing.assert_close(two["synced"][part][name], value, rtol=1e-4, atol=1e-6,
                                           msg=lambda m, name=name, part=part: f"rank {rank} {part} {name}: {m}")
        # Without synchronisation each process normalises over its own 2 crops: other statistics, other gradients.
        per_process = two["per_process"]
        assert not torch.allclose(per_process["buffers"]["generator.body.0.bn1.running_mean"],
                                  one["buffers"]["generator.body.0.bn1.running_mean"], atol=1e-6)
        assert not all(torch.allclose(per_process["grads"][n], g, rtol=1e-4, atol=1e-6) for n, g in one["grads"].items())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in SRResNet().modules()) == 33  # what lesson 08 says
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in Discriminator().modules()) == 7
