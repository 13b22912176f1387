"""``python -m service``: see cli.py."""

from __future__ import annotations

import gc
import sys

# PERF: starting up builds many long-lived objects (the imports, pydantic's models, the
# routing table); looking for reference cycles among them while they are made is
# wasted work (about an eighth of `check`). cli.main turns collection back on before
# it serves.
gc.disable()

from .cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
