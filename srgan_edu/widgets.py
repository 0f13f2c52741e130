"""Widgets of lesson 07: see, and feel, that PSNR and perceived quality disagree (sec. 3).

The paper's central claim is that a higher PSNR does not mean a better looking picture:
SRResNet trained with MSE wins on PSNR, SRGAN trained with the VGG content loss and the
adversarial term wins with human raters (MOS 3.72 against SRResNet's lower score on
Set14, with 4.32 for the real HR images). The widgets here let a learner look at that:

- :func:`comparison_widget`: HR, bicubic, SRResNet and SRGAN side by side, a movable zoom
  window on the same region of each, PSNR and SSIM under each picture;
- :func:`tradeoff_explorer`: the adversarial weight (0 to 1e-2, log scale, the paper's
  1e-3 marked) and the content loss (MSE, VGG phi_2,2, VGG phi_5,4) pick a trained model;
  its output is shown with its place on a plot of PSNR against a perceptual score;
- :func:`interpolation_explorer`: network interpolation (Wang et al., ESRGAN, 2018):
  the weights (1 - alpha) * theta_SRResNet + alpha * theta_SRGAN give one generator per
  alpha, tracing a path from the PSNR end to the perceptual end;
- :func:`rating_widget`: the blind rating of the paper's MOS test, scores saved to the
  class's CSV file (statistics in :mod:`srgan_edu.mos`).

What the widgets measure (PSNR against a perceptual score, the paper's model names, network
interpolation) is in :mod:`srgan_edu.tradeoffs`, which has no widget in it; its names are
re-exported here, as lesson 07 calls ``widgets.measure_quality(...)``.

Each widget is an ``ipywidgets.VBox`` (JupyterLab, ipywidgets 8) whose picture is drawn by
a function of :mod:`srgan_edu.viz`; its ``figure()`` method returns the same picture as a
matplotlib figure, the non-interactive form used by tests and executed notebooks.

Images are (3, H, W) float tensors in [0, 1]; generators map an LR image in [0, 1] to an
SR image in [-1, 1] (:func:`srgan_edu.evaluation.super_resolve` does the conversion).
"""

from __future__ import annotations

import getpass
import hashlib
import html
import io
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from srgan_edu import images, metrics, mos, tradeoffs, viz
from srgan_edu.tradeoffs import (  # noqa: F401  (re-exported: lesson 07 and its exercise call widgets.measure_quality(...))
    CONTENT_LOSSES,
    PAPER_ADVERSARIAL_WEIGHT,
    PerceptualScore,
    QualityPoint,
    TradeoffModel,
    high_frequency_score,
    interpolate_generators,
    interpolate_state_dicts,
    measure_quality,
    model_name,
    mos_points,
    vgg_perceptual_score,
)

# What a widget's text form says (a saved notebook viewed where widgets do not run).
_STATIC_NOTE = "live in JupyterLab; the figure below shows the same view"
# Stops of the adversarial weight slider: 0, then a log scale around the paper's 1e-3.
ADVERSARIAL_WEIGHT_STEPS = (0.0, 1e-4, 1e-3, 1e-2)


# --- pictures as bytes ---------------------------------------------------------------------


