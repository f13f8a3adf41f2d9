"""`python -m ichbench.cli`."""

from __future__ import annotations

import sys

from ichbench.cli import main

sys.exit(main())
