"""Sub-images (lesson 08): DIV2K cut once into pieces that are quick to decode.

``cut_subimages`` and the ``subimages`` subcommand of ``python -m srgan_edu``. The data sets
themselves (registry, download, checksums) are in :mod:`srgan_edu.datasets`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PIL import Image

from srgan_edu import datasets
from srgan_edu.images import list_images


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


# --- the `subimages` subcommand: python -m srgan_edu subimages NAME|FOLDER ----------------------


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
    data_dir = Path(args.data_dir) if args.data_dir is not None else datasets.default_data_dir()
    try:
        if args.source in datasets.DATASETS:
            source, name = datasets.dataset_dir(args.source, data_dir), args.source
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
