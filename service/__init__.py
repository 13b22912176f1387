"""service: a declarative microservice runner with aiohttp's programming model.

Write ``from service import web`` and use ``web.RouteTableDef``,
``web.Application``, ``web.Response`` and ``web.run_app`` as in aiohttp; or
describe the routes in routes.yaml and run ``python -m service serve``.
"""

from __future__ import annotations

from .web import *  # noqa: F403  (the package's public API is service.web's)
from .web import __all__ as __all__

__version__ = "0.1.0"
