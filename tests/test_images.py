"""images.py: every file mode loads to (C, H, W) in [0, 1]; colour spaces match MATLAB."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from srgan_edu import images


@pytest.fixture
def rgb_array():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)


def test_rgb_png_round_trip(tmp_path, rgb_array):
    Image.fromarray(rgb_array).save(tmp_path / "a.png")
    img = images.load_image(tmp_path / "a.png")
    assert img.shape == (3, 7, 9) and img.dtype == torch.float32
    assert float(img.min()) >= 0 and float(img.max()) <= 1
    np.testing.assert_array_equal(images.to_uint8(img), rgb_array)
    images.save_image(img, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), rgb_array)


@pytest.mark.parametrize("pil_mode", ["RGBA", "L", "LA", "P", "1", "CMYK"])
def test_other_modes_load_as_rgb(tmp_path, rgb_array, pil_mode):
    pil = Image.fromarray(rgb_array)
    pil = pil.convert(pil_mode) if pil_mode != "P" else pil.quantize(16)
    suffix = ".jpg" if pil_mode == "CMYK" else ".png"
    pil.save(tmp_path / f"x{suffix}")
    img = images.load_image(tmp_path / f"x{suffix}")
    assert img.shape == (3, 7, 9)
    assert 0 <= float(img.min()) and float(img.max()) <= 1


def test_rgba_drops_alpha_and_keeps_colour(tmp_path, rgb_array):
    rgba = np.concatenate([rgb_array, np.full((7, 9, 1), 17, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(images.to_uint8(images.load_image(tmp_path / "a.png")), rgb_array)


def test_sixteen_bit_png_keeps_its_precision(tmp_path):
    array = np.array([[0, 1, 65535], [32768, 300, 65534]], dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "deep.png")
    img = images.load_image(tmp_path / "deep.png", mode="keep")
    assert img.shape == (1, 2, 3)
    torch.testing.assert_close(img[0].double(), torch.from_numpy(array / 65535.0), atol=1e-7, rtol=0)


def test_greyscale_keep_and_l_modes(tmp_path, rgb_array):
    Image.fromarray(rgb_array[..., 0]).save(tmp_path / "g.png")
    assert images.load_image(tmp_path / "g.png", mode="keep").shape == (1, 7, 9)
    assert images.load_image(tmp_path / "g.png", mode="L").shape == (1, 7, 9)
    rgb = images.load_image(tmp_path / "g.png")
    assert rgb.shape == (3, 7, 9) and torch.equal(rgb[0], rgb[2])
    Image.fromarray(rgb_array).save(tmp_path / "c.png")
    grey = images.load_image(tmp_path / "c.png", mode="L")
    expected = np.asarray(Image.fromarray(rgb_array).convert("L"), np.float32) / 255
    assert np.abs(grey[0].numpy() - expected).max() <= 1 / 255 + 1e-6


def test_missing_and_corrupt_files_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="No image file"):
        images.load_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match="corrupt, truncated, or not an image"):
        images.load_image(tmp_path / "bad.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="Cannot read"):
        images.load_image(tmp_path / "cut.png")
    with pytest.raises(ValueError, match="mode must be"):
        images.load_image(tmp_path / "cut.png", mode="RGBA")


def test_y_channel_matches_matlab_rgb2ycbcr():
    # MATLAB: rgb2ycbcr(uint8([255 0 0])) -> Y 81 (81.481); white -> 235; black -> 16.
    pixels = torch.tensor([[1.0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 1, 0]]).T.reshape(3, 1, 4)
    y = images.rgb_to_y(pixels) * 255
    torch.testing.assert_close(y.flatten(), torch.tensor([81.481, 235.0, 16.0, 144.553]), atol=1e-3, rtol=0)


def test_ycbcr_batches_and_its_y_is_rgb_to_y():
    img = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    ycbcr = images.rgb_to_ycbcr(img)
    torch.testing.assert_close(ycbcr[:, :1], images.rgb_to_y(img))


def test_colour_functions_reject_wrong_layout():
    with pytest.raises(ValueError, match=r"permute\(2, 0, 1\)"):
        images.rgb_to_y(torch.rand(5, 6, 3))
    with pytest.raises(ValueError, match="divide uint8"):
        images.rgb_to_y(torch.zeros(3, 4, 4, dtype=torch.uint8))


def test_modcrop():
    img = torch.rand(3, 10, 13)
    assert images.modcrop(img, 4).shape == (3, 8, 12)
    assert torch.equal(images.modcrop(img, 4), img[:, :8, :12])
    with pytest.raises(ValueError, match="smaller than the scale"):
        images.modcrop(torch.rand(3, 2, 2), 4)


def test_signed_unit_round_trip():
    img = torch.rand(3, 4, 4)
    assert float(images.to_signed(img).min()) >= -1
    torch.testing.assert_close(images.to_unit(images.to_signed(img)), img)


def test_save_is_atomic_and_refuses_bad_shapes(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    images.save_image(torch.zeros(3, 4, 4), target)
    before = target.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        images.save_image(torch.ones(3, 4, 4), target)
    assert target.read_bytes() == before, "a failed save must leave the earlier file untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"], "no temporary file left behind"
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        images.save_image(torch.zeros(4, 4), tmp_path / "x.png")


def test_list_images(tmp_path):
    for name in ["b.png", "a.JPG", ".hidden.png", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in images.list_images(tmp_path)] == ["a.JPG", "b.png"]
    with pytest.raises(FileNotFoundError):
        images.list_images(tmp_path / "missing")


def test_a_float_tiff_in_the_unit_range_keeps_its_values(tmp_path):
    values = np.linspace(0.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
    Image.fromarray(values, mode="F").save(tmp_path / "float.tiff")
    img = images.load_image(tmp_path / "float.tiff", mode="keep")
    assert img.shape == (1, 3, 4)
    np.testing.assert_allclose(img[0].numpy(), values, atol=1e-6)


def test_a_32_bit_integer_image_of_8_bit_data_is_read_as_8_bit(tmp_path):
    values = np.arange(0, 240, 20, dtype=np.int32).reshape(3, 4)
    Image.fromarray(values, mode="I").save(tmp_path / "int.tiff")
    img = images.load_image(tmp_path / "int.tiff", mode="keep")
    np.testing.assert_allclose(img[0].numpy(), values / 255.0, atol=1e-6)
