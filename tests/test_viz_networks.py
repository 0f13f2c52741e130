"""The figures of lessons 03-05 (networks): each draws what it says, from tiny inputs."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from srgan_edu import viz
from srgan_edu.srresnet import checkerboard_pattern, checkerboard_strength


def _checkerboard(size: int = 16, period: int = 2, amplitude: float = 0.3) -> torch.Tensor:
    img = torch.rand(3, size, size) * 0.1
    img[:, ::period, ::period] += amplitude
    return img


def test_checkerboard_pattern_finds_a_periodic_pattern_and_ignores_content():
    img = _checkerboard(period=2)
    pattern = checkerboard_pattern(img, 2)
    assert pattern.shape == (2, 2)
    assert pattern.mean().abs() < 1e-6
    assert pattern[0, 0] == pattern.max()
    assert checkerboard_strength(img, 2) > 0.5
    smooth = torch.linspace(0, 1, 32).view(1, 1, 32).expand(3, 32, 32)  # a ramp: content, no pattern
    assert checkerboard_strength(smooth, 4) < 0.2
    assert checkerboard_strength(torch.zeros(3, 8, 8), 2) == 0.0
    with pytest.raises(ValueError):
        checkerboard_pattern(torch.rand(3, 1, 1), 2)


def test_checkerboard_figure_shows_each_output_and_its_tile():
    outputs = {"sub-pixel": _checkerboard() * 5 - 2, "ICNR": torch.rand(1, 3, 16, 16)}
    fig = viz.checkerboard_figure(outputs, period=2, box=(0, 0, 8))
    axes = fig.axes
    assert len(axes) == 4
    assert axes[0].get_title() == "sub-pixel"
    assert axes[0].images[0].get_array().shape[:2] == (8, 8)
    assert axes[2].images[0].get_array().shape == (2, 2)
    assert "strength" in axes[2].get_title()
    shown = axes[0].images[0].get_array()
    assert shown.min() >= 0 and shown.max() <= 1  # stretched into range
    plt.close(fig)
    with pytest.raises(ValueError):
        viz.checkerboard_figure({}, period=2)


def test_receptive_field_figure_draws_the_square():
    fig = viz.receptive_field_figure(torch.rand(3, 30, 40), size=10)
    ax = fig.axes[0]
    assert len(ax.patches) == 1
    assert ax.patches[0].get_width() == 10 and ax.patches[0].get_xy() == (15.0, 10.0)
    assert "10x10" in ax.get_title()
    plt.close(fig)


def test_mse_training_figure():
    fig = viz.mse_training_figure([1, 2, 3], [0.1, 0.05, 0.04], eval_steps=[1, 3], psnr_values=[20.0, 27.5],
                                  bicubic_psnr=26.0, image_name="chelsea")
    loss_ax, psnr_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    assert len(loss_ax.lines) == 1  # too few updates for a running mean
    assert "chelsea" in psnr_ax.get_title()
    assert any("bicubic 26.00 dB" in t.get_text() for t in psnr_ax.get_legend().get_texts())
    low, high = psnr_ax.get_ylim()
    assert low <= 20.0 and high >= 27.5
    plt.close(fig)
    fig = viz.mse_training_figure(range(1, 401), [1.0 / step for step in range(1, 401)], eval_steps=[400],
                                  psnr_values=[30.0], bicubic_psnr=29.0)
    raw, running = fig.axes[0].lines
    assert len(running.get_xdata()) == 400 - 10 + 1 and running.get_ydata()[0] < 1.0
    plt.close(fig)


def test_vgg_feature_maps_figure_shows_the_strongest_maps():
    maps = {"relu1_2": torch.rand(1, 8, 16, 16), "relu2_2": torch.rand(4, 8, 8)}
    maps["relu2_2"][3] += 10  # the strongest map comes first
    fig = viz.vgg_feature_maps_figure(torch.rand(3, 16, 16), maps, num_channels=6, labels={"relu2_2": "phi_2,2"})
    axes = np.array(fig.axes).reshape(2, 7)
    assert "phi_2,2" in axes[1, 0].get_title() and "4 maps of 8x8" in axes[1, 0].get_title()
    assert axes[1, 1].get_title() == "map 3"
    assert axes[1, 5].axison is False  # only 4 maps to show
    assert axes[0, 1].images[0].get_array().shape == (16, 16)
    plt.close(fig)


def test_loss_sensitivity_figure_divides_by_the_reference():
    costs = {"MSE": {"shift": 2.0, "blur": 1.0}, "VGG": {"shift": 0.5, "blur": 2.0}}
    fig = viz.loss_sensitivity_figure(costs, reference="blur")
    ax = fig.axes[0]
    heights = sorted(round(bar.get_height(), 6) for bar in ax.patches)
    assert heights == [0.25, 1.0, 1.0, 2.0]
    plt.close(fig)
    with pytest.raises(ValueError, match="reference"):
        viz.loss_sensitivity_figure(costs, reference="noise")


def test_logit_losses_figure_marks_infinite_values():
    logits = torch.linspace(-20, 20, 9)
    textbook = -torch.log(1 - torch.sigmoid(logits))  # inf at large logits in float32
    assert torch.isinf(textbook).any()
    stable = torch.nn.functional.softplus(logits)
    fig = viz.logit_losses_figure(logits, {"textbook": textbook, "stable": stable})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "textbook: inf / nan" in labels and "stable" in labels
    assert all(math.isfinite(v) for v in ax.get_ylim())
    plt.close(fig)


def test_discriminator_scores_figure():
    history = {"HR": [0.5, 0.7, 0.9], "bicubic": [0.5, 0.3, 0.1]}
    fig = viz.discriminator_scores_figure(history, final_scores={"HR": torch.rand(10), "bicubic": torch.rand(10)})
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 3  # two curves and the 0.5 line
    plt.close(fig)
    fig = viz.discriminator_scores_figure(history, steps=[10, 20, 30])
    assert len(fig.axes) == 1 and fig.axes[0].lines[0].get_xdata()[-1] == 30
    plt.close(fig)
