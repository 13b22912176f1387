"""``python -m service``: see cli.py."""

from __future__ import annotations

import gc
import os
import sys

# PERF: starting up builds many long-lived objects (the imports, pydantic's models, the
# routing table); looking for reference cycles among them while they are made is
# wasted work (about an eighth of `check`). cli.main turns collection back on before
# it serves.
gc.disable()

from .cli import main  # noqa: E402


def run() -> None:
    """The ``service`` command (pyproject's console script) and ``python -m service``."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`service routes | head`): not an error of ours. Point
        # stdout at /dev/null so that the exit's own flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    run()
