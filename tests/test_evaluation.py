"""evaluation.py: the paper's protocol end to end, tiling, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from srgan_edu import evaluation, metrics
from srgan_edu.cli import main as cli
from srgan_edu.degradation import imresize
from srgan_edu.images import from_uint8, load_image, modcrop, to_uint8


class TinyGenerator(nn.Module):
    """x2: conv, PixelShuffle, conv; output in [-1, 1] like SRResNet."""

    scale = 2

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2), nn.Conv2d(3, 3, 3, padding=1))

    def forward(self, x):
        return self.body(x) * 2 - 1


def _photo(height=50, width=46, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    smooth = rng.random((height // 5 + 2, width // 5 + 2, channels))
    big = np.kron(smooth, np.ones((5, 5, 1)))[:height, :width]
    return (big * 255).round().astype(np.uint8)


def test_bicubic_pair_follows_the_protocol():
    hr_img = from_uint8(_photo())
    lr_img, up = evaluation.bicubic_pair(hr_img, 4)
    cropped = to_uint8(modcrop(hr_img, 4))
    np.testing.assert_array_equal(to_uint8(lr_img), imresize(cropped, 0.25))
    np.testing.assert_array_equal(to_uint8(up), imresize(imresize(cropped, 0.25), 4.0))
    assert up.shape == (3, 48, 44)


def test_evaluate_bicubic_scores_each_image_and_the_mean():
    images = [("a", from_uint8(_photo(seed=1))), ("b", from_uint8(_photo(seed=2)))]
    result = evaluation.evaluate_bicubic(images, scale=4, set_name="toy")
    assert [r["name"] for r in result.per_image] == ["a", "b"]
    assert result.psnr == pytest.approx(np.mean([r["psnr"] for r in result.per_image]))
    _, up = evaluation.bicubic_pair(images[0][1], 4)
    assert result.per_image[0]["psnr"] == pytest.approx(metrics.psnr(up, modcrop(images[0][1], 4), scale=4))


def test_tiled_super_resolution_equals_the_whole_image():
    generator = TinyGenerator().eval()
    lr_img = torch.rand(3, 23, 31)
    whole = evaluation.super_resolve(generator, lr_img)
    tiled = evaluation.super_resolve(generator, lr_img, tile=8, overlap=3)
    assert whole.shape == (3, 46, 62)
    torch.testing.assert_close(tiled, whole)
    assert float(whole.min()) >= 0 and float(whole.max()) <= 1


def test_tiled_srresnet_equals_the_whole_image_with_the_default_overlap():
    from srgan_edu.srresnet import SRResNet, receptive_field

    generator = SRResNet(scale=2, num_features=8, num_blocks=1).eval()
    assert receptive_field(generator) <= 2 * evaluation.DEFAULT_TILE_OVERLAP
    lr_img = torch.rand(3, 30, 26)
    whole = evaluation.super_resolve(generator, lr_img)
    torch.testing.assert_close(evaluation.super_resolve(generator, lr_img, tile=12), whole)
    # Too little context leaves seams: tiling is only exact when the overlap covers the receptive field.
    seams = evaluation.super_resolve(generator, lr_img, tile=12, overlap=1)
    assert float((seams - whole).abs().max()) > 1e-4


def test_super_resolve_restores_training_mode():
    generator = TinyGenerator().train()
    evaluation.super_resolve(generator, torch.rand(3, 8, 8))
    assert generator.training


class BicubicGenerator(nn.Module):
    """A "generator" that is MATLAB's bicubic upscale: it must score what the baseline scores."""

    scale = 4

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))  # evaluate_generator takes the device from a parameter

    def forward(self, lr_img):  # (B, 3, h, w) in [0, 1] -> (B, 3, 4h, 4w) in [-1, 1]
        return imresize(lr_img, 4.0) * 2 - 1


@pytest.mark.parametrize("channels", [1, 3], ids=["greyscale", "rgb"])
def test_evaluate_generator_measures_like_the_bicubic_baseline(channels):
    # Set14 and BSD100 hold greyscale images: a bicubic "generator" fed their three equal
    # channels must score what the bicubic baseline scores on the grey image itself.
    images = [("img.png", from_uint8(_photo(height=64, width=56, channels=channels)))]
    as_generator = evaluation.evaluate_generator(BicubicGenerator(), images, scale=4)
    baseline = evaluation.evaluate_bicubic(images, scale=4)
    assert as_generator.psnr == pytest.approx(baseline.psnr, abs=0.05)
    assert as_generator.ssim == pytest.approx(baseline.ssim, abs=1e-3)


