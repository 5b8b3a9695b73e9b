"""``python -m nnzoo.cli``: the command line, e.g. under torchrun."""

import sys

from nnzoo.cli import main

sys.exit(main())
