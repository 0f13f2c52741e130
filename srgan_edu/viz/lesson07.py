"""Figures of lesson 07, evaluation and trade-offs (sec. 3): PSNR against perceived quality, the MOS, the rating sheet.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from srgan_edu import paper
from srgan_edu.viz._style import image_array

if TYPE_CHECKING:
    import torch
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from srgan_edu.mos import MethodScore, Trial
    from srgan_edu.tradeoffs import QualityPoint


# One colour per content loss, used by every lesson-07 figure.
CONTENT_LOSS_COLOURS = {"mse": "tab:blue", "vgg22": "tab:green", "vgg54": "tab:orange"}


def _point_style(point) -> tuple[str, str]:
    """Colour by content loss, marker by adversarial weight (none: circle)."""
    colour = CONTENT_LOSS_COLOURS.get(getattr(point, "content_loss", None) or "", "tab:gray")
    weight = getattr(point, "adversarial_weight", None)
    marker = "o" if not weight else ("^" if weight < 1e-3 else ("*" if weight == paper.ADVERSARIAL_WEIGHT else "s"))
    return colour, marker


def perception_distortion_plot(
    ax: Axes,
    points: Sequence[QualityPoint],
    *,
    current: str | None = None,
    path: Sequence[QualityPoint] = (),
    perceptual_label: str = "perceptual distance",
    lower_is_better: bool = True,
    reference_lines: Mapping[str, float] | None = None,
) -> Axes:
    """Draw PSNR (x) against a perceptual score (y) on ``ax``; up and right are better.

    Args:
        ax: the axes to draw on.
        points: each with ``.name``, ``.psnr`` (dB) and ``.perceptual``, optionally
            ``.content_loss`` and ``.adversarial_weight`` for its colour and marker
            (:class:`srgan_edu.tradeoffs.QualityPoint`).
        current: the name of the point to ring in red (the one shown in the picture).
        path: points of an interpolation (e.g. SRResNet -> SRGAN), joined by a line, each
            with ``.alpha``.
        perceptual_label: what the y axis measures.
        lower_is_better: True for a distance (the axis is flipped so that up is better),
            False for a score such as MOS.
        reference_lines: label -> y value drawn as a dashed line (e.g. the MOS of HR).
    """
    if path:
        ax.plot([p.psnr for p in path], [p.perceptual for p in path], "-", color="0.6", zorder=1)
        for p in path:
            ax.plot(p.psnr, p.perceptual, ".", color="0.4", zorder=2)
        first, last = path[0], path[-1]
        ax.annotate(f"alpha={first.alpha:g}", (first.psnr, first.perceptual), fontsize=8, color="0.3",
                    xytext=(4, -10), textcoords="offset points", gid=_POINT_LABEL)
        ax.annotate(f"alpha={last.alpha:g}", (last.psnr, last.perceptual), fontsize=8, color="0.3",
                    xytext=(4, 4), textcoords="offset points", gid=_POINT_LABEL)
    for point in points:
        colour, marker = _point_style(point)
        ax.scatter(point.psnr, point.perceptual, c=colour, marker=marker, s=80 if marker == "*" else 45, zorder=3)
        ax.annotate(point.name, (point.psnr, point.perceptual), fontsize=8, xytext=(5, 3), textcoords="offset points",
                    gid=_POINT_LABEL)
    shown = [p for p in list(points) + list(path) if p.name == current]
    if shown:
        ax.scatter(shown[-1].psnr, shown[-1].perceptual, s=260, facecolors="none", edgecolors="red",
                   linewidths=2, zorder=4)
    for label, value in (reference_lines or {}).items():
        ax.axhline(value, color="0.5", linestyle="--", linewidth=1)
        ax.annotate(label, (0.01, value), xycoords=("axes fraction", "data"), fontsize=8, color="0.3",
                    xytext=(0, 3), textcoords="offset points")
    if lower_is_better and not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_xlabel("PSNR in dB (Y channel): more faithful ->")
    direction = "(lower is better; axis flipped)" if lower_is_better else "(higher is better)"
    ax.set_ylabel(f"{perceptual_label}\n{direction}")
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.grid(alpha=0.3)
    separate_labels(ax)
    return ax


_POINT_LABEL = "srgan-point-label"  # the gid of the labels that separate_labels keeps apart


def separate_labels(ax: Axes, *, step: float = 9.0, padding: float = 2.0) -> int:
    """Move the point labels of a PSNR-perception plot down until no two overlap; return how many moved.

    Models that score alike (SRResNet-MSE and the interpolation's alpha=0 are the same
    network) would print their names over each other. Call it again after the figure's
    layout changes (``tight_layout``): the figures here do.
    """
    renderer = ax.figure.canvas.get_renderer()
    placed, moved = [], 0
    labels = sorted((t for t in ax.texts if t.get_gid() == _POINT_LABEL),
                    key=lambda t: -t.get_window_extent(renderer).y1)
    for label in labels:
        for _ in range(40):
            box = label.get_window_extent(renderer).padded(padding)
            if not any(box.overlaps(other) for other in placed):
                break
            x_offset, y_offset = label.xyann
            label.xyann = (x_offset, y_offset - step)
            moved += 1
        placed.append(label.get_window_extent(renderer))
    return moved


def perception_distortion_figure(
    points: Sequence[QualityPoint],
    *,
    current: str | None = None,
    path: Sequence[QualityPoint] = (),
    perceptual_label: str = "perceptual distance",
    lower_is_better: bool = True,
    reference_lines: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """The paper's central point in one plot: PSNR against perceived quality.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Methods trained for PSNR (MSE, SRResNet) sit to the right; those trained for
    perception (VGG loss and the adversarial term, SRGAN) sit higher but further left.
    Arguments as :func:`perception_distortion_plot`.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    perception_distortion_plot(ax, points, current=current, path=path, perceptual_label=perceptual_label,
                               lower_is_better=lower_is_better, reference_lines=reference_lines)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    separate_labels(ax)
    return fig