def figure_to_png(fig: Figure, *, dpi: int = 72) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it (what a widget's Image shows)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def image_to_png(img: torch.Tensor) -> bytes:
    """A (C, H, W) image in [0, 1] as 8-bit PNG bytes, pixel for pixel (no resampling)."""
    from PIL import Image

    array = images.to_uint8(img.detach().clamp(0, 1))
    pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


def _picture(css_class: str, width: int | None = None) -> widgets.Image:
    """An Image widget shown at its own size (a VBox would otherwise stretch it to full width)."""
    layout = widgets.Layout(align_self="flex-start", width=f"{width}px" if width else "auto")
    picture = widgets.Image(format="png", layout=layout)
    picture.add_class(css_class)
    return picture


def _note(text: str) -> str:
    """Small explanatory text (the HTML widget's default line height is that of a control)."""
    return f'<div style="line-height: 1.35; font-size: 90%; max-width: 60em">{html.escape(text)}</div>'


def _numbers_html(css_class: str, text: str) -> str:
    return f'<span class="{css_class}">{html.escape(text)}</span>'


# --- the before/after comparison -----------------------------------------------------------


class ComparisonWidget(widgets.VBox):
    """Versions of one image side by side with a movable zoom window (see :func:`comparison_widget`)."""

    def __init__(
        self, versions: Mapping[str, torch.Tensor], *, reference: str = "HR", scale: int = 4, zoom: int = 48,
        dpi: int = 72,
    ) -> None:
        if reference not in versions:
            raise ValueError(f"the reference {reference!r} is not among the versions {list(versions)}")
        hr_img = versions[reference]
        for name, img in versions.items():
            if img.shape != hr_img.shape:
                raise ValueError(f"{name} has shape {tuple(img.shape)}, {reference} {tuple(hr_img.shape)}; "
                                 "crop them to one size (images.modcrop)")
        self.versions = dict(versions)
        self.reference = reference
        self.scale = scale
        self.dpi = dpi
        self.scores = {
            name: (float(metrics.psnr(img, hr_img, scale=scale)), float(metrics.ssim(img, hr_img, scale=scale)))
            for name, img in versions.items()
            if name != reference
        }
        height, width = hr_img.shape[-2:]
        zoom = max(8, min(zoom, height, width))
        self.size_slider = widgets.IntSlider(value=zoom, min=8, max=min(height, width), description="window",
                                             continuous_update=False)
        self.top_slider = widgets.IntSlider(value=(height - zoom) // 2, min=0, max=height - zoom,
                                            description="row", continuous_update=False)
        self.left_slider = widgets.IntSlider(value=(width - zoom) // 2, min=0, max=width - zoom,
                                             description="column", continuous_update=False)
        self.image = _picture("srgan-picture")
        self.numbers = widgets.HTML()
        self._adjusting = False
        for slider in (self.size_slider, self.top_slider, self.left_slider):
            slider.observe(self._on_change, names="value")
        controls = widgets.HBox([self.top_slider, self.left_slider, self.size_slider])
        super().__init__([controls, self.image, self.numbers])
        self._redraw()

    def __repr__(self) -> str:  # the text a saved notebook shows where widgets do not run
        return f"[before/after comparison widget: {_STATIC_NOTE}]"

    @property
    def box(self) -> tuple[int, int, int]:
        """The zoom window as (top, left, size) in HR pixels."""
        return self.top_slider.value, self.left_slider.value, self.size_slider.value

    def figure(self) -> Figure:
        """The current view as a matplotlib figure (:func:`srgan_edu.viz.comparison_figure`)."""
        return viz.comparison_figure(self.versions, box=self.box, scores=self.scores, reference=self.reference)

    def window_psnr(self) -> dict[str, float]:
        """PSNR inside the zoom window only (no border shaved): regions disagree a lot."""
        top, left, size = self.box
        hr_crop = self.versions[self.reference][..., top : top + size, left : left + size]
        return {
            name: float(metrics.psnr(img[..., top : top + size, left : left + size], hr_crop, shave=0))
            for name, img in self.versions.items()
            if name != self.reference
        }

    def _on_change(self, change) -> None:
        if self._adjusting:
            return
        if change["owner"] is self.size_slider:
            height, width = self.versions[self.reference].shape[-2:]
            self._adjusting = True
            try:  # keep the window inside the picture
                self.top_slider.max = height - self.size_slider.value
                self.left_slider.max = width - self.size_slider.value
            finally:
                self._adjusting = False
        self._redraw()

    def _redraw(self) -> None:
        self.image.value = figure_to_png(self.figure(), dpi=self.dpi)
        inside = ", ".join(f"{name} {value:.2f} dB" for name, value in self.window_psnr().items())
        self.numbers.value = _numbers_html("srgan-numbers", f"PSNR inside the window: {inside}")


def comparison_widget(
    versions: Mapping[str, torch.Tensor], *, reference: str = "HR", scale: int = 4, zoom: int = 48, dpi: int = 72
) -> ComparisonWidget:
    """HR, bicubic, SRResNet and SRGAN side by side, with one zoom window moved over all.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    PSNR and SSIM (of the whole image, paper protocol) are written under each picture;
    below, the PSNR inside the window shows how much it varies from region to region.

    Args:
        versions: name -> (3, H, W) image in [0, 1], all of one size, in display order.
        reference: the ground truth among ``versions``.
        scale: the upscaling factor (the border shaved for PSNR and SSIM).
        zoom: the initial window size in pixels.
        dpi: resolution of the rendered picture.
    """
    return ComparisonWidget(versions, reference=reference, scale=scale, zoom=zoom, dpi=dpi)


# --- the trade-off explorer ----------------------------------------------------------------


class TradeoffExplorer(widgets.VBox):
    """Pick a content loss and an adversarial weight; see the model's output and its place
    on the PSNR-perception plot (see :func:`tradeoff_explorer`)."""

    def __init__(
        self,
        models: Sequence[TradeoffModel],
        lr_img: torch.Tensor,
        hr_img: torch.Tensor,
        *,
        perceptual: PerceptualScore,
        scale: int = 4,
        extra_points: Sequence[QualityPoint] = (),
        path: Sequence[QualityPoint] = (),
        box: tuple[int, int, int] | None = None,
        dpi: int = 72,
    ) -> None:
        if not models:
            raise ValueError("the trade-off explorer needs at least one trained model")
        unknown = {m.content_loss for m in models} - set(CONTENT_LOSSES)
        if unknown:
            raise ValueError(f"unknown content losses {sorted(unknown)}; use {list(CONTENT_LOSSES)}")
        self.hr_img = hr_img
        self.perceptual = perceptual
        self.box = box
        self.dpi = dpi
        self.path = list(path)
        self._pictures: dict[tuple[str, float], bytes] = {}
        self.outputs: dict[tuple[str, float], tuple[torch.Tensor, QualityPoint]] = {}
        for model in models:
            sr_img = tradeoffs.super_resolve_on_cpu(model.generator, lr_img)
            point = measure_quality(sr_img, hr_img, name=model.name, scale=scale, perceptual=perceptual,
                                    content_loss=model.content_loss, adversarial_weight=model.adversarial_weight)
            self.outputs[(model.content_loss, float(model.adversarial_weight))] = (sr_img, point)
        self.points = [point for _, point in self.outputs.values()] + list(extra_points)
        weights = sorted(set(ADVERSARIAL_WEIGHT_STEPS) | {w for _, w in self.outputs})
        start = max(self.outputs, key=lambda key: (key[1] == PAPER_ADVERSARIAL_WEIGHT, key[0] == "vgg54"))
        self.weight_slider = widgets.SelectionSlider(
            options=[(tradeoffs.weight_label(w), w) for w in weights], value=start[1], description="adversarial weight",
            style={"description_width": "initial"}, layout=widgets.Layout(width="420px"),
        )
        self.content_buttons = widgets.ToggleButtons(
            options=[(label, key) for key, label in CONTENT_LOSSES.items()], value=start[0],
            description="content loss", style={"description_width": "initial"},
        )
        self.image = _picture("srgan-picture")
        self.numbers = widgets.HTML()
        self.weight_slider.observe(self._redraw, names="value")
        self.content_buttons.observe(self._redraw, names="value")
        note = widgets.HTML(_note(perceptual.explanation))
        super().__init__([widgets.HBox([self.content_buttons]), self.weight_slider, self.image, self.numbers, note])
        self._redraw()

    def __repr__(self) -> str:
        return f"[trade-off explorer widget: {_STATIC_NOTE}]"

    @property
    def selected(self) -> tuple[str, float]:
        """(content loss, adversarial weight) chosen in the controls."""
        return self.content_buttons.value, float(self.weight_slider.value)

    def figure(self) -> Figure:
        """The current view as a matplotlib figure (:func:`srgan_edu.viz.tradeoff_figure`)."""
        found = self.outputs.get(self.selected)
        content, weight = self.selected
        if found is None:
            sr_img, name = None, None
            caption = (f"{model_name(content, weight)} was not trained or loaded in this run (the course ships "
                       "SRResNet-MSE and SRGAN-MSE; add yours as checkpoints)")
        else:
            sr_img, point = found
            name = point.name
            caption = _caption(point, self.perceptual)
        return viz.tradeoff_figure(sr_img, self.hr_img, self.points, current=name, path=self.path, box=self.box,
                                   caption=caption, perceptual_label=self.perceptual.label,
                                   lower_is_better=self.perceptual.lower_is_better)

    def _redraw(self, change=None) -> None:
        # Each view is drawn once: the slider then stays live while it is dragged.
        if self.selected not in self._pictures:
            self._pictures[self.selected] = figure_to_png(self.figure(), dpi=self.dpi)
        self.image.value = self._pictures[self.selected]
        found = self.outputs.get(self.selected)
        text = (_caption(found[1], self.perceptual) if found is not None
                else f"{model_name(*self.selected)}: not trained or loaded in this run")
        self.numbers.value = _numbers_html("srgan-numbers", text)


def _caption(point: QualityPoint, perceptual: PerceptualScore) -> str:
    return (f"{point.name}: PSNR {point.psnr:.2f} dB, SSIM {point.ssim:.3f}, "
            f"{perceptual.label} {point.perceptual:.4g}")


def tradeoff_explorer(
    models: Sequence[TradeoffModel],
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    perceptual: PerceptualScore,
    scale: int = 4,
    extra_points: Sequence[QualityPoint] = (),
    path: Sequence[QualityPoint] = (),
    box: tuple[int, int, int] | None = None,
    dpi: int = 72,
) -> TradeoffExplorer:
    """The loss trade-offs of the paper's table 1 as two controls and a plot.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    A slider picks the adversarial weight (0, then a log scale to 1e-2 with the paper's
    1e-3 marked) and buttons pick the content loss (MSE, VGG phi_2,2, VGG phi_5,4). The
    model trained that way is shown beside the ground truth, ringed on a plot of PSNR
    against the perceptual score. Combinations not trained in this run say so.

    Args:
        models: the trained models (the notebook's grid, or checkpoints of full runs).
        lr_img: the LR input, (3, h, w) in [0, 1]; a crop keeps the widget fast.
        hr_img: its ground truth, (3, scale*h, scale*w) in [0, 1].
        perceptual: the y axis (:func:`vgg_perceptual_score`).
        scale: the upscaling factor.
        extra_points: more points for the plot (e.g. bicubic).
        path: an interpolation path to draw (``InterpolationExplorer.path``).
        box: a zoom window (top, left, size) in HR pixels; None shows the whole crop.
        dpi: resolution of the rendered picture.
    """
    return TradeoffExplorer(models, lr_img, hr_img, perceptual=perceptual, scale=scale, extra_points=extra_points,
                            path=path, box=box, dpi=dpi)


# --- the interpolation explorer ------------------------------------------------------------


class InterpolationExplorer(widgets.VBox):
    """Blend SRResNet into SRGAN with one slider (see :func:`interpolation_explorer`)."""

    def __init__(
        self,
        srresnet: nn.Module,
        srgan: nn.Module,
        lr_img: torch.Tensor,
        hr_img: torch.Tensor,
        *,
        perceptual: PerceptualScore,
        scale: int = 4,
        steps: int = 11,
        extra_points: Sequence[QualityPoint] = (),
        box: tuple[int, int, int] | None = None,
        dpi: int = 72,
    ) -> None:
        if steps < 2:
            raise ValueError("steps must be at least 2 (alpha = 0 and alpha = 1)")
        self.srresnet, self.srgan = srresnet, srgan
        self.lr_img, self.hr_img = lr_img, hr_img
        self.perceptual = perceptual
        self.scale = scale
        self.box = box
        self.dpi = dpi
        self.extra_points = list(extra_points)
        self._cache: dict[float, tuple[torch.Tensor, QualityPoint]] = {}
        self._pictures: dict[float, bytes] = {}
        self.alphas = [round(i / (steps - 1), 6) for i in range(steps)]
        self.path = [self.evaluate(alpha)[1] for alpha in self.alphas]
        self.alpha_slider = widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=1 / (steps - 1), description="alpha", readout_format=".2f",
            layout=widgets.Layout(width="420px"),
        )
        self.alpha_slider.add_class("srgan-alpha")
        self.image = _picture("srgan-picture")
        self.numbers = widgets.HTML()
        self.alpha_slider.observe(self._redraw, names="value")
        explanation = widgets.HTML(_note(
            "alpha = 0: the SRResNet (trained for PSNR); alpha = 1: the SRGAN generator. In between, every weight "
            "is (1 - alpha) * SRResNet + alpha * SRGAN. " + perceptual.explanation
        ))
        super().__init__([self.alpha_slider, self.image, self.numbers, explanation])
        self.add_class("srgan-interpolation")
        self._redraw()

    def __repr__(self) -> str:
        return f"[interpolation explorer widget: {_STATIC_NOTE}]"

    def evaluate(self, alpha: float) -> tuple[torch.Tensor, QualityPoint]:
        """The output of the blended generator at ``alpha`` and its measurements (cached)."""
        alpha = round(float(alpha), 6)
        if alpha not in self._cache:
            generator = interpolate_generators(self.srresnet, self.srgan, alpha)
            sr_img = tradeoffs.super_resolve_on_cpu(generator, self.lr_img)
            point = measure_quality(sr_img, self.hr_img, name=f"alpha={alpha:.2f}", scale=self.scale,
                                    perceptual=self.perceptual, alpha=alpha)
            self._cache[alpha] = (sr_img, point)
        return self._cache[alpha]

    def figure(self) -> Figure:
        """The current view as a matplotlib figure (:func:`srgan_edu.viz.tradeoff_figure`)."""
        sr_img, point = self.evaluate(self.alpha_slider.value)
        return viz.tradeoff_figure(sr_img, self.hr_img, self.extra_points, current=point.name, path=self.path,
                                   box=self.box, caption=_caption(point, self.perceptual),
                                   perceptual_label=self.perceptual.label,
                                   lower_is_better=self.perceptual.lower_is_better)

    def _redraw(self, change=None) -> None:
        alpha = round(float(self.alpha_slider.value), 6)
        if alpha not in self._pictures:  # drawn once per alpha: the slider stays live while dragged
            self._pictures[alpha] = figure_to_png(self.figure(), dpi=self.dpi)
        self.image.value = self._pictures[alpha]
        _, point = self.evaluate(alpha)
        self.numbers.value = _numbers_html("srgan-numbers", _caption(point, self.perceptual))


