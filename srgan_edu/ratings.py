"""One rating of the MOS test, and the class's ratings file (sec. 3.3, lesson 07).

A :class:`Rating` is one score (1 bad .. 5 excellent) that one rater gave one version of one
image. :func:`append_ratings` and :func:`read_ratings` keep every rating of a class in one
CSV file that many raters (processes, notebooks, machines sharing a folder) append to at the
same time, without losing or tearing a row: each append holds a lock (``fcntl.flock`` where
it exists, else a lock file beside the CSV that a crashed writer cannot leave behind for
good). The blind plan, the rating session and the statistics are in :mod:`srgan_edu.mos`,
which re-exports these names.
"""

from __future__ import annotations

import csv
import io
import os
import random
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

try:  # POSIX: an advisory lock the kernel releases even when a process dies holding it.
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None

FIELDS = ("timestamp", "session", "rater", "trial", "code", "image", "method", "score")
SCORE_RANGE = (1, 5)
SCORE_LABELS = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}

# Which lock append/read use: fcntl.flock where it exists, else a lock file beside the CSV.
# Tests switch this off to exercise the portable fallback on POSIX too.
_USE_FCNTL = _fcntl is not None
_LOCKFILE_STALE_S = 20.0  # a lock file older than this was left by a crashed writer (a write takes milliseconds)
# Waiters keep waiting past the stale age, so a lock left by a crashed rater is broken by the next
# waiter instead of making every rating attempt fail until someone deletes it by hand.
_LOCK_TIMEOUT_S = _LOCKFILE_STALE_S + 10.0


@dataclass(frozen=True)
class Rating:
    """One score that one rater gave one version of one image."""

    rater: str  # a name or an anonymous id; never shown to other raters
    image: str  # which test image (e.g. "baboon")
    method: str  # which version: "HR", "bicubic", "SRResNet", "SRGAN", ...
    score: int  # 1 (bad) .. 5 (excellent)
    session: str = ""  # the rating session (a class, a date)
    trial: int = 0  # position in the rater's shuffled plan, from 0
    code: str = ""  # the neutral label the rater saw instead of the method
    timestamp: str = ""  # ISO 8601, UTC; filled in on writing when empty

    def __post_init__(self) -> None:
        low, high = SCORE_RANGE
        if isinstance(self.score, bool) or not isinstance(self.score, int) or not low <= self.score <= high:
            raise ValueError(f"a score is an integer from {low} to {high}, got {self.score!r}")
        for name in ("rater", "image", "method", "session", "code", "timestamp"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Rating.{name} must be a string, got {type(value).__name__}")
            if "\n" in value or "\r" in value:
                raise ValueError(f"Rating.{name} may not contain a line break: {value!r}")


# --- the ratings file ----------------------------------------------------------------------


@contextmanager
def _locked(fd: int, path: Path, *, shared: bool):
    """Hold a lock on the open file ``fd`` (of ``path``) for the duration of the block.

    With ``fcntl.flock`` (Linux, macOS) readers share the lock and a writer holds it alone.
    Elsewhere a lock file ``<path>.lock`` created with O_EXCL serialises readers and
    writers alike; one left behind by a crashed process is removed after a minute.
    """
    if _USE_FCNTL:
        _fcntl.flock(fd, _fcntl.LOCK_SH if shared else _fcntl.LOCK_EX)
        try:
            yield
        finally:
            _fcntl.flock(fd, _fcntl.LOCK_UN)
        return
    lock_path = path.with_name(path.name + ".lock")
    wait_s = max(_LOCK_TIMEOUT_S, _LOCKFILE_STALE_S + 1.0)  # never give up before a stale lock can be broken
    deadline = time.monotonic() + wait_s
    while True:
        try:
            lock_fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if _break_if_stale(lock_path):
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{lock_path} has been held for more than {wait_s:.0f} s. If no rating "
                    "session is running, delete it by hand."
                ) from None
            time.sleep(0.005 + random.random() * 0.01)
    try:
        os.write(lock_fd, str(os.getpid()).encode())
        os.close(lock_fd)
        yield
    finally:
        lock_path.unlink(missing_ok=True)


