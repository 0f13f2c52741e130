"""Figures of lesson 03, SRResNet (sec. 2.1): checkerboard artefacts, the receptive field, error maps, MSE training.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from srgan_edu.images import rgb_to_y
from srgan_edu.srresnet import checkerboard_pattern, checkerboard_strength
from srgan_edu.viz._style import image_array, stretch

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure


def checkerboard_figure(
    outputs: Mapping[str, torch.Tensor],
    *,
    period: int,
    box: tuple[int, int, int] | None = None,
    panel_size: float = 2.8,
) -> Figure:
    """Upsampler outputs side by side, each with the periodic pattern it prints (lesson 03).

    Row 1 shows each output (zoomed to ``box``), stretched to its own minimum and maximum,
    because untrained networks have no fixed output range. Row 2 shows its average
    ``period x period`` tile minus the mean (:func:`srgan_edu.srresnet.checkerboard_pattern`):
    flat white means no checkerboard; the title gives
    :func:`srgan_edu.srresnet.checkerboard_strength`.

    Args:
        outputs: name -> (3, H, W) or (1, 3, H, W) output, any range, in the order to show.
        period: the upsampling factor whose pattern to look for (2 per x2 block; 4 for two blocks).
        box: (top, left, size) of the zoom in output pixels; None shows whole images.
        panel_size: inches per panel.
    """
    import matplotlib.pyplot as plt
    names = list(outputs)
    if not names:
        raise ValueError("checkerboard_figure needs at least one output")
    fig, axes = plt.subplots(2, len(names), figsize=(panel_size * len(names), panel_size * 2.15), squeeze=False)
    patterns = {name: checkerboard_pattern(outputs[name], period) for name in names}
    limit = max(float(p.abs().max()) for p in patterns.values()) or 1.0
    for column, name in enumerate(names):
        img = outputs[name].detach()
        img = img[0] if img.dim() == 4 else img
        shown = img if box is None else img[:, box[0] : box[0] + box[2], box[1] : box[1] + box[2]]
        whole, tile = axes[0, column], axes[1, column]
        whole.imshow(image_array(stretch(shown)), interpolation="nearest")
        whole.set_title(name, fontsize=10)
        # one shared colour scale: the patterns are compared with each other
        tile.imshow(patterns[name].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        tile.set_title(f"average {period}x{period} tile\nstrength {checkerboard_strength(img, period):.3f}",
                       fontsize=9)
        for ax in (whole, tile):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def receptive_field_figure(
    lr_img: torch.Tensor,
    *,
    size: int,
    centre: tuple[int, int] | None = None,
    title: str | None = None,
) -> Figure:
    """The square of LR pixels that one output pixel of the generator can see (lesson 03).

    Args:
        lr_img: the LR image, (3, h, w) in [0, 1].
        size: the receptive field's side in LR pixels (:func:`srgan_edu.srresnet.receptive_field`).
        centre: (row, column) of the square's centre; default the image centre.
        title: figure title; default says the size.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    height, width = lr_img.shape[-2:]
    row, column = centre if centre is not None else (height // 2, width // 2)
    fig, ax = plt.subplots(figsize=(4.5, 4.5 * height / max(width, 1) + 0.4))
    ax.imshow(image_array(lr_img), interpolation="nearest")
    ax.add_patch(Rectangle((column - size / 2, row - size / 2), size, size, fill=False, edgecolor="yellow",
                           linewidth=2))
    ax.plot([column], [row], marker="+", color="yellow", markersize=10)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"receptive field: {size}x{size} LR pixels ({width}x{height} image)", fontsize=10)
    fig.tight_layout()
    return fig


