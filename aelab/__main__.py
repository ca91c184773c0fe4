"""Entry point for ``python -m aelab``."""

import sys

from .cli import main

sys.exit(main())
