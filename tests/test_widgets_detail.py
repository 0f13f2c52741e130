"""widgets.high_frequency_score: the plots' y axis where the VGG19 weights are absent (lesson 07)."""

from __future__ import annotations

import torch

from srgan_edu import degradation, widgets


def test_high_frequency_score_is_one_for_the_photograph_and_small_for_its_blur():
    torch.manual_seed(0)
    hr_img = torch.rand(3, 64, 64)
    score = widgets.high_frequency_score()
    assert score.meaningful and not score.lower_is_better and "high-frequency" in score.label
    assert abs(score(hr_img, hr_img) - 1.0) < 1e-9
    blurred = degradation.upscale(degradation.imresize(hr_img, 1 / 4), 4).clamp(0, 1)
    assert score(blurred, hr_img) < 0.3
    point = widgets.measure_quality(blurred, hr_img, name="bicubic", perceptual=score)
    assert point.perceptual == score(blurred, hr_img)
