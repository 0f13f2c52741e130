"""viz.error_map_figure (lessons 03, 06): one map per version, one shared scale, the mean error in each title."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from srgan_edu import viz


def test_error_map_figure_draws_one_map_per_version_on_one_scale():
    torch.manual_seed(0)
    hr_img = torch.rand(3, 32, 32)
    versions = {"exact": hr_img.clone(), "noisy": (hr_img + 0.1 * torch.randn(3, 32, 32)).clamp(0, 1)}
    before = {name: img.clone() for name, img in versions.items()}
    fig = viz.error_map_figure(versions, hr_img, title="errors")
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    assert images[0].get_clim() == images[1].get_clim()  # one colour scale for all maps
    assert images[0].get_array().shape == (24, 24)  # the 4-pixel border shaved
    assert float(images[0].get_array().max()) == 0.0 and float(images[1].get_array().mean()) > 1.0
    assert "mean |error| 0.00" in fig.axes[0].get_title()
    assert all(torch.equal(versions[name], before[name]) for name in versions)  # inputs unchanged
    plt.close(fig)
    boxed = viz.error_map_figure(versions, hr_img, box=(4, 8, 16))
    assert boxed.axes[0].images[0].get_array().shape == (16, 16)
    plt.close(boxed)


def test_error_map_figure_errors():
    with pytest.raises(ValueError, match="at least one"):
        viz.error_map_figure({}, torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="reference"):
        viz.error_map_figure({"small": torch.rand(3, 8, 8)}, torch.rand(3, 16, 16))