def _break_if_stale(lock_path: Path) -> bool:
    """Remove ``lock_path`` if a crashed process left it (older than a minute); True if it is gone.

    Two waiters could both find the same stale lock; were both to delete "it", the second would
    delete the fresh lock the first had just taken, and both would write at once. So breaking is
    itself serialised by a second lock file, and the age is checked again while holding it: a
    lock taken meanwhile is fresh and stays.
    """
    breaker = lock_path.with_name(lock_path.name + ".break")
    try:
        breaker_fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:  # someone else is breaking it; a breaker left by a crash ages out too
        try:
            if time.time() - breaker.stat().st_mtime > _LOCKFILE_STALE_S:
                breaker.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        return False
    os.close(breaker_fd)
    try:
        try:
            if time.time() - lock_path.stat().st_mtime <= _LOCKFILE_STALE_S:
                return False  # alive (or taken again meanwhile): wait for it
        except FileNotFoundError:
            return True
        lock_path.unlink(missing_ok=True)
        return True
    finally:
        breaker.unlink(missing_ok=True)


def _encode_rows(ratings: Sequence[Rating], *, header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(FIELDS)
    for rating in ratings:
        writer.writerow([getattr(rating, name) for name in FIELDS])
    return buffer.getvalue().encode("utf-8")


def append_ratings(path: str | os.PathLike, ratings: Iterable[Rating]) -> int:
    """Append ratings to a CSV file safely while other raters append to it too.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    The rows are written with one ``write`` under an exclusive lock (``fcntl.flock`` on
    POSIX, a lock file elsewhere), to a file opened in append mode, and ``fsync``-ed
    before the lock is released: no earlier rating is ever rewritten, two raters never
    interleave, and a reader (which takes a shared lock) never sees half a row. The header
    is written when the file is new or empty. Should a crash ever have left a last line
    without its line break, the new rows start on a fresh line so that they stay readable.

    Args:
        path: the CSV file (created, with its folder, when missing).
        ratings: the ratings to add; empty timestamps are set to now (UTC).

    Returns:
        How many rows were appended.
    """
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    rows = [r if r.timestamp else _with_timestamp(r, now) for r in ratings]
    if not rows:
        return 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _locked(fd, path, shared=False):
            size = os.fstat(fd).st_size
            if size > 0:
                with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                    header = next(csv.reader([handle.readline()]), [])
                if tuple(header) != FIELDS:
                    raise ValueError(
                        f"{path} is not a ratings file: its columns are {header[:10]}, not {list(FIELDS)}. "
                        f"Appending would mix two tables; give another file name for the ratings.")
            data = _encode_rows(rows, header=size == 0)
            if size > 0 and not _ends_with_newline(path, size):
                data = b"\n" + data
            view = memoryview(data)
            while view:  # os.write may write fewer bytes than asked
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
    finally:
        os.close(fd)
    return len(rows)


def _with_timestamp(rating: Rating, timestamp: str) -> Rating:
    from dataclasses import replace

    return replace(rating, timestamp=timestamp)


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


def read_ratings(path: str | os.PathLike) -> list[Rating]:
    """Read every complete rating from a CSV written by :func:`append_ratings`.

    Lesson 07 (``notebooks/07_evaluation_and_tradeoffs.ipynb``).

    The file is read under a shared lock, so a rating being written at that moment is
    either wholly there or not at all. Rows that cannot be parsed (edited by hand, or torn
    by a crash) are skipped with a warning that counts them.

    Args:
        path: the CSV file.

    Returns:
        The ratings in file order (an empty list for a missing or empty file).
    """
    path = Path(path)
    if not path.exists():
        return []
    fd = os.open(path, os.O_RDONLY)
    try:
        with _locked(fd, path, shared=True):
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    # Only complete lines count: a line without its break is a row still being written
    # (possible only without a lock) or torn by a crash.
    complete, _, partial = data.rpartition(b"\n")
    text = complete.decode("utf-8", errors="replace")
    if not text:
        return []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != FIELDS:
        raise ValueError(f"{path} is not a ratings file: its first line should be {','.join(FIELDS)}")
    ratings, skipped = [], 0
    for row in reader:
        if not row:
            continue
        try:
            if len(row) != len(FIELDS):
                raise ValueError(f"{len(row)} fields")
            values = dict(zip(FIELDS, row))
            ratings.append(
                Rating(
                    rater=values["rater"],
                    image=values["image"],
                    method=values["method"],
                    score=int(values["score"]),
                    session=values["session"],
                    trial=int(values["trial"]),
                    code=values["code"],
                    timestamp=values["timestamp"],
                )
            )
        except (ValueError, TypeError):
            skipped += 1
    if partial.strip():
        skipped += 1
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} incomplete or malformed row(s)", stacklevel=2)
    return ratings
