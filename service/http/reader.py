"""Reading requests off one connection: the httptools callbacks and the head being read.

The connection (protocol.py) hands each read to ``RequestReader.feed``; llhttp
calls back here, and these callbacks only record: the target, header pairs as
bytes, the few fields that frame a message (Host, Content-Length,
Transfer-Encoding, Expect, Connection). At the end of a head the rules that
apply to it are checked once (RFC 9112: the request line's HTTP-name, Host,
framing, the limits of ``Limits``), and a ``Request`` is appended to the
connection's queue; when it has a body, the parser then feeds that request
(``Request.feed_body``, ``end_body``). Whatever is wrong raises: a ``ProtocolError`` (the client's fault) or
anything else (ours); the connection sorts them (``_read_failed``).

What the connection reads of the reader is public here: ``in_head``, ``began``,
``head_bytes`` (is a head under way?), ``current`` (the request whose body is
being parsed), ``url`` (the target of a head under way).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import httptools

from ..errors import ProtocolError
from ..web.request import HTTP11, Connection, Request
from .wire import (
    HOSTS_SEEN,
    METHOD_NAMES,
    NOTED_NAME_SIZES,
    VERSIONS,
    check_host,
    check_host_value,
    check_request_line,
    check_transfer_encoding,
    method_name,
    origin_form,
    unquote_path,
)

if TYPE_CHECKING:
    from .protocol import ConnectionSet

__all__ = ["RequestReader"]

_HEAD_SLICE = 4096  # a read that begins in a head is parsed this much at a time


class RequestReader:
    """The parser of one connection and the state of the head it is reading."""

    __slots__ = (
        "_ctx",
        "_limits",
        "_conn",
        "_queue",
        "_parser",
        "url",
        "_headers",
        "_header_bytes",
        "head_bytes",
        "in_head",
        "_content_length",
        "_transfer_encoding",
        "_expect_continue",
        "_coding",
        "_connection_seen",
        "_host_count",
        "current",
        "_trailer_count",
        "_body_raw",
        "_max_head_bytes",
        "began",
        "_raw",
        "_scan_at",
    )

    def __init__(self, ctx: ConnectionSet, conn: Connection, queue: deque[Request]) -> None:
        self._ctx = ctx
        self._limits = ctx.limits
        self._conn = conn  # what each Request is given: the connection, as requests see it
        self._queue = queue  # the connection's: each complete head's Request goes there
        self._parser = httptools.HttpRequestParser(self)
        self.url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self.head_bytes = 0
        self.in_head = True  # the next bytes belong to a head (or are between messages)
        self._content_length: int | None = None
        self._transfer_encoding: bytes | None = None  # every Transfer-Encoding value, joined
        self._expect_continue = False
        self._coding: bytes | None = None  # every Content-Encoding value, joined
        self._connection_seen = False  # a Connection or Proxy-Connection field (see on_headers_complete)
        self._host_count = 0
        self.current: Request | None = None  # the request whose body is being parsed
        self._trailer_count = 0
        self._body_raw = 0  # bytes received while a body is parsed (for the framing bound)
        self._max_head_bytes = self._limits.max_head_bytes  # PERF: computed once per connection
        self.began = False  # a head has begun (on_message_begin) and is not complete yet
        # The bytes received since before the current head began, where its request line
        # is checked (check_request_line): usually just the last read, no copy.
        self._raw: bytes | bytearray = b""
        self._scan_at = 0  # where in _raw the next request line may begin

    def feed(self, data: bytes) -> None:
        """Parse one read (raises what is wrong; see the module docstring)."""
        if self.in_head:
            if len(data) > _HEAD_SLICE:
                # A head and what follows it in one read: fed in slices, so that a body's
                # framing is counted from the slice after its head ends (else up to one
                # whole read of chunk extensions would go uncounted).
                for start in range(0, len(data), _HEAD_SLICE):
                    self.feed(data[start : start + _HEAD_SLICE])
                return
            self.head_bytes += len(data)
        elif self.current is not None:
            self._body_raw += len(data)
        if self.began:  # a head begun in an earlier read (rare): _keep_head made _raw a bytearray
            self._raw += data
        else:  # PERF: the usual case, a reference
            self._raw = data
            self._scan_at = 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            upgraded_at = upgrade.args[0]
        else:
            if self.in_head:
                if self.head_bytes > self._max_head_bytes:
                    raise ProtocolError(431, "request header section too large")
            elif (current := self.current) is not None and (
                self._body_raw - current.body_size > self._limits.max_framing_bytes(current.body_size)
            ):
                raise ProtocolError(413, "too many bytes of chunk framing or extensions")
            if self.began:
                self._keep_head()
            else:
                self._raw = b""  # hold no read past its parse (a body's may be large)
            return
        # Outside the except clause: an error in what follows is not "during" the upgrade.
        self._go_on_after_upgrade(data[upgraded_at:])

    def _go_on_after_upgrade(self, rest: bytes) -> None:
        """Serve a request that asked to upgrade as the ordinary request it also is.

        We speak HTTP/1.1 only, and RFC 9110 section 7.8 lets a server ignore
        ``Upgrade`` (``curl --http2`` sends ``Upgrade: h2c`` with every request). But
        llhttp stops at the end of such a head, skipping its body, and takes what
        follows for another protocol. So a new parser goes on from there: when the
        request has a body, it first reads a head we make up with the same framing
        (``Content-Length: N`` or chunked), whose body is that request's; then the
        client's next requests, as usual.
        """
        current = self.current
        if current is None:
            self._parser = httptools.HttpRequestParser(self)
        else:
            self._parser = httptools.HttpRequestParser(_AfterUpgrade(self))
            length = current.content_length
            framing = b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length
            self._parser.feed_data(b"POST / HTTP/1.1\r\n" + framing + b"\r\n\r\n")
        if rest:
            self.feed(rest)

    def body_follows(self) -> None:
        """The made-up head of ``_go_on_after_upgrade`` is read: the body of ``current`` comes."""
        self.in_head = False
        self.began = False
        self.head_bytes = 0
        self._body_raw = 0

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

    def partial(self) -> bool:
        """A head has begun and is not complete.

        A head has begun (on_message_begin, cleared at its end), or bytes came that
        begin none -- blank lines, which llhttp skips silently: they are held to the
        header timeout too, or a client could keep a connection with one CRLF a minute.
        """
        return self.began or self.head_bytes > 0

    def request_line(self) -> str | None:
        """The method and target of a head under way, as sent (for the log), if any."""
        if not self.url:  # llhttp reports a method (DELETE, its zero) before it has read one
            return None
        return f"{self._parser.get_method().decode('latin-1')} {self.url.decode('latin-1')}"

    def check_version_name(self) -> None:
        """For llhttp's "unknown HTTP version": was the name HTTP at all? (400 if not)."""
        check_request_line(self._raw, self._scan_at, self._parser.get_method(), self.url)

    # -- httptools callbacks (PERF: they only record) -------------------------------
    def on_message_begin(self) -> None:
        self.began = True

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self._limits.max_target_size:
            raise ProtocolError(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:
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
        elif size == 10:
            if name.lower() == b"connection":
                self._connection_seen = True
        elif size == 16:
            lower = name.lower()
            if lower == b"proxy-connection":  # llhttp reads it as Connection
                self._connection_seen = True
            elif lower == b"content-encoding":  # decoded when the body is read (streams.py)
                self._coding = value if self._coding is None else self._coding + b"," + value

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
        self.in_head = False
        self.began = False
        self.head_bytes = 0  # (so "a head is under way" is began or head_bytes, body or not)
        limits = self._limits
        headers = self._headers
        if self._header_bytes > limits.max_header_size or len(headers) > limits.max_header_count:
            raise ProtocolError(431, "request header fields too large")
        target = self.url
        # The request line says HTTP/ (llhttp also takes RTSP/, ICE/ and no version at
        # all). PERF: the usual case is one find and one startswith in the last read.
        raw = self._raw
        version_at = raw.find(b" HTTP/", self._scan_at)
        if version_at >= 0 and raw.endswith(target, self._scan_at, version_at):
            self._scan_at = version_at + 6
        else:
            self._scan_at = check_request_line(raw, self._scan_at, self._parser.get_method(), target)
        if target[0] != 0x2F:  # not "/" (PERF: no slice; llhttp never reports an empty target)
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
            # (A declared length over client_max_size is not refused here: that limit
            # is for whole reads, and a handler may stream the body; read() refuses it.)
            expect_continue = self._expect_continue and version == HTTP11
            self._content_length = self._transfer_encoding = None
            self._expect_continue = False
            has_body = bool(length) or chunked
        else:
            has_body = False
        coding = self._coding
        raw_method = parser.get_method()
        request = Request(
            METHOD_NAMES.get(raw_method) or method_name(raw_method),
            target,
            path,
            raw_query.decode("latin-1") if question else "",
            headers,
            version,
            keep_alive,
            self._conn,
            app,
            length,
            expect_continue,
            has_body,
        )
        # Ready for the next head (PERF: reset here, not in on_message_begin).
        self._body_raw = 0
        self._headers = []
        self._header_bytes = 0
        if has_body:  # PERF: a request without one is complete already
            self.current = request
        if coding is not None:
            request.coding = coding
            self._coding = None
        self._queue.append(request)
        self.url = b""  # last: an empty target here says the request is queued (_read_failed)

    def on_body(self, body: bytes) -> None:
        request = self.current
        if request is not None and not request.feed_body(body):
            raise ProtocolError(413, "request body too large")

    def on_message_complete(self) -> None:
        self.in_head = True  # what follows is the next head
        self.head_bytes = 0
        if self._trailer_count:
            self._trailer_count = self._header_bytes = 0
        request = self.current
        if request is not None:
            if self._parser.should_upgrade():
                return  # llhttp skipped the body of a request that asked to upgrade: see feed()
            self.current = None
            request.end_body()


class _AfterUpgrade:
    """The callbacks of the parser that goes on after a request that asked to upgrade.

    Its first message is the head ``RequestReader._go_on_after_upgrade`` makes up to
    frame that request's body: its request line and fields are not the client's and
    are not read; its body and end are that request's. Every later message is the
    client's and goes to the reader as usual.
    """

    __slots__ = ("_reader", "_framing")

    def __init__(self, reader: RequestReader) -> None:
        self._reader = reader
        self._framing = True  # in the made-up message

    def on_message_begin(self) -> None:
        if not self._framing:
            self._reader.on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._framing:
            self._reader.on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not (self._framing and self._reader.in_head):  # (a trailer of the framed body is read)
            self._reader.on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._framing:
            self._reader.body_follows()
        else:
            self._reader.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._reader.on_body(body)

    def on_message_complete(self) -> None:
        self._framing = False
        self._reader.on_message_complete()
