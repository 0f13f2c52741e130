"""degradation.py against MATLAB's imresize (known answers) and against first principles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srgan_edu import degradation

CASES = np.load(Path(__file__).parent / "data" / "matlab_imresize_cases.npz")
CASE_NAMES = sorted({key.split("__")[0] for key in CASES.files})


@pytest.mark.parametrize("name", CASE_NAMES)
def test_imresize_matches_matlab_on_numpy(name):
    image, scale, expected = CASES[f"{name}__in"], float(CASES[f"{name}__scale"]), CASES[f"{name}__out"]
    out = degradation.imresize(image, scale)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    if expected.dtype == np.uint8:
        np.testing.assert_array_equal(out, expected)
    else:
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", [n for n in CASE_NAMES if CASES[f"{n}__in"].dtype != np.uint8])
def test_imresize_matches_matlab_on_tensors(name):
    image, scale, expected = CASES[f"{name}__in"], float(CASES[f"{name}__scale"]), CASES[f"{name}__out"]
    tensor = torch.from_numpy(image).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)
    out = degradation.imresize(tensor, scale)
    np.testing.assert_allclose(out.permute(1, 2, 0).numpy(), expected, rtol=0, atol=1e-10)
    batch = degradation.imresize(torch.stack([tensor, tensor]).float(), scale)
    assert batch.shape == (2, *out.shape) and batch.dtype == torch.float32


def test_float32_tensors_and_output_size_agree_with_the_known_answers():
    for name in CASE_NAMES:
        image, scale, expected = CASES[f"{name}__in"], float(CASES[f"{name}__scale"]), CASES[f"{name}__out"]
        if image.dtype == np.uint8:
            continue
        tensor = torch.from_numpy(image).permute(2, 0, 1).float()
        out = degradation.imresize(tensor, output_size=expected.shape[:2])
        assert out.dtype == torch.float32
        np.testing.assert_allclose(out.permute(1, 2, 0).numpy(), expected, rtol=0, atol=1e-6)


def test_uint8_rounding_happens_after_each_pass():
    # Rounding only at the end (one float resize, then round) differs from MATLAB on some
    # pixels; the fixture's uint8 cases need the per-pass rounding.
    name = "rand_rgb_36x28_down3"
    image, expected = CASES[f"{name}__in"], CASES[f"{name}__out"]
    once = np.clip(np.round(degradation.imresize(image.astype(np.float64), 1 / 3)), 0, 255).astype(np.uint8)
    assert (once != expected).any()
    np.testing.assert_array_equal(degradation.imresize(image, 1 / 3), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_imresize_runs_on_the_tensor_device():
    img = torch.rand(2, 3, 32, 24, device="cuda")
    out = degradation.imresize(img, 0.25)
    assert out.device == img.device and out.shape == (2, 3, 8, 6)
    torch.testing.assert_close(out.cpu(), degradation.imresize(img.cpu(), 0.25))


def test_zone_plate_aliases_when_decimated():
    plate = degradation.zone_plate(128)
    assert plate.shape == (1, 128, 128) and float(plate.min()) >= 0 and float(plate.max()) <= 1
    assert float(plate[0, 63:65, 63:65].min()) > 0.99  # the centre is flat white
    # In the LR image's outer ring the pattern is above the LR Nyquist limit: decimation keeps
    # strong false rings there, the antialiased bicubic a nearly flat grey.
    outer = (slice(None), slice(0, 6), slice(None))
    assert float(degradation.decimate(plate, 4)[outer].std()) > 0.2
    assert float(degradation.degrade(plate, 4)[outer].std()) < 0.05


def test_imresize_keeps_a_constant_image_constant_and_sizes_round_up():
    img = torch.full((3, 13, 10), 0.3)
    out = degradation.imresize(img, 1 / 4)
    assert out.shape == (3, 4, 3)  # ceil(13/4), ceil(10/4)
    torch.testing.assert_close(out, torch.full_like(out, 0.3))
    assert degradation.imresize(img, output_size=(7, 5)).shape == (3, 7, 5)


def test_resize_matrix_rows_sum_to_one():
    for scale in (0.25, 0.5, 2.0, 4.0):
        matrix = degradation.resize_matrix(17, int(np.ceil(17 * scale)), scale)
        torch.testing.assert_close(matrix.sum(dim=1), torch.ones(matrix.shape[0], dtype=torch.float64))


def test_antialiasing_removes_what_decimation_aliases():
    # Stripes at the finest frequency: decimating by 2 turns them into a flat field of one
    # colour (aliasing); the antialiased downscale averages them to grey.
    stripes = torch.zeros(1, 16, 16)
    stripes[..., ::2] = 1.0
    assert float(degradation.decimate(stripes, 2).mean()) == 1.0
    smooth = degradation.imresize(stripes, 0.5)
    torch.testing.assert_close(smooth[..., 2:-2, 2:-2], torch.full_like(smooth[..., 2:-2, 2:-2], 0.5), atol=0.02, rtol=0)
    # A wave of 0.4 cycles per pixel is far above the Nyquist limit of a 4x smaller grid:
    # antialiased, almost nothing of it is left; without antialiasing it survives as a false wave.
    x = torch.arange(64, dtype=torch.float64)
    wave = (0.5 + 0.5 * torch.cos(2 * torch.pi * 0.4 * x)).expand(1, 64, 64)
    kept = degradation.imresize(wave, 0.25)[..., 2:-2, 2:-2].std()
    aliased = degradation.imresize(wave, 0.25, antialias=False)[..., 2:-2, 2:-2].std()
    assert float(kept) < 0.02 < 0.1 < float(aliased)


def test_gaussian_kernel_and_blur():
    kernel = degradation.gaussian_kernel(7, 1.2)
    assert kernel.shape == (7, 7)
    torch.testing.assert_close(kernel.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(kernel, kernel.T)
    assert kernel[3, 3] == kernel.max()
    img = torch.zeros(1, 15, 15)
    img[0, 7, 7] = 1.0
    blurred = degradation.gaussian_blur(img, 1.2, size=7)
    torch.testing.assert_close(blurred[0, 4:11, 4:11].double(), kernel, atol=1e-6, rtol=0)
    flat = torch.full((2, 3, 9, 9), 0.7)
    torch.testing.assert_close(degradation.gaussian_blur(flat, 2.0), flat)  # edges repeated, no dark border
    with pytest.raises(ValueError, match="odd"):
        degradation.gaussian_kernel(6, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        degradation.gaussian_blur(img, 0.0)


def test_decimate_keeps_every_rth_pixel():
    img = torch.arange(36.0).view(1, 6, 6)
    assert torch.equal(degradation.decimate(img, 3), torch.tensor([[[0.0, 3.0], [18.0, 21.0]]]))


def test_degrade_both_methods():
    hr_img = torch.rand(3, 32, 24)
    bicubic = degradation.degrade(hr_img, 4)
    assert bicubic.shape == (3, 8, 6)
    torch.testing.assert_close(bicubic, degradation.imresize(hr_img, 0.25))
    gaussian = degradation.degrade(hr_img, 4, method="gaussian", sigma=1.5)
    expected = degradation.decimate(degradation.gaussian_blur(hr_img, 1.5), 4)
    torch.testing.assert_close(gaussian, expected)
    assert degradation.degrade(hr_img.unsqueeze(0), 2).shape == (1, 3, 16, 12)


def test_degrade_matches_matlab_when_the_size_does_not_divide_by_the_scale():
    # MATLAB's imresize(hr, 1/4) keeps the factor 1/4 and rounds the size up; resizing to
    # ceil(30/4) x ceil(26/4) = 8 x 7 would stretch the kernel by 8/30 and 7/26 instead.
    hr_img = torch.rand(3, 30, 26)
    bicubic = degradation.degrade(hr_img, 4)
    assert bicubic.shape == (3, 8, 7)
    torch.testing.assert_close(bicubic, degradation.imresize(hr_img, 0.25))
    assert not torch.allclose(bicubic, degradation.imresize(hr_img, output_size=(8, 7)), atol=1e-3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: degradation.degrade(torch.rand(32, 32, 3).permute(2, 0, 1)[None, None], 4), r"\(C, H, W\)"),
        (lambda: degradation.degrade(torch.zeros(3, 8, 8, dtype=torch.uint8), 4), "divide uint8"),
        (lambda: degradation.degrade(torch.rand(3, 8, 8), 0), "positive integer"),
        (lambda: degradation.degrade(torch.rand(3, 8, 8), 2.5), "positive integer"),
        (lambda: degradation.degrade(torch.rand(3, 2, 8), 4), "smaller than the scale"),
        (lambda: degradation.degrade(torch.rand(3, 8, 8), 2, method="area"), "'bicubic' or 'gaussian'"),
        (lambda: degradation.imresize(torch.rand(3, 8, 8)), "exactly one"),
        (lambda: degradation.imresize([[1, 2]], 2), "torch.Tensor or a numpy.ndarray"),
        (lambda: degradation.imresize(np.zeros((8, 8), dtype=np.uint16), 0.5), "uint8 or float"),
        (lambda: degradation.imresize(np.zeros((2, 8, 8, 3)), 0.5), r"\(H, W\) or \(H, W, C\)"),
        (lambda: degradation.imresize(torch.rand(3, 8, 8), output_size=(0, 4)), "positive"),
        (lambda: degradation.zone_plate(32, max_frequency=0.7), "Nyquist"),
    ],
)
def test_bad_input_is_explained(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
def test_upscale_baselines(method):
    lr_img = torch.rand(3, 5, 7)
    out = degradation.upscale(lr_img, 4, method=method)
    assert out.shape == (3, 20, 28)
    if method == "nearest":
        assert torch.equal(out[:, ::4, ::4], lr_img)
    with pytest.raises(ValueError, match="nearest"):
        degradation.upscale(lr_img, 2, method="lanczos")
