"""The course's data: built-in images, the benchmark sets, and (LR, HR) training patches.

Ledig et al. (CVPR 2017), sec. 3.1-3.2: SRGAN is trained on random 96x96 crops of
high-resolution (HR) photographs; the low-resolution (LR) input is the HR crop
downsampled 4x with bicubic interpolation; LR inputs lie in [0, 1] and HR targets in
[-1, 1]. It is tested on Set5, Set14 and BSD100. This module holds, top to bottom:

1. The built-in images: photographs that scikit-image installs with its wheel (no
   network), split into train and test images. The fast mode of every lesson uses them.
2. The real data sets (DIV2K train/valid HR, Set5, Set14, BSD100): where they come from,
   their SHA-256 checksums, ``download`` (pooch fetches and checks the hash; the archive
   is unpacked here, refusing members that would land outside the target folder),
   ``dataset_dir`` and ``dataset_status``.
3. PyTorch data sets: ``HRImageFolder`` (whole HR images) and ``PairedPatchDataset``
   (random aligned LR/HR crops with flips and 90-degree rotations).
4. ``cut_subimages``: DIV2K cut once into 480x480 pieces, which decode 15 times faster.
5. The ``download`` and ``subimages`` subcommands of ``python -m srgan_edu``.

Every image is a float tensor laid out (C, H, W) with values in [0, 1], except HR patches
in the paper's [-1, 1] range when asked for (``hr_range="signed"``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import logging
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from srgan_edu.degradation import degrade
from srgan_edu.images import IMAGE_SUFFIXES, list_images, load_image, modcrop, to_signed
from srgan_edu.runtime import default_data_dir

# ---------------------------------------------------------------------------------------
# 1. Built-in images (scikit-image's sample photographs; no network needed)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinImage:
    """One photograph that the scikit-image wheel installs in ``skimage/data``."""

    name: str  # what the course calls it
    filename: str  # the file in skimage/data
    description: str  # what is in the picture (and why it is useful for super-resolution)
    credit: str  # photographer or source, and licence, as scikit-image documents them
    split: str  # "train" or "test"


# Only files that are inside the scikit-image wheel itself. Some skimage.data functions
# (e.g. skimage.data.cells3d, kidney, lily) download their image on first use; none of
# those is listed here. The test split holds out three photographs with the textures SR
# is judged on: fur, wood grain, and a night scene with fine lattice structures.
BUILTIN: tuple[BuiltinImage, ...] = (
    BuiltinImage(
        "astronaut", "astronaut.png",
        "Eileen Collins in her NASA suit: a face, fabric, flags, 512x512",
        "NASA Great Images database; public domain", "train",
    ),
    BuiltinImage(
        "motorcycle", "motorcycle_left.png",
        "a motorcycle in a workshop: metal, spokes, clutter, 741x500",
        "Middlebury 2014 stereo data set (Scharstein et al., GCPR 2014), left view "
        "downsampled 4x by scikit-image", "train",
    ),
    BuiltinImage(
        "immunohistochemistry", "ihc.png",
        "stained colon tissue under a microscope: dense cell texture, 512x512",
        "Center for Microscopy And Molecular Imaging (CMMI); no known copyright restrictions",
        "train",
    ),
    BuiltinImage(
        "hubble_deep_field", "hubble_deep_field.jpg",
        "Hubble eXtreme Deep Field: small bright galaxies on black, 1000x872",
        "NASA / HubbleSite; public domain", "train",
    ),
    BuiltinImage(
        "retina", "retina.jpg",
        "fundus photograph of a human retina: smooth shading and thin vessels, 1411x1411",
        "Mikael Haggstrom, Wikimedia Commons; CC0 1.0", "train",
    ),
    BuiltinImage(
        "chelsea", "chelsea.png",
        "Chelsea the cat: fur, whiskers, edges at many scales, 451x300",
        "Stefan van der Walt; CC0", "test",
    ),
    BuiltinImage(
        "coffee", "coffee.png",
        "a coffee cup (Pikolo Espresso Bar): smooth porcelain and coarse wood grain, 600x400",
        "Rachel Michetti; CC0", "test",
    ),
    BuiltinImage(
        "rocket", "rocket.jpg",
        "DSCOVR on a Falcon 9 at night: thin towers, lights, a dark sky, 640x427",
        "SpaceX; released into the public domain", "test",
    ),
)

SPLITS = ("train", "test", "all")


def skimage_data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image (it holds the built-in images)."""
    return Path(str(importlib.resources.files("skimage"))) / "data"


@lru_cache(maxsize=None)
def _load_builtin(filename: str) -> torch.Tensor:
    path = skimage_data_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"The built-in image {filename} is not in {path.parent}. It ships with "
            "scikit-image's wheel; reinstall it with `pip install --force-reinstall scikit-image`."
        )
    return load_image(path, mode="RGB")


