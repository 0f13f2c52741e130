"""viz.image_gallery (lesson 00): one panel per image, captioned with its name and size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from srgan_edu import data, viz


def test_gallery_of_the_builtin_images_names_and_sizes_each():
    images = data.builtin_images("test")
    notes = [item.split for item in data.BUILTIN if item.split == "test"]
    fig = viz.image_gallery(images, notes=notes, columns=2, title="built-in test images")
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == len(images)
    for ax, (name, img) in zip(shown, images):
        height, width = img.shape[-2:]
        assert ax.get_title() == f"{name}\n{width}x{height} px\ntest"
        assert ax.get_images()[0].get_array().shape == (height, width, 3)
    assert len(fig.axes) == 4  # 3 images in a 2x2 grid: one blank panel
    plt.close(fig)


def test_gallery_takes_greyscale_and_does_not_change_its_inputs():
    grey = torch.rand(1, 6, 10)
    before = grey.clone()
    fig = viz.image_gallery([("grey", grey)], interpolation="nearest")
    assert fig.axes[0].get_images()[0].get_array().shape == (6, 10, 3)
    assert torch.equal(grey, before)
    plt.close(fig)


def test_gallery_errors():
    with pytest.raises(ValueError, match="at least one"):
        viz.image_gallery([])
    with pytest.raises(ValueError, match="2 notes for 1 images"):
        viz.image_gallery([("x", torch.rand(3, 4, 4))], notes=["a", "b"])
