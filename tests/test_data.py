"""data.py: the built-in images, where data sets are looked for, and the patch data sets.

The LR patches are checked against a reference: the matching crop of the whole image
degraded by srgan_edu.degradation.degrade (the patch data set degrades only the crop).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from srgan_edu import data, datasets, subimages
from srgan_edu.degradation import degrade
from srgan_edu.images import modcrop, to_unit

# --- built-in images ------------------------------------------------------------------


def test_builtin_images_are_files_in_the_installed_wheel():
    folder = data.skimage_data_dir()
    for item in data.BUILTIN:
        assert (folder / item.filename).is_file(), item.filename
        assert item.split in ("train", "test")
        assert item.description and item.credit


def test_builtin_splits_are_disjoint_and_hold_out_test_images():
    train = [name for name, _ in data.builtin_images("train")]
    test = [name for name, _ in data.builtin_images("test")]
    everything = [name for name, _ in data.builtin_images("all")]
    assert len(test) >= 3 and len(train) >= 3
    assert not set(train) & set(test)
    assert everything == train + test


def test_builtin_images_are_rgb_in_unit_range_and_fresh_copies():
    images = data.builtin_images("test")
    for name, img in images:
        assert img.dtype == torch.float32 and img.dim() == 3 and img.shape[0] == 3, name
        assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
        assert min(img.shape[-2:]) >= 256  # big enough for 96x96 crops and a x4 evaluation
    images[0][1].zero_()
    assert float(data.builtin_images("test")[0][1].max()) > 0


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="split must be one of"):
        data.builtin_images("validation")


# --- where data sets are looked for ---------------------------------------------------


def test_dataset_dir_says_the_exact_command_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        datasets.dataset_dir("Set5", tmp_path)
    assert f"python -m srgan_edu download Set5 --data-dir {tmp_path}" in str(caught.value)


def test_dataset_dir_defaults_to_the_runtime_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SRGAN_EDU_DATA", str(tmp_path))
    (tmp_path / "BSD100").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "BSD100" / "3096.png")
    assert datasets.dataset_dir("BSD100") == tmp_path / "BSD100"


def test_dataset_dir_finds_folders_a_teacher_handed_out(tmp_path):
    for folder in ("Set5_HR", "Set14/HR"):
        (tmp_path / folder).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / folder / "x.png")
    assert datasets.dataset_dir("Set5", tmp_path) == tmp_path / "Set5_HR"
    assert datasets.dataset_dir("Set14", tmp_path) == tmp_path / "Set14" / "HR"


def test_dataset_dir_mentions_an_archive_that_is_not_unpacked(tmp_path):
    (tmp_path / "Set5_HR.tar.gz").write_bytes(b"...")
    with pytest.raises(FileNotFoundError, match="not unpacked yet"):
        datasets.dataset_dir("Set5", tmp_path)


def test_dataset_dir_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="Unknown data set 'Set6'"):
        datasets.dataset_dir("Set6", tmp_path)


def test_dataset_status_names_present_and_missing_sets(tmp_path):
    (tmp_path / "Set5").mkdir()
    for index in range(5):
        Image.new("RGB", (8, 8)).save(tmp_path / "Set5" / f"{index}.png")
    (tmp_path / "Set14").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "Set14" / "one.png")
    status = datasets.dataset_status(tmp_path)
    assert list(status) == list(datasets.DATASETS)
    assert status["Set5"] == f"present (5 images) at {tmp_path / 'Set5'}"
    assert status["Set14"].startswith("present (1 images)") and "full set has 14" in status["Set14"]
    assert status["BSD100"] == f"missing: python -m srgan_edu download BSD100 --data-dir {tmp_path}"


# --- HRImageFolder ----------------------------------------------------------------------


def write_images(folder, sizes, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index, (height, width) in enumerate(sizes):
        array = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        Image.fromarray(array).save(folder / f"{index:04d}.png")
    return folder


def test_hr_image_folder_reads_rgb_images_in_name_order(tmp_path):
    folder = write_images(tmp_path / "hr", [(20, 24), (16, 32)])
    (folder / "notes.txt").write_text("not an image")
    Image.new("L", (10, 12)).save(folder / "0002.png")  # greyscale becomes 3 channels
    dataset = data.HRImageFolder(folder)
    assert len(dataset) == 3 and dataset.names == ["0000", "0001", "0002"]
    assert dataset[1].shape == (3, 16, 32) and dataset[2].shape == (3, 12, 10)
    assert dataset.image_size(0) == (20, 24)
    assert 0.0 <= float(dataset[0].min()) and float(dataset[0].max()) <= 1.0


def test_hr_image_folder_in_memory_gives_the_same_pixels_and_says_so(tmp_path, monkeypatch):
    folder = write_images(tmp_path / "hr", [(20, 24), (16, 32)])
    on_disk, in_memory = data.HRImageFolder(folder), data.HRImageFolder(folder, in_memory=True)
    assert not on_disk.in_memory and in_memory.in_memory
    assert all(torch.equal(on_disk[i], in_memory[i]) for i in range(2))  # 8-bit files are held exactly
    assert in_memory.decoded_bytes() == 3 * (20 * 24 + 16 * 32)
    assert "held in memory" in in_memory.describe() and "from disk" in on_disk.describe()
    assert data.HRImageFolder(folder, in_memory=None).in_memory  # small: chosen automatically
    monkeypatch.setattr(data, "IN_MEMORY_LIMIT_BYTES", 100)
    auto = data.HRImageFolder(folder, in_memory=None)
    assert not auto.in_memory and "more than" in auto.describe()
    patches = data.PairedPatchDataset(in_memory, hr_crop=16, scale=4, seed=0)
    reference = data.PairedPatchDataset(on_disk, hr_crop=16, scale=4, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(patches[1], reference[1]))


def test_hr_image_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="No folder at"):
        data.HRImageFolder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No images in"):
        data.HRImageFolder(tmp_path / "empty")


# --- paired crops and augmentation --------------------------------------------------------


def smooth_image(height, width, seed=0):
    """A random but smooth (3, H, W) image in [0, 1]: realistic for resampling tests."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 8 + 2, width // 8 + 2, generator=generator)
    return F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0]