def builtin_images(split: str = "all") -> list[tuple[str, torch.Tensor]]:
    """The built-in photographs as (name, image) pairs, read from disk (never downloaded).

    Args:
        split: ``"train"``, ``"test"`` or ``"all"`` (train images first).

    Returns:
        A list of ``(name, img)`` with ``img`` a float32 tensor (3, H, W) in [0, 1]. Each
        call returns fresh copies, so changing one in place does not change the next call.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, not {split!r}")
    chosen = [item for item in BUILTIN if split == "all" or item.split == split]
    chosen.sort(key=lambda item: item.split != "train")  # train first, in table order
    return [(item.name, _load_builtin(item.filename).clone()) for item in chosen]


# ---------------------------------------------------------------------------------------
# 2. The real data sets: DIV2K, Set5, Set14, BSD100
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """Where one data set comes from and where its HR images end up."""

    name: str  # what `download` and `dataset_dir` take
    url: str  # the archive to download
    sha256: str | None  # published SHA-256 of the archive; None: none could be found
    filename: str  # the archive's file name, in the data folder
    folder: str  # the HR images end up in DATA_DIR/folder
    archive_folder: str  # the folder inside the archive that holds the HR images
    num_images: int  # how many HR images the complete set has
    size: str  # download size, for the learner
    source: str  # the data set's page (and its licence terms)
    checksum_source: str  # where the published checksum was found, or why there is none
    citation: str  # who made it

    @property
    def aliases(self) -> tuple[str, ...]:
        """Folder names (relative to the data folder) recognised as an unpacked copy."""
        names = (
            self.folder,
            self.archive_folder,
            f"{self.folder}/HR",
            f"{self.folder}/{self.archive_folder}",
        )
        return tuple(dict.fromkeys(names))  # unique, in order


_HF = "https://huggingface.co/datasets/eugenesiow"

# Checksums: only published values. DIV2K's come from TensorFlow Datasets
# (tensorflow/datasets, tensorflow_datasets/url_checksums/div2k.txt), which hashed the
# official ETH Zurich archives. Set5/Set14/BSD100 come from Eugene Siow's Hugging Face
# copies (the HR archives used by super-image and deepinv), pinned to the commit that
# added them; Hugging Face publishes each file's SHA-256 as its Git LFS object id on the
# file's page. No published value was found for Set14_HR.tar.gz, so its sha256 is None:
# the download prints the SHA-256 it computed and says that it could not be verified.
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="DIV2K_train_HR",
            url="https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip",
            sha256="9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
            filename="DIV2K_train_HR.zip",
            folder="DIV2K_train_HR",
            archive_folder="DIV2K_train_HR",
            num_images=800,
            size="3.5 GB",
            source="https://data.vision.ee.ethz.ch/cvl/DIV2K/ (academic research use only)",
            checksum_source="TensorFlow Datasets, tensorflow_datasets/url_checksums/div2k.txt",
            citation="Agustsson and Timofte, NTIRE 2017 Challenge on Single Image "
            "Super-Resolution: Dataset and Study, CVPR Workshops 2017",
        ),
        DatasetSpec(
            name="DIV2K_valid_HR",
            url="https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
            sha256="20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
            filename="DIV2K_valid_HR.zip",
            folder="DIV2K_valid_HR",
            archive_folder="DIV2K_valid_HR",
            num_images=100,
            size="449 MB",
            source="https://data.vision.ee.ethz.ch/cvl/DIV2K/ (academic research use only)",
            checksum_source="TensorFlow Datasets, tensorflow_datasets/url_checksums/div2k.txt",
            citation="Agustsson and Timofte, CVPR Workshops 2017",
        ),
        DatasetSpec(
            name="Set5",
            url=f"{_HF}/Set5/resolve/325646fe7cc8811e312562437885c5c018c74966/data/Set5_HR.tar.gz",
            sha256="260fc447296333f6c2716bcd65513968c33b666f21a905537ee3330c51a1945b",
            filename="Set5_HR.tar.gz",
            folder="Set5",
            archive_folder="Set5_HR",
            num_images=5,
            size="0.9 MB",
            source="https://huggingface.co/datasets/eugenesiow/Set5 (copy of "
            "http://people.rennes.inria.fr/Aline.Roumy/results/SR_BMVC12.html; academic use)",
            checksum_source="Git LFS SHA-256 on https://huggingface.co/datasets/eugenesiow/Set5"
            "/blob/bcb97ac28c8a5f9113825f8d163564e16513f3ed/data/Set5_HR.tar.gz",
            citation="Bevilacqua et al., Low-Complexity Single-Image Super-Resolution based "
            "on Nonnegative Neighbor Embedding, BMVC 2012",
        ),
        DatasetSpec(
            name="Set14",
            url=f"{_HF}/Set14/resolve/5c964717e61b4931236a6dd5561750d11e5a7abb/data/Set14_HR.tar.gz",
            sha256=None,
            filename="Set14_HR.tar.gz",
            folder="Set14",
            archive_folder="Set14_HR",
            num_images=14,
            size="5.0 MB",
            source="https://huggingface.co/datasets/eugenesiow/Set14 (copy of Zeyde et al.'s "
            "test images; academic use)",
            checksum_source="none published that we could find: the download prints the "
            "computed SHA-256 and says it is unverified",
            citation="Zeyde, Elad and Protter, On Single Image Scale-Up Using "
            "Sparse-Representations, Curves and Surfaces 2010",
        ),
        DatasetSpec(
            name="BSD100",
            url=f"{_HF}/BSD100/resolve/600666edcba3b8386c367fcb03e72424a1ff9f86/data/BSD100_HR.tar.gz",
            sha256="333495ccded04a0db52b33361140821ea7e0d8af8dfb54b58df79a00010858d6",
            filename="BSD100_HR.tar.gz",
            folder="BSD100",
            archive_folder="BSD100_HR",
            num_images=100,
            size="27 MB",
            source="https://huggingface.co/datasets/eugenesiow/BSD100 (the 100 test images "
            "of the Berkeley Segmentation Dataset; non-commercial research and education)",
            checksum_source="Git LFS SHA-256 on https://huggingface.co/datasets/eugenesiow/BSD100"
            "/blob/refs%2Fpr%2F4/data/BSD100_HR.tar.gz",
            citation="Martin et al., A Database of Human Segmented Natural Images, ICCV 2001",
        ),
    )
}


class DownloadError(RuntimeError):
    """A data set could not be fetched or unpacked; the message says what to do.

    ``problem`` is what went wrong without the advice, so that a caller that knows more (the
    file was just downloaded and is already deleted, say) can give better advice.
    """

    def __init__(self, message: str, *, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside the target folder, or is a link or device."""


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


def _download_command(name: str, data_dir: Path) -> str:
    return f"python -m srgan_edu download {name} --data-dir {data_dir}"


