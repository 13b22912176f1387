"""service: a declarative microservice runner with aiohttp's programming model.

Write ``from service import web`` and use ``web.RouteTableDef``,
``web.Application``, ``web.Response`` and ``web.run_app`` as in aiohttp; or
describe the routes in routes.yaml and run ``python -m service serve``.
"""

from __future__ import annotations

from .app import Application, middleware
from .errors import ConfigError, Issue, ProtocolError, RouteError, ServiceError
from .httpexc import (
    HTTPBadRequest,
    HTTPConflict,
    HTTPException,
    HTTPForbidden,
    HTTPInternalServerError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    HTTPServiceUnavailable,
    HTTPUnprocessableEntity,
    HTTPUnsupportedMediaType,
)
from .multidict import CIMultiDict, MultiDict
from .request import HttpVersion, Request
from .response import Response, StreamResponse, json_response
from .routedef import Handler, RouteDef, RouteTableDef
from .router import Route, Router
from .server import Server, run_app
from .wire import Limits

__all__ = [
    "Application",
    "CIMultiDict",
    "ConfigError",
    "HTTPBadRequest",
    "HTTPConflict",
    "HTTPException",
    "HTTPForbidden",
    "HTTPInternalServerError",
    "HTTPMethodNotAllowed",
    "HTTPNotFound",
    "HTTPRequestEntityTooLarge",
    "HTTPServiceUnavailable",
    "HTTPUnprocessableEntity",
    "HTTPUnsupportedMediaType",
    "Handler",
    "HttpVersion",
    "Issue",
    "Limits",
    "MultiDict",
    "ProtocolError",
    "Request",
    "Response",
    "Route",
    "RouteDef",
    "RouteError",
    "RouteTableDef",
    "Router",
    "Server",
    "ServiceError",
    "StreamResponse",
    "json_response",
    "middleware",
    "run_app",
]

__version__ = "0.1.0"
