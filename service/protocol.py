"""One HTTP/1.1 connection: an ``asyncio.Protocol`` on httptools (llhttp).

Theory of operation
-------------------
``data_received`` feeds bytes to the parser. Parser callbacks only record: the
request target, header pairs as bytes, and -- at the end of the head -- a
``Request`` appended to a queue; body bytes go to that request. After the feed,
if no handler is running, one task is started that answers queued requests in
order (pipelining, RFC 9112 section 9.3.2) and ends when the queue is empty.

Limits (RFC 9112 section 3 and 5; see ``Limits``): an over-long target is 414,
an over-large or over-many header section 431, a declared body over the app's
``client_max_size`` 413 before any of it is read, a streamed (chunked) body over
it 413 from ``request.read()``. Every malformed message is a ``ProtocolError``:
the requests before it are answered, then its status is sent and the
connection closed. Nothing here lets an exception escape to the event loop.

Timers: a head must arrive whole within ``header_timeout`` of its first byte
(408 then close: a client trickling bytes cannot hold a connection); an idle
keep-alive connection is closed after ``keepalive_timeout``.

Flow control: reading pauses while a handler runs *and* the client has sent
more requests ahead (so a pipelining client is read no faster than answered),
and when the transport's write buffer is full the next response waits for
``resume_writing``. Handlers are not cancelled when the client goes away
(aiohttp's default since 3.9): they finish and their response is dropped.

Everything written goes through the connection's ``Sender`` (sender.py): whole
responses wait for the end of the loop iteration, the rest keeps its place after
them, and a peer that stops reading is dropped after ``send_timeout``. An error
answer ends with a lingering close (``_linger``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import httptools

from .body import RequestBody
from .deadline import BODY, HEAD, IDLE, LINGER, Deadline, Wait
from .eager import EagerRunner
from .errors import ProtocolError
from .httpexc import HTTPException
from .readflow import ReadFlow
from .request import HTTP10, HTTP11, Request
from .response import Response, StreamResponse, internal_error, reason_phrase, render
from .sender import Batch, Sender
from .wire import (
    HOSTS_SEEN,
    METHOD_NAMES,
    NOTED_NAME_SIZES,
    VERSIONS,
    Limits,
    check_host,
    check_host_value,
    check_request_line,
    check_transfer_encoding,
    client_error,
    error_bytes,
    method_name,
    origin_form,
    unquote_path,
)

if TYPE_CHECKING:
    from .app import Application

__all__ = ["ConnectionSet", "HttpProtocol", "Limits"]

_HEAD_SLICE = 4096  # a read that begins in a head is parsed this much at a time

access_log = logging.getLogger("service.access")
error_log = logging.getLogger("service.error")


class Phase(IntEnum):
    """Where a connection is in its life; it only ever moves up (``_advance``).

    - ``OPEN``: reading and answering requests, keeping the connection alive.
    - ``CLOSING``: still reading; the queue is answered, the last answer says
      ``Connection: close``, then it closes (the client half-closed; shutdown).
    - ``STOPPED``: reading no more (a malformed request, an upgrade, a failed body,
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
    access_log: bool = False
    connections: set[HttpProtocol] = field(default_factory=set)
    # Connections gone while their handler still runs: shutdown waits for those too.
    orphans: set[HttpProtocol] = field(default_factory=set)
    closing: bool = False
    batch: Batch = field(default_factory=Batch)  # whole responses written at the iteration's end

    @property
    def busy(self) -> set[HttpProtocol]:
        return self.connections | self.orphans


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
        "_limits",
        "_loop",
        "_transport",
        "_parser",
        "_remote",
        "_url",
        "_headers",
        "_header_bytes",
        "_head_bytes",
        "_in_head",
        "_content_length",
        "_transfer_encoding",
        "_expect_continue",
        "_connection_seen",
        "_host_count",
        "_current",
        "_body",
        "_started",
        "_queue",
        "_answering",
        "_runner",
        "_error",
        "_phase",
        "_reading",
        "_sender",
        "_deadline",
        "_trailer_count",
        "_body_raw",
        "_max_head_bytes",
        "_idle_since",
        "_client_eof",
        "_began",
        "_raw",
        "_scan_at",
    )

    def __init__(self, ctx: ConnectionSet) -> None:
        self._ctx = ctx
        self._limits = ctx.limits
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._remote: str | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._head_bytes = 0
        self._in_head = True  # the next bytes belong to a head (or are between messages)
        self._content_length: int | None = None
        self._transfer_encoding: bytes | None = None  # every Transfer-Encoding value, joined
        self._expect_continue = False
        self._connection_seen = False  # a Connection or Proxy-Connection field (see on_headers_complete)
        self._host_count = 0
        self._current: Request | None = None  # the request whose body is being parsed
        self._body: RequestBody | None = None  # ... and that body, which the parser feeds
        self._started: StreamResponse | None = None  # the response begun for the request answered
        self._queue: deque[Request] = deque()
        self._answering = False  # a coroutine is answering the queue (eagerly or in the runner)
        self._runner: EagerRunner | None = None
        self._error: ProtocolError | None = None  # to send once the queue is answered
        self._phase = OPEN  # only ever goes up: see Phase
        self._reading = ReadFlow()
        self._sender = Sender(self._loop, ctx.batch, self._limits.send_timeout)
        self._deadline = Deadline(self._loop, self._expired)
        self._trailer_count = 0
        self._body_raw = 0  # bytes received while a body is parsed (for the framing bound)
        self._max_head_bytes = self._limits.max_head_bytes  # PERF: computed once per connection
        self._idle_since = 0.0
        self._client_eof = False  # the client has half-closed: it sends nothing more
        self._began = False  # a head has begun (on_message_begin) and is not complete yet
        # The bytes received since before the current head began, where its request line
        # is checked (check_request_line): usually just the last read, no copy.
        self._raw: bytes | bytearray = b""
        self._scan_at = 0  # where in _raw the next request line may begin

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
        body = self._body
        if body is not None and not body.done:
            body.end(ConnectionResetError("client disconnected"))

    def data_received(self, data: bytes) -> None:
        if self._phase >= STOPPED:
            return  # we answer what came before the error, then close; the rest is noise
        if self._in_head:
            if len(data) > _HEAD_SLICE:
                # A head and what follows it in one read: fed in slices, so that a body's
                # framing is counted from the slice after its head ends (else up to one
                # whole read of chunk extensions would go uncounted).
                for start in range(0, len(data), _HEAD_SLICE):
                    self.data_received(data[start : start + _HEAD_SLICE])
                return
            self._head_bytes += len(data)
        elif self._current is not None:
            self._body_raw += len(data)
        if self._began:  # a head begun in an earlier read (rare): _keep_head made _raw a bytearray
            self._raw += data
        else:  # PERF: the usual case, a reference
            self._raw = data
            self._scan_at = 0
        try:
            self._parser.feed_data(data)
            if self._in_head:
                if self._head_bytes > self._max_head_bytes:
                    raise ProtocolError(431, "request header section too large")
            elif (body := self._body) is not None and (
                self._body_raw - body.size > self._limits.max_framing_bytes(body.size)
            ):
                raise ProtocolError(413, "too many bytes of chunk framing or extensions")
        except httptools.HttpParserUpgrade:
            # We speak only HTTP/1.1: answer the request as usual, then close
            # (RFC 9110 section 7.8 lets a server ignore Upgrade).
            self._advance(STOPPED)
        except Exception as exc:
            self._read_failed(exc)
        if self._began:
            self._keep_head()
        else:
            self._raw = b""  # hold no read past its parse (a body's may be large)
        if not self._answering:
            self._start()
        elif self._queue:
            self._reading.pause()  # the client is ahead of us: stop reading

    def _keep_head(self) -> None:
        """A head continues in the next read: keep the bytes its request line may be in.

        Only the last ``max_head_bytes`` of them: a head longer than that is refused
        (431) anyway, and the read it began in may be mostly a body.
        """
        raw = self._raw
        drop = len(raw) - self._max_head_bytes
        if type(raw) is bytes or drop > 0:
            drop = max(drop, 0)
            self._raw = bytearray(raw[drop:])
            self._scan_at = max(self._scan_at - drop, 0)

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
        try:
            self._sender.pause()
        except Exception as exc:  # a bug of ours; writing is what failed: nothing can be answered
            self._log_internal(exc, "writing the response to")
            self._abort()

    def resume_writing(self) -> None:
        try:
            self._sender.resume()
        except Exception as exc:
            self._log_internal(exc, "writing the response to")
            self._abort()

    # -- parser callbacks (PERF: they only record) -----------------------------------
    def on_message_begin(self) -> None:
        self._began = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_target_size:
            raise ProtocolError(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            self._on_trailer(name, value)
            return
        # PERF: limits are checked once, at the end of the head; until then the raw
        # head-bytes guard in data_received bounds what this list can hold.
        self._headers.append((name, value))
        size = len(name)
        self._header_bytes += size + len(value)
        if size not in NOTED_NAME_SIZES:
            return
        if size == 4:  # first: nearly every request has one
            if name.lower() == b"host":
                self._host_count += 1
                if value not in HOSTS_SEEN:  # PERF: one dict lookup for a Host heard before
                    check_host_value(value)
        elif size == 14 and name.lower() == b"content-length":
            self._content_length = int(value)  # llhttp has checked it is digits
        elif size == 17 and name.lower() == b"transfer-encoding":
            te = self._transfer_encoding
            self._transfer_encoding = value if te is None else te + b"," + value
        elif size == 6 and name.lower() == b"expect":
            self._expect_continue = value.lower() == b"100-continue"
        elif (size == 10 and name.lower() == b"connection") or (
            size == 16 and name.lower() == b"proxy-connection"  # llhttp reads it as Connection
        ):
            self._connection_seen = True

    def _on_trailer(self, name: bytes, value: bytes) -> None:
        """A trailer field after a chunked body (RFC 9112 7.1.2): bounded, then dropped.

        Trailers may not carry framing or routing, and handlers here cannot ask for
        them; keeping none also means none can leak into the next request's head.
        """
        self._header_bytes += len(name) + len(value)
        self._trailer_count += 1
        limits = self._limits
        if self._header_bytes > limits.max_header_size or self._trailer_count > limits.max_header_count:
            raise ProtocolError(431, "request trailer fields too large")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._began = False
        limits = self._limits
        headers = self._headers
        if self._header_bytes > limits.max_header_size or len(headers) > limits.max_header_count:
            raise ProtocolError(431, "request header fields too large")
        target = self._url
        # The request line says HTTP/ (llhttp also takes RTSP/, ICE/ and no version at
        # all). PERF: the usual case is one find and one startswith in the last read.
        raw = self._raw
        version_at = raw.find(b" HTTP/", self._scan_at)
        if version_at >= 0 and raw.endswith(target, self._scan_at, version_at):
            self._scan_at = version_at + 6
        else:
            self._scan_at = check_request_line(raw, self._scan_at, self._parser.get_method(), target)
        if target[:1] != b"/":
            target = origin_form(target, self._parser.get_method())
        raw_path, question, raw_query = target.partition(b"?")
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(400, "request path is not ASCII (percent-encode it)") from None
        if "%" in path:
            path = unquote_path(path)
        parser = self._parser
        keep_alive = parser.should_keep_alive()
        if keep_alive and not self._connection_seen:
            # PERF: get_http_version() formats a new string on every call. llhttp accepts
            # only HTTP/0.9, 1.0, 1.1 and 2.0, and of these only 1.1 keeps a connection
            # alive without a Connection (or Proxy-Connection) field: this is 1.1.
            version = HTTP11
            if self._host_count != 1:
                check_host(self._host_count, version)
        else:
            self._connection_seen = False
            known = VERSIONS.get(parser.get_http_version())
            if known is None:
                raise ProtocolError(505, f"HTTP/{parser.get_http_version()} is not supported")
            version = known
            check_host(self._host_count, version)
        self._host_count = 0
        app = self._ctx.app  # read per request: a reload swaps it between requests
        length = self._content_length
        chunked = self._transfer_encoding is not None
        expect_continue = False
        if length is not None or chunked or self._expect_continue:
            # The rarer path: a request with a body, or asking to be told to send it.
            if chunked:
                if version is not HTTP11:  # RFC 9112 section 6.1: faulty framing in 1.0
                    raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
                check_transfer_encoding(self._transfer_encoding)  # type: ignore[arg-type]
            limit = app.client_max_size
            if length is not None and limit is not None and length > limit:
                raise ProtocolError(413, f"request body is larger than the limit of {limit} bytes")
            expect_continue = self._expect_continue and version == HTTP11
            self._content_length = self._transfer_encoding = None
            self._expect_continue = False
        raw_method = parser.get_method()
        body = RequestBody(app.client_max_size) if length or chunked else None
        request = Request(
            METHOD_NAMES.get(raw_method) or method_name(raw_method),
            target,
            path,
            raw_query.decode("latin-1") if question else "",
            headers,
            version,
            keep_alive,
            self,
            app,
            length,
            expect_continue,
            body,
        )
        # Ready for the next head (PERF: reset here, not in on_message_begin).
        self._body_raw = 0
        self._headers = []
        self._header_bytes = 0
        if body is not None:  # PERF: a request without one is complete already
            self._current = request
            self._body = body
        self._queue.append(request)
        self._url = b""  # last: an empty target here says the request is queued (_read_failed)

    def on_body(self, body: bytes) -> None:
        stream = self._body
        if stream is not None:
            stream.feed(body)
            if stream.error is not None:
                raise ProtocolError(413, "request body too large")

    def on_message_complete(self) -> None:
        self._in_head = True  # what follows is the next head
        self._head_bytes = 0
        if self._trailer_count:
            self._trailer_count = self._header_bytes = 0
        body = self._body
        if body is not None:
            self._current = self._body = None
            body.end()

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
            if not self._in_head and self._current is None and not self._url and self._queue:
                self._queue.pop()  # a body-less request failed before its end: the 500 is its answer
            error = ProtocolError(500, "")
        elif error.status == 505:  # a version llhttp does not know: of HTTP, or of another protocol?
            try:
                check_request_line(self._raw, self._scan_at, self._parser.get_method(), self._url)
            except ProtocolError as not_http:
                error = not_http
        self._protocol_error(error)

    def _log_internal(self, exc: BaseException, doing: str, request: Request | None = None) -> None:
        error_log.error("Internal error %s %s", doing, self._request_line(request), exc_info=exc)

    def _request_line(self, request: Request | None = None) -> str:
        """The request at hand (else the one being read, or the last read), as sent, for the log."""
        if request is None and self._url:  # a head being read
            return f"{self._parser.get_method().decode('latin-1')} {self._url.decode('latin-1')}"
        current = request if request is not None else self._current  # (a Request is a mapping: no `or`)
        if current is None and self._queue:
            current = self._queue[-1]
        if current is not None:
            return f"{current.method} {current.raw_path}"
        return "(request line not read yet)"  # (llhttp reports DELETE, its zero, before a method)

    def _protocol_error(self, error: ProtocolError) -> None:
        """Stop parsing. Answer the error after the requests queued before it."""
        self._advance(STOPPED)
        body = self._body
        if body is not None:
            # The error is inside a body its handler may be reading: it gets it there
            # (413 or 400 from ``read()``) and that handler's response is the answer.
            text = f"{error.status}: {error.reason or reason_phrase(error.status)}"
            body.end(HTTPException(status=error.status, text=text))  # (unless it failed already)
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
        elif self._began or (self._in_head and self._head_bytes):  # _in_head_partial(), inline: PERF
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

    def _in_head_partial(self) -> bool:
        # A head has begun (on_message_begin, cleared at its end), or bytes came that
        # begin none -- blank lines, which llhttp skips silently: they are held to the
        # header timeout too, or a client could keep a connection with one CRLF a minute.
        return self._began or (self._in_head and self._head_bytes > 0)

    async def _answer(self) -> None:
        queue = self._queue
        keep_alive = True
        request: Request | None = None
        try:
            while queue and keep_alive and self._transport is not None:
                request = queue.popleft()
                if self._sender.paused:
                    await self.drain()
                # The app the request was parsed under answers it, even if a reload
                # has swapped in another since: in-flight requests keep their table.
                self._started = None
                response = await request.app.handle(request)
                if self._started is None and type(response) is Response and not self._ctx.access_log:
                    self._write_whole(request, response)  # PERF: the common case, no coroutine
                else:
                    await self._send(request, response)
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
            if self._phase >= STOPPED or self._current is not None:
                self._linger()  # an error stopped the parse, or a body is unread: the client may still send
            else:
                self._close()
            return
        if self._reading.paused and self._phase < STOPPED:
            self._reading.resume()
        self._start()

    def _write_whole(self, request: Request, response: Response) -> None:
        """Render a whole ``Response`` and write it in one call."""
        http10, head = request.version == HTTP10, request.method == "HEAD"  # (_form, inline: PERF)
        try:
            keep_alive = self._keep_alive(request, response)
            data = render(response, keep_alive, http10, head)
        except (ValueError, TypeError, UnicodeEncodeError):
            response = _unrenderable(request)
            keep_alive = self._keep_alive(request, response)
            data = render(response, keep_alive, http10, head)
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
        if self._ctx.access_log:
            access_log.info(
                '%s "%s %s HTTP/%d.%d" %d',
                self._remote,
                request.method,
                request.raw_path,  # as sent (llhttp admits no control byte): decoded, it could forge lines
                request.version.major,
                request.version.minor,
                (self._started or response).status,  # what was sent: a 500 if it could not be
            )

    def _keep_alive(self, request: Request, response: StreamResponse) -> bool:
        """Whether this response leaves the connection open: it is not the last we send."""
        if not (
            request.keep_alive
            and not response.force_closed
            and request is not self._current  # its body was read whole (a failed one stays current)
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
    def connected(self) -> bool:
        """The client is still there (its connection has not been lost)."""
        return self._transport is not None

    def begin_response(self, request: Request, response: StreamResponse) -> tuple[Any, bool, bool, bool]:
        if self._started is not None and self._started is not response:
            raise RuntimeError("a response for this request has already been started")
        return (self, self._keep_alive(request, response), *_form(request))

    def response_started(self, request: Request, response: StreamResponse, keep_alive: bool) -> None:
        self._started = response
        request.keep_alive = keep_alive

    def _fail_body(self, status: int, reason: str) -> None:
        """End the body being received with an error; its handler's read() raises it."""
        body = self._body
        if body is not None and not body.done:
            self._advance(STOPPED)
            body.end(HTTPException(status=status, text=f"{status}: {reason}"))

    def want_body(self, body: RequestBody, expect_continue: bool) -> None:
        """A handler waits for the body: say ``100 Continue`` if the client asked.

        The body must then arrive within ``body_timeout``, or read() raises 408.
        """
        if not body.done and body is self._body and self._phase is not LINGERING:
            self._deadline.start(BODY, self._limits.body_timeout)
        if expect_continue and self._transport is not None:
            self._sender.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._phase < STOPPED:
            self._reading.resume()

    def write(self, data: bytes) -> None:
        self._sender.write(data)  # after the deferred whole answers before it

    async def drain(self) -> None:
        if self._transport is None:
            raise ConnectionResetError("client disconnected")
        await self._sender.drain()

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
            if self._in_head_partial() and self._transport is not None:
                self._refuse(408, "request header not received in time")
            else:
                self._close()  # a connection that never sent a byte: closed without an answer
        elif not (self._queue or self._in_head_partial()):  # IDLE, and idle indeed
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
