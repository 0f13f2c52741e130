"""Every figure the course shows is drawn by a function here (or in ``widgets``) that returns a matplotlib Figure.

Notebooks call these functions instead of plotting by hand, so that every picture a learner
sees is tested (``tests/test_viz_*.py``) and looks the same from lesson to lesson. Images
are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions never
change their inputs. Figures are returned, not shown: in a notebook the inline backend
shows them; in tests, close them with ``plt.close(fig)``.

Sections follow the lessons; each section names its lesson and the paper's section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from srgan_edu.mos import MethodScore, Trial
    from srgan_edu.tradeoffs import QualityPoint


# --- lesson 00: setup and tour (the built-in images) ------------------------------------------


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
        ax.imshow(_image_array(img), interpolation=interpolation)
        caption = f"{name}\n{width}x{height} px"
        if notes is not None:
            caption += f"\n{notes[position]}"
        ax.set_title(caption, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# --- lesson 07: evaluation and trade-offs (PSNR against perceived quality, MOS) -------------

# One colour per content loss, used by every lesson-07 figure.
CONTENT_LOSS_COLOURS = {"mse": "tab:blue", "vgg22": "tab:green", "vgg54": "tab:orange"}


def _image_array(img) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] (C = 1 or 3) -> (H, W, 3) float array for ``imshow``."""
    import numpy as np

    array = img.detach().to("cpu").float().clamp(0, 1)
    if array.dim() == 4:
        array = array[0]
    array = array.permute(1, 2, 0).numpy()
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array


def comparison_figure(
    images: Mapping[str, torch.Tensor],
    *,
    box: tuple[int, int, int],
    scores: Mapping[str, tuple[float, float]] | None = None,
    reference: str = "HR",
    panel_size: float = 2.6,
) -> Figure:
    """Versions of one image side by side, each with the same zoomed region below it.

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
        array = _image_array(images[name])
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


def _point_style(point) -> tuple[str, str]:
    """Colour by content loss, marker by adversarial weight (none: circle)."""
    colour = CONTENT_LOSS_COLOURS.get(getattr(point, "content_loss", None) or "", "tab:gray")
    weight = getattr(point, "adversarial_weight", None)
    marker = "o" if not weight else ("^" if weight < 1e-3 else ("*" if weight == 1e-3 else "s"))
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
        array = _image_array(img)
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
        ax.imshow(_image_array(versions[trial.image][trial.method]), interpolation="lanczos")
        ax.set_title(f"#{trial.index + 1}  code {trial.code}   score: ___", fontsize=9)
    fig.suptitle("Rate each image 1 (bad) to 5 (excellent); methods are hidden", fontsize=10)
    fig.tight_layout()
    return fig


# --- lessons 06 and 08: adversarial training and training runs (eq. 1-3 and 6) -------------

# One colour per logged quantity, the same in every training figure.
TRAINING_COLOURS = {
    "content_loss": "tab:blue",
    "generator_loss": "tab:gray",
    "adversarial_loss": "tab:red",
    "discriminator_loss": "tab:purple",
    "d_real": "tab:green",
    "d_fake": "tab:orange",
    "psnr": "tab:blue",
    "ssim": "tab:cyan",
}
TRAINING_LABELS = {
    "content_loss": "content loss l_X (G)",
    "generator_loss": "perceptual loss l_SR (G)",
    "adversarial_loss": "l_Gen = -log D(G(z)) (G, eq. 6)",
    "discriminator_loss": "D's loss (eq. 2)",
    "d_real": "D(x): real HR crops",
    "d_fake": "D(G(z)): generator outputs",
}


def _training_rows(history) -> list[dict]:
    """A ``training.History`` or a list of row dicts -> list of row dicts."""
    return list(getattr(history, "rows", history) or [])


def _series(rows: Sequence[dict], name: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows that have ``name``."""
    kept = [row for row in rows if row.get(name) is not None]
    return [row["step"] for row in kept], [float(row[name]) for row in kept]


def _mark_steps(ax: Axes, marks: Mapping[str, int] | None, *, label: bool) -> None:
    for text, step in (marks or {}).items():
        ax.axvline(step, color="black", linestyle=":", linewidth=1)
        if label:
            ax.annotate(text, (step, 0.0), xycoords=("data", "axes fraction"), xytext=(3, 4),
                        textcoords="offset points", fontsize=8)


