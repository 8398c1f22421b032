"""``python -m harness`` runs the ``parbench`` command."""

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
