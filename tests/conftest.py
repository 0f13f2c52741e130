"""Shared test set-up: a non-interactive matplotlib for unit tests, small seeded data."""

from __future__ import annotations

import matplotlib
import pytest
import torch

# Only this process: notebooks run in their own kernels and keep the inline backend
# (srgan_edu.course removes MPLBACKEND from their environment).
matplotlib.use("Agg")

# Tiny networks gain nothing from a second thread, and tests that start worker processes
# (DataLoader workers, the two-process DDP test) would otherwise oversubscribe two cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