def tradeoff_figure(
    sr_img: torch.Tensor | None,
    hr_img: torch.Tensor,
    points: Sequence[QualityPoint],
    *,
    current: str | None = None,
    path: Sequence[QualityPoint] = (),
    box: tuple[int, int, int] | None = None,
    caption: str = "",
    perceptual_label: str = "perceptual distance",
    lower_is_better: bool = True,
) -> Figure:
    """One output beside the ground truth (zoomed), and where it sits on the PSNR-perception plot.

    The picture the trade-off and interpolation explorers show; also their non-interactive
    form in executed notebooks.

    Args:
        sr_img: the output shown, (3, H, W) in [0, 1]; None: an empty panel (no such model).
        hr_img: the ground truth, (3, H, W) in [0, 1].
        points: all points of the plot (see :func:`perception_distortion_plot`).
        current: the name of the point the output belongs to.
        path: interpolation points joined by a line.
        box: (top, left, size) of the zoom; None shows the whole images.
        caption: written under the output (e.g. its PSNR and score).
        perceptual_label: what the y axis measures.
        lower_is_better: whether lower perceptual values are better.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(10.5, 3.8))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.5])
    output_ax, truth_ax, plot_ax = fig.add_subplot(grid[0]), fig.add_subplot(grid[1]), fig.add_subplot(grid[2])
    for ax, img, title in ((output_ax, sr_img, current or "output"), (truth_ax, hr_img, "HR (ground truth)")):
        ax.set_xticks([])
        ax.set_yticks([])
        if img is None:
            ax.text(0.5, 0.5, "no model", ha="center", va="center", transform=ax.transAxes, color="0.4")
            continue
        array = image_array(img)
        if box is not None:
            top, left, size = box
            array = array[top : top + size, left : left + size]
        ax.imshow(array, interpolation="nearest")
        ax.set_title(title, fontsize=10)
    if caption:
        fig.suptitle(caption, fontsize=10)
    perception_distortion_plot(plot_ax, points, current=current, path=path, perceptual_label=perceptual_label,
                               lower_is_better=lower_is_better)
    fig.tight_layout()
    separate_labels(plot_ax)
    return fig


def mos_figure(
    scores: Mapping[str, MethodScore],
    *,
    reference: Mapping[str, float] | None = None,
    reference_label: str = "paper",
    title: str | None = None,
) -> Figure:
    """Mean opinion scores drawn like the paper's figure of MOS distributions.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Each method is a column of five cells, one per score 1-5, shaded by the share of
    ratings that gave that score; the red dot is the MOS and the bar its confidence
    interval.

    Args:
        scores: method -> :class:`srgan_edu.mos.MethodScore` (from ``mos.mos_by_method``).
        reference: method -> a MOS to mark for comparison (e.g. the paper's Set14 values).
        reference_label: the legend entry of the reference marks.
        title: figure title.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    methods = list(scores)
    shares = np.zeros((5, len(methods)))
    for column, method in enumerate(methods):
        counts = np.asarray(scores[method].histogram, dtype=float)
        shares[:, column] = counts / max(counts.sum(), 1)
    fig, ax = plt.subplots(figsize=(1.3 * len(methods) + 2.2, 4.2))
    image = ax.imshow(shares, origin="lower", cmap="Blues", vmin=0, vmax=max(shares.max(), 1e-9), aspect="auto",
                      extent=(-0.5, len(methods) - 0.5, 0.5, 5.5))
    fig.colorbar(image, ax=ax, label="share of ratings")
    x = np.arange(len(methods))
    means = [scores[m].mean for m in methods]
    lows = [scores[m].mean - scores[m].ci_low if not np.isnan(scores[m].ci_low) else 0 for m in methods]
    highs = [scores[m].ci_high - scores[m].mean if not np.isnan(scores[m].ci_high) else 0 for m in methods]
    confidence = next(iter(scores.values())).confidence if scores else 0.95
    ax.errorbar(x, means, yerr=[lows, highs], fmt="o", color="red", ecolor="darkred", capsize=5,
                label=f"MOS with {confidence:.0%} CI")
    for xi, method in zip(x, methods):
        ax.annotate(f"{scores[method].mean:.2f}", (xi, scores[method].mean), xytext=(9, -4),
                    textcoords="offset points", fontsize=9, color="darkred",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    if reference:
        ref = [(i, reference[m]) for i, m in enumerate(methods) if m in reference]
        if ref:
            ax.scatter([i for i, _ in ref], [v for _, v in ref], marker="D", facecolors="none", edgecolors="black",
                       s=50, zorder=4, label=reference_label)
    ax.set_xticks(x, [f"{m}\n(n={scores[m].count})" for m in methods])
    ax.set_yticks(range(1, 6), ["1 bad", "2 poor", "3 fair", "4 good", "5 excellent"])
    ax.set_ylim(0.5, 5.5)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "mean opinion score per method")
    fig.tight_layout()
    return fig


def rating_sheet_figure(
    trials: Sequence[Trial],
    versions: Mapping[str, Mapping[str, torch.Tensor]],
    *,
    columns: int = 4,
    max_trials: int | None = 12,
    panel_size: float = 2.4,
) -> Figure:
    """A blind rating sheet: the images of a plan in order, each under its neutral code only.

    The non-interactive form of the rating widget; printed, it also serves a class
    without computers (write the scores beside the codes, type them in afterwards).

    Args:
        trials: the plan (``mos.plan_trials`` or ``RatingSession.trials``).
        versions: image name -> method -> (3, H, W) image in [0, 1].
        columns: images per row.
        max_trials: show at most this many (None: all).
        panel_size: inches per image.
    """
    import matplotlib.pyplot as plt

    shown = list(trials)[: max_trials] if max_trials else list(trials)
    columns = max(1, min(columns, len(shown)))
    rows = max(1, -(-len(shown) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(panel_size * columns, (panel_size + 0.3) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, trial in zip(axes.flat, shown):
        ax.imshow(image_array(versions[trial.image][trial.method]), interpolation="lanczos")
        ax.set_title(f"#{trial.index + 1}  code {trial.code}   score: ___", fontsize=9)
    fig.suptitle("Rate each image 1 (bad) to 5 (excellent); methods are hidden", fontsize=10)
    fig.tight_layout()
    return fig
