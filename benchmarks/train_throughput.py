"""Training throughput on this machine: ``python benchmarks/train_throughput.py [options]``.

The same as ``python -m srgan_edu benchmark [options]`` (see :mod:`srgan_edu.benchmark` for
what is timed and how); results and the commands that produced them are kept in
``benchmarks/RESULTS.md``. Examples::

    python benchmarks/train_throughput.py                      # paper sizes: batch 16, 96x96 crops
    python benchmarks/train_throughput.py --steps 3 --warmup 1 # a short run on a CPU
    python benchmarks/train_throughput.py --modes fp32 amp compile --json gpu.json
    python benchmarks/train_throughput.py --modes channels_last compile --warmup 3  # compile pay-back
    python benchmarks/train_throughput.py --data data/DIV2K_valid_HR                # the data loader too

With ``compile`` and its base mode (``amp`` on CUDA, ``channels_last`` on a CPU) the report says
how long compiling took and after how many steps a compiled run has caught up. With ``--data``
(a folder of HR images) it times the trainer's DataLoader on it (images decoded in memory and
read from disk, several worker counts, the trainer's default marked), puts each model's step rate
beside it, and times the step fed by the trainer's default loader: whether training is input-bound.
"""

from __future__ import annotations

import sys

from srgan_edu.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
