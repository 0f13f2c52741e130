"""``python -m srgan_edu``: see :mod:`srgan_edu.cli`."""

import sys

from srgan_edu.cli import main

sys.exit(main())