def interpolation_explorer(
    srresnet: nn.Module,
    srgan: nn.Module,
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    *,
    perceptual: PerceptualScore,
    scale: int = 4,
    steps: int = 11,
    extra_points: Sequence[QualityPoint] = (),
    box: tuple[int, int, int] | None = None,
    dpi: int = 72,
) -> InterpolationExplorer:
    """A slider alpha from SRResNet (0) to SRGAN (1) by network interpolation.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    The picture and the PSNR-perception plot follow the slider; the whole path (``steps``
    values of alpha) is computed once at the start, so that the plot shows where the
    current blend sits on it.

    Args:
        srresnet: the generator trained for PSNR (alpha = 0).
        srgan: the same architecture fine-tuned adversarially (alpha = 1).
        lr_img: the LR input, (3, h, w) in [0, 1]; a crop keeps the widget fast.
        hr_img: its ground truth, (3, scale*h, scale*w) in [0, 1].
        perceptual: the y axis (:func:`vgg_perceptual_score`).
        scale: the upscaling factor.
        steps: how many values of alpha the slider offers (11: steps of 0.1).
        extra_points: more points for the plot (e.g. bicubic).
        box: a zoom window (top, left, size) in HR pixels; None shows the whole crop.
        dpi: resolution of the rendered picture.
    """
    return InterpolationExplorer(srresnet, srgan, lr_img, hr_img, perceptual=perceptual, scale=scale, steps=steps,
                                 extra_points=extra_points, box=box, dpi=dpi)