def training_curves_figure(
    history,
    validation=None,
    *,
    marks: Mapping[str, int] | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (4.2, 3.0),
) -> Figure:
    """The curves of a training run, one panel per kind of quantity.

    Panels appear when their columns are in the history: the content loss (log scale when it spans a decade);
    the adversarial losses of G (eq. 6) and D (eq. 2); the discriminator's mean outputs
    D(x) on real crops and D(G(z)) on generator outputs, with 0.5 (D cannot tell) marked;
    and the validation PSNR when ``validation`` has rows.

    Args:
        history: a :class:`srgan_edu.training.History` (or its list of rows) with ``step``
            and any of ``content_loss``, ``adversarial_loss``, ``discriminator_loss``,
            ``d_real``, ``d_fake``.
        validation: rows with ``step``, ``psnr`` (dB) and ``ssim``; None: no validation panel.
        marks: label -> step to mark with a dotted line in every panel (a resume, a
            learning-rate drop).
        title: figure title.
        panel_size: inches (width, height) per panel.

    Returns:
        A figure with one row of panels.
    """
    import matplotlib.pyplot as plt

    rows = _training_rows(history)
    val_rows = _training_rows(validation)
    columns = {key for row in rows for key in row}
    panels = []
    if "content_loss" in columns:
        panels.append(("content loss", ["content_loss"], True))
    if columns & {"adversarial_loss", "discriminator_loss"}:
        panels.append(("adversarial losses", ["adversarial_loss", "discriminator_loss"], False))
    if columns & {"d_real", "d_fake"}:
        panels.append(("discriminator outputs", ["d_real", "d_fake"], False))
    if val_rows:
        panels.append(("validation PSNR", ["psnr"], False))
    if not panels:
        raise ValueError(f"nothing to plot: the history has the columns {sorted(columns)} and no validation rows")
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size[0] * len(panels), panel_size[1]), squeeze=False)
    for ax, (panel_title, names, log_scale) in zip(axes[0], panels):
        source = val_rows if names == ["psnr"] else rows
        for name in names:
            steps, values = _series(source, name)
            if steps:
                ax.plot(steps, values, marker="o" if len(steps) < 12 else None, markersize=3,
                        color=TRAINING_COLOURS.get(name), label=TRAINING_LABELS.get(name, name))
        values = [v for name in names for v in _series(source, name)[1]]
        if log_scale and values and min(values) > 0 and max(values) > 10 * min(values):
            ax.set_yscale("log")  # only when the loss spans a decade or more; else ticks read badly
        if names == ["d_real", "d_fake"]:
            ax.axhline(0.5, color="gray", linestyle="--", linewidth=1)
            ax.text(0.01, 0.52, "0.5: D cannot tell", transform=ax.get_yaxis_transform(), fontsize=7, color="gray")
            ax.set_ylim(-0.03, 1.03)
        if names == ["psnr"]:
            ax.set_ylabel("dB (Y channel)")
        else:
            ax.legend(fontsize=7, loc="best")
        _mark_steps(ax, marks, label=ax is axes[0][0])
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


class LiveTrainingCurves:
    """Redraw :func:`training_curves_figure` in place in a notebook while a run trains.

    Pass an instance as ``on_log`` to :func:`srgan_edu.training.train_srresnet` or
    ``train_srgan``. It redraws at most every ``min_seconds`` (drawing costs time the
    training would otherwise use), and always when the last step is logged.

    Args:
        total_steps: the run's last step, so that the final state is always drawn.
        min_seconds: the least time between two redraws.
        title, marks: as for :func:`training_curves_figure`.
    """

    def __init__(self, *, total_steps: int | None = None, min_seconds: float = 2.0, title: str | None = None,
                 marks: Mapping[str, int] | None = None) -> None:
        self.total_steps, self.min_seconds, self.title, self.marks = total_steps, min_seconds, title, marks
        self.draws = 0
        self._handle = None
        self._last_draw = -float("inf")

    def __call__(self, history, validation=None) -> None:
        import time

        import matplotlib.pyplot as plt

        rows = _training_rows(history)
        if not rows:
            return
        final = self.total_steps is not None and rows[-1]["step"] >= self.total_steps
        now = time.monotonic()
        if not final and now - self._last_draw < self.min_seconds:
            return
        fig = training_curves_figure(rows, validation, marks=self.marks, title=self.title)
        from IPython.display import display

        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)  # shown through the display handle; closing stops a second copy at the cell's end
        self._last_draw = now
        self.draws += 1


