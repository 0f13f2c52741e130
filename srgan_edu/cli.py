"""The command line: ``python -m srgan_edu`` (or ``srgan-edu``) and its subcommands.

Each subcommand lives in the module of its lesson, which adds its own arguments and runs
it; this file only wires them together, so "go to definition" leads to the real code:

- ``evaluate``  -> :mod:`srgan_edu.evaluation` (lessons 02 and 07)
- ``download`` -> :mod:`srgan_edu.datasets`, ``subimages`` -> :mod:`srgan_edu.subimages` (lesson 08)
- ``train``     -> :mod:`srgan_edu.training` (lessons 06 and 08)
- ``benchmark`` -> :mod:`srgan_edu.benchmark`
- ``upscale``   -> :mod:`srgan_edu.upscale` (a course model on your own photograph)
"""

from __future__ import annotations

import argparse
import sys

from PIL import Image

from srgan_edu import __version__, benchmark, datasets, evaluation, subimages, training, upscale
from srgan_edu.checkpoints import CheckpointError
from srgan_edu.runtime import error_line, pick_device


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srgan-edu",
        description="srgan-edu: learn single-image super-resolution by building SRGAN.",
    )
    parser.add_argument("--version", action="version", version=f"srgan-edu {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub = commands.add_parser("evaluate", help="PSNR/SSIM with the paper's protocol (bicubic or a checkpoint)")
    evaluation.add_cli_arguments(sub)
    sub.set_defaults(run=evaluation.cli_main)

    sub = commands.add_parser("download", help="download and verify DIV2K, Set5, Set14 or BSD100")
    datasets.add_cli_arguments(sub)
    sub.set_defaults(run=datasets.cli_main)

    sub = commands.add_parser("subimages", help="cut DIV2K into 480x480 pieces that load 15 times faster")
    subimages.add_subimages_arguments(sub)
    sub.set_defaults(run=subimages.subimages_main)

    sub = commands.add_parser("train", help="train SRResNet or SRGAN (also under torchrun)")
    training.add_cli_arguments(sub)
    sub.set_defaults(run=training.cli_main)

    sub = commands.add_parser("upscale", help="enlarge your own photograph with a course model (or a checkpoint)")
    upscale.add_cli_arguments(sub)
    sub.set_defaults(run=upscale.cli_main)

    sub = commands.add_parser("benchmark", help="training throughput on this machine")
    benchmark.add_cli_arguments(sub)
    sub.set_defaults(run=benchmark.cli_main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    device = getattr(args, "device", None)
    if device not in (None, "", "auto"):  # found before any work, for every subcommand
        try:
            pick_device(device)
        except RuntimeError as err:
            print(f"error: --device {device}: {error_line(err)}", file=sys.stderr)
            return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    # What a user's files and folders can cause, anywhere: one line instead of a traceback.
    except (OSError, CheckpointError, Image.DecompressionBombError) as err:
        hint = (" Check the path, its permissions and the free space." if isinstance(err, OSError)
                and not isinstance(err, FileNotFoundError) else "")
        print(f"error: {error_line(err)}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
