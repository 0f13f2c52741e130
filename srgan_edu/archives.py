"""Unpacking a downloaded data set archive safely (lesson 08).

A zip or tar file from the internet can hold members named ``/etc/...`` or ``../../x``, links
and devices; unpacked naively, they write outside the target folder. :func:`extract_archive`
checks every member before it writes anything, writes only regular files and folders, and
raises :class:`UnsafeArchiveError` otherwise. :class:`DownloadError` (a data set could not be
fetched or unpacked, with a message that says what to do) lives here too, so that both
errors are one family. :mod:`srgan_edu.datasets` downloads the archives and re-exports these
names.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

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
