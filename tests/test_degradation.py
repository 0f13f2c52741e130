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