def _find_unpacked(spec: DatasetSpec, data_dir: Path) -> Path | None:
    """The first recognised folder under ``data_dir`` that holds images, or None."""
    for alias in spec.aliases:
        folder = data_dir / alias
        if folder.is_dir() and list_images(folder):
            return folder
    return None


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder of HR images of a downloaded data set.

    Besides ``DATA_DIR/<folder>`` (where ``download`` puts it), a copy a teacher handed out
    is recognised under the archive's own folder name (e.g. ``Set5_HR``) or as
    ``<folder>/HR``.

    Args:
        name: one of ``DATASETS`` (``"DIV2K_train_HR"``, ``"DIV2K_valid_HR"``, ``"Set5"``,
            ``"Set14"``, ``"BSD100"``).
        data_dir: the data folder (default: ``$SRGAN_EDU_DATA`` or ``data/``).

    Raises:
        FileNotFoundError: the data set is not there; the message gives the command to run.
    """
    spec = _spec(name)
    data_dir = _resolve_data_dir(data_dir)
    found = _find_unpacked(spec, data_dir)
    if found is not None:
        return found
    command = _download_command(name, data_dir)
    archive = data_dir / spec.filename
    if archive.is_file():
        raise FileNotFoundError(
            f"{name}: the archive {archive} is there but not unpacked yet. Run\n  {command}\n"
            "(it checks and unpacks the archive; no network needed)."
        )
    raise FileNotFoundError(
        f"{name} is not in {data_dir} (looked for {', '.join(spec.aliases)}). Download it "
        f"({spec.size}) with\n  {command}\nor put the {spec.filename} your teacher handed out "
        f"in {data_dir} and run the same command."
    )


def dataset_status(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """For each data set: ``"present (N images) at PATH"`` or how to get it.

    Used by :func:`srgan_edu.runtime.environment_report` (lesson 00). Never downloads.
    """
    data_dir = _resolve_data_dir(data_dir)
    status = {}
    for name, spec in DATASETS.items():
        found = _find_unpacked(spec, data_dir)
        if found is not None:
            count = len(list_images(found))
            text = f"present ({count} images) at {found}"
            if count != spec.num_images:
                text += f" (the full set has {spec.num_images})"
        elif (data_dir / spec.filename).is_file():
            text = f"archive found, not unpacked: {_download_command(name, data_dir)}"
        else:
            text = f"missing: {_download_command(name, data_dir)}"
        status[name] = text
    return status


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as 64 hex digits (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    keep_archive: bool = False,
    spec: DatasetSpec | None = None,
) -> Path:
    """Download, verify and unpack one data set; do nothing if it is already there.

    Steps: (1) if the HR images are already unpacked under ``data_dir`` (see
    :func:`dataset_dir`), return at once, with no network access; (2) if the archive
    (``spec.filename``) is already in ``data_dir``, e.g. handed out by a teacher, check its
    SHA-256 and use it, again with no network; (3) otherwise download it with pooch, which
    writes to a temporary file, checks the SHA-256 and only then renames it; (4) unpack it
    into a temporary folder inside ``data_dir``, refusing any member that would land
    outside it, and move the HR images into ``data_dir/spec.folder``. A downloaded archive is deleted afterwards
    unless ``keep_archive``. Whatever fails, no partial archive or folder is left behind.

    Args:
        name: a key of ``DATASETS``.
        data_dir: the data folder (default: ``$SRGAN_EDU_DATA`` or ``data/``).
        progress: show a progress bar while downloading.
        keep_archive: keep the downloaded archive after unpacking.
        spec: use this instead of ``DATASETS[name]`` (tests point it at a local server).

    Returns:
        The folder of HR images.

    Raises:
        DownloadError: the download, the checksum or the archive failed; the message says
            what to do. ``UnsafeArchiveError`` (a subclass) when a member was refused.
    """
    spec = spec if spec is not None else _spec(name)
    data_dir = _resolve_data_dir(data_dir)
    found = _find_unpacked(spec, data_dir)
    if found is not None:
        print(f"{spec.name}: already here ({len(list_images(found))} images in {found}); nothing to do.")
        return found
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_target_is_free(spec, data_dir)  # before a download of gigabytes, not after
    archive = data_dir / spec.filename
    downloaded = not archive.is_file()
    if downloaded:
        remove_stale_download_temporaries(data_dir)
        _fetch(spec, archive, data_dir, progress=progress)
    else:
        print(f"{spec.name}: using {archive}, already in the data folder (no download).")
        _verify_local_archive(spec, archive)
    try:
        folder = _unpack(spec, archive, data_dir)
    except DownloadError as err:
        if not downloaded:
            raise  # the learner's own file: the message says what to do with it
        archive.unlink(missing_ok=True)
        raise type(err)(
            f"{err.problem}. The downloaded file was deleted, so nothing is left behind. Run the "
            f"command again; if this repeats, the file on the server has changed.\n{_what_to_do(spec, archive)}",
            problem=err.problem,
        ) from err
    if downloaded and not keep_archive:
        archive.unlink(missing_ok=True)
    print(f"{spec.name}: {len(list_images(folder))} images ready in {folder}")
    return folder


_POOCH_TEMPORARY = re.compile(r"^tmp[a-z0-9_]{8}$")  # tempfile.NamedTemporaryFile(dir=data_dir), pooch's download file
_STALE_DOWNLOAD_S = 600  # a download in progress writes every second; one untouched this long was killed


def remove_stale_download_temporaries(data_dir: str | os.PathLike) -> list[Path]:
    """Delete the partial files that downloads killed mid-way left in ``data_dir`` (up to gigabytes), saying so.

    Only files named as pooch names its temporaries and untouched for 10 minutes are removed,
    so a download still running in another process keeps its file.
    """
    data_dir = Path(data_dir)
    removed = []
    if not data_dir.is_dir():
        return removed
    for path in sorted(data_dir.iterdir()):
        if not _POOCH_TEMPORARY.match(path.name) or not path.is_file():
            continue
        if time.time() - path.stat().st_mtime < _STALE_DOWNLOAD_S:
            continue
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        removed.append(path)
        print(f"Removed {path} ({size / 2**20:.0f} MB), the partial file of a download that was interrupted.")
    return removed


def _what_to_do(spec: DatasetSpec, archive: Path) -> str:
    return (
        f"What to do: check the internet connection and run the command again; or fetch "
        f"{spec.url} in a browser (or get {spec.filename} from your teacher), put it at "
        f"{archive} and run\n  {_download_command(spec.name, archive.parent)}\nagain: it then "
        f"needs no network. The data set's page: {spec.source}"
    )


def _fetch(spec: DatasetSpec, archive: Path, data_dir: Path, *, progress: bool) -> None:
    """Download ``spec.url`` to ``archive`` with pooch, checking the SHA-256 when known."""
    import pooch
    import requests

    print(f"{spec.name}: downloading {spec.size} from {spec.url}")
    known_hash = f"sha256:{spec.sha256}" if spec.sha256 else None
    downloader = pooch.HTTPDownloader(progressbar=progress, chunk_size=1 << 20, timeout=60)
    pooch_logger = pooch.get_logger()
    previous_level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)  # we print our own, learner-facing messages
    try:
        pooch.retrieve(
            spec.url, known_hash=known_hash, fname=spec.filename, path=data_dir,
            downloader=downloader, progressbar=progress,
        )
    except requests.exceptions.HTTPError as err:
        response = err.response
        status = f"HTTP {response.status_code} {response.reason}" if response is not None else str(err)
        raise DownloadError(
            f"{spec.name}: the server answered {status} for {spec.url}; nothing was saved. "
            f"The link may have moved or the server may be down.\n{_what_to_do(spec, archive)}"
        ) from err
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
        raise DownloadError(
            f"{spec.name}: could not reach {spec.url} ({type(err).__name__}); nothing was "
            f"saved.\n{_what_to_do(spec, archive)}"
        ) from err
    except requests.exceptions.RequestException as err:
        raise DownloadError(
            f"{spec.name}: the download from {spec.url} broke off ({type(err).__name__}: "
            f"{err}); the partial file was deleted.\n{_what_to_do(spec, archive)}"
        ) from err
    except ValueError as err:  # pooch: the hash does not match; it deleted the file
        raise DownloadError(
            f"{spec.name}: the downloaded file's SHA-256 does not match the published "
            f"{spec.sha256}, so it was deleted (a broken transfer, or the file on the server "
            f"changed). Run the command again; if this repeats, the file has changed and the "
            f"course needs updating.\n{_what_to_do(spec, archive)}"
        ) from err
    finally:
        pooch_logger.setLevel(previous_level)
    if spec.sha256:
        print(f"{spec.name}: SHA-256 verified against the published value.")
    else:
        _report_unverified(spec, archive)


def _report_unverified(spec: DatasetSpec, archive: Path) -> None:
    print(
        f"{spec.name}: SHA-256 of {archive.name} is {file_sha256(archive)}. It could NOT be "
        "verified against a published value (none is known for this file); compare it with a "
        "copy you trust, e.g. your teacher's."
    )


def _verify_local_archive(spec: DatasetSpec, archive: Path) -> None:
    if not spec.sha256:
        _report_unverified(spec, archive)
        return
    actual = file_sha256(archive)
    if actual != spec.sha256:
        raise DownloadError(
            f"{spec.name}: {archive} is not the published file: its SHA-256 is {actual}, the "
            f"published one is {spec.sha256}. It may be incomplete or a different version. "
            f"Delete it and run\n  {_download_command(spec.name, archive.parent)}\nto download "
            "it again, or ask for a fresh copy."
        )
    print(f"{spec.name}: SHA-256 verified against the published value.")


def _check_target_is_free(spec: DatasetSpec, data_dir: Path) -> None:
    target = data_dir / spec.folder
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise DownloadError(
            f"{spec.name}: {target} exists but holds no images; move it away or delete it, "
            f"then run\n  {_download_command(spec.name, data_dir)}"
        )


def _unpack(spec: DatasetSpec, archive: Path, data_dir: Path) -> Path:
    """Unpack into a temporary folder beside the target, then move the HR images into place."""
    target = data_dir / spec.folder  # free or empty: download() checked before fetching
    for stale in data_dir.glob(f".{spec.folder}.unpacking-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.folder}.unpacking-", dir=data_dir))
    try:
        extract_archive(archive, work)
        images_folder = work / spec.archive_folder
        if not (images_folder.is_dir() and list_images(images_folder)):
            subfolders = [p for p in work.iterdir() if p.is_dir()]
            if list_images(work):
                images_folder = work
            elif len(subfolders) == 1 and list_images(subfolders[0]):
                images_folder = subfolders[0]
            else:
                problem = (f"{spec.name}: {archive.name} has no folder {spec.archive_folder}/ of images; "
                           "it is not the expected archive")
                raise DownloadError(
                    f"{problem}. Delete {archive} and run\n  {_download_command(spec.name, data_dir)}",
                    problem=problem,
                )
        if target.is_dir():
            target.rmdir()  # empty (checked above)
        os.replace(images_folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def _member_destination(target: Path, name: str, archive: Path) -> Path:
    """Where member ``name`` goes inside ``target``; refuses anything that would escape it."""
    normalised = name.replace("\\", "/")
    refuse = None
    if not normalised or "\x00" in normalised:
        refuse = "has an empty or invalid name"
    elif normalised.startswith("/") or _WINDOWS_DRIVE.match(normalised):
        refuse = "has an absolute path"
    parts = [part for part in normalised.split("/") if part not in ("", ".")]
    if refuse is None and ".." in parts:
        refuse = "contains '..'"
    destination = target.joinpath(*parts)
    if refuse is None and not destination.resolve().is_relative_to(target.resolve()):
        refuse = "would land outside the target folder"
    if refuse is not None:
        problem = f"Refused to unpack {archive.name}: member {name!r} {refuse}. Nothing was written."
        raise UnsafeArchiveError(
            f"{problem} A genuine data set archive never does this; delete the file and get it "
            "again from the official source.",
            problem=problem,
        )
    return destination


def extract_archive(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Unpack a zip or tar archive (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz) into ``target``.

    Every member is checked before anything is written: absolute paths, ``..``
    components, symbolic and hard links, and devices are refused with
    :class:`UnsafeArchiveError`, so nothing can land outside ``target``. Only regular files
    and folders are written (our own copy loop; permissions and owners are not restored).

    Raises:
        UnsafeArchiveError: a member was refused (nothing was written).
        DownloadError: the file is not a readable zip or tar archive.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, target)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, target)
        else:
            problem = f"{archive.name} is neither a zip nor a tar archive"
            raise DownloadError(f"{archive} is neither a zip nor a tar archive (is it complete?)", problem=problem)
    except UnsafeArchiveError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as err:
        problem = f"{archive.name} is damaged or incomplete ({type(err).__name__}: {err})"
        raise DownloadError(f"{problem}. Delete it and download it again.", problem=problem) from err
    return target


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        plan = []
        for info in members:  # check everything first: refuse before writing anything
            destination = _member_destination(target, info.filename, archive)
            file_type = stat.S_IFMT(info.external_attr >> 16)  # Unix type bits; 0 when unset
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):  # symbolic links, devices
                raise UnsafeArchiveError(
                    f"Refused to unpack {archive.name}: member {info.filename!r} is a link or a "
                    "special file, which a data set archive never needs. Nothing was written."
                )  # the message is all problem: no advice to replace
            plan.append((info, destination))
        for info, destination in plan:
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


def _extract_tar(archive: Path, target: Path) -> None:
    with tarfile.open(archive, "r:*") as tarred:
        members = tarred.getmembers()
        for member in members:  # check everything first: refuse before writing anything
            _member_destination(target, member.name, archive)
            if not (member.isreg() or member.isdir()):
                kind = "a link" if (member.issym() or member.islnk()) else "a special file"
                raise UnsafeArchiveError(
                    f"Refused to unpack {archive.name}: member {member.name!r} is {kind}, which "
                    "a data set archive never needs. Nothing was written."
                )
        for member in members:
            destination = _member_destination(target, member.name, archive)
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tarred.extractfile(member)
            with source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


# ---------------------------------------------------------------------------------------
# 3. PyTorch data sets: whole HR images, and random aligned (LR, HR) patches
# ---------------------------------------------------------------------------------------


# Training sets up to this size (decoded, 8 bits per channel) are decoded once and kept in
# memory: 72 photographs of 1024x768 take 170 MB, and a crop then costs no PNG decode (which
# on two cores took a third of each step). DIV2K's 800 training images (6.7 GB) stay on disk.
IN_MEMORY_LIMIT_BYTES = 2 * 2**30


class HRImageFolder(Dataset):
    """The HR images in one folder (not its subfolders), sorted by file name.

    ``dataset[i]`` is a float32 tensor (3, H, W) in [0, 1]; greyscale files are repeated
    to three channels. By default images are read from disk on each access (DIV2K does not
    fit in memory as floats: 800 images of about 2040x1400 pixels); with ``in_memory`` they
    are decoded once and kept as 8-bit tensors, a quarter of the float size.

    Args:
        folder: the folder, e.g. ``dataset_dir("DIV2K_train_HR")``.
        in_memory: True: decode every image now and keep it; False: read at each access;
            None: keep them when their decoded size is at most ``IN_MEMORY_LIMIT_BYTES``
            (:attr:`in_memory` then says which was chosen).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: the folder holds no image files, or one of them cannot be read.
    """

    def __init__(self, folder: str | os.PathLike, *, in_memory: bool | None = False):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(
                f"No folder at {self.folder}. For a data set, use dataset_dir(NAME) after "
                "`python -m srgan_edu download NAME`."
            )
        self.paths = list_images(self.folder)
        if not self.paths:
            raise ValueError(
                f"No images in {self.folder} (looked for files ending in "
                f"{', '.join(IMAGE_SUFFIXES)}, directly in that folder). Check the path, or "
                "whether the images are one folder further down."
            )
        self._sizes = [self._read_size(path) for path in self.paths]
        if in_memory is None:
            in_memory = self.decoded_bytes() <= IN_MEMORY_LIMIT_BYTES
        self.in_memory = bool(in_memory)
        self._decoded: list[torch.Tensor] = []
        if self.in_memory:  # (3, H, W) uint8: 8-bit files are held exactly
            self._decoded = [load_image(path, mode="RGB").mul(255).round_().to(torch.uint8) for path in self.paths]

    @staticmethod
    def _read_size(path: Path) -> tuple[int, int]:
        try:
            with Image.open(path) as pil:
                width, height = pil.size
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise ValueError(f"Cannot read {path} as an image ({err}): remove it from the folder or replace it.") from err
        return height, width

    @property
    def names(self) -> list[str]:
        """The file names without their suffix, e.g. ``"0001"``."""
        return [path.stem for path in self.paths]

    def image_size(self, index: int) -> tuple[int, int]:
        """(H, W) of image ``index``, read from the file header without decoding it."""
        return self._sizes[index]

    def decoded_bytes(self) -> int:
        """The images' size decoded at 8 bits per channel, in bytes (3 channels each)."""
        return sum(3 * height * width for height, width in self._sizes)

    def describe(self) -> str:
        """One line for a training log: how many images, and whether they are held in memory."""
        size = f"{self.decoded_bytes() / 2**20:.0f} MB decoded"
        where = ("decoded once and held in memory" if self.in_memory else
                 f"read from disk at each crop (more than {IN_MEMORY_LIMIT_BYTES // 2**30} GB to hold)"
                 if self.decoded_bytes() > IN_MEMORY_LIMIT_BYTES else "read from disk at each crop")
        return f"{len(self)} images in {self.folder} ({size}), {where}"

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.in_memory:
            return self._decoded[index].to(torch.float32).div_(255)
        return load_image(self.paths[index], mode="RGB")


