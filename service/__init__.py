"""service: a declarative microservice runner with aiohttp's programming model.

Write ``from service import web`` and use ``web.RouteTableDef``,
``web.Application``, ``web.Response`` and ``web.run_app`` as in aiohttp; or
describe the routes in routes.yaml and run ``service serve``. ``service.load_app(path)``
loads a routes file into an ``Application`` without serving it.
"""

from __future__ import annotations

from typing import Any

from .web import *  # noqa: F403  (the package's public API is service.web's)
from .web import __all__ as _web_all

__all__ = [*_web_all, "load_app"]  # noqa: F405  (load_app: see __getattr__)
__version__ = "0.1.0"  # (pyproject.toml says the same: a test keeps them equal)


def __getattr__(name: str) -> Any:
    # ``service.load_app`` (a routes file to an Application: config/project.py) is
    # imported when first asked for: it brings in pydantic and the loader, which a
    # program using only the web API does not need.
    if name == "load_app":
        from .config.project import load_app

        return load_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
