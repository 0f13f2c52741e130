"""Figures of lessons 06 and 08: training curves, live curves, sample grids, D balance."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from srgan_edu import viz
from srgan_edu.images import save_image
from srgan_edu.training import History


def _srgan_history(steps=(10, 20, 30), d_wins=False) -> History:
    rows = []
    for i, step in enumerate(steps):
        d_real = 0.6 + 0.1 * i if d_wins else 0.55
        d_fake = 0.4 - 0.15 * i if d_wins else 0.45
        rows.append({"step": step, "discriminator_loss": 1.3 - 0.3 * i, "d_real": d_real, "d_fake": d_fake,
                     "generator_loss": 0.05, "content_loss": 0.05 / (i + 1), "adversarial_loss": 0.7 + i,
                     "learning_rate": 1e-4, "images_per_second": 50.0})
    return History(rows)


def test_training_curves_for_srresnet_show_the_content_loss_only():
    history = History([{"step": s, "content_loss": 10.0 ** -s, "learning_rate": 1e-4} for s in (1, 2, 3)])
    fig = viz.training_curves_figure(history)
    assert [ax.get_title() for ax in fig.axes] == ["content loss"]
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_training_curves_for_srgan_have_every_panel_and_marks():
    validation = [{"step": 20, "psnr": 24.0, "ssim": 0.7}, {"step": 30, "psnr": 24.5, "ssim": 0.72}]
    fig = viz.training_curves_figure(_srgan_history(), validation, marks={"resumed": 20}, title="run")
    titles = [ax.get_title() for ax in fig.axes]
    assert fig.axes[0].get_yscale() == "linear", "a loss within one decade keeps a linear axis"
    assert titles == ["content loss", "adversarial losses", "discriminator outputs", "validation PSNR"]
    d_panel = fig.axes[2]
    labels = [line.get_label() for line in d_panel.get_lines()]
    assert "D(x): real HR crops" in labels and "D(G(z)): generator outputs" in labels
    assert d_panel.get_ylim()[0] < 0 < 1 < d_panel.get_ylim()[1]
    assert any(line.get_xdata()[0] == 20 and line.get_linestyle() == ":" for line in fig.axes[0].get_lines())
    plt.close(fig)


def test_training_curves_refuse_an_empty_history():
    with pytest.raises(ValueError, match="nothing to plot"):
        viz.training_curves_figure([])


def test_live_curves_draw_once_then_update_in_place_and_always_draw_the_end(monkeypatch):
    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", fig))

    def display(fig, display_id=False):
        shown.append(("display", fig))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    live = viz.LiveTrainingCurves(total_steps=30, min_seconds=3600)
    history = _srgan_history()
    live(History(history.rows[:1]))
    live(History(history.rows[:2]))  # within min_seconds: skipped
    live(history)  # the last step: drawn anyway
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert live.draws == 2
    assert not plt.get_fignums(), "live figures are closed after being shown"


def test_sample_grid_figure_reads_the_saved_png(tmp_path):
    grid = torch.rand(3, 2 * 32 + 6, 3 * 32 + 8)
    path = save_image(grid, tmp_path / "step_00000010.png")
    fig = viz.sample_grid_figure(path)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["bicubic", "generator", "HR"]
    assert ax.get_title() == "step_00000010.png"
    plt.close(fig)
    plt.close(viz.sample_grid_figure(grid, title="tensor"))


def test_discriminator_balance_figure_puts_runs_side_by_side():
    fig = viz.discriminator_balance_figure({"balanced": _srgan_history(), "D wins": _srgan_history(d_wins=True)})
    assert [ax.get_title() for ax in fig.axes] == ["balanced", "D wins"]
    assert "D(G(z)) 0.10" in " ".join(t.get_text() for t in fig.axes[1].texts)
    plt.close(fig)