def _check_crop(hr_crop: int, scale: int) -> None:
    if scale < 1 or hr_crop < 1:
        raise ValueError(f"hr_crop and scale must be positive, got hr_crop={hr_crop}, scale={scale}")
    if hr_crop % scale:
        raise ValueError(
            f"hr_crop={hr_crop} must be a multiple of scale={scale}, so that the LR crop "
            f"({hr_crop}/{scale}) is a whole number of pixels; try {hr_crop - hr_crop % scale or scale}."
        )


def _crop_too_large(hr_crop: int, name: str, height: int, width: int, scale: int) -> ValueError:
    largest = min(height, width) // scale * scale
    return ValueError(
        f"hr_crop={hr_crop} is larger than image {name!r} ({height}x{width} pixels, "
        f"{largest}x{largest} at most after cropping to a multiple of scale={scale}). Use a "
        f"smaller hr_crop, or leave this image out."
    )


def _draw(high: int, generator: torch.Generator | None) -> int:
    """A uniform integer in [0, high)."""
    return int(torch.randint(0, high, (1,), generator=generator).item())


def paired_random_crop(
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    hr_crop: int,
    scale: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop the same random region from an aligned LR/HR pair.

    The LR crop starts at a whole LR pixel ``(i, j)`` and the HR crop at ``(scale*i,
    scale*j)``, so the two still show exactly the same part of the scene.

    Args:
        lr_img: (C, h, w) or (B, C, h, w), any range.
        hr_img: (C, scale*h, scale*w) or (B, C, scale*h, scale*w).
        hr_crop: side of the square HR crop; a multiple of ``scale``.
        scale: the upscaling factor between the two.
        generator: a seeded ``torch.Generator`` for repeatable crops.

    Returns:
        ``(lr_crop, hr_crop)`` of shapes (..., hr_crop/scale, hr_crop/scale) and
        (..., hr_crop, hr_crop); views into the inputs.
    """
    _check_crop(hr_crop, scale)
    lr_height, lr_width = lr_img.shape[-2:]
    if tuple(hr_img.shape[-2:]) != (lr_height * scale, lr_width * scale):
        raise ValueError(
            f"HR image {tuple(hr_img.shape[-2:])} is not scale={scale} times the LR image "
            f"{(lr_height, lr_width)}; crop the HR image with images.modcrop(hr_img, scale) "
            "before making the LR image."
        )
    lr_crop = hr_crop // scale
    if lr_crop > min(lr_height, lr_width):
        raise _crop_too_large(hr_crop, "hr_img", *hr_img.shape[-2:], scale)
    i = _draw(lr_height - lr_crop + 1, generator)
    j = _draw(lr_width - lr_crop + 1, generator)
    return (
        lr_img[..., i : i + lr_crop, j : j + lr_crop],
        hr_img[..., i * scale : (i + lr_crop) * scale, j * scale : (j + lr_crop) * scale],
    )


def augment_pair(
    lr_img: torch.Tensor,
    hr_img: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random flip/rotation, the same one, to an LR patch and its HR patch.

    Three fair coin flips choose a left-right flip, an up-down flip and a transpose; their
    combinations are the 8 symmetries of a square (the identity, 90/180/270-degree
    rotations, and four mirror images), each with probability 1/8. Patches should be
    square, or the transpose swaps their height and width.

    Args:
        lr_img: (..., h, w).
        hr_img: (..., H, W).
        generator: a seeded ``torch.Generator`` for repeatable choices.

    Returns:
        ``(lr_img, hr_img)`` transformed, contiguous.
    """
    flip_lr, flip_ud, transpose = (torch.rand(3, generator=generator) < 0.5).tolist()
    if flip_lr:
        lr_img, hr_img = lr_img.flip(-1), hr_img.flip(-1)
    if flip_ud:
        lr_img, hr_img = lr_img.flip(-2), hr_img.flip(-2)
    if transpose:
        lr_img, hr_img = lr_img.transpose(-1, -2), hr_img.transpose(-1, -2)
    return lr_img.contiguous(), hr_img.contiguous()


class PairedPatchDataset(Dataset):
    """Random (LR, HR) training patches, made on the fly from HR images (paper sec. 3.2).

    Each sample picks an HR image, draws a random square HR crop aligned to the scale grid,
    makes its LR version with :func:`srgan_edu.degradation.degrade`, and (with ``augment``)
    applies one random flip/rotation to both. Only the crop is degraded, never the whole
    (up to 2K) image: a margin of ``context`` LR pixels of real image around the crop
    feeds the resampling kernel and is then cut off, so the LR patch equals the matching
    crop of the degraded whole image (checked in tests/test_data.py).

    Randomness is repeatable and does not depend on ``num_workers``: sample ``index``
    uses a ``torch.Generator`` seeded from ``(seed, epoch, index)``. Call
    :meth:`set_epoch` at the start of each epoch to get new crops (as with PyTorch's
    ``DistributedSampler``). With ``seed=None`` each sample draws its seed from PyTorch's
    global generator, which DataLoader seeds differently in each worker.

    Args:
        source: a folder of HR images (or an :class:`HRImageFolder`), or a list of HR
            images (3, H, W) in [0, 1], or of ``(name, image)`` pairs as returned by
            :func:`builtin_images`.
        hr_crop: side of the square HR crop (the paper: 96); a multiple of ``scale``.
        scale: the upscaling factor (the paper: 4).
        hr_range: ``"signed"`` for HR targets in [-1, 1] (the paper), ``"unit"`` for [0, 1].
        augment: random flips and 90-degree rotations.
        method: the degradation, ``"bicubic"`` (the paper) or ``"gaussian"``.
        length: samples per epoch (default: one per image); sample ``i`` uses image
            ``i % num_images``, so a few built-in images can give many patches.
        seed: a non-negative seed for repeatable patches; ``None`` uses PyTorch's global
            generator.
        context: LR pixels of margin around each crop for the degradation kernel.

    Shape:
        ``dataset[i]`` is ``(lr_img, hr_img)``: lr_img (3, hr_crop/scale, hr_crop/scale) in
        [0, 1] (clamped: bicubic overshoots); hr_img (3, hr_crop, hr_crop) in [-1, 1] or [0, 1].
    """

    def __init__(
        self,
        source: str | os.PathLike | HRImageFolder | Sequence[torch.Tensor] | Sequence[tuple[str, torch.Tensor]],
        *,
        hr_crop: int = 96,
        scale: int = 4,
        hr_range: str = "signed",
        augment: bool = True,
        method: str = "bicubic",
        length: int | None = None,
        seed: int | None = None,
        context: int = 4,
    ):
        _check_crop(hr_crop, scale)
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed}")
        if hr_range not in ("signed", "unit"):
            raise ValueError(f"hr_range must be 'signed' ([-1, 1]) or 'unit' ([0, 1]), not {hr_range!r}")
        self.hr_crop, self.scale, self.hr_range = hr_crop, scale, hr_range
        self.augment, self.method, self.seed, self.context = augment, method, seed, context
        self.epoch = 0
        self._folder: HRImageFolder | None = None
        self._images: list[torch.Tensor] = []
        if isinstance(source, (str, os.PathLike, HRImageFolder)):
            self._folder = source if isinstance(source, HRImageFolder) else HRImageFolder(source)
            self.names = self._folder.names
            sizes = [self._folder.image_size(i) for i in range(len(self._folder))]
        else:
            self.names, self._images = self._unpack_tensors(source)
            sizes = [tuple(img.shape[-2:]) for img in self._images]
        for name, (height, width) in zip(self.names, sizes):
            if min(height, width) // scale * scale < hr_crop:
                raise _crop_too_large(hr_crop, name, height, width, scale)
        self.num_images = len(self.names)
        self.length = self.num_images if length is None else int(length)
        if self.length < 1:
            raise ValueError(f"length must be at least 1, got {length}")

    @staticmethod
    def _unpack_tensors(source) -> tuple[list[str], list[torch.Tensor]]:
        items = list(source)
        if not items:
            raise ValueError("PairedPatchDataset got an empty list of images; pass at least one.")
        names, images = [], []
        for position, item in enumerate(items):
            name, img = item if isinstance(item, tuple) else (f"image {position}", item)
            if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] != 3:
                shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
                raise ValueError(
                    f"{name}: expected an RGB image tensor (3, H, W) in [0, 1], got {shape}"
                )
            if not img.is_floating_point():
                raise ValueError(f"{name}: expected floats in [0, 1], got {img.dtype}; for 8-bit images pass "
                                 f"img.float() / 255")
            if img.numel() and not bool(torch.isfinite(img).all()):
                raise ValueError(f"{name} holds NaN or infinite values; PairedPatchDataset takes images in [0, 1]")
            low, high = (float(img.min()), float(img.max())) if img.numel() else (0.0, 0.0)
            if high > 1.0 + 1e-3:
                raise ValueError(f"{name} has values up to {high:.4g}: expected [0, 1] (a [0, 255] image? divide "
                                 f"by 255). The HR targets would reach {2 * high - 1:.4g} instead of 1.")
            if low < -1e-3:
                raise ValueError(f"{name} has values down to {low:.4g}: expected [0, 1] (a [-1, 1] image? use "
                                 f"images.to_unit(img)). PairedPatchDataset maps the HR targets to [-1, 1] itself.")
            names.append(name)
            images.append(img.detach().to("cpu", torch.float32))
        return names, images

    def set_epoch(self, epoch: int) -> None:
        """Use the crops of epoch ``epoch`` (call before iterating a DataLoader each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _generator(self, index: int) -> torch.Generator:
        if self.seed is None:
            sample_seed = int(torch.randint(0, 2**62, (1,)).item())
        else:  # mixes the three numbers well, so nearby seeds give unrelated crops
            state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2)
            sample_seed = (int(state[0]) << 31 ^ int(state[1])) & (2**63 - 1)
        return torch.Generator().manual_seed(sample_seed)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        image_index = index % self.num_images
        if self._folder is not None:
            hr_full = self._folder[image_index]
        else:
            hr_full = self._images[image_index]
        hr_full = modcrop(hr_full, self.scale)  # (3, H, W), H and W multiples of scale
        generator = self._generator(index)
        scale, lr_crop = self.scale, self.hr_crop // self.scale
        lr_height, lr_width = hr_full.shape[-2] // scale, hr_full.shape[-1] // scale
        i = _draw(lr_height - lr_crop + 1, generator)  # top-left of the crop, in LR pixels
        j = _draw(lr_width - lr_crop + 1, generator)
        # Degrade the crop plus a margin of real image (clipped at the image border, where
        # the whole-image degradation pads in the same way) and cut the margin off again.
        top, left = min(self.context, i), min(self.context, j)
        bottom = min(self.context, lr_height - i - lr_crop)
        right = min(self.context, lr_width - j - lr_crop)
        region = hr_full[
            :,
            (i - top) * scale : (i + lr_crop + bottom) * scale,
            (j - left) * scale : (j + lr_crop + right) * scale,
        ]
        lr_region = degrade(region, scale, method=self.method)  # (3, h + margins, w + margins)
        lr_img = lr_region[:, top : top + lr_crop, left : left + lr_crop].clamp(0.0, 1.0)
        hr_img = hr_full[:, i * scale : (i + lr_crop) * scale, j * scale : (j + lr_crop) * scale]
        if self.augment:
            lr_img, hr_img = augment_pair(lr_img, hr_img, generator)
        if self.hr_range == "signed":
            hr_img = to_signed(hr_img)  # [0, 1] -> [-1, 1], the paper's HR targets
        return lr_img.contiguous(), hr_img.contiguous()


# ---------------------------------------------------------------------------------------
# 4. Sub-images: DIV2K cut once into pieces that are quick to decode
# ---------------------------------------------------------------------------------------

# Decoding one 2040x1356 DIV2K PNG takes about 76 ms on a CPU core, a 480x480 piece of it
# about 5 ms; every training crop decodes one file, so whole 2K images starve a GPU.
SUBIMAGE_SIZE, SUBIMAGE_STEP = 480, 240
_SUBIMAGES_DONE = ".subimages-complete"  # written last: its presence means the folder is whole


def subimage_boxes(height: int, width: int, *, size: int, step: int) -> list[tuple[int, int, int, int]]:
    """The (left, top, right, bottom) boxes that cut an image into ``size`` x ``size`` pieces.

    Pieces start every ``step`` pixels, and one more is added against the bottom and right
    borders, so every pixel of the image is in at least one piece. An image smaller than
    ``size`` along a side is kept whole along that side.
    """
    if size < 1 or step < 1:
        raise ValueError(f"size and step must be positive, got size={size}, step={step}")

    def starts(length: int) -> list[int]:
        if length <= size:
            return [0]
        positions = list(range(0, length - size + 1, step))
        if positions[-1] != length - size:
            positions.append(length - size)
        return positions

    return [(left, top, min(left + size, width), min(top + size, height))
            for top in starts(height) for left in starts(width)]


def cut_subimages(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    size: int = SUBIMAGE_SIZE,
    step: int = SUBIMAGE_STEP,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Cut every image of ``source`` into overlapping ``size`` x ``size`` PNG pieces in ``target``.

    Pixel for pixel (no re-encoding loss: PNG in, PNG out, the file's own mode). Training on
    the pieces draws crops from the same pixels as training on the whole images, while each
    file decodes some 15 times faster (a 2040x1356 DIV2K image gives 8 x 5 = 40 pieces; the 800
    training images about 32,000).

    Each piece is written atomically and a marker file last, so an interrupted run leaves no
    half file and a second run finishes what is missing; a finished folder is left alone.

    Args:
        source: a folder of HR images (e.g. ``data/DIV2K_train_HR``).
        target: the folder for the pieces (created).
        size: side of a piece in pixels (at least the training crop; 480 as BasicSR's DIV2K
            preparation).
        step: distance between pieces (``size // 2``: each pixel is in up to four pieces).
        workers: threads that cut in parallel (default: up to 8; PNG encoding releases the GIL).
        progress: show a progress bar.

    Returns:
        ``target``.

    Raises:
        FileNotFoundError: ``source`` holds no images.
        ValueError: an image cannot be read (its path is named), or ``target`` is ``source``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise ValueError("the pieces need a folder of their own: target is the source folder")
    paths = list_images(source) if source.is_dir() else []
    if not paths:
        raise FileNotFoundError(f"No images in {source} to cut into sub-images.")
    settings = f"size={size} step={step} images={len(paths)}\n"
    marker = target / _SUBIMAGES_DONE
    if marker.is_file() and marker.read_text() == settings:
        print(f"{target}: already cut ({settings.strip()}); nothing to do.")
        return target
    target.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)

    def cut(path: Path) -> int:
        try:
            with Image.open(path) as pil:
                pil.load()
                boxes = subimage_boxes(pil.height, pil.width, size=size, step=step)
                for number, box in enumerate(boxes):
                    out = target / f"{path.stem}_s{number:03d}.png"
                    if out.is_file():  # written by an earlier, interrupted run (atomically)
                        continue
                    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
                    try:
                        pil.crop(box).save(tmp, format="PNG")
                        os.replace(tmp, out)
                    finally:
                        tmp.unlink(missing_ok=True)
        except OSError as err:
            raise ValueError(f"Cannot cut {path}: {err}. Replace the file (download the data set again) "
                             f"and run the command again; the pieces made so far are kept.") from err
        return len(boxes)

    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(tqdm(pool.map(cut, paths), total=len(paths), desc="cutting", disable=not progress))
    marker.write_text(settings)
    print(f"{target}: {sum(counts)} sub-images of {size}x{size} (step {step}) from {len(paths)} images.")
    return target


# ---------------------------------------------------------------------------------------
# 5. The `download` and `subimages` subcommands: python -m srgan_edu download NAME --data-dir DIR
# ---------------------------------------------------------------------------------------


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu download``."""
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help=f"data sets to fetch: {', '.join(DATASETS)}, or 'all'",
    )
    parser.add_argument(
        "--data-dir", default=None,
        help="the data folder (default: $SRGAN_EDU_DATA, else ./data). Archives or unpacked "
        "folders a teacher handed out are used from here without any download.",
    )
    parser.add_argument("--list", action="store_true", help="show which data sets are present and stop")
    parser.add_argument("--keep-archive", action="store_true", help="keep the archive after unpacking")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _print_status(data_dir: Path) -> None:
    print(f"Data folder: {data_dir.resolve()}")
    for name, text in dataset_status(data_dir).items():
        spec = DATASETS[name]
        checksum = "published SHA-256" if spec.sha256 else "no published SHA-256"
        print(f"  {name:<15} {spec.size:>7}  {checksum:<21} {text}")


