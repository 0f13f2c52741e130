"""Lesson-07 widgets without a browser: network interpolation, and each widget built on tiny
models, its controls set from Python, its picture and numbers checked to follow."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from srgan_edu import mos, srresnet, widgets


def _tiny_generator(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return srresnet.SRResNet(num_blocks=1, num_features=8).eval()


def _gradient_distance(sr_img: torch.Tensor, hr_img: torch.Tensor) -> float:
    """A cheap stand-in for a perceptual score (VGG is tested once, below)."""
    def grads(img):
        return img.diff(dim=-1).abs().mean() + img.diff(dim=-2).abs().mean()

    return float((grads(sr_img) - grads(hr_img)).abs())


CHEAP_SCORE = widgets.PerceptualScore(
    label="gradient distance", explanation="a cheap test score", lower_is_better=True, meaningful=False,
    measure=_gradient_distance,
)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(1)
    hr_img = torch.rand(3, 32, 32)
    lr_img = torch.nn.functional.avg_pool2d(hr_img[None], 4)[0]  # (3, 8, 8)
    return lr_img, hr_img


# --- network interpolation -----------------------------------------------------------------


def test_interpolate_state_dicts_blends_floats_and_keeps_ends_exact():
    a = {"w": torch.tensor([0.0, 1.0]), "count": torch.tensor(2), "bn.var": torch.tensor([1.0])}
    b = {"w": torch.tensor([4.0, 3.0]), "count": torch.tensor(10), "bn.var": torch.tensor([3.0])}
    mid = widgets.interpolate_state_dicts(a, b, 0.25)
    assert torch.allclose(mid["w"], torch.tensor([1.0, 1.5]))
    assert torch.allclose(mid["bn.var"], torch.tensor([1.5]))
    assert mid["count"].item() == 2  # integers from the nearer end
    assert widgets.interpolate_state_dicts(a, b, 0.75)["count"].item() == 10
    assert torch.equal(widgets.interpolate_state_dicts(a, b, 0.0)["w"], a["w"])
    assert torch.equal(widgets.interpolate_state_dicts(a, b, 1.0)["w"], b["w"])
    assert a["w"].tolist() == [0.0, 1.0]  # inputs untouched


def test_interpolate_state_dicts_refuses_mismatches():
    a = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match="alpha"):
        widgets.interpolate_state_dicts(a, a, 1.5)
    with pytest.raises(ValueError, match="keys"):
        widgets.interpolate_state_dicts(a, {"v": torch.zeros(2)}, 0.5)
    with pytest.raises(ValueError, match="shape"):
        widgets.interpolate_state_dicts(a, {"w": torch.zeros(3)}, 0.5)


def test_interpolate_generators_matches_a_hand_blend():
    first, second = _tiny_generator(0), _tiny_generator(1)
    first_before = {k: v.clone() for k, v in first.state_dict().items()}
    blended = widgets.interpolate_generators(first, second, 0.3)
    assert not blended.training
    for key, value in blended.state_dict().items():
        a, b = first.state_dict()[key], second.state_dict()[key]
        if a.is_floating_point():
            assert torch.allclose(value, 0.7 * a + 0.3 * b, atol=1e-6), key
    for key, value in first.state_dict().items():
        assert torch.equal(value, first_before[key])
    lr_img = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(widgets.interpolate_generators(first, second, 0.0)(lr_img), first(lr_img))
    with pytest.raises(ValueError, match="architecture"):
        widgets.interpolate_generators(first, srresnet.SRResNet(num_blocks=2, num_features=8), 0.5)
    with pytest.raises(ValueError, match="cannot interpolate"):
        widgets.interpolate_generators(first, torch.nn.Conv2d(3, 3, 3), 0.5)


# --- helpers -------------------------------------------------------------------------------


def test_png_helpers():
    import matplotlib.pyplot as plt

    fig = plt.figure()
    data = widgets.figure_to_png(fig)
    assert data.startswith(b"\x89PNG") and not plt.fignum_exists(fig.number)
    from PIL import Image
    import io

    png = widgets.image_to_png(torch.rand(3, 10, 14))
    assert Image.open(io.BytesIO(png)).size == (14, 10)


def test_model_names_follow_the_paper():
    assert widgets.model_name("mse", 0.0) == "SRResNet-MSE"
    assert widgets.model_name("vgg54", 1e-3) == "SRGAN-VGG54"
    assert widgets.model_name("vgg22", 1e-2) == "SRGAN-VGG22 (1e-2)"


def test_measure_quality_uses_the_paper_protocol(pair):
    from srgan_edu import metrics

    _, hr_img = pair
    sr_img = (hr_img + 0.05 * torch.randn_like(hr_img)).clamp(0, 1)
    point = widgets.measure_quality(sr_img, hr_img, name="noisy", perceptual=CHEAP_SCORE)
    assert point.psnr == pytest.approx(float(metrics.psnr(sr_img, hr_img, scale=4)))
    assert point.ssim == pytest.approx(float(metrics.ssim(sr_img, hr_img, scale=4)))
    assert point.perceptual == pytest.approx(_gradient_distance(sr_img, hr_img))


def test_vgg_score_with_random_weights_says_so(pair):
    _, hr_img = pair
    score = widgets.vgg_perceptual_score(None)
    assert not score.meaningful and score.lower_is_better
    assert "RANDOM" in score.explanation and "random" in score.label
    assert score(hr_img, hr_img) == pytest.approx(0.0, abs=1e-8)
    assert score((hr_img * 0.5), hr_img) > 0


def test_mos_points():
    scores = mos.mos_by_method(mos.simulate_ratings(["a", "b"], num_raters=3))
    points = widgets.mos_points(scores, {"bicubic": 24.0, "SRResNet": 26.0, "SRGAN": 25.0})
    assert [p.name for p in points] == ["bicubic", "SRResNet", "SRGAN"]
    assert points[0].perceptual == pytest.approx(scores["bicubic"].mean)


# --- the widgets ---------------------------------------------------------------------------


def test_comparison_widget_follows_its_window(pair):
    _, hr_img = pair
    torch.manual_seed(2)
    versions = {"HR": hr_img, "blurred": torch.nn.functional.avg_pool2d(hr_img[None], 3, 1, 1)[0],
                "noisy": (hr_img + 0.1 * torch.randn_like(hr_img)).clamp(0, 1)}
    widget = widgets.comparison_widget(versions, zoom=12)
    assert set(widget.scores) == {"blurred", "noisy"}
    before_png, before_numbers = widget.image.value, widget.numbers.value
    widget.top_slider.value = 0
    widget.left_slider.value = 0
    assert widget.image.value != before_png and widget.numbers.value != before_numbers
    widget.size_slider.value = 30
    assert widget.top_slider.max == 2 and widget.left_slider.max == 2
    assert widget.box == (0, 0, 30)
    fig = widget.figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    with pytest.raises(ValueError, match="reference"):
        widgets.comparison_widget({"a": hr_img})
    with pytest.raises(ValueError, match="shape"):
        widgets.comparison_widget({"HR": hr_img, "small": hr_img[:, :16]})


def test_tradeoff_explorer_follows_its_controls(pair):
    lr_img, hr_img = pair
    models = [
        widgets.TradeoffModel("mse", 0.0, _tiny_generator(0)),
        widgets.TradeoffModel("vgg54", 1e-3, _tiny_generator(1)),
        widgets.TradeoffModel("vgg54", 0.0, _tiny_generator(2)),
    ]
    explorer = widgets.tradeoff_explorer(models, lr_img, hr_img, perceptual=CHEAP_SCORE)
    assert explorer.selected == ("vgg54", 1e-3)  # starts at the paper's SRGAN
    labels = [label for label, _ in explorer.weight_slider.options]
    assert labels == ["0", "1e-4", "1e-3 (paper)", "1e-2"]
    assert "SRGAN-VGG54" in explorer.numbers.value
    png = explorer.image.value
    explorer.weight_slider.value = 0.0
    assert "SRResNet-VGG54" in explorer.numbers.value and explorer.image.value != png
    explorer.content_buttons.value = "mse"
    assert "SRResNet-MSE" in explorer.numbers.value
    explorer.content_buttons.value = "vgg22"
    assert "not trained" in explorer.numbers.value
    assert isinstance(explorer.figure(), Figure)
    assert len(explorer.points) == 3


def test_interpolation_explorer_follows_its_slider(pair):
    lr_img, hr_img = pair
    explorer = widgets.interpolation_explorer(_tiny_generator(0), _tiny_generator(1), lr_img, hr_img,
                                              perceptual=CHEAP_SCORE, steps=5)
    assert [p.alpha for p in explorer.path] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert "alpha=0.00" in explorer.numbers.value
    png, numbers = explorer.image.value, explorer.numbers.value
    explorer.alpha_slider.value = 0.5
    assert explorer.image.value != png
    assert explorer.numbers.value != numbers and "alpha=0.50" in explorer.numbers.value
    assert explorer.evaluate(0.5)[1] is explorer.path[2]  # cached, not recomputed
    half = explorer.image.value
    explorer.alpha_slider.value = 0.0
    assert explorer.image.value == png  # each view is drawn once and reused
    explorer.alpha_slider.value = 0.5
    assert explorer.image.value == half
    sr_img, point = explorer.evaluate(1.0)
    assert sr_img.shape == hr_img.shape and 0 <= sr_img.min() and sr_img.max() <= 1
    assert math.isfinite(point.psnr)
    assert isinstance(explorer.figure(), Figure)


def test_rating_widget_saves_each_click(tmp_path, pair):
    _, hr_img = pair
    versions = {"a": {"HR": hr_img, "dark": hr_img * 0.5}, "b": {"HR": hr_img.flip(-1), "dark": hr_img.flip(-1) * 0.5}}
    csv_path = tmp_path / "class" / "ratings.csv"
    widget = widgets.rating_widget(versions, csv_path, session="test")
    assert widget.session.rater.startswith("rater-")
    first_png = widget.image.value
    assert "Image 1 of 4" in widget.progress.value
    widget.buttons[3].click()  # "4 good"
    stored = mos.read_ratings(csv_path)
    assert len(stored) == 1 and stored[0].score == 4 and stored[0].session == "test"
    assert "saved 1 of 4" in widget.message.value
    assert "Image 2 of 4" in widget.progress.value and widget.image.value != first_png
    for button in (0, 4, 1):
        widget.buttons[button].click()
    assert [r.score for r in mos.read_ratings(csv_path)] == [4, 1, 5, 2]
    assert all(b.disabled for b in widget.buttons) and "Done" in widget.progress.value
    assert widget.rate(3) is None and len(mos.read_ratings(csv_path)) == 4
    assert isinstance(widget.figure(), Figure)


def test_rating_widget_resumes_the_same_anonymous_rater(tmp_path, pair):
    _, hr_img = pair
    versions = {"a": {"HR": hr_img, "dark": hr_img * 0.5}}
    csv_path = tmp_path / "ratings.csv"
    widget = widgets.rating_widget(versions, csv_path, session="test")
    widget.buttons[4].click()
    again = widgets.rating_widget(versions, csv_path, session="test")  # the cell run a second time
    assert again.session.rater == widget.session.rater == widgets.default_rater_id()
    assert "Welcome back" in again.progress.value and "Image 2 of 2" in again.progress.value
    again.buttons[0].click()
    assert [r.score for r in mos.read_ratings(csv_path)] == [5, 1]
    assert "Welcome back" not in again.progress.value


def test_rating_widget_reports_a_failed_save(tmp_path, pair, monkeypatch):
    _, hr_img = pair
    widget = widgets.rating_widget({"a": {"HR": hr_img}}, tmp_path / "r.csv", rater="ada")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mos, "append_ratings", broken)
    assert widget.rate(3) is None
    assert "Not saved" in widget.message.value and not widget.session.done
    assert not any(b.disabled for b in widget.buttons)