# --- the blind rating ----------------------------------------------------------------------


class RatingWidget(widgets.VBox):
    """One unlabeled image at a time and five buttons (see :func:`rating_widget`)."""

    def __init__(self, session: mos.RatingSession, *, width: int | None = None) -> None:
        self.session = session
        self.progress = widgets.HTML()
        self.image = _picture("srgan-rating-picture", width)
        self.buttons = []
        for score, word in mos.SCORE_LABELS.items():
            button = widgets.Button(description=f"{score} {word}", tooltip=f"score {score}: {word}",
                                    layout=widgets.Layout(width="110px"))
            button.add_class(f"srgan-rate-{score}")
            button.on_click(lambda _button, score=score: self.rate(score))
            self.buttons.append(button)
        self.message = widgets.HTML()
        self.message.add_class("srgan-rating-message")
        super().__init__([self.progress, self.image, widgets.HBox(self.buttons), self.message])
        self._show()

    def __repr__(self) -> str:
        return "[blind rating widget: live in JupyterLab, where each click saves a score]"

    def rate(self, score: int) -> mos.Rating | None:
        """What a click does: save the score for the current image and show the next."""
        if self.session.done:
            return None
        for button in self.buttons:
            button.disabled = True
        try:
            rating = self.session.rate(score)
        except OSError as err:  # a full disk, a vanished network folder: say so, keep the image
            self.message.value = f"<b>Not saved:</b> {html.escape(str(err))}. Try again."
            self._enable(True)
            return None
        self.message.value = (f"saved {self.session.position} of {len(self.session.trials)} "
                              f"to {html.escape(str(self.session.csv_path))}")
        self._show()
        return rating

    def figure(self) -> Figure:
        """The plan as a printable blind rating sheet (:func:`srgan_edu.viz.rating_sheet_figure`)."""
        return viz.rating_sheet_figure(self.session.trials, self.session.versions)

    def _enable(self, enabled: bool) -> None:
        for button in self.buttons:
            button.disabled = not enabled

    def _show(self) -> None:
        trial = self.session.current
        if trial is None:
            self.progress.value = f"<b>Done, thank you.</b> {len(self.session.trials)} ratings saved."
            self._enable(False)
            return
        total = len(self.session.trials)
        welcome = (f"Welcome back, {html.escape(self.session.rater)}: {self.session.resumed} of {total} "
                   "were rated already. " if self.session.resumed and self.session.position == self.session.resumed
                   else "")
        self.progress.value = (f"{welcome}Image {trial.index + 1} of {total} (code {trial.code}): how good does it "
                               "look? 1 = bad, 5 = excellent. Judge the picture, not the content.")
        self.image.value = image_to_png(self.session.current_image())
        self._enable(True)


