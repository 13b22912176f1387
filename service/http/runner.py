"""Running an Application inside a program's own event loop: aiohttp's runner and sites.

    runner = web.AppRunner(app)
    await runner.setup()                          # on_startup hooks; the app is frozen
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()                            # listens and accepts
    print(runner.addresses)                       # the port 0 became
    ...
    await runner.cleanup()                        # graceful: see server.py

Theory of operation
-------------------
A runner is a thin shell around one ``Server`` (server.py), made by ``setup()``:
the server's connection set, limits and graceful shutdown are the runner's, and
nothing about them is repeated here. A site is one listener (listen.py) added to
that server: every site of a runner feeds the same connections, so limits such as
``max_connections`` count them all, and ``cleanup()`` drains them all at once.

The order is aiohttp's, which the API implies (a site is made after ``setup()``):
the startup hooks run first, then each site binds and accepts at once. ``run_app``
keeps the opposite order -- bind, then hooks, then accept -- by opening its
listeners before it runs the hooks; both orders are ``Server``'s.

``cleanup()`` stops every site (its listening socket closes; its connections are
served on), then shuts the server down: ``on_shutdown``, idle connections closed,
busy ones given ``shutdown_timeout``, then the cleanup contexts and ``on_cleanup``.
A ``setup()`` whose startup hook fails has already shut the server down (what the
hooks opened is closed) when it raises, so the ``cleanup()`` after it is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import warnings
from abc import ABC, abstractmethod
from typing import Any

from ..defaults import ACCESS_LOG, BACKLOG, BLOCK_WARNING, LIMIT_NAMES, LIMITS, PORT, SHUTDOWN_TIMEOUT
from ..web.app import Application
from .listen import ProtocolFactory, http_url, open_sock, open_tcp, open_unix, url_of
from .server import Server
from .wire import Limits

__all__ = ["AppRunner", "BaseRunner", "BaseSite", "GracefulExit", "SockSite", "TCPSite", "UnixSite"]

server_log = logging.getLogger("service.server")


class GracefulExit(SystemExit):
    """Raised out of the event loop by the signal handlers of a runner made with
    ``handle_signals=True`` (as aiohttp's), so the program's ``finally`` can run
    ``runner.cleanup()``. Nothing else raises it."""

    code = 1


def _raise_graceful_exit() -> None:
    raise GracefulExit()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BaseSite(ABC):
    """One listener of a runner's server; ``start()`` opens it, ``stop()`` closes it."""

    def __init__(
        self, runner: BaseRunner, *, shutdown_timeout: float | None = None, backlog: int = BACKLOG
    ) -> None:
        server = runner.server
        if server is None:
            raise RuntimeError("Call runner.setup() before making a site")
        if shutdown_timeout is not None:  # aiohttp took it here once; it belongs to the runner
            warnings.warn("shutdown_timeout should be set on BaseRunner", DeprecationWarning, stacklevel=2)
            server.shutdown_timeout = shutdown_timeout
        self._runner = runner
        self._backlog = backlog
        self._listener: asyncio.Server | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """The URL this site serves (``http://host:port``, ``http://unix:PATH:``)."""

    @abstractmethod
    async def _open(self, factory: ProtocolFactory) -> asyncio.Server:
        """This site's listener, opened with ``factory`` and not yet accepting."""

    async def start(self) -> None:
        """Listen and accept (the runner's startup hooks are done already)."""
        server = self._runner.server
        if server is None:  # cleaned up since the site was made
            raise RuntimeError("Call runner.setup() before starting a site")
        self._runner._register(self)
        try:
            listener = await self._open(server.protocol_factory)
            await server.add_listener(listener)
        except BaseException:
            if self in self._runner.sites:  # (not if a cleanup meanwhile stopped it)
                self._runner._unregister(self)  # a site that failed to start can be started again
            raise
        self._listener = listener
        server_log.info("Serving on %s", self.name)

    async def stop(self) -> None:
        """Stop accepting here; the connections accepted here are served on until ``cleanup()``."""
        self._runner._unregister(self)
        listener, self._listener = self._listener, None
        server = self._runner.server
        if listener is not None and server is not None:
            server.remove_listener(listener)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class TCPSite(BaseSite):
    """A TCP host and port; ``host=None`` is every interface, ``port=0`` any free port."""

    def __init__(
        self,
        runner: BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        shutdown_timeout: float | None = None,
        backlog: int = BACKLOG,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> None:
        super().__init__(runner, shutdown_timeout=shutdown_timeout, backlog=backlog)
        self._host = host
        self._port = PORT if port is None else port
        self._bound_port: int | None = None
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port

    @property
    def port(self) -> int:
        """The port listened on once started (what port 0 became), else the one asked for."""
        return self._port if self._bound_port is None else self._bound_port

    @property
    def name(self) -> str:
        return http_url(self._host or "0.0.0.0", self.port)

    async def _open(self, factory: ProtocolFactory) -> asyncio.Server:
        listener = await open_tcp(
            factory,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = listener.sockets
        self._bound_port = int(sockets[0].getsockname()[1]) if sockets else self._port
        return listener


class UnixSite(BaseSite):
    """A Unix socket at ``path`` (a stale socket file there is replaced)."""

    def __init__(
        self,
        runner: BaseRunner,
        path: str | os.PathLike[str],
        *,
        shutdown_timeout: float | None = None,
        backlog: int = BACKLOG,
    ) -> None:
        super().__init__(runner, shutdown_timeout=shutdown_timeout, backlog=backlog)
        self._path = path

    @property
    def name(self) -> str:
        return f"http://unix:{os.fspath(self._path)}:"

    async def _open(self, factory: ProtocolFactory) -> asyncio.Server:
        return await open_unix(factory, self._path, backlog=self._backlog)


class SockSite(BaseSite):
    """A socket bound by the caller (TCP or Unix); once started, the site owns it (stop closes it)."""

    def __init__(
        self,
        runner: BaseRunner,
        sock: socket.socket,
        *,
        shutdown_timeout: float | None = None,
        backlog: int = BACKLOG,
    ) -> None:
        super().__init__(runner, shutdown_timeout=shutdown_timeout, backlog=backlog)
        self._sock = sock
        self._name = url_of(sock)  # now, while the socket is surely open (as aiohttp)

    @property
    def name(self) -> str:
        return self._name

    async def _open(self, factory: ProtocolFactory) -> asyncio.Server:
        return await open_sock(factory, self._sock, backlog=self._backlog)


class BaseRunner(ABC):
    """Owns one ``Server`` from ``setup()`` to ``cleanup()`` and the sites that feed it."""

    def __init__(self, *, handle_signals: bool = False, shutdown_timeout: float = SHUTDOWN_TIMEOUT) -> None:
        self._handle_signals = handle_signals
        self._shutdown_timeout = shutdown_timeout
        self._server: Server | None = None
        self._sites: list[BaseSite] = []

    @property
    def server(self) -> Server | None:
        """The server, from ``setup()`` until ``cleanup()``; else None."""
        return self._server

    @property
    def addresses(self) -> list[Any]:
        """``getsockname()`` of every socket the started sites listen on."""
        return [
            sock.getsockname()
            for site in self._sites
            if site._listener is not None
            for sock in site._listener.sockets
        ]

    @property
    def sites(self) -> set[BaseSite]:
        return set(self._sites)

    @abstractmethod
    def _make_server(self) -> Server:
        """A new server, not started: the sites will be its listeners."""

    async def setup(self) -> None:
        """Make the server and run the startup hooks; sites may be made from then on."""
        if self._server is not None:
            raise RuntimeError("The runner is set up already")
        server = self._make_server()
        self._add_signal_handlers()
        try:
            await server.startup()
        except BaseException:
            try:  # close what the hooks that ran opened, as run_app does
                await server.shutdown()
            finally:
                self._remove_signal_handlers()
            raise
        self._server = server

    async def cleanup(self) -> None:
        """Stop every site, then shut the server down gracefully; a second call does nothing."""
        # One site at a time: one that fails to stop is still listed, the others are not.
        for site in list(self._sites):
            await site.stop()
        server, self._server = self._server, None
        try:
            if server is not None:
                await server.shutdown()
        finally:
            self._remove_signal_handlers()

    def _add_signal_handlers(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in _STOP_SIGNALS:
                loop.add_signal_handler(sig, _raise_graceful_exit)

    def _remove_signal_handlers(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for sig in _STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    def _register(self, site: BaseSite) -> None:
        if site in self._sites:
            raise RuntimeError(f"Site {site} is already registered in runner {self}")
        self._sites.append(site)

    def _unregister(self, site: BaseSite) -> None:
        if site not in self._sites:
            raise RuntimeError(f"Site {site} is not registered in runner {self}")
        self._sites.remove(site)


class AppRunner(BaseRunner):
    """Runs an ``Application``; every keyword is ``run_app``'s of the same name."""

    def __init__(
        self,
        app: Application,
        *,
        handle_signals: bool = False,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
        access_log: bool | None = ACCESS_LOG,
        block_warning: float | None = BLOCK_WARNING,
        keepalive_timeout: float = LIMITS.keepalive_timeout,
        header_timeout: float = LIMITS.header_timeout,
        max_target_size: int = LIMITS.max_target_size,
        max_header_size: int = LIMITS.max_header_size,
        max_header_count: int = LIMITS.max_header_count,
        body_timeout: float = LIMITS.body_timeout,
        max_connections: int = LIMITS.max_connections,
        linger_timeout: float = LIMITS.linger_timeout,
        send_timeout: float = LIMITS.send_timeout,
    ) -> None:
        if not isinstance(app, Application):
            raise TypeError(f"The first argument should be web.Application instance, got {app!r}")
        super().__init__(handle_signals=handle_signals, shutdown_timeout=shutdown_timeout)
        # Each Limits field is a keyword of the same name, as in run_app: none is left behind.
        keywords = locals()
        self._limits = Limits(**{name: keywords[name] for name in LIMIT_NAMES})
        self._app = app
        self._access_log = bool(access_log)  # aiohttp's access_log=None turns it off
        self._block_warning = block_warning

    @property
    def app(self) -> Application:
        return self._app

    def _make_server(self) -> Server:
        return Server(
            self._app,
            limits=self._limits,
            shutdown_timeout=self._shutdown_timeout,
            access_log=self._access_log,
            block_warning=self._block_warning,
        )
