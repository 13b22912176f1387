"""Serving an Application: sockets, signals and graceful shutdown.

``Server`` is the async building block (tests use it on port 0); ``run_app`` is
the blocking front door, as in aiohttp; runner.py shapes ``Server`` as aiohttp's
``AppRunner`` and sites, for programs that run an app inside their own loop.

One ``Server`` holds one set of connections (their limits, the shutdown wait)
and any number of listeners (listen.py) that feed it: its own address, given to
the constructor and opened by ``start``, and those added with ``add_listener``.
A listener accepts only once the ``on_startup`` hooks are done (``startup``).
``start`` binds its own address first, then runs the hooks, then accepts: a
port in use fails before any hook has opened anything.

Shutdown runs in small ordered steps (after aiohttp's runner and uvicorn):
1. stop accepting: close every listening socket;
2. run ``on_shutdown`` hooks;
3. close idle connections now; busy ones close after the response in progress;
4. wait for them up to ``shutdown_timeout``, then cancel handlers and drop them;
5. run ``on_cleanup`` hooks.
A second SIGINT/SIGTERM skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from ..defaults import (
    ACCESS_LOG,
    BACKLOG,
    BLOCK_WARNING,
    DRAIN_DELAY,
    HOST,
    LIMIT_NAMES,
    LIMITS,
    PORT,
    SHUTDOWN_TIMEOUT,
)
from ..ops.accesslog import AccessLog
from ..ops.metrics import Metrics, ServerGauges
from ..ops.watchdog import Watchdog
from ..web.app import Application
from ..web.health import Readiness
from .listen import ProtocolFactory, open_sock, open_tcp, open_unix, url_of
from .protocol import ConnectionSet, HttpProtocol
from .wire import Limits

if TYPE_CHECKING:
    from ..web.request import Request
    from ..web.response import StreamResponse

__all__ = ["Server", "configure_logging", "run", "run_app", "serve_until_signal"]

server_log = logging.getLogger("service.server")


class Server:
    """Serves one ``Application`` on its listening sockets.

    Its own address is ``path`` (a Unix socket) and/or ``sock`` (bound already)
    when given, else ``host``:``port``.
    """

    def __init__(
        self,
        app: Application,
        *,
        host: str = HOST,
        port: int = PORT,
        sock: socket.socket | None = None,
        path: str | os.PathLike[str] | None = None,
        limits: Limits | None = None,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
        access_log: bool | AccessLog = ACCESS_LOG,
        backlog: int = BACKLOG,
        reuse_port: bool = False,
        block_warning: float | None = BLOCK_WARNING,
        request_ids: bool | None = None,
    ) -> None:
        self.app = app
        self.readiness = app.readiness = Readiness()  # what /readyz reports (web/health.py)
        # Counted when the app asks for metrics (app.metrics: routes.yaml's service.metrics).
        self.metrics: Metrics | None = app.metrics
        if self.metrics is not None:
            self.metrics.watch(self._gauges)
        self.access_log: AccessLog | None = None
        self._request_ids = request_ids
        self.host = host
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self._sock = sock
        self._path = path
        self._backlog = backlog
        self._reuse_port = reuse_port
        self._ctx = ConnectionSet(app, limits or LIMITS)
        ctx = self._ctx
        self._log_requests(access_log)

        def factory() -> HttpProtocol:
            return HttpProtocol(ctx)

        self._factory: ProtocolFactory = factory
        self._listeners: list[asyncio.Server] = []
        self._accepting = False  # the startup hooks are done: listeners accept
        self._force = asyncio.Event()
        self._stopped = False
        self._hooks_started = False
        self._watchdog = Watchdog(block_warning) if block_warning else None

    @property
    def connections(self) -> int:
        return len(self._ctx.connections)

    @property
    def current_app(self) -> Application:
        """The app new requests go to (``app`` until a reload swaps another in)."""
        return self._ctx.app

    def swap_app(
        self, app: Application, *, limits: Limits | None = None, access_log: bool | AccessLog | None = None
    ) -> None:
        """Route new requests to ``app``; requests already parsed finish on their own.

        Lifecycle hooks stay those of ``self.app``, run once at start and stop.
        ``limits`` apply to connections accepted from now on. Metrics go on counting
        where they were, if the new app wants them too.
        """
        app.freeze()
        app.readiness = self.readiness
        if app.metrics is not None:
            if self.metrics is None:
                self.metrics = app.metrics
                self.metrics.watch(self._gauges)
            app.metrics = self.metrics
            self.metrics.forget_routes()
        self._ctx.app = app
        if limits is not None:
            self._ctx.limits = limits
        self._log_requests(access_log if access_log is not None else self.access_log is not None)

    def _log_requests(self, access_log: bool | AccessLog) -> None:
        """Choose what each answered request is told to: metrics, the access log, both or none."""
        if isinstance(access_log, AccessLog):
            self.access_log = access_log
        elif access_log and self.access_log is None:
            self.access_log = AccessLog()
        elif not access_log:
            self.access_log = None  # (kept open if it was: a reload may turn it back on)
        ctx = self._ctx
        counting = self.metrics if ctx.app.metrics is not None else None
        logging_ = self.access_log
        ctx.request_ids = self._request_ids if self._request_ids is not None else logging_ is not None
        if counting is not None and logging_ is not None:
            count, log = counting.observe, logging_.observe

            def both(request: Request, response: StreamResponse, started: float) -> None:
                count(request, response, started)
                log(request, response, started)

            ctx.observe = both
        else:
            ctx.observe = counting.observe if counting else logging_.observe if logging_ else None

    def _gauges(self) -> ServerGauges:
        ctx = self._ctx
        return ServerGauges(len(ctx.connections), ctx.in_flight, len(list(ctx.app.router.routes())))

    @property
    def protocol_factory(self) -> ProtocolFactory:
        """Makes the protocol of one connection: every listener of this server is opened with it."""
        return self._factory

    @property
    def listeners(self) -> tuple[asyncio.Server, ...]:
        return tuple(self._listeners)

    async def add_listener(self, listener: asyncio.Server) -> None:
        """Serve on ``listener`` too: opened with ``protocol_factory`` and not yet accepting,
        it accepts at once if the startup hooks are done, else as soon as they are."""
        if self._stopped:
            listener.close()
            raise RuntimeError("the server is shut down: it takes no more listeners")
        self._listeners.append(listener)
        if self._accepting:
            await listener.start_serving()

    def remove_listener(self, listener: asyncio.Server) -> None:
        """Stop accepting on ``listener``; connections it accepted are served on, as the others."""
        self._listeners.remove(listener)
        listener.close()

    async def start(self) -> None:
        """Listen on the own address, run ``on_startup`` hooks, then accept. Logs the real address.

        The socket is bound before any hook runs: a port in use fails at once, with
        no pool or connection opened for nothing (and so no cleanup hook to run).
        Connections are accepted only once the hooks are done (until then a socket
        we bound refuses them; one handed to us, already listening, queues them).
        """
        own = await self._open_own()
        for listener in own:
            await self.add_listener(listener)
        for sock in (sock for listener in own for sock in listener.sockets):
            if sock.family in (socket.AF_INET, socket.AF_INET6):  # the port learnt, for port 0
                sockname = sock.getsockname()
                self.host, self.port = str(sockname[0]), int(sockname[1])
                break
        await self.startup()
        for sock in (sock for listener in own for sock in listener.sockets):
            server_log.info("Serving on %s", url_of(sock))

    async def _open_own(self) -> list[asyncio.Server]:
        """The listeners of the constructor's address, opened (not accepting); all or none."""
        factory, backlog = self._factory, self._backlog
        opened: list[asyncio.Server] = []
        try:
            if self._path is not None:
                opened.append(await open_unix(factory, self._path, backlog=backlog))
            if self._sock is not None:  # bound already (the supervisor's, shared by workers)
                opened.append(await open_sock(factory, self._sock, backlog=backlog))
            if not opened:
                tcp = await open_tcp(
                    factory, self.host, self.port, backlog=backlog, reuse_port=self._reuse_port or None
                )
                opened.append(tcp)
        except BaseException:
            for listener in opened:
                listener.close()
            raise
        return opened

    async def startup(self) -> None:
        """Run the ``on_startup`` hooks, then accept on every listener."""
        if self._hooks_started:
            raise RuntimeError("the server has started already")
        self._hooks_started = True  # from here on, shutdown runs the shutdown and cleanup hooks
        await self.app.startup()
        self._accepting = self.readiness.started = True
        for listener in self._listeners:
            await listener.start_serving()
        if self._watchdog is not None:
            self._watchdog.start(asyncio.get_running_loop())

    async def drain(self, delay: float) -> None:
        """Stop being ready and keep serving ``delay`` seconds, each answer closing its
        connection, while load balancers notice; ``shutdown()`` comes after. A second
        signal (``force``) ends the wait."""
        self.readiness.draining = True
        if delay > 0 and not self._stopped:
            self._ctx.closing = True  # every answer says Connection: close; idle ones close
            server_log.info("Draining for %.3g s: /readyz says 503, answers close their connections", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._force.wait(), delay)

    def force(self) -> None:
        """Make a shutdown in progress skip its wait for busy connections."""
        self._force.set()

    async def shutdown(self) -> None:
        """Stop gracefully; see the module docstring for the order of steps."""
        if self._stopped:
            return
        self._stopped = True
        self._accepting = False
        for listener in self._listeners:
            listener.close()
        try:
            if self._hooks_started:  # else no startup hook ran: nothing is open for cleanup to close
                try:
                    await self.app.shutdown()
                finally:
                    await self._close_connections()
                    await self.app.cleanup()
        finally:  # even when the shutdown itself is cancelled or fails
            if self._watchdog is not None:
                self._watchdog.stop()
            if self.access_log is not None:
                self.access_log.close()  # the lines still waiting are written

    async def _close_connections(self) -> None:
        ctx = self._ctx
        ctx.closing = True
        for conn in list(ctx.connections):
            conn.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        while ctx.busy and loop.time() < deadline and not self._force.is_set():
            await asyncio.sleep(0.05)
        if ctx.busy:
            server_log.warning(
                "Shutdown: %d connection(s) still busy; cancelling their handlers", len(ctx.busy)
            )
            for conn in ctx.busy:
                conn.abort()
            await asyncio.sleep(0)  # let cancelled handlers unwind

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()


