"""Application: a router, middlewares and lifecycle hooks -- never a socket.

``Application`` is the error boundary for handlers. ``handle(request)`` always
returns a response: ``HTTPException`` (raised or returned) becomes its response,
anything else becomes a logged 500 whose body says nothing about the cause.

Middlewares are aiohttp's new style, ``async def mw(request, handler)``, first
in the list outermost. The chain is composed once per route when the app is
frozen, not once per request; 404 and 405 pass through the same chain (a
handler that raises them), so a middleware sees every request.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from ..defaults import CLIENT_MAX_SIZE
from . import subapps
from .devmode import dev_internal_error, dev_not_found_text
from .forwarding import PROXY_HEADERS, TrustedProxies
from .health import Readiness
from .httpexc import HTTPException, HTTPMethodNotAllowed, HTTPNotFound
from .keys import AppKey
from .prepare import PrepareHook, PrepareStep
from .request import Request
from .response import Response, StreamResponse, internal_error
from .routedef import AbstractRouteDef, Handler
from .router import Route, Router
from .subapps import ChainMapProxy, MatchedSubAppResource, PrefixedSubAppResource
from .timeouts import with_timeout

if TYPE_CHECKING:
    from ..ops.metrics import Metrics

__all__ = ["AppKey", "Application", "CleanupError", "Middleware", "config_dict", "middleware"]

error_log = logging.getLogger("service.error")

Middleware = Callable[[Request, Handler], Awaitable[StreamResponse]]
Hook = Callable[["Application"], Awaitable[None]]
CleanupContext = Callable[["Application"], AsyncIterator[None]]
_T = TypeVar("_T")


class CleanupError(RuntimeError):
    """More than one cleanup context failed to tear down (aiohttp's): ``exceptions`` has them."""

    @property
    def exceptions(self) -> list[BaseException]:
        return list(self.args[1])


_M = TypeVar("_M", bound=Callable[..., Any])
_R = TypeVar("_R", bound="PrefixedSubAppResource | MatchedSubAppResource")


def _not_a_handler_failure(exc: BaseException, request: Request) -> bool:
    """Whether ``exc`` is the server's business, to pass on rather than answer with a 500."""
    if isinstance(exc, GeneratorExit):
        return True  # the coroutine itself is being closed: it may not answer
    if isinstance(exc, KeyboardInterrupt):
        return True  # Ctrl-C that happened to land in the handler: it stops the program as usual
    if isinstance(exc, asyncio.CancelledError):
        # The server cancelled the handler (a forced shutdown). A CancelledError nobody
        # asked for -- the handler awaited something cancelled elsewhere -- is its bug.
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0
    if isinstance(exc, ConnectionResetError):
        # The client is gone (read() or write() said so): there is nobody to answer.
        # While it is connected, the reset is of the handler's own connection (to a
        # database, another service): a failure like any other.
        return not request.protocol.connected
    return False


def middleware(func: _M) -> _M:
    """Mark ``async def mw(request, handler)`` as a middleware (aiohttp's decorator)."""
    func.__middleware_version__ = 1  # type: ignore[attr-defined]
    return func


class _Bound:
    """``request -> middleware(request, inner)`` without an extra coroutine frame."""

    __slots__ = ("mw", "inner")

    def __init__(self, mw: Middleware, inner: Handler) -> None:
        self.mw = mw
        self.inner = inner

    def __call__(self, request: Request) -> Awaitable[StreamResponse]:
        return self.mw(request, self.inner)


def not_a_response(handler: object, result: object) -> str:
    """What is said when a handler returns something that is not a response."""
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", None) or repr(handler)
    what = "None" if result is None else type(result).__name__
    return (
        f"{module + '.' if module else ''}{name} returned {what}, expected a Response"
        " (use web.Response(...) or web.json_response(...))"
    )


def checked(handler: Handler) -> Handler:
    """``handler``, its result checked before a middleware sees it.

    A middleware that touches ``response.headers`` would otherwise fail on a dict or
    None, and the log would blame the middleware's line instead of the handler.
    """

    async def checked_handler(request: Request) -> StreamResponse:
        response = await handler(request)
        if type(response) is Response or isinstance(response, (StreamResponse, HTTPException)):
            return response
        raise TypeError(not_a_response(handler, response))

    return checked_handler


def _max_size(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"client_max_size must be a positive int or None, not {value!r}")
    if value <= 0:
        raise ValueError(f"client_max_size must be a positive int or None, not {value!r}")
    return value


async def _not_found(request: Request) -> StreamResponse:
    if request.app.dev:  # (the miss path only: answered routes never look)
        raise HTTPNotFound(text=dev_not_found_text(request))
    raise HTTPNotFound()


class Application(MutableMapping[str, Any]):
    """Routes, middlewares and hooks; also a mapping for app-wide state."""

    def __init__(
        self,
        *,
        middlewares: Iterable[Middleware] = (),
        client_max_size: int | None = CLIENT_MAX_SIZE,
        handler_timeout: float | None = None,
        router: Router | None = None,
        trusted_proxies: Iterable[str] = (),
        proxy_headers: Literal["x-forwarded", "forwarded"] = "x-forwarded",
    ) -> None:
        self.router = router if router is not None else Router()
        # Proxies whose Forwarded / X-Forwarded-* fields requests believe (forwarding.py).
        self.trusted_proxies = TrustedProxies(trusted_proxies)
        if proxy_headers not in PROXY_HEADERS:
            raise ValueError(f"proxy_headers is one of {', '.join(PROXY_HEADERS)}, not {proxy_headers!r}")
        self.proxy_headers = proxy_headers  # the kind those proxies write; the other is ignored
        # Development mode (serve --dev, SERVICE_ENV=development): a 404 lists the nearest
        # routes and a 500 carries its traceback (devmode.py). Never by default.
        self.dev = os.environ.get("SERVICE_ENV") == "development"
        self.readiness: Readiness | None = None  # the serving Server's, once one serves it (health.py)
        # Counted by the server that serves the app when set (ops/metrics.py): /metrics renders it.
        self.metrics: Metrics | None = None
        self.middlewares: list[Middleware] = list(middlewares)
        # Bytes of body read() buffers; None means no limit, as in aiohttp.
        self.client_max_size = _max_size(client_max_size)
        # Off by default; when set, a request whose handler chain runs longer is
        # answered 503 (the handler is cancelled).
        self.handler_timeout = handler_timeout
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []
        self.on_cleanup: list[Hook] = []
        # async generators: set up before the on_startup hooks, torn down (in reverse)
        # before the on_cleanup hooks -- as aiohttp runs them.
        self.cleanup_ctx: list[CleanupContext] = []
        self._contexts: list[AsyncIterator[None]] = []  # the set-up ones, to tear down
        self._state: dict[str | AppKey[Any], Any] = {}
        self._frozen = False
        self._not_found: Handler = _not_found
        # async def hook(request, response), before each response's head is sent (prepare.py)
        self.on_response_prepare: list[PrepareHook] = []
        self.prepare_hooks: tuple[PrepareHook, ...] = ()  # its parents' and its own, compiled at freeze
        self._hooks_by_route: dict[Route, tuple[PrepareHook, ...]] = {}  # (the root's: its sub-apps' routes)
        self._parent: Application | None = None  # the app it is mounted in (subapps.py)
        self._mounts: list[PrefixedSubAppResource | MatchedSubAppResource] = []

    # -- building -------------------------------------------------------------------
    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[Route]:
        """Add every declaration (a ``RouteTableDef``, or a list of ``web.get(...)``, ``web.static(...)``)."""
        return self.router.add_routes(routes)

    def add_subapp(self, prefix: str, subapp: Application) -> PrefixedSubAppResource:
        """Serve ``subapp``'s routes under ``prefix``, its middlewares after this app's (subapps.py)."""
        prefix = subapps.check_prefix(prefix)
        self._check_mountable(subapp)
        return self._mount(PrefixedSubAppResource(prefix, subapp))

    def add_domain(self, domain: str, subapp: Application) -> MatchedSubAppResource:
        """Serve ``subapp``'s routes to requests whose ``Host`` is ``domain`` (``*`` masks; subapps.py)."""
        rule = subapps.domain_rule(domain)
        self._check_mountable(subapp)
        return self._mount(MatchedSubAppResource(rule, subapp))

    def _check_mountable(self, subapp: Application) -> None:
        if self._frozen or self._parent is not None:
            raise RuntimeError("cannot add a sub-application to a started or mounted application")
        if not isinstance(subapp, Application) or subapp is self:
            raise TypeError(f"a sub-application is another Application, not {subapp!r}")
        if subapp._frozen or subapp._parent is not None:
            raise RuntimeError("a sub-application may not have started, and is mounted once")
        if any(isinstance(m, MatchedSubAppResource) for m in subapp._mounts):
            raise RuntimeError("domains are served by the root application: mount the domain sub-apps there")

    def _mount(self, resource: _R) -> _R:
        subapp = resource.app
        self.router.register_resource(resource)
        subapp._parent = self
        subapp.router.seal(f"cannot add routes to {subapp!r}: it is a sub-application already")
        self._mounts.append(resource)
        startup, shutdown, cleanup = subapps.lifecycle_hooks(subapp)  # (where aiohttp puts them)
        self.on_startup.append(startup)
        self.on_shutdown.append(shutdown)
        self.on_cleanup.append(cleanup)
        return resource

    def _wrap(self, handler: Handler) -> Handler:
        if self.middlewares:  # (without them, handle() checks the result itself: no extra frame)
            handler = checked(handler)
        for mw in reversed(self.middlewares):
            handler = _Bound(mw, handler)
        if self.handler_timeout is not None:
            handler = with_timeout(handler, self.handler_timeout)
        return handler

    def freeze(self) -> None:
        """Compile the routing table and middleware chains; no changes after this."""
        if self._frozen:
            return
        self._frozen = True
        if self._mounts:
            self._freeze_mounts()
        else:
            self.router.freeze(self._wrap)
        self._not_found = self._wrap(_not_found)
        if self._parent is None:
            self._compile_prepare_hooks()

    def _compile_prepare_hooks(self) -> None:
        """Each app's ``prepare_hooks`` (the root's first); the step that runs them on whole
        responses, only if there is a hook anywhere (prepare.py)."""
        by_route: dict[Route, tuple[PrepareHook, ...]] = {}

        def visit(app: Application, inherited: tuple[PrepareHook, ...]) -> None:
            app.prepare_hooks = inherited + tuple(app.on_response_prepare)
            for mount in app._mounts:
                visit(mount.app, app.prepare_hooks)
                for route, _ in mount.app.router.chains():
                    by_route[route] = mount.app.prepare_hooks

        visit(self, ())
        self._hooks_by_route = by_route
        if self.prepare_hooks or any(by_route.values()):
            self.handle = PrepareStep(self.handle, self.prepare_hooks_for)  # type: ignore[method-assign]

    def _freeze_mounts(self) -> None:
        """Compile the sub-apps in (subapps.py): prefixed ones into this table, each domain
        into a view of its own; the misses and, with domains, ``handle`` swapped for
        versions that know them. (Instance attributes: a plain app keeps the class's.)"""
        for mount in self._mounts:
            mount.app.freeze()
        prefixed = [m for m in self._mounts if isinstance(m, PrefixedSubAppResource)]
        self.router.freeze(self._wrap, subapps.mounted_chains(m.app for m in prefixed))
        misses = [(m, m.app._miss) for m in prefixed]
        self._miss = subapps.SubAppMisses(self._miss, self._wrap, misses)  # type: ignore[method-assign]
        by_host = [m for m in self._mounts if isinstance(m, MatchedSubAppResource)]
        hosts = [(m.rule, self._domain_view(m.app).handle) for m in by_host]
        if hosts:
            self.handle = subapps.DomainDispatch(self.handle, hosts)  # type: ignore[method-assign]

    def _domain_view(self, subapp: Application) -> Application:
        """An app with this app's middlewares and ``subapp`` mounted at its root: what
        answers the requests for ``subapp``'s domain."""
        view = Application(middlewares=self.middlewares, handler_timeout=self.handler_timeout)
        view._mounts.append(PrefixedSubAppResource("", subapp))  # (not _mount: no hooks, no parent)
        view.freeze()
        return view

    def prepare_hooks_for(self, route: Route | None) -> tuple[PrepareHook, ...]:
        """The ``on_response_prepare`` hooks for a response to ``route`` (its app chain's)."""
        if route is None:
            return self.prepare_hooks
        return self._hooks_by_route.get(route, self.prepare_hooks)

    @property
    def root(self) -> Application:
        """The application at the top (this one, unless it is a mounted sub-application):
        what the server was given, whose proxies and limits requests go by."""
        app = self
        while app._parent is not None:
            app = app._parent
        return app

    def pre_freeze(self) -> None:
        """aiohttp's first step of freezing; here freezing is one step."""
        self.freeze()

    @property
    def pre_frozen(self) -> bool:
        return self._frozen

    @property
    def logger(self) -> logging.Logger:
        """Where handler errors are logged (``service.error``; aiohttp's ``aiohttp.web``)."""
        return error_log

    @property
    def frozen(self) -> bool:
        return self._frozen

    # -- lifecycle ----------------------------------------------------------------
    async def startup(self) -> None:
        self.freeze()
        for context in self.cleanup_ctx:
            iterator = context(self)
            await anext(iterator)  # its setup; an error here stops the startup
            self._contexts.append(iterator)  # (only what was set up is torn down)
        for hook in self.on_startup:
            await hook(self)

    async def shutdown(self) -> None:
        for hook in self.on_shutdown:
            await hook(self)

    async def cleanup(self) -> None:
        """Tear down the cleanup contexts (last first), then run the on_cleanup hooks.

        Every teardown runs even if one fails; the failures are raised together after."""
        errors: list[Exception] = []
        while self._contexts:
            iterator = self._contexts.pop()
            try:
                await anext(iterator)
            except StopAsyncIteration:
                continue
            except Exception as exc:
                errors.append(exc)
                continue
            errors.append(RuntimeError(f"{iterator!r} has more than one 'yield'"))
        for hook in self.on_cleanup:  # registration order, as aiohttp
            await hook(self)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CleanupError("errors while tearing down the cleanup contexts", errors)

    # -- the handler error boundary ------------------------------------------------
    def _miss(self, request: Request, allowed: frozenset[str]) -> Handler:
        if not allowed:
            return self._not_found
        if request.method == "OPTIONS":
            allow = ", ".join(sorted(allowed))

            async def options(request: Request) -> StreamResponse:
                return Response(status=204, headers={"Allow": allow})

            return self._wrap(options)

        async def not_allowed(request: Request) -> StreamResponse:
            raise HTTPMethodNotAllowed(request.method, allowed)

        return self._wrap(not_allowed)

    async def handle(self, request: Request) -> StreamResponse:
        """Run the matching handler through the middlewares; always returns a response."""
        route, call, params = self.router.resolve(request.method, request.path)
        if route is None:
            call = self._miss(request, params)
        else:
            request.route = route
            if params is not None:
                request.match_info = params
        try:
            try:
                response = await call(request)  # type: ignore[misc]
            except HTTPException as exc:
                response = exc
            if type(response) is Response:  # PERF: the common case, no isinstance chain
                return response
            if isinstance(response, HTTPException):
                response = response.as_response()  # inside the boundary: it can fail too
        except BaseException as exc:  # SystemExit too: a handler cannot end the server
            if _not_a_handler_failure(exc, request):
                raise
            # Logged as sent, never percent-decoded: a decoded %0d%0a could forge log lines.
            error_log.exception("Error handling %s %s", request.method, request.raw_path)
            return dev_internal_error(exc) if self.dev else internal_error()
        if isinstance(response, StreamResponse):
            return response
        handler = request.route.handler if request.route is not None else call
        error_log.error(
            "Error handling %s %s: %s", request.method, request.raw_path, not_a_response(handler, response)
        )
        return internal_error()

    # -- state mapping (str keys, or typed AppKeys) ------------------------------------
    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | AppKey[Any]) -> Any:
        return self._state[key]

    @overload
    def get(self, key: AppKey[_T], default: None = None) -> _T | None: ...
    @overload
    def get(self, key: AppKey[_T], default: _T) -> _T: ...
    @overload
    def get(self, key: str, default: Any = None) -> Any: ...
    def get(self, key: str | AppKey[Any], default: Any = None) -> Any:
        return self._state.get(key, default)

    def __setitem__(self, key: str | AppKey[Any], value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str | AppKey[Any]) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)  # type: ignore[arg-type]  # (AppKeys too, as aiohttp's)

    def __len__(self) -> int:
        return len(self._state)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<Application routes={len(self.router)}>"


def config_dict(app: Application) -> ChainMapProxy:
    """``app``'s state, then its parents' up to the root's: ``request.config_dict``."""
    chain: list[Application] = []
    current: Application | None = app
    while current is not None:
        chain.append(current)
        current = current._parent
    return ChainMapProxy(chain)
