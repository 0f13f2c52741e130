"""Figures of lesson 04, the VGG content loss (eq. 5): feature maps phi_i,j, the loss's tolerance of a shift.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from srgan_edu.viz._style import image_array, stretch

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure


def vgg_feature_maps_figure(
    img: torch.Tensor,
    maps: Mapping[str, torch.Tensor],
    *,
    num_channels: int = 6,
    labels: Mapping[str, str] | None = None,
    panel_size: float = 1.9,
) -> Figure:
    """An image and a few of its VGG19 feature maps per layer, one row per layer (lesson 04).

    Each row shows the ``num_channels`` maps with the largest mean activation, each
    stretched to its own range (bright = strong response), at the layer's resolution.

    Args:
        img: the input image, (3, H, W) in [0, 1].
        maps: layer name -> its feature maps for this image, (C, h, w) or (1, C, h, w).
        num_channels: maps per row.
        labels: layer name -> a longer label (e.g. "phi_2,2"); default the names.
        panel_size: inches per panel.
    """
    import matplotlib.pyplot as plt

    names = list(maps)
    if not names:
        raise ValueError("vgg_feature_maps_figure needs at least one layer")
    columns = num_channels + 1
    fig, axes = plt.subplots(len(names), columns, figsize=(panel_size * columns, (panel_size + 0.35) * len(names)),
                             squeeze=False)
    for row, name in enumerate(names):
        features = maps[name].detach().to("cpu").float()
        features = features[0] if features.dim() == 4 else features
        channels, height, width = features.shape
        strongest = features.mean(dim=(1, 2)).argsort(descending=True)[:num_channels]
        axes[row, 0].imshow(image_array(img), interpolation="antialiased")
        label = (labels or {}).get(name, name)
        axes[row, 0].set_title(f"{label}\n{channels} maps of {width}x{height}", fontsize=9)
        for column, channel in enumerate(strongest.tolist(), start=1):
            axes[row, column].imshow(stretch(features[channel]).numpy(), cmap="magma", interpolation="nearest")
            axes[row, column].set_title(f"map {channel}", fontsize=8)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
            if not ax.images:
                ax.axis("off")
    fig.tight_layout()
    return fig


def loss_sensitivity_figure(
    costs: Mapping[str, Mapping[str, float]],
    *,
    reference: str,
    title: str | None = None,
) -> Figure:
    """What each loss charges for each distortion, relative to one reference distortion (lesson 04).

    Losses have different units, so each is divided by its own cost of ``reference``: a bar
    below 1 means the loss finds that distortion cheaper than the reference.

    Args:
        costs: loss name -> (distortion name -> loss value); every loss has the same distortions.
        reference: the distortion every loss is divided by (e.g. "blur").
        title: figure title.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FormatStrFormatter

    losses = list(costs)
    if not losses:
        raise ValueError("loss_sensitivity_figure needs at least one loss")
    distortions = list(costs[losses[0]])
    if reference not in distortions:
        raise ValueError(f"reference {reference!r} is not one of the distortions {distortions}")
    fig, ax = plt.subplots(figsize=(min(11.0, 2.0 + 0.45 * len(distortions) * len(losses)), 3.6))
    width = 0.8 / len(losses)
    positions = np.arange(len(distortions))
    for index, loss in enumerate(losses):
        base = costs[loss][reference]
        relative = [costs[loss][d] / base if base else float("nan") for d in distortions]
        bars = ax.bar(positions + (index - (len(losses) - 1) / 2) * width, relative, width, label=loss)
        for bar, value in zip(bars, relative):
            ax.annotate(f"{value:.2g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.axhline(1.0, color="0.3", linewidth=0.8)
    ax.set_xticks(positions, distortions)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))  # 0.5, 1, 2 rather than 5 x 10^-1
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_ylabel(f"loss / loss of '{reference}'")
    ax.legend(fontsize=9)
    ax.set_title(title or f"what each loss charges, relative to '{reference}'", fontsize=10)
    fig.tight_layout()
    return fig
