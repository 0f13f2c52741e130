"""datasets.download against a local HTTP server: checksums, caching, failures, unsafe archives.

Every test serves small archives built here from http.server on 127.0.0.1 (a random
port, started and stopped by a fixture), so nothing touches the internet.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan_edu import datasets

IMAGE_NAMES = ("a.png", "b.png", "c.png")


def png_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, payload in members.items():
            zipped.writestr(zipfile.ZipInfo(name), payload)
        for name, link_target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zipped.writestr(info, link_target)
    return buffer.getvalue()


def make_tar_gz(members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    """``links``: name -> (tarfile.SYMTYPE or LNKTYPE, target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tarred.addfile(info, io.BytesIO(payload))
        for name, (kind, link_target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link_target
            tarred.addfile(info)
    return buffer.getvalue()


def good_members(folder: str = "Tiny_HR") -> dict[str, bytes]:
    return {f"{folder}/{name}": png_bytes(seed) for seed, name in enumerate(IMAGE_NAMES)}


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """GET /NAME serves routes[NAME] = (status, body, declared length or None)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        status, body, declared = self.server.routes.get(self.path, (404, b"not found", None))
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)  # fewer bytes than declared: a truncated transfer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server on a random port; ``server.routes`` maps paths to responses."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.requests = {}, []
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def tiny_spec(url: str, filename: str, sha: str | None, name: str = "Tiny") -> datasets.DatasetSpec:
    return datasets.DatasetSpec(
        name=name, url=url, sha256=sha, filename=filename, folder="Tiny", archive_folder="Tiny_HR",
        num_images=3, size="1 kB", source="a test", checksum_source="this test", citation="-",
    )


def serve(server, filename: str, payload: bytes, *, status: int = 200, declared: int | None = None) -> str:
    server.routes[f"/{filename}"] = (status, payload, declared)
    return f"{server.base_url}/{filename}"


def assert_left_nothing(data_dir: Path) -> None:
    leftovers = sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []
    assert leftovers == [], f"left behind: {leftovers}"


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_good_archive_is_verified_unpacked_and_cached(server, tmp_path, capsys, kind):
    payload = make_zip(good_members()) if kind == "zip" else make_tar_gz(good_members())
    filename = f"Tiny_HR.{kind}"
    spec = tiny_spec(serve(server, filename, payload), filename, sha256(payload))
    data_dir = tmp_path / "data"

    folder = datasets.download("Tiny", data_dir, progress=False, spec=spec)

    assert folder == data_dir / "Tiny"
    assert sorted(p.name for p in folder.iterdir()) == list(IMAGE_NAMES)
    assert sorted(p.name for p in data_dir.iterdir()) == ["Tiny"]  # archive and temp folder gone
    assert "SHA-256 verified" in capsys.readouterr().out
    assert server.requests == [f"/{filename}"]

    again = datasets.download("Tiny", data_dir, progress=False, spec=spec)
    assert again == folder
    assert server.requests == [f"/{filename}"]  # the second call made no request
    assert "nothing to do" in capsys.readouterr().out


def test_a_folder_left_by_an_interrupted_unpacking_is_cleared(server, tmp_path):
    payload = make_zip(good_members())
    spec = tiny_spec(serve(server, "t.zip", payload), "t.zip", sha256(payload))
    stale = tmp_path / ".Tiny.unpacking-abc123"
    (stale / "Tiny_HR").mkdir(parents=True)
    datasets.download("Tiny", tmp_path, progress=False, spec=spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Tiny"]


def test_keep_archive_keeps_the_downloaded_file(server, tmp_path):
    payload = make_zip(good_members())
    spec = tiny_spec(serve(server, "t.zip", payload), "t.zip", sha256(payload))
    datasets.download("Tiny", tmp_path, progress=False, spec=spec, keep_archive=True)
    assert (tmp_path / "t.zip").read_bytes() == payload


def test_unknown_checksum_prints_the_computed_one_and_says_unverified(server, tmp_path, capsys):
    payload = make_tar_gz(good_members())
    spec = tiny_spec(serve(server, "t.tar.gz", payload), "t.tar.gz", None)
    datasets.download("Tiny", tmp_path, progress=False, spec=spec)
    out = capsys.readouterr().out
    assert sha256(payload) in out
    assert "could NOT be verified against a published value" in out


def test_wrong_checksum_is_a_clear_error_and_leaves_nothing(server, tmp_path):
    payload = make_zip(good_members())
    spec = tiny_spec(serve(server, "t.zip", payload), "t.zip", "0" * 64)
    with pytest.raises(datasets.DownloadError, match="SHA-256 does not match the published"):
        datasets.download("Tiny", tmp_path / "data", progress=False, spec=spec)
    assert_left_nothing(tmp_path / "data")


@pytest.mark.parametrize("sha_known", [True, False])
def test_truncated_download_is_an_error_and_leaves_nothing(server, tmp_path, sha_known):
    payload = make_zip(good_members())
    url = serve(server, "t.zip", payload[: len(payload) // 2], declared=len(payload))
    spec = tiny_spec(url, "t.zip", sha256(payload) if sha_known else None)
    with pytest.raises(datasets.DownloadError, match="broke off"):
        datasets.download("Tiny", tmp_path / "data", progress=False, spec=spec)
    assert_left_nothing(tmp_path / "data")


@pytest.mark.parametrize("status", [404, 500])
def test_server_error_is_a_clear_error_and_leaves_nothing(server, tmp_path, status):
    url = serve(server, "t.zip", b"<html>oops</html>", status=status)
    spec = tiny_spec(url, "t.zip", None)
    with pytest.raises(datasets.DownloadError, match=f"HTTP {status}") as caught:
        datasets.download("Tiny", tmp_path / "data", progress=False, spec=spec)
    message = str(caught.value)
    assert "What to do" in message and "python -m srgan_edu download Tiny" in message
    assert_left_nothing(tmp_path / "data")


def test_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = tiny_spec(f"http://127.0.0.1:{port}/t.zip", "t.zip", None)
    with pytest.raises(datasets.DownloadError, match="could not reach"):
        datasets.download("Tiny", tmp_path / "data", progress=False, spec=spec)
    assert_left_nothing(tmp_path / "data")


def test_a_download_that_is_not_an_archive_is_deleted(server, tmp_path):
    payload = b"this is an HTML error page, not a zip"
    spec = tiny_spec(serve(server, "t.zip", payload), "t.zip", None)
    with pytest.raises(datasets.DownloadError, match="neither a zip nor a tar") as caught:
        datasets.download("Tiny", tmp_path / "data", progress=False, spec=spec)
    assert_left_nothing(tmp_path / "data")
    message = str(caught.value)
    assert "was deleted" in message and "Run the command again" in message
    assert "Delete it" not in message  # it is gone already: no advice to delete it


def test_a_folder_in_the_way_is_reported_before_downloading(server, tmp_path):
    payload = make_zip(good_members())
    spec = tiny_spec(serve(server, "t.zip", payload), "t.zip", sha256(payload))
    blocked = tmp_path / "data" / spec.folder
    blocked.mkdir(parents=True)
    (blocked / "notes.txt").write_text("not an image")
    requests_before = len(server.requests)
    with pytest.raises(datasets.DownloadError, match="exists but holds no images"):
        datasets.download("Tiny", tmp_path / "data", progress=False, spec=spec)
    assert len(server.requests) == requests_before  # refused without fetching anything
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [spec.folder]


def _unsafe_archives(outside: Path) -> dict[str, tuple[str, bytes]]:
    evil = png_bytes(9)
    absolute = str(outside / "evil.png")
    return {
        "zip-dotdot": ("t.zip", make_zip({**good_members(), "Tiny_HR/../../evil.png": evil})),
        "zip-absolute": ("t.zip", make_zip({**good_members(), absolute: evil})),
        "zip-symlink": ("t.zip", make_zip(good_members(), symlinks={"Tiny_HR/link.png": "/etc/passwd"})),
        "tar-dotdot": ("t.tar.gz", make_tar_gz({**good_members(), "../evil.png": evil})),
        "tar-absolute": ("t.tar.gz", make_tar_gz({**good_members(), absolute: evil})),
        "tar-symlink": ("t.tar.gz", make_tar_gz(good_members(), {"Tiny_HR/l.png": (tarfile.SYMTYPE, "/etc/passwd")})),
        "tar-hardlink": ("t.tar.gz", make_tar_gz(good_members(), {"Tiny_HR/l.png": (tarfile.LNKTYPE, "/etc/passwd")})),
    }


@pytest.mark.parametrize(
    "case", ["zip-dotdot", "zip-absolute", "zip-symlink", "tar-dotdot", "tar-absolute", "tar-symlink", "tar-hardlink"]
)
def test_unsafe_members_are_refused_and_nothing_is_written(server, tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    filename, payload = _unsafe_archives(outside)[case]
    data_dir = tmp_path / "deep" / "data"
    spec = tiny_spec(serve(server, filename, payload), filename, sha256(payload))
    with pytest.raises(datasets.UnsafeArchiveError, match="Refused to unpack"):
        datasets.download("Tiny", data_dir, progress=False, spec=spec)
    assert_left_nothing(data_dir)  # no images, no archive, no temporary folder
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "outside"]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["data"]


def test_extract_archive_checks_every_member_before_writing(tmp_path):
    archive = tmp_path / "t.tar.gz"
    archive.write_bytes(make_tar_gz({**good_members(), "../evil.png": b"x"}))
    target = tmp_path / "target"
    with pytest.raises(datasets.UnsafeArchiveError):
        datasets.extract_archive(archive, target)
    assert list(target.iterdir()) == []  # the good members before it were not written either


def test_teacher_archive_in_the_data_folder_needs_no_network(server, tmp_path, capsys):
    payload = make_zip(good_members())
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "t.zip").write_bytes(payload)
    spec = tiny_spec(f"{server.base_url}/t.zip", "t.zip", sha256(payload))  # not served
    folder = datasets.download("Tiny", data_dir, progress=False, spec=spec)
    assert len(list(folder.iterdir())) == 3
    assert server.requests == []
    assert (data_dir / "t.zip").exists()  # the teacher's file is left alone
    assert "no download" in capsys.readouterr().out


def test_teacher_archive_with_the_wrong_checksum_is_refused_without_network(server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "t.zip").write_bytes(make_zip(good_members()))
    spec = tiny_spec(f"{server.base_url}/t.zip", "t.zip", "0" * 64)
    with pytest.raises(datasets.DownloadError, match="is not the published file"):
        datasets.download("Tiny", data_dir, progress=False, spec=spec)
    assert server.requests == []
    assert sorted(p.name for p in data_dir.iterdir()) == ["t.zip"]


@pytest.mark.parametrize("layout", ["Tiny", "Tiny_HR", "Tiny/HR"])
def test_teacher_unpacked_folder_is_recognised_without_network(server, tmp_path, layout):
    folder = tmp_path / layout
    folder.mkdir(parents=True)
    for seed, name in enumerate(IMAGE_NAMES):
        (folder / name).write_bytes(png_bytes(seed))
    spec = tiny_spec(f"{server.base_url}/t.zip", "t.zip", None)
    assert datasets.download("Tiny", tmp_path, progress=False, spec=spec) == folder
    assert server.requests == []


def test_real_specs_are_complete_and_point_at_their_documented_sources():
    assert set(datasets.DATASETS) == {"DIV2K_train_HR", "DIV2K_valid_HR", "Set5", "Set14", "BSD100"}
    for name, spec in datasets.DATASETS.items():
        assert spec.name == name and spec.url.startswith("https://")
        assert spec.url.endswith(spec.filename)
        assert spec.sha256 is None or len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert spec.checksum_source and spec.source and spec.citation
    assert datasets.DATASETS["DIV2K_train_HR"].url.startswith("https://data.vision.ee.ethz.ch/cvl/DIV2K/")
    assert datasets.DATASETS["Set14"].sha256 is None  # no published checksum: documented as unverified


# --- the command line -----------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    datasets.add_cli_arguments(parser)
    return datasets.cli_main(parser.parse_args(list(argv)))


def test_cli_list_shows_every_data_set(tmp_path, capsys):
    assert run_cli("--list", "--data-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    for name in datasets.DATASETS:
        assert f"missing: python -m srgan_edu download {name} --data-dir {tmp_path}" in out
    assert "no published SHA-256" in out  # Set14


def test_cli_downloads_a_named_set_and_all(server, tmp_path, monkeypatch, capsys):
    payload = make_zip(good_members())
    spec = tiny_spec(serve(server, "t.zip", payload), "t.zip", sha256(payload))
    monkeypatch.setattr(datasets, "DATASETS", {"Tiny": spec})
    assert run_cli("Tiny", "--data-dir", str(tmp_path), "--no-progress") == 0
    assert len(list((tmp_path / "Tiny").iterdir())) == 3
    assert run_cli("all", "--data-dir", str(tmp_path)) == 0  # already there: no request
    assert server.requests == ["/t.zip"]


def test_cli_reports_a_failure_with_exit_code_1(server, tmp_path, monkeypatch, capsys):
    url = serve(server, "t.zip", b"gone", status=404)
    monkeypatch.setattr(datasets, "DATASETS", {"Tiny": tiny_spec(url, "t.zip", None)})
    assert run_cli("Tiny", "--data-dir", str(tmp_path), "--no-progress") == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_cli_misuse_exits_2(tmp_path, capsys):
    assert run_cli("NoSuchSet", "--data-dir", str(tmp_path)) == 2
    assert "Unknown data set 'NoSuchSet'" in capsys.readouterr().err
    assert run_cli("--data-dir", str(tmp_path)) == 2
    assert "Name the data sets to download" in capsys.readouterr().err


def test_python_dash_m_download_list(tmp_path):
    for module in ("evaluation", "training", "benchmark"):  # cli.py wires them all
        pytest.importorskip(f"srgan_edu.{module}")
    result = subprocess.run(
        [sys.executable, "-m", "srgan_edu", "download", "--list", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DIV2K_train_HR" in result.stdout and "missing" in result.stdout
