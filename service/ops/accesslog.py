"""The access log: one line per request, JSON (or logfmt), written to stdout in batches.

Theory of operation
-------------------
The line is formatted on the event loop, once the answer is handed over
(``AccessLog.observe``), by string formatting alone: no ``logging`` record, no
handler, no lock. A field is escaped only when it needs it (``str.isprintable``
and a look for a quote or backslash decide), so a hostile path or user agent
still makes exactly one valid line. The time is RFC 3339 in UTC with
milliseconds, formatted once a millisecond; a route's template is escaped once.

Lines go to a ``LineWriter``: the loop appends each to a deque (atomic, no lock)
and a writer thread takes what has gathered every 50 ms and writes it with
one ``write``. A slow stdout -- a pipe to a log driver that stalls -- holds up
that thread only, never the loop; if more than ``MAX_PENDING`` bytes wait,
further lines are dropped and counted, and the count is reported on stderr
once writing catches up, rather than the server running out of memory.

Fields: ``time method route path status duration_ms bytes remote request_id
user_agent``, then ``trace_id`` when a valid W3C ``traceparent`` came, and
``worker`` under ``serve --workers N``. ``route`` is the template that matched
(``-`` for none), ``path`` the target as sent (query included), ``bytes`` the
body bytes sent, ``remote`` the client's address (behind trusted proxies, the
one they report: see forwarding.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from time import monotonic
from typing import TYPE_CHECKING, Literal, Protocol

from ..web.requestid import trace_id

if TYPE_CHECKING:
    from ..web.request import Request
    from ..web.response import StreamResponse
    from ..web.router import Route

__all__ = ["AccessLog", "LineSink", "LineWriter", "LogFormat"]

LogFormat = Literal["json", "logfmt"]
MAX_PENDING = 8 * 1024 * 1024  # bytes of lines waiting to be written, past which lines are dropped
_FLUSH_EVERY = 0.05  # seconds between the writer thread's writes
error_log = logging.getLogger("service.error")


def _json_text(value: str) -> str:
    """``value`` inside a JSON string's quotes."""
    return json.dumps(value)[1:-1]  # (with \uXXXX for what is not ASCII: the line stays ASCII-safe)


def _logfmt_value(value: str) -> str:
    """``value`` as a logfmt value: bare when it can be, else quoted and escaped."""
    if value and value.isprintable() and not any(c in value for c in ' "=\\'):
        return value
    return json.dumps(value)  # a quoted string with \\ \" and control characters escaped


class LineSink(Protocol):
    """Where an access log's lines go: a ``LineWriter``, or a test's list."""

    def write(self, line: str) -> None: ...

    def close(self) -> None: ...


class LineWriter:
    """Writes lines to a file descriptor from a thread, in batches (see the module docstring)."""

    def __init__(self, fd: int = 1) -> None:
        self._fd = fd
        self._lines: deque[str] = deque()
        self._pending = 0  # bytes (roughly: characters) waiting; only the loop adds, only the thread takes
        self._dropped = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, line: str) -> None:
        """Queue one line (with its newline). PERF: the per-request part."""
        if self._pending > MAX_PENDING:
            self._dropped += 1
            return
        self._pending += len(line)
        self._lines.append(line)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="service-access-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(_FLUSH_EVERY):
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write what has gathered (from the thread, or at close)."""
        lines = self._lines
        taken: list[str] = []
        with contextlib.suppress(IndexError):
            while True:
                taken.append(lines.popleft())
        if taken:
            data = "".join(taken).encode("utf-8", "backslashreplace")
            self._pending -= sum(map(len, taken))  # (a race with write() only skews the bound a little)
            self._write_all(data)
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            error_log.warning("Access log: %d line(s) dropped: the output did not keep up", dropped)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:  # stdout closed: nothing can be logged there any more
                return

    def close(self) -> None:
        """Write what is left and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.flush()