def error_map_figure(
    images: Mapping[str, torch.Tensor],
    reference: torch.Tensor,
    *,
    box: tuple[int, int, int] | None = None,
    shave: int = 4,
    panel_size: float = 3.0,
    title: str | None = None,
) -> Figure:
    """Where each version errs: the per-pixel |Y - Y_HR| in 8-bit levels (lessons 03, 06).

    Lesson 03 (``notebooks/03_srresnet.ipynb``).

    The maps share one colour scale (up to the 99th percentile of all of them), so a
    brighter map is a worse one; each panel's title gives its mean absolute error on the
    measured area (the PSNR's own protocol: Y channel, ``shave`` border pixels removed).

    Args:
        images: name -> (3, H, W) in [0, 1], each the size of ``reference``.
        reference: the HR image, (3, H, W) in [0, 1].
        box: (top, left, size) in HR pixels: map only that window; None: the whole image.
        shave: border pixels removed first (ignored inside a box).
        panel_size: inches per panel.
        title: figure title.

    Returns:
        A figure with one error map per version and a colour bar.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    if not images:
        raise ValueError("error_map_figure needs at least one image")
    maps = {}
    for name, img in images.items():
        if img.shape != reference.shape:
            raise ValueError(f"{name} is {tuple(img.shape)}, the reference {tuple(reference.shape)}")
        error = (rgb_to_y(img.clamp(0, 1)) - rgb_to_y(reference.clamp(0, 1)))[0].abs() * 255  # (H, W), levels
        if box is not None:
            top, left, size = box
            error = error[top : top + size, left : left + size]
        elif shave:
            error = error[shave:-shave, shave:-shave]
        maps[name] = error.detach().cpu().numpy()
    vmax = max(float(np.percentile(np.concatenate([m.ravel() for m in maps.values()]), 99)), 1e-6)
    fig, axes = plt.subplots(1, len(maps), figsize=(panel_size * len(maps) + 0.8, panel_size), squeeze=False)
    for ax, (name, error) in zip(axes[0], maps.items()):
        shown = ax.imshow(error, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{name}\nmean |error| {error.mean():.2f} levels", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=list(axes[0]), fraction=0.03, label="|Y - Y_HR| (8-bit levels)")
    if title:
        fig.subplots_adjust(top=0.78)  # room for the title above the panels' own two-line titles
        fig.suptitle(title, fontsize=10, y=0.99)
    return fig


def mse_training_figure(
    steps: Sequence[int],
    losses: Sequence[float],
    *,
    eval_steps: Sequence[int],
    psnr_values: Sequence[float],
    bicubic_psnr: float,
    image_name: str = "held-out image",
) -> Figure:
    """A short MSE training run: the loss, and the held-out PSNR against bicubic (lesson 03).

    Args:
        steps: update numbers of ``losses``.
        losses: the training MSE (eq. 4) at those steps.
        eval_steps: update numbers of ``psnr_values``.
        psnr_values: PSNR in dB of the network on the held-out image.
        bicubic_psnr: PSNR in dB of bicubic upsampling on the same image, drawn as a line.
        image_name: the held-out image's name, for the title.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (loss_ax, psnr_ax) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    steps, losses = np.asarray(steps, dtype=float), np.asarray(losses, dtype=float)
    loss_ax.plot(steps, losses, color="tab:blue", linewidth=0.6, alpha=0.35, label="each update")
    window = max(1, len(losses) // 40)
    if window > 1:  # small batches make single losses noisy; the running mean shows the trend
        running = np.convolve(losses, np.ones(window) / window, mode="valid")
        loss_ax.plot(steps[window - 1 :], running, color="tab:blue", linewidth=1.8, label=f"mean of {window}")
        loss_ax.legend(fontsize=8)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("update")
    loss_ax.set_ylabel("training MSE ([-1, 1] range)")
    loss_ax.set_title("loss (eq. 4)", fontsize=10)
    psnr_ax.plot(list(eval_steps), list(psnr_values), marker="o", color="tab:green", label="SRResNet")
    psnr_ax.axhline(bicubic_psnr, color="tab:gray", linestyle="--", label=f"bicubic {bicubic_psnr:.2f} dB")
    psnr_ax.set_xlabel("update")
    psnr_ax.set_ylabel("PSNR (Y) in dB")
    psnr_ax.set_title(f"{image_name} (not trained on)", fontsize=10)
    if len(psnr_values):  # keep the interesting range: early values can be far below bicubic
        best = max(max(psnr_values), bicubic_psnr)
        psnr_ax.set_ylim(max(min(psnr_values), best - 8) - 0.5, best + 0.8)
    psnr_ax.legend(fontsize=9, loc="lower right")
    for ax in (loss_ax, psnr_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