def default_rater_id() -> str:
    """An anonymous rater id that stays the same for one user account on one computer."""
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError):  # no user name to be had (some containers)
        who = f"uid{os.getuid() if hasattr(os, 'getuid') else 0}@{socket.gethostname()}"
    return "rater-" + hashlib.sha256(who.encode()).hexdigest()[:6]


def rating_widget(
    versions: Mapping[str, Mapping[str, torch.Tensor]],
    csv_path: str | Path,
    *,
    rater: str | None = None,
    session: str = "class",
    seed: int | None = None,
    width: int | None = None,
) -> RatingWidget:
    """The paper's MOS test for one rater: blind, shuffled, each score saved at once.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    Every version of every image (HR included, as the anchor) is shown once, in an order
    of its own for each rater, under a neutral code. Each click appends a row to the
    class's CSV file (``mos.append_ratings``: safe with many raters at once), so closing
    the notebook midway loses nothing.

    Args:
        versions: image name -> method -> (3, H, W) image in [0, 1].
        csv_path: the class's ratings file.
        rater: a name or id (default: :func:`default_rater_id`, anonymous but the same every
            time for this user account on this computer, so that running the cell again goes
            on with the same rater's session instead of counting a new rater).
        session: the session's name, written in every row.
        seed: the order (default: from the rater's name).
        width: display width in pixels (default: the image's own).
    """
    rater = rater or default_rater_id()
    return RatingWidget(mos.RatingSession(versions, Path(csv_path), rater=rater, session=session, seed=seed),
                        width=width)
