"""Bad inputs (issue 15): no silent wrong answers, nothing lost, a message instead of a traceback.

Each test gives one bad input and checks the exit code or exception class and the words the
message must contain. Command-line errors are one ``error: ...`` line on stderr, exit code 2,
no traceback. Tiny networks (1 block, 8 features) on the CPU.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from srgan_edu import benchmark, checkpoints, data, datasets, evaluation, losses, metrics, mos, ratings, training, vgg
from srgan_edu.checkpoints import CheckpointError
from srgan_edu.cli import main as cli
from srgan_edu.images import from_uint8, modcrop
from srgan_edu.srresnet import SRResNet
from srgan_edu.training import TrainConfig


def _photo(size: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(base).resize((size, size), Image.BICUBIC))


def _one_error_line(err: str) -> str:
    """The stderr of a refused command: one ``error:`` line, no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


class Pairs(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int):
        hr_img = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(index))
        return torch.nn.functional.avg_pool2d(hr_img[None], 4)[0], hr_img * 2 - 1


def _config(**changes) -> TrainConfig:
    values = dict(steps=2, batch_size=2, hr_crop=24, log_every=1, val_every=0, checkpoint_every=2, keep_last=3,
                  content_loss="mse", amp=False)
    values.update(changes)
    return TrainConfig(**values)


def _train(run_dir, config=None, **kwargs):
    torch.manual_seed(0)
    generator = SRResNet(num_blocks=1, num_features=8)
    return training.train_srresnet(generator, kwargs.pop("train_data", Pairs()), config or _config(),
                                   run_dir=run_dir, device="cpu", progress=False, **kwargs)


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    _train(run_dir)
    return run_dir / "checkpoints" / "step_00000002.pt"


def _edited(checkpoint_file, tmp_path, change) -> str:
    state = checkpoints.load_checkpoint(checkpoint_file)
    change(state)
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    return str(path)


# --- silent wrong answers -------------------------------------------------------------------------


def test_a_checkpoint_with_nan_weights_is_refused_by_evaluate(checkpoint_file, tmp_path, capsys):
    def poison(state):
        state["generator"]["tail.weight"][0, 0, 0, 0] = float("nan")

    path = _edited(checkpoint_file, tmp_path, poison)
    with pytest.raises(CheckpointError, match="NaN"):
        training.load_generator(path)
    assert cli(["evaluate", "--checkpoint", path, "--builtin", "--device", "cpu"]) == 2
    assert "NaN" in _one_error_line(capsys.readouterr().err)


def test_a_generator_that_outputs_nan_is_an_error_not_a_black_image():
    class NanGenerator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, lr_img):
            up = torch.nn.functional.interpolate(lr_img, scale_factor=4)
            return up * float("nan")

    hr_img = from_uint8(_photo())
    with pytest.raises(ValueError, match="NaN"):
        evaluation.evaluate_generator(NanGenerator(), [("photo", hr_img)], scale=4)


def test_psnr_refuses_data_range_255_on_unit_images():
    hr_img = torch.rand(3, 32, 32)
    sr_img = (hr_img + 0.03 * torch.randn(3, 32, 32)).clamp(0, 1)
    assert 20 < metrics.psnr(sr_img, hr_img) < 40
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(sr_img, hr_img, data_range=255)
    assert metrics.psnr(sr_img * 255, hr_img * 255, data_range=255) == pytest.approx(metrics.psnr(sr_img, hr_img))


def test_a_bright_output_left_in_signed_range_is_refused():
    hr_img = 0.45 + 0.55 * torch.rand(3, 32, 32)  # bright: in [-1, 1] its minimum is only -0.1
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.psnr(hr_img * 2 - 1, hr_img)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.ssim(hr_img * 2 - 1, hr_img)
    slightly_negative = hr_img.clone()  # unclamped bicubic overshoot is still fine
    slightly_negative[0, 0, :4] = -0.03
    assert metrics.psnr(slightly_negative, hr_img) > 30


