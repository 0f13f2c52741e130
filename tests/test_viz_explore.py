"""Every lesson-07 figure of srgan_edu.viz draws without error on small inputs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from srgan_edu import mos, viz
from srgan_edu.widgets import QualityPoint


@pytest.fixture
def versions():
    torch.manual_seed(0)
    hr_img = torch.rand(3, 40, 48)
    return {"HR": hr_img, "bicubic": hr_img * 0.9, "SRGAN": (hr_img + 0.05).clamp(0, 1)}


POINTS = [
    QualityPoint("SRResNet-MSE", 27.0, 0.80, 0.30, content_loss="mse", adversarial_weight=0.0),
    QualityPoint("SRGAN-VGG54", 25.5, 0.72, 0.18, content_loss="vgg54", adversarial_weight=1e-3),
    QualityPoint("SRGAN-VGG54 (1e-2)", 24.0, 0.65, 0.20, content_loss="vgg54", adversarial_weight=1e-2),
    QualityPoint("bicubic", 24.5, 0.68, 0.40),
]
PATH = [QualityPoint(f"alpha={a:.2f}", 27.0 - 1.5 * a, 0.8, 0.30 - 0.12 * a, alpha=a) for a in (0.0, 0.5, 1.0)]


def test_comparison_figure(versions):
    fig = viz.comparison_figure(versions, box=(4, 6, 16), scores={"bicubic": (24.1, 0.7), "SRGAN": (22.0, 0.6)})
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert "reference" in labels and any("24.10 dB" in label for label in labels)
    plt.close(fig)
    fig = viz.comparison_figure(versions, box=(0, 0, 8))  # no numbers
    assert all(ax.get_xlabel() == "" for ax in fig.axes)
    plt.close(fig)


def test_perception_distortion_figure_flips_distances_only():
    fig = viz.perception_distortion_figure(POINTS, current="SRGAN-VGG54", path=PATH, perceptual_label="VGG",
                                           title="trade-off")
    assert fig.axes[0].yaxis_inverted()
    plt.close(fig)
    fig = viz.perception_distortion_figure(POINTS[:2], lower_is_better=False, perceptual_label="MOS",
                                           reference_lines={"HR": 4.3})
    assert not fig.axes[0].yaxis_inverted()
    plt.close(fig)


def test_tradeoff_figure_with_and_without_an_output(versions):
    hr_img = versions["HR"]
    fig = viz.tradeoff_figure(versions["SRGAN"], hr_img, POINTS, current="SRGAN-VGG54", path=PATH,
                              box=(0, 0, 20), caption="SRGAN-VGG54: PSNR 25.5 dB")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    plt.close(fig)
    fig = viz.tradeoff_figure(None, hr_img, POINTS, caption="not trained")
    assert len(fig.axes) == 3
    plt.close(fig)


def test_mos_figure(versions):
    ratings = mos.simulate_ratings(["a", "b", "c"], num_raters=4)
    scores = mos.mos_by_method(ratings)
    fig = viz.mos_figure(scores, reference={"SRGAN": 3.72, "HR": 4.32}, reference_label="paper, Set14")
    assert isinstance(fig, Figure)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[0].startswith("bicubic") and "n=12" in ticks[0]
    plt.close(fig)
    one = mos.mos_by_method([mos.Rating("r", "a", "HR", 5)])  # a single rating: no interval
    plt.close(viz.mos_figure(one))


def test_rating_sheet_figure(versions):
    images = {"a": versions, "b": {k: v.flip(-1) for k, v in versions.items()}}
    trials = mos.plan_trials(list(images), list(versions), seed=0)
    fig = viz.rating_sheet_figure(trials, images, columns=4, max_trials=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 5 and all("code" in t for t in titles)
    assert not any(m in t for t in titles for m in versions)  # blind: no method names
    plt.close(fig)
