"""The real data sets (lesson 08 and maintainers): where they come from, checksums, download.

Ledig et al. (CVPR 2017), sec. 3.1: SRGAN is trained on ImageNet photographs (the course
uses DIV2K, as most later work does) and tested on Set5, Set14 and BSD100. This module
holds, top to bottom:

1. ``default_data_dir``; the registry ``DATASETS`` (DIV2K train/valid HR, Set5, Set14,
   BSD100): where each comes from and its published SHA-256 checksum; ``download``
   (pooch fetches and checks the hash; :mod:`srgan_edu.archives` unpacks the archive,
   refusing members that would land outside the target folder), ``dataset_dir`` and
   ``dataset_status``.
2. The ``download`` subcommand of ``python -m srgan_edu``.

DIV2K cut into sub-images that decode 15 times faster is :mod:`srgan_edu.subimages`.

The images themselves (built-in photographs, HR folders, paired crops) are in
:mod:`srgan_edu.data`.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


# Re-exported: callers catch datasets.DownloadError and call datasets.extract_archive.
from srgan_edu.archives import DownloadError, UnsafeArchiveError, extract_archive  # noqa: F401
from srgan_edu.images import list_images


# ---------------------------------------------------------------------------------------
# 1. The real data sets: DIV2K, Set5, Set14, BSD100
# ---------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$SRGAN_EDU_DATA`` if set, else ``data/`` in the current folder.

    Lesson 08 (``notebooks/08_scaling_up.ipynb``).
    """
    return Path(os.environ.get("SRGAN_EDU_DATA", "data"))


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

    Lesson 01 (``notebooks/01_degradation_model.ipynb``).

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

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

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

    Lesson 00 (``notebooks/00_setup_and_tour.ipynb``).

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


# ---------------------------------------------------------------------------------------
# 2. The `download` subcommand: python -m srgan_edu download NAME --data-dir DIR
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