def sample_grid_figure(
    grid,
    *,
    column_names: Sequence[str] = ("bicubic", "generator", "HR"),
    title: str | None = None,
    width: float = 7.5,
) -> Figure:
    """A grid of validation samples saved during training, with its columns named.

    Args:
        grid: the (3, H, W) [0, 1] tensor from :func:`srgan_edu.training.sample_grid`, or the
            path of a PNG it was saved to (``RUN_DIR/samples/step_*.png``).
        column_names: what each column shows (the trainer saves bicubic | generator | HR).
        title: figure title (default: the file name when a path is given).
        width: figure width in inches.
    """
    import matplotlib.pyplot as plt

    if not hasattr(grid, "shape"):
        from pathlib import Path

        from srgan_edu.images import load_image

        title = title if title is not None else Path(grid).name
        grid = load_image(grid)
    height_in = width * grid.shape[-2] / grid.shape[-1]
    fig, ax = plt.subplots(figsize=(width, height_in + 0.6))
    ax.imshow(_image_array(grid), interpolation="nearest")
    ax.set_xticks([(i + 0.5) * grid.shape[-1] / len(column_names) for i in range(len(column_names))])
    ax.set_xticklabels(column_names)
    ax.xaxis.tick_top()
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, pad=22)
    fig.tight_layout()
    return fig