def configure_logging(worker: int = 0) -> None:
    """Show our INFO lines when the program has not configured logging itself.

    A worker of ``--workers N`` says which it is on every line (``[worker 2]``):
    the workers share the supervisor's output, and their lines must be told apart.
    """
    if not logging.getLogger().handlers:
        who = f" [worker {worker}]" if worker else ""
        logging.basicConfig(
            level=logging.INFO, format=f"%(asctime)s %(levelname)s{who} %(name)s: %(message)s"
        )


def _loop_factory(use_uvloop: bool | None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if use_uvloop is False:
        return None
    try:
        import uvloop
    except ImportError:
        if use_uvloop:
            raise
        return None
    return uvloop.new_event_loop


def run(main: Callable[[], Coroutine[Any, Any, None]], *, use_uvloop: bool | None = None) -> None:
    """Run ``main()`` to its end on a new event loop: uvloop's when installed (``None``) or asked for.

    ``main`` is called only once the loop exists, so a missing uvloop leaves no coroutine unawaited.
    """
    with asyncio.Runner(loop_factory=_loop_factory(use_uvloop)) as runner:
        runner.run(main())


async def serve_until_signal(
    server: Server,
    *,
    handle_signals: bool = True,
    on_hup: Callable[[], None] | None = None,
    background: Sequence[Callable[[], Awaitable[None]]] = (),
    drain_delay: float = DRAIN_DELAY,
) -> None:
    """Start ``server``, wait for SIGINT/SIGTERM, then shut it down gracefully (after
    ``drain_delay`` seconds of draining, on SIGTERM: see ``Server.drain``).

    ``background`` jobs (e.g. the routes watcher) run while the server serves and
    are cancelled before it shuts down; ``on_hup`` is called on SIGHUP.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    drain = [False]  # a SIGTERM (an orchestrator's stop) drains first; a Ctrl-C does not

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            server_log.warning("Second signal: stopping now")
            server.force()
        else:
            server_log.info("Shutting down (signal again to force)")
            drain[0] = sig == signal.SIGTERM
            server.readiness.draining = True  # at once: /readyz says 503 from this signal on
            stop.set()

    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        if on_hup is not None:
            loop.add_signal_handler(signal.SIGHUP, on_hup)
            installed.append(signal.SIGHUP)
    jobs: list[asyncio.Task[None]] = []
    try:
        await server.start()
        jobs = [asyncio.ensure_future(job()) for job in background]
        await stop.wait()
        if drain[0]:
            await server.drain(drain_delay)
    finally:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await server.shutdown()
        for sig in installed:
            loop.remove_signal_handler(sig)


def run_app(
    app: Application,
    *,
    host: str = HOST,
    port: int = PORT,
    sock: socket.socket | None = None,
    path: str | os.PathLike[str] | None = None,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT,
    drain_delay: float = DRAIN_DELAY,
    keepalive_timeout: float = LIMITS.keepalive_timeout,
    header_timeout: float = LIMITS.header_timeout,
    max_target_size: int = LIMITS.max_target_size,
    max_header_size: int = LIMITS.max_header_size,
    max_header_count: int = LIMITS.max_header_count,
    body_timeout: float = LIMITS.body_timeout,
    max_connections: int = LIMITS.max_connections,
    linger_timeout: float = LIMITS.linger_timeout,
    send_timeout: float = LIMITS.send_timeout,
    access_log: bool = ACCESS_LOG,
    backlog: int = BACKLOG,
    reuse_port: bool = False,
    handle_signals: bool = True,
    use_uvloop: bool | None = None,
    block_warning: float | None = BLOCK_WARNING,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully and return.

    It listens on ``host``:``port``, or instead on the Unix socket ``path`` and/or the
    socket ``sock`` (bound already) when either is given.
    ``use_uvloop=None`` uses uvloop when it is installed. ``block_warning``: log a
    warning naming the code that blocks the event loop for longer than this many
    seconds (``None``: never). Limits and timeouts are described in the README's
    "Limits and security" section.
    """
    # Each Limits field is a keyword of the same name (aiohttp's explicit style, which
    # tests/test_public_api.py pins): taken over by name, none can be left behind.
    keywords = locals()
    limits = Limits(**{name: keywords[name] for name in LIMIT_NAMES})
    configure_logging()
    server = Server(
        app,
        host=host,
        port=port,
        sock=sock,
        path=path,
        limits=limits,
        shutdown_timeout=shutdown_timeout,
        access_log=access_log,
        backlog=backlog,
        reuse_port=reuse_port,
        block_warning=block_warning,
    )
    run(
        lambda: serve_until_signal(server, handle_signals=handle_signals, drain_delay=drain_delay),
        use_uvloop=use_uvloop,
    )