def test_an_infinite_pixel_is_not_called_a_0_255_image():
    img = torch.rand(3, 16, 16)
    broken = img.clone()
    broken[0, 3, 3] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite") as info:
        metrics.psnr(broken, img)
    assert "255" not in str(info.value)


@pytest.mark.parametrize("bad, words", [
    (lambda img: img * 255, "[0, 255]"),
    (lambda img: (img * 255).to(torch.uint8), "uint8"),
    (lambda img: img * 2 - 1, "[-1, 1]"),
], ids=["float-0-255", "uint8", "signed"])
def test_training_images_in_the_wrong_range_or_dtype_are_refused(bad, words, tmp_path):
    images = [bad(torch.rand(3, 32, 32))]
    with pytest.raises(ValueError) as info:
        data.PairedPatchDataset(images, hr_crop=16, scale=4)
    assert words in str(info.value)
    with pytest.raises(ValueError) as info:
        _train(tmp_path / "run", _config(hr_crop=16), train_data=images)
    assert words in str(info.value)


def test_an_empty_val_dir_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = cli(["train", "srresnet", "--builtin", "--val-dir", str(tmp_path / "empty"), "--steps", "1",
                "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    assert code == 2
    assert "holds no images" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("changes, words", [
    ({"steps": 2.5}, "whole number"),
    ({"checkpoint_every": 1.5}, "whole number"),
    ({"adversarial_weight": float("nan")}, "finite"),
    ({"learning_rate": float("nan")}, "finite"),
    ({"adversarial_weight": -1e-3}, "adversarial_weight"),
])
def test_train_config_refuses_fractions_and_nan(changes, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**changes)


def test_cli_refuses_a_nan_adversarial_weight(tmp_path, capsys):
    code = cli(["train", "srgan", "--builtin", "--adversarial-weight", "nan", "--out", str(tmp_path / "run"),
                "--device", "cpu"])
    assert code == 2
    assert "adversarial_weight" in _one_error_line(capsys.readouterr().err)


def test_append_ratings_refuses_a_csv_with_other_columns(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("name,psnr\nbaby,31.2\n", encoding="utf-8")
    rating = mos.Rating(session="s", rater="r", trial=1, code="a", image="baby", method="HR", score=4)
    with pytest.raises(ValueError, match="not a ratings file"):
        mos.append_ratings(path, [rating])
    assert path.read_text(encoding="utf-8") == "name,psnr\nbaby,31.2\n"
    good = tmp_path / "ratings.csv"
    assert mos.append_ratings(good, [rating]) == 1 and mos.append_ratings(good, [rating]) == 1


# --- nothing lost ---------------------------------------------------------------------------------


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_evaluate_json_is_written_atomically(tmp_path, monkeypatch, capsys):
    path = tmp_path / "results.json"
    path.write_text('{"valid": true}\n', encoding="utf-8")
    monkeypatch.setattr(os, "fsync", _full_disk)
    code = cli(["evaluate", "--builtin", "--json", str(path)])
    assert code == 2
    assert "No space left" in _one_error_line(capsys.readouterr().err)
    assert json.loads(path.read_text(encoding="utf-8")) == {"valid": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary left either


def test_atomic_write_text_is_what_history_uses(tmp_path, monkeypatch):
    path = tmp_path / "history.json"
    training.History([{"step": 1, "loss": 0.5}]).to_json(path)
    monkeypatch.setattr(os, "fsync", _full_disk)
    with pytest.raises(OSError):
        training.History([{"step": 2, "loss": 0.4}]).to_json(path)
    assert training.History.from_json(path).steps() == [1]


def test_evaluate_json_that_is_a_folder_is_refused_before_evaluating(tmp_path, capsys):
    code = cli(["evaluate", "--builtin", "--json", str(tmp_path)])
    assert code == 2
    assert "is a folder" in _one_error_line(capsys.readouterr().err)


def test_a_nan_stop_history_is_not_overwritten_by_the_next_run(tmp_path):
    def nan_loss(sr_img, hr_img):
        return losses.mse_content_loss(sr_img, hr_img) * float("nan")

    with pytest.raises(training.NonFiniteLossError):
        _train(tmp_path / "run", _config(steps=3, checkpoint_every=3), content_loss=nan_loss)
    post_mortem = (tmp_path / "run" / "history.csv").read_text()
    _train(tmp_path / "run", _config(steps=2))
    kept = list((tmp_path / "run").glob("previous_run_*/history.csv"))
    assert len(kept) == 1 and kept[0].read_text() == post_mortem
    assert (tmp_path / "run" / "history.csv").read_text() != post_mortem


class CountingLoss:
    def __init__(self):
        self.calls = 0

    def __call__(self, sr_img, hr_img):
        self.calls += 1
        return losses.mse_content_loss(sr_img, hr_img)


def test_a_full_out_folder_is_found_before_the_first_step(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    loss = CountingLoss()
    with pytest.raises(OSError, match="free"):
        _train(tmp_path / "run", content_loss=loss)
    assert loss.calls == 0


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write in read-only folders")
def test_a_read_only_out_folder_is_found_before_the_first_step(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run").chmod(0o555)
    loss = CountingLoss()
    try:
        with pytest.raises(PermissionError, match="Cannot write"):
            _train(tmp_path / "run", content_loss=loss)
    finally:
        (tmp_path / "run").chmod(0o755)
    assert loss.calls == 0


def test_an_out_path_that_is_a_file_is_refused_on_the_command_line(tmp_path, capsys):
    (tmp_path / "run").write_text("not a folder")
    code = cli(["train", "srresnet", "--builtin", "--steps", "1", "--num-blocks", "1", "--num-features", "8",
                "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    assert code == 2
    assert "is a file" in _one_error_line(capsys.readouterr().err)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_checkpoint_temporaries_are_removed_by_the_next_run_and_said(tmp_path, capsys):
    _train(tmp_path / "run")
    stale = tmp_path / "run" / "checkpoints" / f".step_00000004.pt.tmp{_dead_pid()}"
    stale.write_bytes(b"x" * 1000)
    _train(tmp_path / "run", _config(steps=4), resume=True)
    assert not stale.exists()
    assert "Removed 1 temporary file" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "run" / "checkpoints").iterdir()} == {
        "step_00000002.pt", "step_00000004.pt"}


def test_stale_download_temporaries_are_removed_by_the_next_download_and_said(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "tmpab12cd_3"
    stale.write_bytes(b"x" * 1000)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / "tmpzz99yy_1"  # another download may still be writing this one
    fresh.write_bytes(b"y")
    mine = tmp_path / "notes.txt"
    mine.write_text("keep")

    def no_network(spec, archive, data_dir, *, progress):
        raise datasets.DownloadError("no network in this test")

    monkeypatch.setattr(datasets, "_fetch", no_network)
    with pytest.raises(datasets.DownloadError):
        datasets.download("Set5", tmp_path, progress=False)
    assert not stale.exists() and fresh.exists() and mine.exists()
    assert "interrupted" in capsys.readouterr().out


def test_the_lock_file_fallback_waits_longer_than_a_stale_lock_lives(tmp_path, monkeypatch):
    assert ratings._LOCK_TIMEOUT_S > ratings._LOCKFILE_STALE_S
    monkeypatch.setattr(ratings, "_USE_FCNTL", False)
    monkeypatch.setattr(ratings, "_LOCKFILE_STALE_S", 0.3)
    monkeypatch.setattr(ratings, "_LOCK_TIMEOUT_S", 0.05)  # even set inconsistently, a stale lock is outwaited
    path = tmp_path / "ratings.csv"
    lock = tmp_path / "ratings.csv.lock"
    lock.write_text(str(_dead_pid()))  # a rater whose kernel died holding the lock, just now
    rating = mos.Rating(session="s", rater="r", trial=1, code="a", image="baby", method="HR", score=4)
    assert mos.append_ratings(path, [rating]) == 1
    assert not lock.exists()


# --- attacks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("config_change, words", [
    ({"num_features": 4096}, "outside the range"),
    ({"num_blocks": 10**6}, "outside the range"),
    ({"num_features": "64"}, "not an integer"),
    ({"scale": 3}, "scale=3"),
    ({"attack": 1}, "unknown settings"),
    ({"upsampler": "os.system"}, "upsampler"),
])
def test_a_hostile_generator_config_is_refused_before_building_the_network(
        config_change, words, checkpoint_file, tmp_path, monkeypatch):
    path = _edited(checkpoint_file, tmp_path, lambda state: state["generator_config"].update(config_change))

    def no_network(**kwargs):
        raise AssertionError("a network was built before the config was checked")

    monkeypatch.setattr(checkpoints, "SRResNet", no_network)
    with pytest.raises(CheckpointError, match=words):
        training.load_generator(path)


@pytest.mark.parametrize("change", [
    lambda state: state["generator"].pop("tail.weight"),
    lambda state: state["generator"].update({"extra.weight": torch.zeros(1)}),
    lambda state: state["generator"].update({"tail.weight": torch.zeros(1)}),
    lambda state: state.update({"generator": "weights"}),
], ids=["missing", "unexpected", "wrong-shape", "not-a-dict"])
def test_load_generator_raises_checkpoint_error_for_wrong_weights(change, checkpoint_file, tmp_path, capsys):
    path = _edited(checkpoint_file, tmp_path, change)
    with pytest.raises(CheckpointError):
        training.load_generator(path)
    assert cli(["evaluate", "--checkpoint", path, "--builtin", "--device", "cpu"]) == 2
    _one_error_line(capsys.readouterr().err)


# --- messages, not tracebacks ---------------------------------------------------------------------


def _folder_of_images(folder, count=2, size=48):
    folder.mkdir()
    for i in range(count):
        Image.fromarray(_photo(size, seed=i)).save(folder / f"img{i}.png")
    return folder


TRAIN = ["train", "srresnet", "--steps", "2", "--batch-size", "1", "--hr-crop", "16", "--num-blocks", "1",
         "--num-features", "8", "--val-every", "0", "--device", "cpu", "--no-progress"]


def test_a_decompression_bomb_in_training_is_a_message(tmp_path, monkeypatch, capsys):
    folder = _folder_of_images(tmp_path / "hr")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 48x48 = 2304 > 2 x 100: a "bomb"
    code = cli([*TRAIN, "--data-dir", str(folder), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "img0.png" in _one_error_line(capsys.readouterr().err)


def test_a_folder_named_like_an_image_is_a_message(tmp_path, capsys):
    folder = _folder_of_images(tmp_path / "hr")
    (folder / "trap.png").mkdir()
    code = cli([*TRAIN, "--data-dir", str(folder), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "trap.png" in _one_error_line(capsys.readouterr().err)


def test_a_broken_image_met_in_a_dataloader_worker_is_a_message(tmp_path, monkeypatch, capsys):
    folder = _folder_of_images(tmp_path / "hr")
    whole = (folder / "img1.png").read_bytes()
    (folder / "img1.png").write_bytes(whole[: len(whole) // 2])  # the header reads, the pixels do not
    monkeypatch.setattr(data, "IN_MEMORY_LIMIT_BYTES", 0)  # read from disk, in the worker
    code = cli([*TRAIN, "--data-dir", str(folder), "--out", str(tmp_path / "run"), "--num-workers", "1"])
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "img1.png" in line and "worker" not in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("command", [["evaluate", "--builtin"], ["train", "srresnet", "--builtin"],
                                     ["benchmark"]])
def test_device_cuda_without_a_gpu_is_a_message(command, capsys):
    assert cli([*command, "--device", "cuda"]) == 2
    assert "no CUDA GPU" in _one_error_line(capsys.readouterr().err)


def test_an_unknown_device_is_a_message(capsys):
    assert cli(["evaluate", "--builtin", "--device", "gpu0"]) == 2
    assert "--device gpu0" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("option, value", [("--num-blocks", "-1"), ("--num-features", "0")])
def test_impossible_network_sizes_are_a_message(option, value, tmp_path, capsys):
    code = cli(["train", "srresnet", "--builtin", option, value, "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert code == 2
    assert option in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("option, value", [("--batch-size", "0"), ("--hr-crop", "10"), ("--num-blocks", "-1"),
                                           ("--num-features", "100000")])
def test_benchmark_options_out_of_range_are_a_message(option, value, monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "benchmark_training", lambda **kwargs: pytest.fail("ran with a bad option"))
    assert cli(["benchmark", "--device", "cpu", option, value]) == 2
    assert option in _one_error_line(capsys.readouterr().err)


def test_a_text_file_given_as_checkpoint_is_not_called_code(tmp_path, capsys):
    path = tmp_path / "notes.pt"
    path.write_text("these are my notes, not a checkpoint\n")
    with pytest.raises(CheckpointError, match="not a PyTorch file") as info:
        checkpoints.load_checkpoint(path)
    assert "run arbitrary code" not in str(info.value)
    assert cli(["evaluate", "--checkpoint", str(path), "--builtin", "--device", "cpu"]) == 2
    assert "not a PyTorch file" in _one_error_line(capsys.readouterr().err)


def test_random_bytes_as_vgg_weights_give_no_weights_only_false_advice(tmp_path):
    path = tmp_path / "vgg19.pth"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError) as info:
        vgg.VGGFeatures(weights=str(path))
    assert "weights_only=False" not in str(info.value) and "vgg19.pth" in str(info.value)
    path.write_bytes(b"\x80" + os.urandom(4095))  # starts like a pickle: PyTorch's own answer, shortened
    with pytest.raises(ValueError) as info:
        vgg.VGGFeatures(weights=str(path))
    assert "weights_only` set to `False`" not in str(info.value) and "vgg19.pth" in str(info.value)


def test_a_weights_name_is_not_taken_for_a_file_path():
    with pytest.raises(ValueError, match="IMAGENET1K_V1") as info:
        vgg.VGGFeatures(weights="IMAGENET1K_V2")
    assert "No VGG19 weights file" not in str(info.value)


def test_an_hwc_tensor_is_not_called_smaller_than_the_scale():
    with pytest.raises(ValueError, match=r"\(H, W, C\)") as info:
        modcrop(torch.rand(64, 64, 3), 4)
    assert "smaller than the scale" not in str(info.value)
    assert modcrop(torch.rand(3, 64, 65), 4).shape == (3, 64, 64)


def test_a_truncated_newest_checkpoint_names_the_intact_previous_one(tmp_path, capsys):
    _train(tmp_path / "run", _config(steps=4))
    newest = tmp_path / "run" / "checkpoints" / "step_00000004.pt"
    newest.write_bytes(newest.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="step_00000002.pt, is intact"):
        _train(tmp_path / "run", _config(steps=6), resume=True)
    code = cli(["train", "srresnet", "--builtin", "--steps", "6", "--batch-size", "2", "--hr-crop", "24",
                "--num-blocks", "1", "--num-features", "8", "--log-every", "1", "--val-every", "0",
                "--checkpoint-every", "2", "--out", str(tmp_path / "run"), "--resume", "--device", "cpu",
                "--no-progress"])
    assert code == 2
    assert "is intact" in _one_error_line(capsys.readouterr().err)


def test_the_cli_keeps_the_last_line_of_a_worker_error():
    from srgan_edu.cli import error_line

    worker = ValueError("Caught ValueError in DataLoader worker process 0.\nOriginal Traceback (most recent call "
                        "last):\n  File \"x.py\", line 1\nValueError: Cannot read img1.png as an image")
    assert error_line(worker) == "Cannot read img1.png as an image"
