"""metrics.py against scikit-image and against numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srgan_edu import metrics
from srgan_edu.images import rgb_to_y


@pytest.fixture
def pair():
    generator = torch.Generator().manual_seed(1)
    hr_img = torch.rand(3, 40, 44, generator=generator, dtype=torch.float64)
    sr_img = (hr_img + 0.05 * torch.randn(hr_img.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    return sr_img, hr_img


def test_psnr_by_hand():
    hr_img = torch.zeros(1, 10, 10)
    sr_img = torch.full((1, 10, 10), 0.1)  # MSE = 0.01 -> 20 dB
    assert metrics.psnr(sr_img, hr_img) == pytest.approx(20.0)
    assert metrics.psnr(sr_img * 255, hr_img, data_range=255) == pytest.approx(20.0)
    assert metrics.psnr(hr_img, hr_img) == math.inf
    assert metrics.mse_to_psnr(0.01) == pytest.approx(20.0)


def test_psnr_rgb_matches_scikit_image(pair):
    sr_img, hr_img = pair
    expected = peak_signal_noise_ratio(hr_img.numpy(), sr_img.numpy(), data_range=1.0)
    assert metrics.psnr(sr_img, hr_img, y_channel=False) == pytest.approx(expected, abs=1e-10)


def test_psnr_on_y_with_shave_matches_scikit_image(pair):
    sr_img, hr_img = pair
    sr_y, hr_y = rgb_to_y(sr_img)[0, 4:-4, 4:-4], rgb_to_y(hr_img)[0, 4:-4, 4:-4]
    expected = peak_signal_noise_ratio(hr_y.numpy(), sr_y.numpy(), data_range=1.0)
    assert metrics.psnr(sr_img, hr_img, scale=4) == pytest.approx(expected, abs=1e-10)
    assert metrics.psnr(sr_img, hr_img, shave=4) == pytest.approx(expected, abs=1e-10)
    assert metrics.psnr(sr_img, hr_img, scale=4) != pytest.approx(metrics.psnr(sr_img, hr_img, shave=0))


def test_ssim_matches_scikit_image(pair):
    sr_img, hr_img = pair
    options = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    expected_rgb = structural_similarity(hr_img.numpy(), sr_img.numpy(), channel_axis=0, **options)
    assert metrics.ssim(sr_img, hr_img, y_channel=False) == pytest.approx(expected_rgb, abs=1e-10)
    sr_y, hr_y = rgb_to_y(sr_img)[0, 3:-3, 3:-3], rgb_to_y(hr_img)[0, 3:-3, 3:-3]
    expected_y = structural_similarity(hr_y.numpy(), sr_y.numpy(), **options)
    assert metrics.ssim(sr_img, hr_img, scale=3) == pytest.approx(expected_y, abs=1e-10)


def test_ssim_by_hand():
    img = torch.rand(1, 20, 20)
    assert metrics.ssim(img, img) == pytest.approx(1.0)
    # Two flat images: SSIM reduces to the luminance term (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1).
    a, b = torch.full((1, 16, 16), 0.2), torch.full((1, 16, 16), 0.6)
    c1 = (0.01) ** 2
    assert metrics.ssim(a, b) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1))


def test_batches_give_one_value_per_image(pair):
    sr_img, hr_img = pair
    values = metrics.psnr(torch.stack([sr_img, hr_img]), torch.stack([hr_img, hr_img]), scale=4)
    assert values.shape == (2,)
    assert float(values[0]) == pytest.approx(metrics.psnr(sr_img, hr_img, scale=4), abs=1e-4)
    assert math.isinf(float(values[1]))
    assert metrics.ssim(torch.stack([sr_img, sr_img]), torch.stack([hr_img, hr_img])).shape == (2,)


def test_a_greyscale_image_is_taken_as_y():
    y_hr, y_sr = torch.rand(1, 24, 24), torch.rand(1, 24, 24)
    expected = peak_signal_noise_ratio(y_hr[0, 4:-4, 4:-4].numpy(), y_sr[0, 4:-4, 4:-4].numpy(), data_range=1.0)
    assert metrics.psnr(y_sr, y_hr, scale=4) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "sr_img, hr_img, kwargs, message",
    [
        (torch.rand(3, 10, 10), torch.rand(3, 12, 12), {}, "modcrop"),
        (torch.rand(10, 10, 3), torch.rand(10, 10, 3), {}, "permute"),
        (torch.rand(3, 10, 10) * 255, torch.rand(3, 10, 10), {}, r"\[0, 255\] image"),
        (torch.rand(3, 10, 10), torch.rand(3, 10, 10) * 2 - 1, {}, r"\[-1, 1\] image.*to_unit"),
        (torch.rand(3, 10, 10), torch.rand(3, 10, 10), {"shave": 5}, "cannot shave"),
        (torch.rand(3, 10, 10), torch.rand(3, 10, 10), {"data_range": 0}, "data_range"),
    ],
)
def test_bad_input_is_explained(sr_img, hr_img, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.psnr(sr_img, hr_img, **kwargs)


def test_a_slight_bicubic_overshoot_below_zero_is_accepted():
    hr_img = torch.rand(3, 12, 12)
    assert metrics.psnr(hr_img - 0.05, hr_img) > 20


def test_ssim_needs_a_window_worth_of_pixels():
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(torch.rand(1, 12, 12), torch.rand(1, 12, 12), scale=2)


def test_numpy_inputs_are_refused_with_a_hint():
    with pytest.raises(TypeError, match="torch tensors"):
        metrics.psnr(np.zeros((3, 4, 4)), np.zeros((3, 4, 4)))


def test_ssim_map_is_the_local_ssim_that_ssim_averages(pair):
    sr_img, hr_img = pair
    local = metrics.ssim_map(sr_img, hr_img, scale=4)
    assert local.shape == (1, 1, 40 - 8 - 10, 44 - 8 - 10)  # Y, shave 4, 'valid' 11x11 window
    assert float(local.mean()) == pytest.approx(metrics.ssim(sr_img, hr_img, scale=4), abs=1e-6)
    assert float(local.max()) <= 1.0
    rgb = metrics.ssim_map(torch.stack([sr_img, hr_img]), torch.stack([hr_img, hr_img]), y_channel=False)
    assert rgb.shape == (2, 3, 30, 34)
    torch.testing.assert_close(rgb[1], torch.ones_like(rgb[1]))


def test_the_255_scale_matches_scikit_image(pair):
    sr_img, hr_img = (img * 255 for img in pair)
    options = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    expected = structural_similarity(hr_img.numpy(), sr_img.numpy(), channel_axis=0, **options)
    assert metrics.ssim(sr_img, hr_img, y_channel=False, data_range=255) == pytest.approx(expected, abs=1e-10)
    expected_psnr = peak_signal_noise_ratio(hr_img.numpy(), sr_img.numpy(), data_range=255)
    assert metrics.psnr(sr_img, hr_img, y_channel=False, data_range=255) == pytest.approx(expected_psnr, abs=1e-10)
    # Y on the 255 scale is 255 times Y on the [0, 1] scale: PSNR on Y does not depend on the scale.
    assert metrics.psnr(sr_img, hr_img, scale=4, data_range=255) == pytest.approx(
        metrics.psnr(pair[0], pair[1], scale=4), abs=1e-9)


def test_psnr_of_a_known_constant_error_on_y():
    # Adding 0.1 to R, G and B raises Y by 0.1 * (65.481 + 128.553 + 24.966) / 255 = 0.1 * 219 / 255.
    hr_img = torch.full((3, 16, 16), 0.4, dtype=torch.float64)
    error = 0.1 * 219 / 255
    assert metrics.psnr(hr_img + 0.1, hr_img, scale=4) == pytest.approx(-20 * math.log10(error))
    assert metrics.psnr(hr_img + 0.1, hr_img, y_channel=False) == pytest.approx(20.0)
