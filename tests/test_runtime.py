"""runtime.py: seeds repeat, the device choice is honest, the report names what is present."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from srgan_edu import runtime


def test_seed_everything_repeats_all_generators():
    runtime.seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(3))
    runtime.seed_everything(123)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])


def test_deterministic_mode_can_be_switched_on_and_off():
    try:
        runtime.seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        runtime.seed_everything(0, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_pick_device_defaults_to_something_that_exists():
    device = runtime.pick_device()
    assert torch.zeros(1, device=device).device.type == device.type
    assert runtime.pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_asking_for_a_missing_gpu_says_so():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        runtime.pick_device("cuda")


def test_environment_report_names_versions_weights_and_data(tmp_path, monkeypatch):
    monkeypatch.delenv("SRGAN_EDU_VGG19_WEIGHTS", raising=False)
    report = runtime.environment_report(tmp_path)
    text = str(report)
    assert torch.__version__ in text
    assert "VGG19 weights" in text
    for name in ("DIV2K_train_HR", "Set5", "Set14", "BSD100"):
        assert name in report.datasets
        assert "missing" in report.datasets[name]


def test_default_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SRGAN_EDU_DATA", str(tmp_path))
    assert runtime.default_data_dir() == tmp_path
    monkeypatch.delenv("SRGAN_EDU_DATA")
    assert str(runtime.default_data_dir()) == "data"
