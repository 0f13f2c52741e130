"""Figures of lesson 05, the discriminator (eq. 2): the logit losses, D's scores on SR and HR.

Images are (C, H, W) float tensors in [0, 1] unless a function says otherwise; the functions
never change their inputs and return the figure (see :mod:`srgan_edu.viz`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure


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
