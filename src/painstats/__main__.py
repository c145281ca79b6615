"""``python -m painstats`` runs the command line."""

import sys

from painstats.cli import main

sys.exit(main())
