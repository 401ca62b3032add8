"""`python -m tools.redrive`: the command line."""

import sys

from tools.redrive.cli import main

sys.exit(main())
