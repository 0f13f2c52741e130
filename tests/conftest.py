"""Shared test set-up: a non-interactive matplotlib for unit tests, small seeded data."""

from __future__ import annotations

import os

import matplotlib
import pytest

# Under pytest-xdist (``make test`` runs ``-n auto``) the workers share the cores: each one's
# notebook kernels and subprocesses get an equal share of threads instead of all of them, so
# that two OpenMP pools do not spin against each other. Set before torch is imported anywhere.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and "OMP_NUM_THREADS" not in os.environ:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

import torch  # noqa: E402  (after the thread count above)

# Whole notebooks, the full-mode walk and the browser test take most of the suite's time: they
# run first, so that parallel workers end together instead of one finishing a notebook alone.
SLOW_MARKS = ("notebook", "fullmode", "browser")
MEMORY_PER_WORKER_BYTES = 4 * 1024**3  # a worker executing a lesson peaks at about 2-3 GB


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most 4, and no more than memory allows."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 2 * MEMORY_PER_WORKER_BYTES
    return max(1, min(4, cores, memory // MEMORY_PER_WORKER_BYTES))


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: 0 if any(item.get_closest_marker(mark) for mark in SLOW_MARKS) else 1)

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