def test_paired_random_crop_keeps_lr_and_hr_aligned():
    hr = smooth_image(40, 48)
    lr = F.avg_pool2d(hr[None], 4)[0]  # an LR image that is exactly aligned with hr
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        lr_crop, hr_crop = data.paired_random_crop(lr, hr, 16, 4, generator)
        assert lr_crop.shape == (3, 4, 4) and hr_crop.shape == (3, 16, 16)
        torch.testing.assert_close(F.avg_pool2d(hr_crop[None], 4)[0], lr_crop)


def test_paired_random_crop_errors():
    hr, lr = smooth_image(40, 48), torch.rand(3, 9, 12)
    with pytest.raises(ValueError, match="modcrop"):
        data.paired_random_crop(lr, hr, 16, 4)
    with pytest.raises(ValueError, match="larger than image"):
        data.paired_random_crop(torch.rand(3, 10, 12), hr, 64, 4)
    with pytest.raises(ValueError, match="multiple of scale"):
        data.paired_random_crop(torch.rand(3, 10, 12), hr, 18, 4)


def test_augment_pair_applies_the_same_symmetry_to_both_and_reaches_all_eight():
    hr = torch.arange(3 * 8 * 8, dtype=torch.float32).reshape(3, 8, 8)
    lr = F.avg_pool2d(hr[None], 2)[0]
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        lr_aug, hr_aug = data.augment_pair(lr, hr, generator)
        torch.testing.assert_close(F.avg_pool2d(hr_aug[None], 2)[0], lr_aug)
        seen.add(tuple(hr_aug[0].flatten().tolist()))
    assert len(seen) == 8


# --- PairedPatchDataset -------------------------------------------------------------------


