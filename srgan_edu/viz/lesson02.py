"""Figures of lesson 02, baselines, MSE and the metrics (eq. 4): the MSE-optimal average of plausible solutions, side-by-side comparisons.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from srgan_edu.viz._style import image_array

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure


def plausible_solutions_figure(
    candidates: Mapping[str, torch.Tensor],
    mean_img: torch.Tensor,
    *,
    lr_imgs: Mapping[str, torch.Tensor] | None = None,
    expected_mse: Mapping[str, float] | None = None,
    mean_name: str = "pixel-wise mean",
    panel_size: float = 1.7,
    title: str | None = None,
) -> Figure:
    """Why MSE blurs (lesson 02, eq. 4): equally plausible HR patches, their LR versions, their mean.

    Row 1: the candidate HR patches and their pixel-wise mean (outlined in red). Row 2 (with
    ``lr_imgs``): what each degrades to, the same for all. Row 3 (with ``expected_mse``):
    the mean MSE of each prediction over all candidates; the mean's bar is red.

    Args:
        candidates: name -> HR patch (C, H, W) in [0, 1], all of one size.
        mean_img: their pixel-wise mean, (C, H, W) in [0, 1].
        lr_imgs: name -> LR patch (C, h, w) in [0, 1], for the candidates and ``mean_name``.
        expected_mse: name -> mean MSE of predicting that patch, for the candidates and
            ``mean_name``.
        mean_name: what the mean is called in ``lr_imgs`` and ``expected_mse``.
        panel_size: inches per image panel.
        title: figure title.
    """
    import matplotlib.pyplot as plt

    names = list(candidates)
    if not names:
        raise ValueError("plausible_solutions_figure needs at least one candidate")
    columns = names + [mean_name]
    shown = {**candidates, mean_name: mean_img}
    rows = 1 + (lr_imgs is not None) + (expected_mse is not None)
    ratios = [1.0] * (1 + (lr_imgs is not None)) + ([1.6] if expected_mse is not None else [])
    fig = plt.figure(figsize=(panel_size * len(columns), panel_size * sum(ratios) + 0.9))
    grid = fig.add_gridspec(rows, len(columns), height_ratios=ratios)
    for column, name in enumerate(columns):
        ax = fig.add_subplot(grid[0, column])
        ax.imshow(image_array(shown[name]), interpolation="nearest")
        ax.set_title(name, fontsize=8)
        if name == mean_name:
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(2)
        if column == 0:
            ax.set_ylabel("HR", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if lr_imgs is not None and name in lr_imgs:
            lr_ax = fig.add_subplot(grid[1, column])
            lr_ax.imshow(image_array(lr_imgs[name]), interpolation="nearest")
            lr_ax.set_xticks([])
            lr_ax.set_yticks([])
            if column == 0:
                lr_ax.set_ylabel("its LR image", fontsize=9)
    if expected_mse is not None:
        bar_ax = fig.add_subplot(grid[rows - 1, :])
        labels = [name for name in columns if name in expected_mse]
        values = [expected_mse[name] for name in labels]
        colours = ["tab:red" if name == mean_name else "tab:blue" for name in labels]
        bars = bar_ax.bar(range(len(labels)), values, color=colours)
        for bar, value in zip(bars, values):
            bar_ax.annotate(f"{value:.4f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
        bar_ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=20, ha="right")
        bar_ax.set_ylabel("mean MSE over\nthe candidates", fontsize=8)
        bar_ax.set_title("predict one patch for all: its mean squared error, averaged over the candidates",
                         fontsize=9)
        bar_ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def comparison_figure(
    images: Mapping[str, torch.Tensor],
    *,
    box: tuple[int, int, int],
    scores: Mapping[str, tuple[float, float]] | None = None,
    reference: str = "HR",
    panel_size: float = 2.6,
) -> Figure:
    """Versions of one image side by side, each with the same zoomed region below it.

    Lesson 02 (``notebooks/02_baselines_mse_and_metrics.ipynb``).

    Args:
        images: name -> (3, H, W) image in [0, 1], all of one size, e.g. HR, bicubic,
            SRResNet, SRGAN, in the order to show them.
        box: the zoom window as (top, left, size) in HR pixels.
        scores: name -> (PSNR in dB, SSIM) written under each zoom; the reference shows
            "reference" instead. None: no numbers.
        reference: the name of the ground truth in ``images``.
        panel_size: inches per panel.

    Returns:
        A figure with a row of whole images (the window outlined) over a row of zooms.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    top, left, size = box
    names = list(images)
    fig, axes = plt.subplots(2, len(names), figsize=(panel_size * len(names), panel_size * 2.1), squeeze=False)
    for column, name in enumerate(names):
        array = image_array(images[name])
        whole, zoom = axes[0, column], axes[1, column]
        whole.imshow(array, interpolation="lanczos")
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor="red", linewidth=1.5))
        whole.set_title(name)
        zoom.imshow(array[top : top + size, left : left + size], interpolation="nearest")
        if scores is not None:
            if name == reference:
                text = "reference"
            elif name in scores:
                psnr_db, ssim_value = scores[name]
                text = f"PSNR {psnr_db:.2f} dB\nSSIM {ssim_value:.3f}"
            else:
                text = ""
            zoom.set_xlabel(text, fontsize=10)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"zoom: {size}x{size} pixels at row {top}, column {left}", fontsize=10)
    fig.tight_layout()
    return fig
