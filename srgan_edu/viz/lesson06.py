"""Figures of lessons 06 and 08, adversarial training (eq. 1-3 and 6): training curves (also live), sample grids, D's balance.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from srgan_edu.images import load_image
from srgan_edu.viz._style import image_array

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

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

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

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

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

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
        title = title if title is not None else Path(grid).name
        grid = load_image(grid)
    height_in = width * grid.shape[-2] / grid.shape[-1]
    fig, ax = plt.subplots(figsize=(width, height_in + 0.6))
    ax.imshow(image_array(grid), interpolation="nearest")
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

    Lesson 06 (``notebooks/06_adversarial_training.ipynb``).

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
