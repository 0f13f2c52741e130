"""The figures of lessons 01 and 02 (degradation model, baselines, metrics): each draws on tiny inputs."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from srgan_edu import degradation, viz


def test_gaussian_kernels_figure_draws_each_kernel_on_one_grid():
    kernels = {f"sigma = {s}": degradation.gaussian_kernel(2 * math.ceil(3 * s) + 1, s) for s in (0.5, 1.0)}
    fig = viz.gaussian_kernels_figure(kernels)
    assert isinstance(fig, Figure)
    pictures = [ax for ax in fig.axes if ax.get_images()]
    assert len(pictures) == 2
    # the smaller kernel is padded to the larger one's size, so widths compare
    assert {ax.get_images()[0].get_array().shape for ax in pictures} == {(7, 7)}
    assert "sum to 1.0000" in pictures[0].get_title()
    assert len(fig.axes[-1].get_lines()) == 2
    plt.close(fig)


def test_zoom_figure_scales_the_window_to_each_resolution():
    hr_img = torch.rand(3, 32, 48)
    lr_img = degradation.degrade(hr_img, 4).clamp(0, 1)
    before = hr_img.clone()
    fig = viz.zoom_figure({"HR": hr_img, "LR": lr_img, "grey": hr_img[:1]}, box=(8, 12, 16), title="t")
    assert isinstance(fig, Figure)
    zooms = [ax for ax in fig.axes if ax.get_xlabel().startswith("zoom")]
    assert [ax.get_images()[0].get_array().shape[:2] for ax in zooms] == [(16, 16), (4, 4), (16, 16)]
    assert fig.axes[1].get_title() == "LR\n12x8 px"
    assert torch.equal(hr_img, before)
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        viz.zoom_figure({}, box=(0, 0, 1))


def test_spectrum_figure_puts_lr_images_on_the_hr_frequency_axis():
    hr_img = torch.rand(3, 32, 32)
    lr_img = degradation.decimate(hr_img, 4)
    fig = viz.spectrum_figure({"HR": hr_img, "LR": lr_img})
    assert isinstance(fig, Figure)
    spectra = [ax for ax in fig.axes if ax.get_images()]
    assert len(spectra) == 2
    assert spectra[0].get_images()[0].get_extent()[1] == pytest.approx(0.5)
    assert spectra[1].get_images()[0].get_extent()[1] == pytest.approx(0.125)  # 1 / (2 * 4)
    profile = [ax for ax in fig.axes if ax.get_lines()]
    assert profile and len(profile[-1].get_lines()) == 3  # HR, LR, the LR Nyquist line
    plt.close(fig)


def test_spectrum_of_white_noise_is_flat_and_does_not_depend_on_the_image_size():
    # The power is a density per cycle per HR pixel: plain decimation of white noise keeps it flat
    # and at the same level (all the power folds back), which is what the lesson's plot relies on.
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 128, 128, generator=generator)
    hr_power = viz._power_spectrum(noise)
    lr_power = viz._power_spectrum(degradation.decimate(noise, 4)) * 4**2
    assert np.median(lr_power) == pytest.approx(np.median(hr_power) * 4**2, rel=0.3)
    assert np.median(hr_power) == pytest.approx(1 / 12, rel=0.3)  # variance of U(0, 1), spread over unit area


def test_patch_pairs_figure_captions_shape_and_real_range():
    lr_img = torch.rand(3, 4, 4)
    hr_img = torch.rand(3, 16, 16) * 2 - 1
    fig = viz.patch_pairs_figure([("a", lr_img, hr_img), ("b", lr_img, hr_img)], hr_range="signed", title="t")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    hr_caption = fig.axes[2].get_xlabel()
    assert hr_caption.startswith("HR 3x16x16")
    assert f"{float(hr_img.min()):.2f}" in hr_caption
    assert fig.axes[2].get_images()[0].get_array().min() >= 0  # shown in [0, 1]
    plt.close(fig)
    with pytest.raises(ValueError, match="hr_range"):
        viz.patch_pairs_figure([("a", lr_img, hr_img)], hr_range="0-255")


def test_plausible_solutions_figure_marks_the_mean():
    candidates = {f"c{k}": torch.rand(3, 8, 8) for k in range(3)}
    mean_img = torch.stack(list(candidates.values())).mean(0)
    lr_imgs = {name: degradation.degrade(img, 4).clamp(0, 1) for name, img in {**candidates, "mean": mean_img}.items()}
    expected = {name: 0.1 for name in candidates} | {"mean": 0.05}
    fig = viz.plausible_solutions_figure(candidates, mean_img, lr_imgs=lr_imgs, expected_mse=expected,
                                         mean_name="mean", title="t")
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.get_images()]) == 8  # 4 HR + 4 LR
    bars = fig.axes[-1].patches
    assert len(bars) == 4 and bars[-1].get_height() == pytest.approx(0.05)
    plt.close(fig)
    # the image row alone
    fig = viz.plausible_solutions_figure(candidates, mean_img)
    assert len(fig.axes) == 4
    plt.close(fig)


def test_resampling_weights_figure_counts_the_taps_of_each_method():
    row = degradation.resize_matrix(32, 8, 1 / 4)[3]  # antialiased bicubic: 16 taps
    plain = degradation.resize_matrix(32, 8, 1 / 4, antialias=False)[3]  # 4 taps
    positions = torch.arange(32)
    fig = viz.resampling_weights_figure({"bicubic": (positions, row), "no antialias": (positions, plain)},
                                        centres={"bicubic": 13.5}, title="t")
    assert isinstance(fig, Figure)
    assert "16 taps, sum 1.000" in fig.axes[0].get_title()
    assert "4 taps" in fig.axes[1].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        viz.resampling_weights_figure({})
