"""Training throughput on this machine: ``python benchmarks/train_throughput.py [options]``.

The same as ``python -m srgan_edu benchmark [options]`` (see :mod:`srgan_edu.benchmark` for
what is timed and how); results and the commands that produced them are kept in
``benchmarks/RESULTS.md``. Examples::

    python benchmarks/train_throughput.py                      # paper sizes: batch 16, 96x96 crops
    python benchmarks/train_throughput.py --steps 3 --warmup 1 # a short run on a CPU
    python benchmarks/train_throughput.py --modes fp32 amp compile --json gpu.json
"""

from __future__ import annotations

import sys

from srgan_edu.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