def find_hr_position(hr_full, hr_patch, scale):
    """Where (in LR pixels) the HR patch sits in the (modcropped) HR image."""
    size = hr_patch.shape[-1]
    for i in range(0, (hr_full.shape[-2] - size) // scale + 1):
        for j in range(0, (hr_full.shape[-1] - size) // scale + 1):
            window = hr_full[:, i * scale : i * scale + size, j * scale : j * scale + size]
            if torch.equal(window, hr_patch):
                return i, j
    raise AssertionError("HR patch not found in the image")


@pytest.mark.parametrize("scale, method", [(2, "bicubic"), (4, "bicubic"), (4, "gaussian")])
def test_lr_patch_equals_the_crop_of_the_whole_degraded_image(scale, method):
    hr_full = smooth_image(66, 90, seed=3)  # not a multiple of 4: modcrop is part of the test
    dataset = data.PairedPatchDataset([hr_full], hr_crop=8 * scale, scale=scale, hr_range="unit",
                                      augment=False, method=method, length=40, seed=0)
    cropped = modcrop(hr_full, scale)
    whole_lr = degrade(cropped, scale, method=method).clamp(0, 1)
    lr_crop = 8
    positions = set()
    for index in range(len(dataset)):
        lr_img, hr_img = dataset[index]
        i, j = find_hr_position(cropped, hr_img, scale)
        positions.add((i, j))
        torch.testing.assert_close(lr_img, whole_lr[:, i : i + lr_crop, j : j + lr_crop], atol=1e-5, rtol=0)
    assert len(positions) > 20  # many different crops, borders included
    assert any(i == 0 or j == 0 for i, j in positions)


def test_patches_have_the_papers_shapes_and_ranges():
    images = data.builtin_images("train")
    dataset = data.PairedPatchDataset(images, hr_crop=96, scale=4, length=6, seed=0)
    assert len(dataset) == 6 and dataset.num_images == len(images)
    for index in range(len(dataset)):
        lr_img, hr_img = dataset[index]
        assert lr_img.shape == (3, 24, 24) and hr_img.shape == (3, 96, 96)
        assert lr_img.dtype == hr_img.dtype == torch.float32
        assert 0.0 <= float(lr_img.min()) and float(lr_img.max()) <= 1.0
        assert -1.0 <= float(hr_img.min()) and float(hr_img.max()) <= 1.0
    assert float(dataset[0][1].min()) < 0  # signed: the paper's [-1, 1]


def test_unit_range_hr_and_augmentation_keep_the_pair_aligned():
    hr_full = smooth_image(64, 64, seed=5)
    plain = data.PairedPatchDataset([hr_full], hr_crop=16, scale=4, hr_range="unit", augment=False, seed=7)
    augmented = data.PairedPatchDataset([hr_full], hr_crop=16, scale=4, hr_range="unit", augment=True, seed=7)
    lr_plain, hr_plain = plain[0]
    lr_aug, hr_aug = augmented[0]
    assert 0.0 <= float(hr_aug.min()) and float(hr_aug.max()) <= 1.0
    # The same crop, then the same symmetry applied to both: find which one it was.
    symmetries = [lambda x: x, lambda x: x.flip(-1), lambda x: x.flip(-2), lambda x: x.flip(-1).flip(-2)]
    symmetries += [lambda x, s=s: s(x).transpose(-1, -2) for s in symmetries]
    matches = [s for s in symmetries if torch.equal(s(hr_plain), hr_aug)]
    assert matches and any(torch.allclose(s(lr_plain), lr_aug) for s in matches)


def test_same_seed_same_patches_and_set_epoch_gives_new_ones():
    images = [smooth_image(64, 80, seed=s) for s in range(2)]
    first = data.PairedPatchDataset(images, hr_crop=16, scale=4, length=4, seed=11)
    second = data.PairedPatchDataset(images, hr_crop=16, scale=4, length=4, seed=11)
    other = data.PairedPatchDataset(images, hr_crop=16, scale=4, length=4, seed=12)
    for index in range(4):
        torch.testing.assert_close(first[index], second[index], rtol=0, atol=0)
    assert not torch.equal(first[0][1], other[0][1])
    before = first[0][1]
    first.set_epoch(1)
    assert not torch.equal(before, first[0][1])
    torch.testing.assert_close(first[0], first[0], rtol=0, atol=0)  # repeatable within an epoch


def test_dataloader_gives_the_same_batches_with_and_without_workers():
    images = [smooth_image(48, 64, seed=s) for s in range(3)]
    dataset = data.PairedPatchDataset(images, hr_crop=16, scale=4, length=8, seed=3)
    serial = list(DataLoader(dataset, batch_size=4, num_workers=0))
    parallel = list(DataLoader(dataset, batch_size=4, num_workers=2))
    assert len(serial) == len(parallel) == 2
    for (lr_a, hr_a), (lr_b, hr_b) in zip(serial, parallel):
        assert lr_a.shape == (4, 3, 4, 4) and hr_a.shape == (4, 3, 16, 16)
        torch.testing.assert_close(lr_a, lr_b, rtol=0, atol=0)
        torch.testing.assert_close(hr_a, hr_b, rtol=0, atol=0)


def test_unseeded_patches_follow_torch_manual_seed():
    dataset = data.PairedPatchDataset([smooth_image(64, 64)], hr_crop=16, scale=4)
    torch.manual_seed(5)
    first = dataset[0]
    torch.manual_seed(5)
    torch.testing.assert_close(dataset[0], first, rtol=0, atol=0)


def test_folder_source_and_only_the_crop_is_degraded(tmp_path, monkeypatch):
    folder = write_images(tmp_path / "hr", [(300, 400), (256, 280)])
    shapes = []

    def recording_degrade(hr_img, scale, **kwargs):
        shapes.append(tuple(hr_img.shape))
        return degrade(hr_img, scale, **kwargs)

    monkeypatch.setattr(data, "degrade", recording_degrade)
    dataset = data.PairedPatchDataset(folder, hr_crop=32, scale=4, length=4, seed=0)
    for index in range(4):
        lr_img, hr_img = dataset[index]
        assert lr_img.shape == (3, 8, 8) and hr_img.shape == (3, 32, 32)
    largest = 32 + 2 * dataset.context * 4  # the crop and its margin, never the whole image
    assert len(shapes) == 4 and all(h <= largest and w <= largest for _, h, w in shapes)


def test_hr_image_folder_instance_and_name_image_pairs_are_accepted(tmp_path):
    folder = write_images(tmp_path / "hr", [(40, 40)])
    assert len(data.PairedPatchDataset(data.HRImageFolder(folder), hr_crop=16, scale=4)) == 1
    assert data.PairedPatchDataset([("x", smooth_image(40, 40))], hr_crop=16, scale=4).names == ["x"]


def test_a_crop_larger_than_an_image_names_the_image(tmp_path):
    images = [("big", smooth_image(128, 128)), ("small", smooth_image(40, 90))]
    with pytest.raises(ValueError, match=r"hr_crop=96 is larger than image 'small' \(40x90 pixels"):
        data.PairedPatchDataset(images, hr_crop=96, scale=4)
    folder = write_images(tmp_path / "hr", [(200, 200), (60, 300)])
    with pytest.raises(ValueError, match=r"larger than image '0001' \(60x300 pixels"):
        data.PairedPatchDataset(folder, hr_crop=96, scale=4)


def test_a_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pictures here")
    with pytest.raises(ValueError, match="No images in"):
        data.PairedPatchDataset(tmp_path / "empty", hr_crop=16, scale=4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hr_crop": 18, "scale": 4}, "multiple of scale"),
        ({"hr_range": "pm1"}, "hr_range must be"),
        ({"length": 0}, "length must be at least 1"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.PairedPatchDataset([smooth_image(128, 128)], **kwargs)


def test_bad_images_are_clear_errors():
    with pytest.raises(ValueError, match="empty list"):
        data.PairedPatchDataset([])
    with pytest.raises(ValueError, match=r"expected an RGB image tensor \(3, H, W\)"):
        data.PairedPatchDataset([torch.rand(128, 128, 3)])


def test_index_out_of_range():
    dataset = data.PairedPatchDataset([smooth_image(64, 64)], hr_crop=16, scale=4, length=2, seed=0)
    with pytest.raises(IndexError):
        dataset[2]


def test_signed_hr_maps_back_to_the_unit_crop():
    hr_full = smooth_image(64, 64)
    signed = data.PairedPatchDataset([hr_full], hr_crop=16, scale=4, augment=False, seed=1)
    unit = data.PairedPatchDataset([hr_full], hr_crop=16, scale=4, augment=False, seed=1, hr_range="unit")
    torch.testing.assert_close(to_unit(signed[0][1]), unit[0][1])


# --- sub-images --------------------------------------------------------------------------


def test_subimage_boxes_cover_the_image_with_a_piece_against_each_border():
    boxes = subimages.subimage_boxes(50, 70, size=32, step=16)
    assert sorted({top for _, top, _, _ in boxes}) == [0, 16, 18]
    assert sorted({left for left, _, _, _ in boxes}) == [0, 16, 32, 38]
    assert all(right - left == 32 and bottom - top == 32 for left, top, right, bottom in boxes)
    covered = np.zeros((50, 70), bool)
    for left, top, right, bottom in boxes:
        covered[top:bottom, left:right] = True
    assert covered.all()
    assert subimages.subimage_boxes(20, 70, size=32, step=16)[0] == (0, 0, 32, 20)  # shorter than a piece: whole
    assert len(subimages.subimage_boxes(1356, 2040, size=480, step=240)) == 40  # a DIV2K image


def test_cut_subimages_is_pixel_exact_resumable_and_idempotent(tmp_path, capsys):
    source = tmp_path / "hr"
    source.mkdir()
    rng = np.random.default_rng(0)
    photos = {name: rng.integers(0, 256, (50, 70, 3), dtype=np.uint8) for name in ("a", "b")}
    for name, array in photos.items():
        Image.fromarray(array).save(source / f"{name}.png")
    target = tmp_path / "sub"
    subimages.cut_subimages(source, target, size=32, step=16, progress=False)
    pieces = sorted(p.name for p in target.glob("*.png"))
    assert len(pieces) == 2 * 12 and pieces[0] == "a_s000.png"
    left, top, right, bottom = subimages.subimage_boxes(50, 70, size=32, step=16)[5]
    np.testing.assert_array_equal(np.asarray(Image.open(target / "b_s005.png")), photos["b"][top:bottom, left:right])
    # interrupted: a piece and the marker missing; the next run writes only what is missing
    (target / "a_s003.png").unlink()
    (target / subimages._SUBIMAGES_DONE).unlink()
    before = (target / "b_s005.png").stat().st_mtime_ns
    subimages.cut_subimages(source, target, size=32, step=16, progress=False)
    assert (target / "a_s003.png").is_file() and (target / "b_s005.png").stat().st_mtime_ns == before
    capsys.readouterr()
    subimages.cut_subimages(source, target, size=32, step=16, progress=False)
    assert "nothing to do" in capsys.readouterr().out
    assert not list(target.glob(".*tmp*"))


def test_cut_subimages_names_an_unreadable_image_and_keeps_the_rest(tmp_path):
    source = tmp_path / "hr"
    source.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(source / "good.png")
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match="broken.png"):
        subimages.cut_subimages(source, tmp_path / "sub", size=32, step=16, progress=False)
    assert not (tmp_path / "sub" / subimages._SUBIMAGES_DONE).exists()
    with pytest.raises(FileNotFoundError, match="No images"):
        subimages.cut_subimages(tmp_path / "nothing", tmp_path / "sub2", progress=False)
    with pytest.raises(ValueError, match="folder of their own"):
        subimages.cut_subimages(source, source, progress=False)


def test_subimages_command_cuts_a_folder_and_says_how_to_train(tmp_path, capsys):
    from srgan_edu.cli import main

    source = tmp_path / "photos"
    source.mkdir()
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(source / "x.png")
    assert main(["subimages", str(source), "--data-dir", str(tmp_path), "--size", "32", "--step", "16",
                 "--no-progress"]) == 0
    assert len(list((tmp_path / "photos_sub32").glob("*.png"))) == 2 * 3
    assert f"--data-dir {tmp_path / 'photos_sub32'}" in capsys.readouterr().out
    assert main(["subimages", "DIV2K_train_HR", "--data-dir", str(tmp_path / "empty"), "--no-progress"]) == 1
    assert "download DIV2K_train_HR" in capsys.readouterr().err