def test_evaluate_generator_saves_each_image(tmp_path):
    images = [("grey.png", from_uint8(_photo(channels=1))), ("rgb.png", from_uint8(_photo()))]
    result = evaluation.evaluate_generator(TinyGenerator(), images, scale=2, save_dir=tmp_path, method="tiny")
    assert len(result.per_image) == 2 and np.isfinite(result.psnr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey_tiny_x2.png", "rgb_tiny_x2.png"]


def test_evaluate_generator_names_a_wrong_scale():
    with pytest.raises(ValueError, match="is it a x4 model"):
        evaluation.evaluate_generator(TinyGenerator(), [("a", from_uint8(_photo()))], scale=4)


def test_format_table_puts_the_paper_beside_the_result():
    result = evaluation.SetResult("Set5", "bicubic", 4, 28.4, 0.81, [{"name": "x", "psnr": 28.4, "ssim": 0.81}])
    table = evaluation.format_table([result])
    assert "28.43" in table and "0.8211" in table and "0.8104" in table


@pytest.fixture
def benchmark_dir(tmp_path):
    for set_name, count in (("Set5", 2), ("Set14", 1)):
        folder = tmp_path / set_name
        folder.mkdir()
        for i in range(count):
            Image.fromarray(_photo(seed=i)).save(folder / f"img{i}.png")
    for set_name in ("Set5", "Set14"):  # a greyscale PNG in each: measured as Y directly
        Image.fromarray(_photo(channels=1, seed=9)[..., 0]).save(tmp_path / set_name / "grey.png")
    return tmp_path


def test_cli_prints_the_table_and_writes_json(benchmark_dir, capsys):
    out_json = benchmark_dir / "out" / "bicubic.json"
    code = cli(["evaluate", "--method", "bicubic", "--data-dir", str(benchmark_dir), "--sets", "Set5", "Set14",
                "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Set5" in printed and "28.43" in printed and "25.99" in printed
    payload = json.loads(out_json.read_text())
    assert [r["name"] for r in payload["results"]] == ["Set5", "Set14"]
    assert [r["name"] for r in payload["results"][0]["per_image"]] == ["grey.png", "img0.png", "img1.png"]
    assert len(payload["results"][1]["per_image"]) == 2
    assert payload["paper"]["Set5"]["psnr"] == 28.43
    assert payload["paper"]["Set5"]["ssim_wang"] == 0.8104
    # The JSON holds what the library computes for the same images.
    grey = load_image(benchmark_dir / "Set5" / "grey.png", mode="keep")
    assert grey.shape[0] == 1
    expected = evaluation.evaluate_bicubic([("grey.png", grey)], scale=4).psnr
    assert payload["results"][0]["per_image"][0]["psnr"] == pytest.approx(expected)
    set5 = payload["results"][0]
    assert set5["psnr"] == pytest.approx(np.mean([r["psnr"] for r in set5["per_image"]]))


def test_cli_builtin_evaluates_the_builtin_test_images(monkeypatch, capsys):
    from srgan_edu import data

    small = [("a", from_uint8(_photo(seed=3))), ("b", from_uint8(_photo(seed=4)))]
    monkeypatch.setattr(data, "builtin_images", lambda split="all": small if split == "test" else [])
    assert cli(["evaluate", "--builtin"]) == 0
    printed = capsys.readouterr().out
    assert "builtin" in printed
    assert f"{evaluation.evaluate_bicubic(small).psnr:.2f}" in printed
    assert "0.8104" not in printed.split("builtin")[1].splitlines()[0]  # no paper numbers for our own images


def test_cli_names_the_download_for_a_missing_set(benchmark_dir, capsys):
    code = cli(["evaluate", "--data-dir", str(benchmark_dir), "--sets", "BSD100"])
    assert code == 1
    error = capsys.readouterr().err
    assert f"python -m srgan_edu download BSD100 --data-dir {benchmark_dir}" in error


def test_cli_names_a_corrupt_image_without_a_traceback(benchmark_dir, capsys):
    (benchmark_dir / "Set5" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code = cli(["evaluate", "--data-dir", str(benchmark_dir), "--sets", "Set5"])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "broken.png" in error


@pytest.mark.parametrize("scale", ["0", "1", "x4"])
def test_cli_refuses_a_meaningless_scale(scale, capsys):
    with pytest.raises(SystemExit) as stop:
        cli(["evaluate", "--builtin", "--scale", scale])
    assert stop.value.code == 2
    assert "SR factor must be an integer of 2 or more" in capsys.readouterr().err


def test_cli_explains_a_missing_checkpoint(tmp_path, capsys):
    code = cli(["evaluate", "--checkpoint", str(tmp_path / "nothing.pt"), "--builtin", "--device", "cpu"])
    assert code == 2
    assert "nothing.pt" in capsys.readouterr().err


def test_cli_evaluates_a_checkpoint(benchmark_dir, tmp_path, capsys):
    from srgan_edu.srresnet import SRResNet
    from srgan_edu.training import TrainConfig, train_srresnet

    generator = SRResNet(scale=2, num_features=8, num_blocks=1)
    config = TrainConfig.srresnet(steps=1, batch_size=1, hr_crop=16, scale=2, val_every=0, checkpoint_every=1)
    result = train_srresnet(generator, [from_uint8(_photo())], config, run_dir=tmp_path / "run", progress=False)
    checkpoint = sorted((tmp_path / "run" / "checkpoints").glob("step_*.pt"))[-1]
    assert result is not None
    data_args = ["--data-dir", str(benchmark_dir), "--sets", "Set5"]
    code = cli(["evaluate", "--checkpoint", str(checkpoint), *data_args, "--scale", "2", "--tile", "8",
                "--save-dir", str(tmp_path / "sr")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Method: srresnet-step_00000001" in printed
    set5_row = next(line for line in printed.splitlines() if line.startswith("Set5"))
    assert "32.05" in set5_row and "0.9019" in set5_row  # beside the paper's SRResNet row, not bicubic's
    saved = sorted(p.name for p in (tmp_path / "sr" / "Set5").glob("*.png"))
    assert len(saved) == 3 and all(name.endswith("_srresnet-step_00000001_x2.png") for name in saved)
    code = cli(["evaluate", "--checkpoint", str(checkpoint), *data_args, "--scale", "4"])
    assert code == 2
    assert "x2 generator" in capsys.readouterr().err


@pytest.mark.parametrize("set_name", evaluation.BENCHMARK_SETS)
def test_bicubic_reproduces_the_paper_on_the_real_benchmark_sets(set_name):
    # Needs the real sets (python -m srgan_edu download Set5 Set14 BSD100), which CI cannot
    # download; on a machine that has them (in $SRGAN_EDU_DATA or ./data) this is the check
    # that the whole protocol, not just its parts, gives the paper's bicubic row.
    try:
        images = evaluation.load_set(set_name)
    except FileNotFoundError:
        pytest.skip(f"{set_name} is not downloaded; run `python -m srgan_edu download {set_name}` "
                    "(or set SRGAN_EDU_DATA) to check the paper's bicubic numbers")
    result = evaluation.evaluate_bicubic(images, scale=4, set_name=set_name)
    paper = evaluation.PAPER_TABLE["bicubic"][set_name]
    assert result.psnr == pytest.approx(paper["psnr"], abs=0.05)
    assert result.ssim == pytest.approx(paper["ssim_wang"], abs=5e-4)


def test_load_set_finds_a_folder_of_its_own_under_srgan_edu_data(tmp_path, monkeypatch):
    folder = tmp_path / "MyPhotos"
    folder.mkdir()
    Image.fromarray(_photo()).save(folder / "a.png")
    monkeypatch.setenv("SRGAN_EDU_DATA", str(tmp_path))
    [(name, img)] = evaluation.load_set("MyPhotos")
    assert name == "a.png" and img.shape == (3, 50, 46)
    with pytest.raises(FileNotFoundError, match="No image folder"):
        evaluation.load_set("Elsewhere")


def test_cli_tiles_large_images_by_default(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_evaluate_sets(**kwargs):
        seen.update(kwargs)
        return [evaluation.SetResult("builtin", kwargs["method"], 4, 30.0, 0.9, [{"name": "a", "psnr": 30.0,
                                                                                 "ssim": 0.9}])]

    monkeypatch.setattr(evaluation, "evaluate_sets", fake_evaluate_sets)
    assert cli(["evaluate", "--builtin"]) == 0
    assert seen["tile"] == evaluation.DEFAULT_TILE
    assert cli(["evaluate", "--builtin", "--tile", "0"]) == 0
    assert seen["tile"] is None  # 0: whole images
