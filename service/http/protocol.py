"""One HTTP/1.1 connection: the ``asyncio.Protocol`` that answers the requests read on it.

Theory of operation
-------------------
The connection is split by job, each piece in its own module:

- reading (reader.py): ``data_received`` hands each read to the ``RequestReader``,
  whose httptools callbacks check each head once and append a ``Request`` to the
  queue; a body is fed to its request as it arrives (``Request.feed_body``);
- answering (here, the hot path): if no handler is running, one coroutine answers
  the queued requests in order (pipelining, RFC 9112 section 9.3.2), each through
  its app (``Application.handle``), and ends when the queue is empty;
- sending (sender.py): whole responses wait for the end of the loop iteration,
  the rest keeps its place after them, and write flow control and ``send_timeout``
  live there; reading flow control is ``ReadFlow`` (readflow.py): reading pauses
  while a handler runs *and* the client has sent more requests ahead;
- waiting (deadline.py): one ``Deadline`` says what the connection waits for --
  the rest of a head (``header_timeout``: 408), the next request
  (``keepalive_timeout``), a body (``body_timeout``: 408 from ``read()``), the
  client to go after an error answer (``linger_timeout``) -- and ``_expired`` acts;
- closing (the end of this module, the cold path): refuse, linger, close, abort.

The connection's life is one ``Phase`` that only moves up: OPEN, CLOSING (answer
what is queued, then close), STOPPED (read no more), LINGERING (our FIN is out).
Errors are sorted in one place, ``_read_failed``: the client's (``ProtocolError``,
llhttp's) are answered with their status after the requests before them; ours
are a logged 500. Nothing here lets an exception escape to the event loop.
Handlers are not cancelled when the client goes away (aiohttp's default since
3.9): they finish and their response is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from time import monotonic
from typing import TYPE_CHECKING, Any

import httptools

from ..errors import ProtocolError
from ..web.httpexc import HTTPException
from ..web.request import HTTP10, Request
from ..web.requestid import HEADER as REQUEST_ID
from ..web.requestid import id_line
from ..web.response import Response, StreamResponse, internal_error, reason_phrase, render
from ..web.streams import RequestPayloadError
from .deadline import BODY, HEAD, IDLE, LINGER, Deadline, Wait
from .eager import EagerRunner
from .reader import RequestReader
from .readflow import ReadFlow
from .sender import Batch, Sender
from .wire import (
    Limits,
    client_error,
    error_bytes,
)

if TYPE_CHECKING:
    from ..web.app import Application

__all__ = ["ConnectionSet", "HttpProtocol", "Limits", "Observer"]

# Told of each request once its answer is handed over: (request, the response sent,
# when its handling began by ``monotonic()``). Metrics and the access log (ops/).
Observer = Callable[[Request, StreamResponse, float], None]

error_log = logging.getLogger("service.error")


class Phase(IntEnum):
    """Where a connection is in its life; it only ever moves up (``_advance``).

    - ``OPEN``: reading and answering requests, keeping the connection alive.
    - ``CLOSING``: still reading; the queue is answered, the last answer says
      ``Connection: close``, then it closes (the client half-closed; shutdown).
    - ``STOPPED``: reading no more (a malformed request, a failed body,
      a fault of ours); what is queued is answered, then the pending error, then close.
    - ``LINGERING``: our FIN is sent after an error answer; what the client still
      sends is dropped until it closes or ``linger_timeout`` passes.
    A closed connection has no transport (``connection_lost``).
    """

    OPEN = 0
    CLOSING = 1
    STOPPED = 2
    LINGERING = 3


OPEN, CLOSING, STOPPED, LINGERING = Phase.OPEN, Phase.CLOSING, Phase.STOPPED, Phase.LINGERING  # PERF


@dataclass(slots=True)
class ConnectionSet:
    """What the server shares with every connection."""

    app: Application  # swapped by a reload; each request keeps the one it started with
    limits: Limits
    observe: Observer | None = None  # None: nothing is measured (no clock read either)
    request_ids: bool = False  # every answer says X-Request-ID (request.request_id)
    connections: set[HttpProtocol] = field(default_factory=set)
    # Connections gone while their handler still runs: shutdown waits for those too.
    orphans: set[HttpProtocol] = field(default_factory=set)
    closing: bool = False
    batch: Batch = field(default_factory=Batch)  # whole responses written at the iteration's end

    @property
    def busy(self) -> set[HttpProtocol]:
        return self.connections | self.orphans

    @property
    def in_flight(self) -> int:
        """Requests being answered now (at most one per connection: answers go in order)."""
        return sum(1 for conn in self.busy if conn.answering)


def _form(request: Request) -> tuple[bool, bool]:
    """How an answer to ``request`` is framed: (to an HTTP/1.0 client?, to a HEAD?)."""
    return request.version == HTTP10, request.method == "HEAD"


def _unrenderable(request: Request) -> Response:
    """Log the response to ``request`` that cannot be rendered; the 500 to send instead."""
    error_log.exception("Cannot render the response to %s %s", request.method, request.raw_path)
    return internal_error()


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    __slots__ = (
        "_ctx",
        "_reader",
        "_limits",
        "_loop",
        "_transport",
        "_remote",
        "_started",
        "_queue",
        "_answering",
        "_runner",
        "_error",
        "_phase",
        "_reading",
        "_sender",
        "_deadline",
        "_idle_since",
        "_client_eof",
    )

    def __init__(self, ctx: ConnectionSet) -> None:
        self._ctx = ctx
        self._limits = ctx.limits
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._remote: str | None = None
        self._started: StreamResponse | None = None  # the response begun for the request answered
        self._queue: deque[Request] = deque()
        self._reader = RequestReader(ctx, self, self._queue)
        self._answering = False  # a coroutine is answering the queue (eagerly or in the runner)
        self._runner: EagerRunner | None = None
        self._error: ProtocolError | None = None  # to send once the queue is answered
        self._phase = OPEN  # only ever goes up: see Phase
        self._reading = ReadFlow()
        self._sender = Sender(self._loop, ctx.batch, self._limits.send_timeout)
        self._deadline = Deadline(self._loop, self._expired)
        self._idle_since = 0.0
        self._client_eof = False  # the client has half-closed: it sends nothing more

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they behave as one.
        self._transport = transport  # type: ignore[assignment]
        if len(self._ctx.connections) >= self._limits.max_connections:
            # Over the cap: say so and close, rather than hold a socket we will not serve.
            transport.write(error_bytes(503, "too many connections"))  # type: ignore[attr-defined]
            transport.close()
            self._transport = None
            self._phase = STOPPED
            return
        self._ctx.connections.add(self)
        self._sender.transport = self._reading.transport = self._transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, (tuple, list)) and peer:
            self._remote = str(peer[0])
        elif isinstance(peer, str) and peer:
            self._remote = peer
        self._deadline.start(HEAD, self._limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._ctx.connections.discard(self)
        if self._answering:
            self._ctx.orphans.add(self)
        if self._runner is not None:
            self._runner.close()  # a handler in progress still finishes (module docstring)
        self._transport = self._reading.transport = None
        self._deadline.cancel()
        self._sender.lost()
        self._queue.clear()
        current = self._reader.current
        if current is not None and not current.body_done:
            current.end_body(ConnectionResetError("client disconnected"))

    def data_received(self, data: bytes) -> None:
        if self._phase >= STOPPED:
            return  # we answer what came before the error, then close; the rest is noise
        try:
            self._reader.feed(data)
        except Exception as exc:
            self._read_failed(exc)
        if not self._answering:
            self._start()
        if self._queue and self._answering:
            self._reading.pause()  # the client is ahead of us: stop reading

    def eof_received(self) -> bool | None:
        self._client_eof = True
        if self._phase is LINGERING:
            self._close()  # the client has read our answer and is done: close now
            return None
        # The client half-closed. Answer what is queued, then close; a body it will
        # now never finish sending is an error its handler gets from read().
        self._advance(CLOSING)
        self._fail_body(400, "the client closed before sending the whole body")
        if not self._answering and not self._queue:
            self._close()
        return True

    def pause_writing(self) -> None:
        self._write_flow(self._sender.pause)

    def resume_writing(self) -> None:
        self._write_flow(self._sender.resume)

    def _write_flow(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # a bug of ours; writing is what failed: nothing can be answered
            self._log_internal(exc, "writing the response to")
            self._abort()

    # -- errors ----------------------------------------------------------------------------
    def _advance(self, phase: Phase) -> None:
        if phase > self._phase:
            self._phase = phase

    def _read_failed(self, exc: Exception) -> None:
        """The one place a failure while reading a request is sorted (see wire.client_error).

        The client's fault is answered with its status; a bug of ours is a 500, logged
        once with its traceback and the request it hit, and the connection is closed.
        """
        error = client_error(exc)
        if error is None:
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserError) else exc
            self._log_internal(cause if isinstance(cause, BaseException) else exc, "reading")
            reader = self._reader
            if not reader.in_head and reader.current is None and not reader.url and self._queue:
                self._queue.pop()  # a body-less request failed before its end: the 500 is its answer
            error = ProtocolError(500, "")
        elif error.status == 505:  # a version llhttp does not know: of HTTP, or of another protocol?
            try:
                self._reader.check_version_name()
            except ProtocolError as not_http:
                error = not_http
        self._protocol_error(error)

    def _log_internal(self, exc: BaseException, doing: str, request: Request | None = None) -> None:
        error_log.error("Internal error %s %s", doing, self._request_line(request), exc_info=exc)

    def _request_line(self, request: Request | None = None) -> str:
        """The request at hand (else the one being read, or the last read), as sent, for the log."""
        if request is None and (reading := self._reader.request_line()) is not None:  # a head under way
            return reading
        current = request if request is not None else self._reader.current  # (a mapping: no `or`)
        if current is None and self._queue:
            current = self._queue[-1]
        if current is not None:
            return f"{current.method} {current.raw_path}"
        return "(request line not read yet)"  # (llhttp reports DELETE, its zero, before a method)

    def _protocol_error(self, error: ProtocolError) -> None:
        """Stop parsing. Answer the error after the requests queued before it."""
        self._advance(STOPPED)
        current = self._reader.current
        if current is not None:
            # The error is inside a body its handler may be reading: it gets it there
            # (413 or 400 from ``read()``) and that handler's response is the answer.
            text = f"{error.status}: {error.reason or reason_phrase(error.status)}"
            current.end_body(HTTPException(status=error.status, text=text))  # (unless it failed already)
        else:
            self._error = error
        self._reading.pause()

    # -- answering ----------------------------------------------------------------------
    def _start(self) -> None:
        """Start the task that answers queued requests, or finish an idle connection."""
        if self._queue:
            if self._deadline.kind is HEAD:
                self._deadline.cancel()  # the head is complete
            runner = self._runner
            if runner is None:
                runner = self._runner = EagerRunner(self._loop)
            self._answering = True
            runner.run(self._answer())
        elif self._phase or self._ctx.closing:  # CLOSING or later (PERF: `or`, not >=)
            self._finish_connection()
        elif (reader := self._reader).began or reader.head_bytes:  # reader.partial(), inline: PERF
            if self._deadline.kind is not HEAD:
                self._deadline.start(HEAD, self._limits.header_timeout)
        else:
            # Idle until the next request. PERF: one clock read per request instead of a
            # new timer; the idle timer stays armed across requests and re-arms itself
            # when it fires early (_expired).
            self._idle_since = self._loop.time()
            deadline = self._deadline
            if deadline.kind is not IDLE:
                deadline.start(IDLE, self._limits.keepalive_timeout)

    async def _answer(self) -> None:
        queue = self._queue
        keep_alive = True
        request: Request | None = None
        observe = self._ctx.observe
        try:
            while queue and keep_alive and self._transport is not None:
                request = queue.popleft()
                if self._sender.paused:
                    await self.drain()
                started = monotonic() if observe is not None else 0.0
                # The app the request was parsed under answers it, even if a reload
                # has swapped in another since: in-flight requests keep their table.
                self._started = None
                response = await request.app.handle(request)
                if self._started is None and type(response) is Response:
                    self._write_whole(request, response)  # PERF: the common case, no coroutine
                else:
                    await self._send(request, response)
                if observe is not None:  # (told what was sent: a 500 if it could not be rendered)
                    sent = self._started
                    observe(request, response if sent is None else sent, started)
                keep_alive = request.keep_alive
        except ConnectionResetError:
            keep_alive = False
        except asyncio.CancelledError:
            self._abort()
            raise
        except Exception as exc:  # a bug of ours: never pass silently, never leave the client hanging
            self._log_internal(exc, "answering", request)
            if request is not None and self._started is None and self._transport is not None:
                # Nothing of its answer is out: it gets a 500 after the answers before it.
                self._sender.write(error_bytes(500))
                self._advance(STOPPED)
                keep_alive = False
            else:
                self._sender.flush()  # the answers before this one were whole: they still go
                self._abort()
        finally:
            self._answering = False
            if self._transport is None:  # only a lost connection can be an orphan
                self._ctx.orphans.discard(self)
        if self._transport is None:
            return
        if not keep_alive:
            queue.clear()
            if self._phase >= STOPPED or self._reader.current is not None:
                self._linger()  # an error stopped the parse, or a body is unread: the client may still send
            else:
                self._close()
            return
        if self._reading.paused and self._phase < STOPPED:
            self._reading.resume()
        self._start()  # idle until the next request, or go on with the next one

    def _write_whole(self, request: Request, response: Response) -> None:
        """Render a whole ``Response`` and write it in one call."""
        http10, head = request.version == HTTP10, request.method == "HEAD"  # (_form, inline: PERF)
        extra = b""
        if self._ctx.request_ids and not response.has_header(REQUEST_ID):  # (a handler's own wins)
            extra = id_line(request.request_id)
        try:
            keep_alive = self._keep_alive(request, response)
            data = render(response, keep_alive, http10, head, extra)
        except (ValueError, TypeError, UnicodeEncodeError):
            response = _unrenderable(request)
            keep_alive = self._keep_alive(request, response)
            data = render(response, keep_alive, http10, head, extra)
        self._started = response
        request.keep_alive = keep_alive
        if self._transport is None:
            return
        self._sender.defer(data)  # PERF: written with the iteration's others (sender.py)

    async def _send(self, request: Request, response: StreamResponse) -> None:
        if self._started is None and not isinstance(response, Response):
            try:  # a StreamResponse returned without prepare(): send its head now
                await response.prepare(request)
            except (ValueError, TypeError, UnicodeEncodeError):  # refused before a byte is sent
                response = _unrenderable(request)
        started = self._started
        if started is None:
            self._write_whole(request, response)  # type: ignore[arg-type]  # (a Response, whole)
        elif started is not response:
            # A streamed response was begun, then a different one returned (for example
            # a 500 after the handler failed mid-stream): the message cannot be finished.
            request.keep_alive = False
            self._abort()
            return
        else:
            try:
                await response.write_eof()
            except RuntimeError:  # fewer bytes than its Content-Length: the message cannot end
                error_log.exception("Cannot finish the response to %s %s", request.method, request.raw_path)
                request.keep_alive = False
                self._abort()
                return

    def _keep_alive(self, request: Request, response: StreamResponse) -> bool:
        """Whether this response leaves the connection open: it is not the last we send."""
        if not (
            request.keep_alive
            and not response.force_closed
            and request is not self._reader.current  # its body was read whole (a failed one stays current)
            and not self._ctx.closing
        ):
            return False
        # Closing once the queue is answered: only the last response says so.
        return self._phase is OPEN or bool(self._queue) or self._error is not None

    # -- the connection, as requests and responses see it ---------------------------------
    @property
    def remote(self) -> str | None:
        return self._remote

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._transport

    @property
    def answering(self) -> bool:
        """A request of this connection is being answered now."""
        return self._answering

    @property
    def connected(self) -> bool:
        """The client is still there (its connection has not been lost)."""
        return self._transport is not None

    def begin_response(self, request: Request, response: StreamResponse) -> tuple[Any, bool, bool, bool]:
        if self._started is not None and self._started is not response:
            raise RuntimeError("a response for this request has already been started")
        if self._ctx.request_ids and not response.has_header(REQUEST_ID):
            response.headers[REQUEST_ID] = request.request_id
        return (self, self._keep_alive(request, response), *_form(request))

    def response_started(self, request: Request, response: StreamResponse, keep_alive: bool) -> None:
        self._started = response
        request.keep_alive = keep_alive

    def _fail_body(self, status: int, reason: str) -> None:
        """End the body being received with an error; its handler's read() raises it."""
        current = self._reader.current
        if current is not None and not current.body_done:
            self._advance(STOPPED)
            text = f"{status}: {reason}"
            current.end_body(
                RequestPayloadError(text=text) if status == 400 else HTTPException(status=status, text=text)
            )

    def want_body(self, request: Request, expect_continue: bool) -> None:
        """A handler waits for the body: say ``100 Continue`` if the client asked.

        The body must then arrive within ``body_timeout``, or read() raises 408.
        """
        if not request.body_done and request is self._reader.current and self._phase is not LINGERING:
            self._deadline.start(BODY, self._limits.body_timeout)
        if expect_continue and self._transport is not None:
            self._sender.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._phase < STOPPED:
            self._reading.resume()

    def pause_reading(self) -> None:
        self._reading.pause()

    def stop_body_timer(self, request: Request) -> None:
        if self._deadline.kind is BODY:
            self._deadline.cancel()

    def resume_reading(self) -> None:
        if self._phase < STOPPED:
            self._reading.resume()

    def write(self, data: bytes) -> None:
        self._sender.write(data)  # after the deferred whole answers before it

    async def drain(self) -> None:
        if self._transport is None:
            raise ConnectionResetError("client disconnected")
        await self._sender.drain()

    async def sendfile(self, file: Any, offset: int, count: int) -> int:  # file: a binary IO[bytes]
        """Send ``count`` bytes of ``file`` from ``offset`` with the kernel's sendfile.

        Returns the bytes sent: fewer than ``count`` only if the file ended first.
        Raises NotImplementedError, having sent nothing, when the transport cannot
        (uvloop's, TLS): the caller reads and writes the bytes itself. The file goes
        in pieces, each of which the client must take within ``send_timeout`` (what
        waits in the kernel is out of the Sender's sight); else it is dropped.
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("client disconnected")
        self._sender.flush()  # the answers and the head before these bytes
        start, end = offset, offset + count
        while offset < end:
            piece = min(end - offset, 262144)  # so a client taking 256 KiB per send_timeout keeps up
            try:
                sent = await asyncio.wait_for(
                    self._loop.sendfile(transport, file, offset, piece, fallback=False),
                    self._limits.send_timeout,
                )
            except (NotImplementedError, RuntimeError, ValueError) as exc:  # RuntimeError: no native sendfile
                if offset > start or transport.is_closing():
                    raise ConnectionResetError("client disconnected") from exc
                raise NotImplementedError("this connection cannot sendfile") from exc
            except TimeoutError:
                self._abort()
                raise ConnectionResetError("a piece of the file not taken in send_timeout") from None
            except OSError as exc:  # the client went away in the middle
                raise ConnectionResetError("client disconnected") from exc
            offset += sent
            if sent < piece:
                break  # the file ended early
        return offset - start

    # -- closing ---------------------------------------------------------------------------
    def _finish_connection(self) -> None:
        """Send the pending protocol error, if any, and close."""
        error = self._error
        if error is not None and self._transport is not None:
            self._refuse(error.status, error.reason)  # after the answers before the bad request
            return
        self._close()

    def _expired(self, wait: Wait) -> None:
        """The deadline ran out while waiting for ``wait``."""
        if wait is BODY:
            self._fail_body(408, "request body not received in time")
        elif wait is LINGER:
            self._abort()  # not close(): our answer is out; what the client sends is not wanted
        elif self._answering:
            return  # busy: _start arms the deadline again when the connection is idle
        elif wait is HEAD:
            if self._reader.partial() and self._transport is not None:
                self._refuse(408, "request header not received in time")
            else:
                self._close()  # a connection that never sent a byte: closed without an answer
        elif not (self._queue or self._reader.partial()):  # IDLE, and idle indeed
            # Not re-armed by each request (see _start): it may have fired early.
            remaining = self._idle_since + self._limits.keepalive_timeout - self._loop.time()
            if remaining > 0.001:
                self._deadline.start(IDLE, remaining)
            else:
                self._close()

    def shutdown(self) -> None:
        """Server shutdown: close now if idle, else after the response in progress."""
        self._advance(CLOSING)
        if not self._answering and not self._queue:
            self._close()

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a protocol error and close: the client may be sending still."""
        self._sender.write(error_bytes(status, reason))
        self._linger()

    def _linger(self) -> None:
        """Close after an answer the client may not have read while it is still sending.

        Closing a socket with unread bytes in it makes the kernel send a reset, and a
        reset can destroy our answer (a 400, 408 or 413) before the client reads it.
        So, as nginx's lingering close and Go's net/http do: send our FIN once the
        answer is flushed, then read and drop what still arrives, until the client
        closes too or ``linger_timeout`` passes.
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._ctx.closing or self._client_eof:  # stopping; or the client sends no more
            self._close()
            return
        self._phase = LINGERING  # from now on, data_received drops what arrives
        self._sender.flush()
        try:
            transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):  # cannot half-close: close
            self._close()
            return
        self._reading.resume()
        self._deadline.cancel()
        if transport.get_write_buffer_size():
            self._sender.watch(on_empty=self._begin_linger)  # once the answer is out
        else:
            self._begin_linger()

    def _begin_linger(self) -> None:
        if self._deadline.kind is None and self._transport is not None:
            self._deadline.start(LINGER, self._limits.linger_timeout)

    def _close(self) -> None:
        self._deadline.cancel()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            self._sender.flush()
            transport.close()
            if transport.get_write_buffer_size():
                self._sender.watch()  # close() waits for the buffer to empty: not forever

    def _abort(self) -> None:
        self._sender.drop()  # what waits is dropped with the connection
        transport = self._transport
        if transport is not None:
            transport.abort()

    def abort(self) -> None:
        """Forced shutdown: cancel the handler and drop the connection."""
        if self._runner is not None:
            self._runner.cancel()
        self._abort()