class AccessLog:
    """Formats one line per request and hands it to a ``LineWriter``."""

    def __init__(self, writer: LineSink | None = None, *, fmt: LogFormat = "json", worker: int = 0) -> None:
        self.writer = writer if writer is not None else LineWriter(sys.stdout.fileno())
        self.worker = worker
        self.format: LogFormat = fmt
        self._line = _json_line if fmt == "json" else _logfmt_line
        self._text = _json_text if fmt == "json" else _logfmt_value
        self._tail = (f',"worker":{worker}}}\n' if fmt == "json" else f" worker={worker}\n") if worker else ""
        self._milli = -1  # the millisecond that ``_at`` shows
        self._at = ""
        self._routes: dict[Route | None, str] = {None: "-"}  # each template, escaped once

    def observe(self, request: Request, response: StreamResponse, started: float) -> None:
        """Log ``request``, answered with ``response``, begun at ``started`` (``monotonic()``).

        PERF: this runs for every request while the log is on; each line here is measured
        (the bench's ``operations`` rows), so the work is inlined rather than spread out,
        and what repeats is formatted once: the time once a millisecond, a route's
        template once.
        """
        duration = (monotonic() - started) * 1000.0
        now = time.time()
        milli = int(now * 1000.0)
        if milli != self._milli:
            self._milli = milli
            self._at = _rfc3339(milli)
        agent, parent, request_id = request.log_fields()
        route = self._routes.get(request.route)
        if route is None:
            route = self._route_text(request.route)
        status = response.status
        method = request.method
        self.writer.write(
            self._line(
                self._at,
                method,
                route,
                request.raw_path,
                status,
                duration,
                0 if status == 204 or status == 304 or method == "HEAD" else response.body_length,
                request.remote or "-",
                request_id,
                agent,
                trace_id(parent) if parent is not None else None,
                self._tail,
            )
        )

    def _route_text(self, route: Route | None) -> str:
        routes = self._routes
        if len(routes) > 4096:  # reloads replace route objects: forget the old ones now and then
            routes.clear()
            routes[None] = "-"
        text = routes[route] = self._text(route.path) if route is not None else "-"
        return text

    def close(self) -> None:
        self.writer.close()


def _rfc3339(milli: int) -> str:
    """The time ``milli`` (milliseconds since the epoch) in RFC 3339, UTC."""
    second, part = divmod(milli, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{part:03d}Z"


def _json_line(
    at: str,
    method: str,
    route: str,
    path: str,
    status: int,
    duration: float,
    sent: int,
    remote: str,
    request_id: str,
    user_agent: str,
    trace: str | None,
    tail: str,
) -> str:
    """One JSON object: the method is a token, the id safe by construction (requestid.py)
    and the route escaped already; the rest is escaped when it needs it."""
    joined = path + remote + user_agent  # PERF: one check for the three, as they rarely need any
    if not (joined.isprintable() and '"' not in joined and "\\" not in joined):
        path, remote, user_agent = map(_json_text, (path, remote, user_agent))
    traced = f',"trace_id":"{trace}"' if trace is not None else ""
    return (
        f'{{"time":"{at}","method":"{method}","route":"{route}","path":"{path}",'
        f'"status":{status},"duration_ms":{duration:.3f},"bytes":{sent},"remote":"{remote}",'
        f'"request_id":"{request_id}","user_agent":"{user_agent}"{traced}'
    ) + (tail or "}\n")


def _logfmt_line(
    at: str,
    method: str,
    route: str,
    path: str,
    status: int,
    duration: float,
    sent: int,
    remote: str,
    request_id: str,
    user_agent: str,
    trace: str | None,
    tail: str,
) -> str:
    """One logfmt line: ``key=value`` pairs, a value quoted when it has to be (the route
    already is)."""
    traced = f" trace_id={trace}" if trace is not None else ""
    return (
        f"time={at} method={method} route={route} path={_logfmt_value(path)}"
        f" status={status} duration_ms={duration:.3f} bytes={sent} remote={_logfmt_value(remote)}"
        f" request_id={request_id} user_agent={_logfmt_value(user_agent)}{traced}"
    ) + (tail or "\n")
