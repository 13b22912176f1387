"""What handlers see and return -- and ``from service import web``: the public API as
one namespace, as in aiohttp (``web.Application``, ``web.Response``, ``web.run_app``).

The modules here know nothing of sockets or YAML: a ``Request`` reaches its
connection only through ``request.Connection``; the router matches paths to
handlers; ``Application`` is the error boundary for handlers.
"""

from __future__ import annotations

from ..errors import ConfigError, Issue, ProtocolError, RouteError, ServiceError
from ..http.runner import AppRunner, BaseRunner, BaseSite, GracefulExit, SockSite, TCPSite, UnixSite
from ..http.server import Server, run_app
from ..http.wire import Limits
from . import httpexc
from .app import AppKey, Application, CleanupError, middleware
from .compression import ContentCoding
from .conditional import ETag
from .fileresponse import FileResponse
from .forms import FileField
from .httpexc import *  # noqa: F403  (every HTTP exception: the family is listed in httpexc.__all__)
from .keys import NotAppKeyWarning, RequestKey, ResponseKey
from .multidict import CIMultiDict, MultiDict
from .normalize import normalize_path_middleware
from .request import HttpVersion, Request
from .resources import AbstractResource, DynamicResource, PlainResource, Resource
from .response import Response, StreamResponse, json_bytes_response, json_response
from .routedef import (
    AbstractRouteDef,
    Handler,
    RouteDef,
    RouteTableDef,
    StaticDef,
    delete,
    get,
    head,
    options,
    patch,
    post,
    put,
    route,
    static,
    view,
)
from .router import Route, Router
from .staticfiles import StaticResource
from .streams import PayloadAccessError, RequestPayloadError
from .subapps import PrefixedSubAppResource
from .views import View

BaseRequest = Request  # aiohttp's base class of Request; here there is only the one
ResourceRoute = Route  # aiohttp's route of a resource: our Route
AbstractRoute = Route  # (aiohttp's base class of routes: ours has one kind)
UrlDispatcher = Router  # aiohttp's name of the routing table

__all__ = [
    "ContentCoding",
    "AbstractRoute",
    "CleanupError",
    "NotAppKeyWarning",
    "PayloadAccessError",
    "RequestPayloadError",
    "RequestKey",
    "ResponseKey",
    "UrlDispatcher",
    "json_bytes_response",
    "AbstractResource",
    "AbstractRouteDef",
    "DynamicResource",
    "PlainResource",
    "PrefixedSubAppResource",
    "Resource",
    "ResourceRoute",
    "StaticDef",
    "StaticResource",
    "static",
    "AppKey",
    "AppRunner",
    "Application",
    "BaseRequest",
    "BaseRunner",
    "BaseSite",
    "GracefulExit",
    "SockSite",
    "TCPSite",
    "UnixSite",
    "CIMultiDict",
    "ConfigError",
    "ETag",
    "FileField",
    "FileResponse",
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
    "View",
    "delete",
    "get",
    "head",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "run_app",
    "view",
    *httpexc.__all__,
]