def cli_main(args: argparse.Namespace) -> int:
    """Run ``download``: 0 when every named data set is ready, 1 when one failed, 2 on misuse."""
    data_dir = _resolve_data_dir(args.data_dir)
    if args.list:
        _print_status(data_dir)
        return 0
    names = list(args.names)
    if not names:
        _print_status(data_dir)
        print(
            f"\nName the data sets to download ({', '.join(DATASETS)} or all), e.g.\n  "
            f"{_download_command('Set5', data_dir)}",
            file=sys.stderr,
        )
        return 2
    if "all" in names:
        names = list(DATASETS)
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        print(
            f"Unknown data set {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(DATASETS)} or all.",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in dict.fromkeys(names):
        try:
            download(name, data_dir, progress=not args.no_progress, keep_archive=args.keep_archive)
        except DownloadError as err:
            print(f"error: {err}", file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"\nNot ready: {', '.join(failed)} (see the messages above).", file=sys.stderr)
        return 1
    return 0


def add_subimages_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m srgan_edu subimages``."""
    parser.add_argument("source", help="a data set name (e.g. DIV2K_train_HR) or a folder of HR images")
    parser.add_argument("--data-dir", default=None, help="the data folder (default: $SRGAN_EDU_DATA, else ./data)")
    parser.add_argument("--out", default=None, help="where the pieces go (default: <data dir>/<name>_sub<size>)")
    parser.add_argument("--size", type=int, default=SUBIMAGE_SIZE, help=f"side of a piece (default {SUBIMAGE_SIZE})")
    parser.add_argument("--step", type=int, default=SUBIMAGE_STEP, help=f"distance between pieces (default {SUBIMAGE_STEP})")
    parser.add_argument("--workers", type=int, default=None, help="threads (default: up to 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def subimages_main(args: argparse.Namespace) -> int:
    """Run ``subimages``: 0 when the pieces are ready, 1 when the source is missing or unreadable."""
    data_dir = _resolve_data_dir(args.data_dir)
    try:
        if args.source in DATASETS:
            source, name = dataset_dir(args.source, data_dir), args.source
        else:
            source = Path(args.source)
            name = source.name
        target = Path(args.out) if args.out else data_dir / f"{name}_sub{args.size}"
        cut_subimages(source, target, size=args.size, step=args.step, workers=args.workers,
                      progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Train on them with: python -m srgan_edu train srresnet --data-dir {target}")
    return 0
