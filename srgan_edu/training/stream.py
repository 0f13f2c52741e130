"""The training data as an endless, seeded stream of batches that a resumed run continues exactly (lesson 08)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler



class TrainingStream(Sampler):
    """Batches of sample indices forever, each batch a pure function of (seed, step, rank).

    Sample number ``p = (step * world_size + rank) * batch_size + i`` of the whole run is
    item ``p % n`` of a permutation of the n samples drawn for epoch ``p // n``. Nothing
    depends on what happened before, so a resumed run (``start_step``) draws exactly the
    batches the uninterrupted run would have drawn, whatever ``num_workers`` is, and the
    processes of a ``torchrun`` job draw disjoint samples.

    It takes the place of ``torch.utils.data.DistributedSampler``, which shards by rank too but
    draws its order from an epoch counter that the caller must set, and would start a resumed
    run at the beginning of its epoch rather than at the batch where the run stopped.

    Yields lists of ``(epoch, index)``; :class:`EpochIndexed` passes the epoch on to
    datasets with a ``set_epoch`` method (:class:`srgan_edu.data.PairedPatchDataset` picks its
    crops from (seed, epoch, index)).

    Args:
        num_samples: the data set's length.
        batch_size: samples per batch and process.
        seed: seeds the permutations.
        start_step: the first batch to yield (the steps already done).
        rank, world_size: this process and the number of processes.
    """

    def __init__(self, num_samples: int, batch_size: int, *, seed: int, start_step: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        if num_samples < 1:
            raise ValueError("the training data set is empty")
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.start_step, self.rank, self.world_size = start_step, rank, world_size
        self._cached: tuple[int, list[int]] | None = None

    def _permutation(self, epoch: int) -> list[int]:
        if self._cached is None or self._cached[0] != epoch:
            mixed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
            order = torch.randperm(self.num_samples, generator=torch.Generator().manual_seed(mixed))
            self._cached = (epoch, order.tolist())
        return self._cached[1]

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The (epoch, index) pairs of batch ``step`` (0-based) for this process."""
        first = (step * self.world_size + self.rank) * self.batch_size
        items = []
        for position in range(first, first + self.batch_size):
            epoch, offset = divmod(position, self.num_samples)
            items.append((epoch, self._permutation(epoch)[offset]))
        return items

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is endless
        return sys.maxsize


class EpochIndexed(Dataset):
    """Wraps a data set so that it is indexed by ``(epoch, index)`` (see :class:`TrainingStream`)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


def training_loader(dataset: Dataset, *, batch_size: int, seed: int, start_step: int = 0, rank: int = 0,
                    world_size: int = 1, num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """An endless DataLoader of (lr_img, hr_img) batches that resumes exactly at ``start_step``."""
    stream = TrainingStream(len(dataset), batch_size, seed=seed, start_step=start_step, rank=rank,
                            world_size=world_size)
    return DataLoader(
        EpochIndexed(dataset),
        batch_sampler=stream,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),  # so the loader never draws from the global generator
    )
