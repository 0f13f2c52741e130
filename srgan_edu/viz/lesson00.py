"""Figures of lesson 00, setup and tour: the built-in images.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from srgan_edu.viz._style import image_array

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure


def image_gallery(
    images: Sequence[tuple[str, torch.Tensor]],
    *,
    notes: Sequence[str] | None = None,
    columns: int = 4,
    panel_size: float = 3.0,
    interpolation: str = "antialiased",
    title: str | None = None,
) -> Figure:
    """A grid of named images, each captioned with its name and size (width x height).

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

    Args:
        images: ``(name, img)`` pairs, img (3, H, W) or (1, H, W) in [0, 1] (e.g.
            :func:`srgan_edu.data.builtin_images`); sizes may differ.
        notes: one more caption line per image (e.g. its split or credit); None: none.
        columns: images per row (fewer when there are fewer images).
        panel_size: inches per panel.
        interpolation: matplotlib's; ``"nearest"`` shows single pixels of small images.
        title: figure title.

    Returns:
        A figure with one panel per image; unused panels are blank.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ValueError("image_gallery needs at least one (name, image) pair")
    if notes is not None and len(notes) != len(images):
        raise ValueError(f"got {len(notes)} notes for {len(images)} images")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    caption_lines = 2 if notes is None else 3
    # Constrained layout keeps the multi-line captions and the title clear of the images.
    fig, axes = plt.subplots(rows, columns, figsize=(panel_size * columns, (panel_size + 0.2 * caption_lines) * rows),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for position, (ax, (name, img)) in enumerate(zip(axes.flat, images)):
        height, width = img.shape[-2:]
        ax.imshow(image_array(img), interpolation=interpolation)
        caption = f"{name}\n{width}x{height} px"
        if notes is not None:
            caption += f"\n{notes[position]}"
        ax.set_title(caption, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
