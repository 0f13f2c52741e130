"""A stand-in data kit for the full mode: a few small images in the real layouts, served locally.

``build_kit(folder)`` writes small PNG photographs-to-be (smooth random fields, so that
bicubic and the networks have something to do) into archives named and laid out as the real
ones (``DIV2K_train_HR.zip`` holding ``DIV2K_train_HR/0001.png``, ``Set5_HR.tar.gz`` holding
``Set5_HR/baby.png`` ...), and returns :class:`srgan_edu.data.DatasetSpec` entries that point
at a local HTTP server (:class:`KitServer`, 127.0.0.1, a random port) with each archive's
SHA-256 (Set14 without one, as in the real registry). Tests swap them in for
``srgan_edu.data.DATASETS``, the registry override the download tests use, so nothing
touches the internet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from srgan_edu import datasets

# name -> (archive format, number of images, side in pixels, image names or None for 0001.png ...)
LAYOUT = {
    "DIV2K_train_HR": ("zip", 4, 96, None),
    "DIV2K_valid_HR": ("zip", 2, 64, ("0801", "0802")),
    "Set5": ("tar.gz", 2, 64, ("baby", "bird")),
    "Set14": ("tar.gz", 2, 64, ("baboon", "barbara")),
    "BSD100": ("tar.gz", 2, 64, ("3096", "8023")),
}


def photo_png(seed: int, size: int) -> bytes:
    """A (size, size) RGB PNG: random colours upsampled smoothly, plus a little noise."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, size=(size // 8, size // 8, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((size, size), Image.BICUBIC), dtype=np.float32)
    pixels = np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _archive(kind: str, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as zipped:
            for name, payload in members.items():
                zipped.writestr(name, payload)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
            for name, payload in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                tarred.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


@dataclasses.dataclass
class Kit:
    archives: dict[str, bytes]  # file name -> archive bytes
    specs: dict[str, datasets.DatasetSpec]  # a registry like datasets.DATASETS, pointing at the server


def build_kit(base_url: str) -> Kit:
    """The archives and a registry whose URLs start with ``base_url``."""
    archives, specs = {}, {}
    for seed, (name, (kind, count, size, stems)) in enumerate(LAYOUT.items()):
        real = datasets.DATASETS[name]
        stems = stems or tuple(f"{index:04d}" for index in range(1, count + 1))
        members = {f"{real.archive_folder}/{stem}.png": photo_png(100 * seed + i, size) for i, stem in enumerate(stems)}
        payload = _archive(kind, members)
        archives[real.filename] = payload
        sha = None if real.sha256 is None else hashlib.sha256(payload).hexdigest()  # Set14: none, as for real
        specs[name] = dataclasses.replace(real, url=f"{base_url}/{real.filename}", sha256=sha, num_images=count,
                                          size=f"{len(payload) // 1024 + 1} kB", source="the stand-in kit")
    return Kit(archives, specs)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.lstrip("/")
        self.server.requests.append(name)
        payload = self.server.archives.get(name)
        if payload is None:
            self.send_response(404)
            self.end_headers()
            return
        cut = name in self.server.break_next
        self.server.break_next.discard(name)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2] if cut else payload)  # cut: a transfer that breaks off

    def log_message(self, *args):
        pass


class KitServer:
    """The kit on http://127.0.0.1:PORT; ``break_next`` names archives whose next transfer breaks off."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.kit = build_kit(self.base_url)
        self.httpd.archives, self.httpd.requests, self.httpd.break_next = self.kit.archives, [], set()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    @property
    def break_next(self) -> set[str]:
        return self.httpd.break_next

    def __enter__(self) -> KitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

