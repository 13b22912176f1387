"""``from service import web``: the public API as one namespace, as in aiohttp."""

from __future__ import annotations

from . import *  # noqa: F403  (the namespace *is* the package's public API)
from . import __all__ as __all__  # noqa: F401