def discriminator_balance_figure(runs: Mapping[str, object], *, panel_size: tuple[float, float] = (4.2, 3.0)) -> Figure:
    """D(x) and D(G(z)) of several runs side by side: a balanced game against one D wins.

    When D wins, D(x) goes to 1 and D(G(z)) to 0; the generator's adversarial loss
    -log D(G(z)) then grows, and its gradient no longer says how to look real.

    Args:
        runs: run name -> history (a ``training.History`` or its rows) with ``d_real`` and ``d_fake``.
        panel_size: inches (width, height) per run.
    """
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("discriminator_balance_figure needs at least one run")
    fig, axes = plt.subplots(1, len(runs), figsize=(panel_size[0] * len(runs), panel_size[1]), squeeze=False,
                             sharey=True)
    for ax, (name, history) in zip(axes[0], runs.items()):
        rows = _training_rows(history)
        for column in ("d_real", "d_fake"):
            steps, values = _series(rows, column)
            ax.plot(steps, values, color=TRAINING_COLOURS[column], label=TRAINING_LABELS[column])
        ax.axhline(0.5, color="gray", linestyle="--", linewidth=1)
        ax.set_ylim(-0.03, 1.03)
        last = rows[-1] if rows else {}
        if "d_real" in last and "d_fake" in last:
            ax.text(0.98, 0.04, f"last: D(x) {last['d_real']:.2f}, D(G(z)) {last['d_fake']:.2f}",
                    transform=ax.transAxes, ha="right", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean output of D")
    axes[0][0].legend(fontsize=7, loc="center left")
    fig.tight_layout()
    return fig


# --- lessons 03-05: the networks (SRResNet sec. 2.1, VGG content loss eq. 5, discriminator eq. 2) ---


def _stretch(img: torch.Tensor) -> torch.Tensor:
    """Any range -> [0, 1] by the image's own min and max (untrained outputs, feature maps)."""
    img = img.detach().to("cpu").float()
    low, high = img.min(), img.max()
    return (img - low) / (high - low) if high > low else img.clamp(0, 1) * 0


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

    from srgan_edu.srresnet import checkerboard_pattern, checkerboard_strength

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
        whole.imshow(_image_array(_stretch(shown)), interpolation="nearest")
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
    ax.imshow(_image_array(lr_img), interpolation="nearest")
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

    from srgan_edu.images import rgb_to_y

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
        axes[row, 0].imshow(_image_array(img), interpolation="antialiased")
        label = (labels or {}).get(name, name)
        axes[row, 0].set_title(f"{label}\n{channels} maps of {width}x{height}", fontsize=9)
        for column, channel in enumerate(strongest.tolist(), start=1):
            axes[row, column].imshow(_stretch(features[channel]).numpy(), cmap="magma", interpolation="nearest")
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


def logit_losses_figure(
    logits: torch.Tensor,
    curves: Mapping[str, torch.Tensor],
    *,
    title: str | None = None,
) -> Figure:
    """Loss terms as functions of the discriminator's logit; infinite values marked (lesson 05).

    Args:
        logits: the x axis, (N,).
        curves: name -> values at ``logits``, (N,); inf and nan are drawn as crosses on the
            top edge, labelled "inf / nan".
        title: figure title.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    x = logits.detach().to("cpu").double().numpy()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    finite_top = 0.0
    for values in curves.values():
        y = values.detach().to("cpu").double().numpy()
        finite = np.isfinite(y)
        finite_top = max(finite_top, float(y[finite].max()) if finite.any() else 0.0)
    top = finite_top * 1.1 + 1.0
    for name, values in curves.items():
        y = values.detach().to("cpu").double().numpy()
        finite = np.isfinite(y)
        (line,) = ax.plot(x[finite], y[finite], label=name)
        if (~finite).any():
            ax.plot(x[~finite], np.full(int((~finite).sum()), top), "x", color=line.get_color(),
                    label=f"{name}: inf / nan")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]), top=top * 1.05)
    ax.set_xlabel("discriminator logit z (D = sigmoid(z))")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "loss terms on logits", fontsize=10)
    fig.tight_layout()
    return fig


def discriminator_scores_figure(
    history: Mapping[str, Sequence[float]],
    *,
    final_scores: Mapping[str, torch.Tensor] | None = None,
    steps: Sequence[int] | None = None,
) -> Figure:
    """A discriminator learning to tell HR crops from upsampled ones (lesson 05).

    Left: the mean D(x) = sigmoid(logit) per kind of input over training. Right (with
    ``final_scores``): the distribution of D(x) on held-out crops after training.

    Args:
        history: kind (e.g. "HR", "bicubic", "SRResNet") -> mean D(x) at each logged step.
        final_scores: kind -> D(x) of held-out crops, (N,), in [0, 1]; None: no right panel.
        steps: the step numbers of ``history``; default 1, 2, ...
    """
    import matplotlib.pyplot as plt
    import numpy as np

    panels = 2 if final_scores is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.8 * panels, 3.5), squeeze=False)
    curve_ax = axes[0, 0]
    for kind, values in history.items():
        x = list(steps) if steps is not None else list(range(1, len(values) + 1))
        curve_ax.plot(x, list(values), label=kind)
    curve_ax.axhline(0.5, color="0.5", linestyle=":", linewidth=1)
    curve_ax.set_ylim(-0.02, 1.02)
    curve_ax.set_xlabel("discriminator update")
    curve_ax.set_ylabel("mean D(x)  (1 = 'real HR')")
    curve_ax.set_title("training batches", fontsize=10)
    curve_ax.legend(fontsize=9)
    curve_ax.grid(alpha=0.3)
    if final_scores is not None:
        hist_ax = axes[0, 1]
        bins = np.linspace(0, 1, 21)
        for kind, scores in final_scores.items():
            values = scores.detach().to("cpu").double().numpy().ravel()
            hist_ax.hist(values, bins=bins, alpha=0.55, label=f"{kind} (mean {values.mean():.2f})")
        hist_ax.set_xlabel("D(x) on held-out crops")
        hist_ax.set_ylabel("crops")
        hist_ax.set_title("after training", fontsize=10)
        hist_ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


# --- lessons 01-02: the degradation model (sec. 2), the baselines and the metrics (eq. 4) ----


def _luma_array(img) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) float64: Y (BT.601) of an RGB image, the channel itself for C = 1."""
    from srgan_edu.images import rgb_to_y

    grey = img.detach().to("cpu").double()
    if grey.dim() == 4:
        grey = grey[0]
    if grey.shape[0] == 3:
        grey = rgb_to_y(grey)
    return grey[0].numpy()


def gaussian_kernels_figure(kernels: Mapping[str, torch.Tensor], *, panel_size: float = 2.4) -> Figure:
    """Gaussian kernels as pictures, and their middle rows as curves on one plot (lesson 01).

    Each kernel is drawn on a grid as large as the largest kernel, on its own colour scale
    (yellow = its largest weight); the last panel overlays the middle row of every kernel.

    Args:
        kernels: name (e.g. "sigma = 1.5") -> (k, k) kernel, e.g. from
            :func:`srgan_edu.degradation.gaussian_kernel`; sizes may differ.
        panel_size: inches per panel.

    Returns:
        A figure with one panel per kernel and one panel of profiles.
    """
    import matplotlib.pyplot as plt

    import numpy as np

    names = list(kernels)
    if not names:
        raise ValueError("gaussian_kernels_figure needs at least one kernel")
    largest = max(kernels[name].shape[-1] for name in names)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(panel_size * (len(names) + 1.6), panel_size + 0.5),
                             gridspec_kw={"width_ratios": [1] * len(names) + [1.6]})
    profile_ax = axes[-1]
    for ax, name in zip(axes, names):
        kernel = kernels[name].detach().to("cpu").double()
        size = kernel.shape[-1]
        # Drawn on a common grid (zeros around the smaller kernels), so widths compare.
        pad = (largest - size) // 2
        ax.imshow(np.pad(kernel.numpy(), pad), cmap="viridis", vmin=0, interpolation="nearest")
        ax.set_title(f"{name}\n{size}x{size}, weights sum to {float(kernel.sum()):.4f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        offsets = [i - (size - 1) / 2 for i in range(size)]
        profile_ax.plot(offsets, kernel[size // 2].numpy(), marker=".", label=name)
    profile_ax.set_xlabel("offset from the centre (pixels)")
    profile_ax.set_ylabel("weight (middle row)")
    profile_ax.set_title("middle rows", fontsize=9)
    profile_ax.grid(alpha=0.3)
    profile_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def zoom_figure(
    images: Mapping[str, torch.Tensor],
    *,
    box: tuple[int, int, int],
    panel_size: float = 2.8,
    title: str | None = None,
) -> Figure:
    """Versions of one scene at different resolutions, each over a zoom of the same region.

    An HR image and its LR versions differ in size; the zoom window is given in the pixels
    of the first image and scaled to each of the others by their width ratio, so that every
    zoom shows the same part of the scene. Zooms are drawn with nearest-neighbour
    interpolation: each pixel is a visible square, and the display adds no blur of its own.

    Args:
        images: name -> (C, H, W) in [0, 1], C = 1 or 3, all of the same scene (e.g. HR,
            then LR images 4x smaller), in the order to show them.
        box: the zoom window (top, left, size) in pixels of the first image.
        panel_size: inches per panel.
        title: figure title.

    Returns:
        A figure with a row of whole images (the window outlined) over a row of zooms.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    names = list(images)
    if not names:
        raise ValueError("zoom_figure needs at least one image")
    top, left, size = box
    reference_width = images[names[0]].shape[-1]
    fig, axes = plt.subplots(2, len(names), figsize=(panel_size * len(names), panel_size * 2.15), squeeze=False)
    for column, name in enumerate(names):
        array = _image_array(images[name])
        height, width = array.shape[:2]
        ratio = width / reference_width
        y0, x0 = int(round(top * ratio)), int(round(left * ratio))
        side = max(1, int(round(size * ratio)))
        whole, zoom = axes[0, column], axes[1, column]
        # "antialiased" filters when the panel is smaller than the image, so the display
        # itself adds no aliasing to pictures that are about aliasing.
        whole.imshow(array, interpolation="antialiased")
        whole.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), side, side, fill=False, edgecolor="red", linewidth=1.5))
        whole.set_title(f"{name}\n{width}x{height} px", fontsize=9)
        zoom.imshow(array[y0 : y0 + side, x0 : x0 + side], interpolation="nearest")
        zoom.set_xlabel(f"zoom: {side}x{side} px", fontsize=9)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _power_spectrum(img) -> np.ndarray:
    """Hann-windowed power spectrum of an image's luma, centred, per unit of frequency area.

    The mean is removed first (no spike at zero) and the window keeps the image's borders
    from drawing a bright cross. Dividing by the window's energy makes the values a power
    spectral density in the image's own cycles per pixel.
    """
    import numpy as np

    grey = _luma_array(img)
    grey = grey - grey.mean()
    window = np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))
    spectrum = np.fft.fftshift(np.fft.fft2(grey * window))
    power = np.abs(spectrum) ** 2 / max((window**2).sum(), 1e-12)
    # One image's spectrum is very noisy; a local mean over about 1/64 of the frequency
    # range shows its trend (what averaging the spectra of many images would show).
    width = max(1, min(power.shape) // 64) | 1
    if width > 1:
        import torch
        import torch.nn.functional as F

        smoothed = F.avg_pool2d(torch.from_numpy(power)[None, None], width, stride=1, padding=width // 2,
                                count_include_pad=False)
        power = smoothed[0, 0].numpy()
    return power


def spectrum_figure(
    images: Mapping[str, torch.Tensor],
    *,
    panel_size: float = 2.8,
    decades: float = 6.0,
    title: str | None = None,
) -> Figure:
    """Log power spectra of an HR image and of its LR versions, on one frequency axis (lesson 01).

    Frequencies are in cycles per pixel of the *first* image (the HR one): an LR image r
    times smaller holds only frequencies up to 1/(2r), its Nyquist limit, drawn as a dashed
    square on the HR spectrum. Powers are densities on that same axis, so the LR spectra
    are directly comparable with the HR one: where an LR image shows more power than the HR
    image near its Nyquist limit, finer detail has folded back into it (aliasing); where it
    shows less, a filter removed it. The last panel averages each spectrum over rings of
    equal frequency.

    Args:
        images: name -> (C, H, W) in [0, 1] (C = 1 or 3; RGB is measured on Y), the HR
            image first, then LR versions of it.
        panel_size: inches per panel.
        decades: the colour scale spans this many powers of ten below the HR maximum.
        title: figure title.

    Returns:
        A figure with one spectrum per image and a panel of radial averages.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(images)
    if not names:
        raise ValueError("spectrum_figure needs at least one image")
    reference_width = images[names[0]].shape[-1]
    spectra, pitches = {}, {}
    for name in names:
        pitch = reference_width / images[name].shape[-1]  # this image's pixel, in reference pixels
        # Per cycle per *reference* pixel, the density is pitch^2 times larger (same total power).
        spectra[name] = _power_spectrum(images[name]) * pitch**2
        pitches[name] = pitch
    top = np.log10(np.percentile(spectra[names[0]], 99.99) + 1e-20)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(panel_size * (len(names) + 2.0), panel_size + 0.8),
                             gridspec_kw={"width_ratios": [1] * len(names) + [1.8]}, layout="constrained")
    largest_pitch = max(pitches.values())
    for ax, name in zip(axes, names):
        height, width = spectra[name].shape
        half = 0.5 / pitches[name]  # this image's Nyquist limit, in cycles per reference pixel
        shown = ax.imshow(np.log10(spectra[name] + 1e-20), cmap="magma", vmin=top - decades, vmax=top,
                          extent=(-half, half, half, -half), interpolation="antialiased")
        if pitches[name] < largest_pitch:
            nyquist = 0.5 / largest_pitch
            ax.add_patch(plt.Rectangle((-nyquist, -nyquist), 2 * nyquist, 2 * nyquist, fill=False,
                                       edgecolor="cyan", linestyle="--", linewidth=1.2))
        ax.set_title(f"{name}\n{width}x{height} px", fontsize=9)
        ax.set_xlabel("cycles / HR pixel", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.colorbar(shown, ax=list(axes[:-1]), shrink=0.8, label="log10 power", pad=0.02)
    profile_ax = axes[-1]
    for name in names:
        power = spectra[name]
        height, width = power.shape
        fy = (np.arange(height) - height // 2) / height / pitches[name]
        fx = (np.arange(width) - width // 2) / width / pitches[name]
        radius = np.hypot(*np.meshgrid(fy, fx, indexing="ij"))
        edges = np.linspace(0, 0.5 / pitches[name], max(8, min(height, width) // 4) + 1)
        which = np.digitize(radius.ravel(), edges) - 1
        inside = (which >= 0) & (which < len(edges) - 1)
        sums = np.bincount(which[inside], weights=power.ravel()[inside], minlength=len(edges) - 1)
        counts = np.bincount(which[inside], minlength=len(edges) - 1)
        centres = (edges[:-1] + edges[1:]) / 2
        keep = counts > 0
        profile_ax.semilogy(centres[keep], sums[keep] / counts[keep], label=name)
    if largest_pitch > 1:
        profile_ax.axvline(0.5 / largest_pitch, color="c", linestyle="--", linewidth=1,
                           label=f"LR Nyquist 1/{2 * largest_pitch:g}")
    profile_ax.set_xlabel("frequency (cycles / HR pixel)")
    profile_ax.set_ylabel("mean power")
    profile_ax.set_title("averaged over rings", fontsize=9)
    profile_ax.grid(alpha=0.3)
    profile_ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def patch_pairs_figure(
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    hr_range: str = "unit",
    panel_size: float = 2.0,
    title: str | None = None,
) -> Figure:
    """Training pairs: each LR patch above its HR patch, captioned with shape and value range.

    Both are drawn at the same size with nearest-neighbour interpolation, so the LR patch's
    pixels show as blocks ``scale`` times larger than the HR pixels.

    Args:
        pairs: (name, lr_img (C, h, w) in [0, 1], hr_img (C, H, W)) triples.
        hr_range: ``"unit"`` when the HR patches are in [0, 1], ``"signed"`` for [-1, 1]
            (the paper's targets; mapped to [0, 1] for display only, the caption keeps the
            real range).
        panel_size: inches per panel.
        title: figure title.
    """
    import matplotlib.pyplot as plt

    pairs = list(pairs)
    if not pairs:
        raise ValueError("patch_pairs_figure needs at least one (name, lr_img, hr_img) triple")
    if hr_range not in ("unit", "signed"):
        raise ValueError(f"hr_range must be 'unit' or 'signed', not {hr_range!r}")
    fig, axes = plt.subplots(2, len(pairs), figsize=(panel_size * len(pairs), panel_size * 2 + 0.9), squeeze=False)
    for column, (name, lr_img, hr_img) in enumerate(pairs):
        shown_hr = (hr_img + 1) / 2 if hr_range == "signed" else hr_img
        for row, (kind, img, display) in enumerate((("LR", lr_img, lr_img), ("HR", hr_img, shown_hr))):
            ax = axes[row, column]
            ax.imshow(_image_array(display), interpolation="nearest")
            shape = "x".join(str(s) for s in img.shape)
            label = f"{kind} {shape}\n[{float(img.min()):.2f}, {float(img.max()):.2f}]"
            ax.set_xlabel(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
        ax.imshow(_image_array(shown[name]), interpolation="nearest")
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
            lr_ax.imshow(_image_array(lr_imgs[name]), interpolation="nearest")
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


def resampling_weights_figure(
    weights: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    centres: Mapping[str, float] | None = None,
    xlabel: str = "HR pixel",
    title: str | None = None,
) -> Figure:
    """The weights that one LR pixel gives to the HR pixels around it, one stem plot per method (lesson 01).

    Shows at a glance how many HR pixels each method mixes (its support), how smooth the
    mixing is, whether some weights are negative (bicubic's lobes sharpen), and where the
    LR pixel sits on the HR grid.

    Args:
        weights: method -> (HR pixel positions, weights), e.g. a row of
            :func:`srgan_edu.degradation.resize_matrix`; weights usually sum to 1.
        centres: method -> the LR pixel's centre in HR pixel coordinates, drawn as a
            dashed line; None: not drawn.
        xlabel: what the positions are.
        title: figure title.

    Returns:
        A figure with one panel per method, sharing both axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(weights)
    if not names:
        raise ValueError("resampling_weights_figure needs at least one method")
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 2.9), sharex=True, sharey=True,
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        positions, values = (np.asarray(part, dtype=float) for part in weights[name])
        used = np.abs(values) > 1e-9
        ax.stem(positions[used], values[used], basefmt=" ")
        ax.axhline(0, color="0.5", linewidth=0.8)
        if centres is not None and name in centres:
            ax.axvline(centres[name], color="tab:red", linestyle="--", linewidth=1,
                       label=f"LR pixel centre {centres[name]:g}")
            ax.legend(fontsize=7, loc="upper right")
        ax.set_title(f"{name}\n{int(used.sum())} taps, sum {values.sum():.3f}", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("weight")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
