"""What handlers return: ``Response`` (a whole body) and ``StreamResponse``.

A ``Response`` renders its status line, headers and body into one ``bytes``
object, once, when the connection writes it (RFC 9112 section 4 and 6). The
common case -- no extra headers -- is assembled from precomputed pieces.

A ``StreamResponse`` sends its head on ``prepare()`` and its body in pieces on
``write()``: with ``Content-Length`` when the handler set one, otherwise with
chunked transfer coding (RFC 9112 section 7.1) for HTTP/1.1 peers, or by closing
the connection for HTTP/1.0 peers, which do not understand chunks.

A body that is not bytes -- a binary file, an async iterable of bytes -- makes a
``Response`` a ``StreamedBodyResponse`` (bodies.py) as it is made, so the bytes path
pays nothing for it; ``write_file`` sends a file's bytes with the kernel's
``sendfile`` when the connection can (``FileResponse``, fileresponse.py, uses it).
A 204 or 304 has no content (RFC 9110 sections 15.3.5 and 15.4.5), so it never
carries a body, a ``Content-Type`` or a ``Content-Length`` of its own (a 304 keeps
one a handler declared: it tells the length a GET would get, section 8.6).
The validators ``etag`` and ``last_modified`` are read and written through
conditional.py (section 8.8).

The connection is reached only through the small ``Writer`` protocol below, so
this module knows nothing of sockets.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterable, Callable, Mapping
from datetime import datetime
from email.utils import formatdate
from http import HTTPStatus
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Protocol

from .conditional import ETag, etag_field, http_date, parse_etag, parse_http_date
from .cookies import cookie_name, set_cookie_value
from .multidict import CIMultiDict

if TYPE_CHECKING:
    from .request import Request

__all__ = ["Response", "StreamResponse", "check_status", "internal_error", "json_response", "render"]

SERVER_HEADER = b"Server: service\r\n"
INTERNAL_ERROR_TEXT = "500: Internal Server Error"  # all a client learns of a failure

# PERF: status lines are built once per status code, not per response.
_REASONS: dict[int, str] = {s.value: s.phrase for s in HTTPStatus}
_STATUS_LINES: dict[int, bytes] = {
    code: f"HTTP/1.1 {code} {phrase}\r\n".encode("latin-1") for code, phrase in _REASONS.items()
}
_CT_LINES: dict[str, bytes] = {}
_PREFIXES: dict[tuple[int, str | None, str | None], bytes] = {}
# PERF: the most common key, 200 in UTF-8, looked up by content type alone.
_OK_UTF8_PREFIXES: dict[str, bytes] = {}
_LENGTH_LINES: dict[int, bytes] = {}
# RFC 9110 section 5.1 and 5.5: a field name is a token; a value (and a reason
# phrase) is visible characters, spaces and tabs -- no CR, LF, NUL or other control.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# The message's framing is the server's to write (RFC 9112 section 6): a handler's
# own Transfer-Encoding could contradict it, and so could a Content-Length, which is
# taken as the declared length instead of being sent as written.
_FRAMING = frozenset(("content-length", "transfer-encoding"))
_FRAMING_AND_TYPE = _FRAMING | {"content-type"}  # what a 204 or 304 never sends


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "")


def _status_line(status: int, reason: str | None) -> bytes:
    if status < 200:
        # An interim answer (RFC 9110 section 15.2) cannot end an exchange: the client
        # would wait for the final one, and every later answer would be out of step.
        raise ValueError(f"a {status} response is interim, not an answer (use a status of 200 or more)")
    if reason is None:
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
        reason = _REASONS.get(status, "")
    _check_header_text(reason)
    return f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")


def _ct_line(value: str) -> bytes:
    line = _CT_LINES.get(value)
    if line is None:
        _check_header_text(value)
        line = f"Content-Type: {value}\r\n".encode("latin-1")
        if len(_CT_LINES) < 256:  # bounded: content types are a small set
            _CT_LINES[value] = line
    return line


def _length_line(size: int) -> bytes:
    line = b"Content-Length: %d\r\n" % size
    if size < 65536 and len(_LENGTH_LINES) < 4096:  # bounded: small bodies repeat sizes
        _LENGTH_LINES[size] = line
    return line


def _check_header_text(text: str) -> None:
    """Refuse CR, LF, NUL and other controls so no handler can split a response."""
    if _FIELD_TEXT.fullmatch(text) is None:
        raise ValueError(f"header text may not contain CR, LF or NUL, nor any other control: {text!r}")


def _declared_length(value: str) -> int:
    """A ``Content-Length`` a handler set: digits only (RFC 9110 section 8.6)."""
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"Content-Length must be a number of bytes, not {value!r}")
    return int(value)


class _DateCache:
    """``Date`` and ``Server`` header lines, re-rendered at most once a second."""

    __slots__ = ("_next", "_line")

    def __init__(self) -> None:
        self._next = 0.0  # when the current second ends
        self._line = b""

    def lines(self) -> bytes:
        now = time.time()
        if now >= self._next:  # PERF: one float comparison per response otherwise
            second = int(now)
            self._next = second + 1.0
            date = formatdate(second, usegmt=True)
            self._line = b"Date: " + date.encode("ascii") + b"\r\n" + SERVER_HEADER
        return self._line


date_cache = _DateCache()


class Writer(Protocol):
    """The connection as a response sees it."""

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    async def sendfile(self, file: IO[bytes], offset: int, count: int) -> int:
        """Bytes sent by the kernel; NotImplementedError, none sent, when the connection cannot."""
        ...


def is_os_file(file: IO[bytes]) -> bool:
    """Whether ``file`` is an operating-system file (what sendfile can copy from)."""
    try:
        file.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both of the first
        return False
    return True


def check_status(status: int) -> None:
    """A status is three digits (RFC 9110 section 15); what else it may be, the renderer says."""
    if not 100 <= status <= 999:
        raise ValueError(f"status must be a three-digit code, not {status!r}")


class StreamResponse:
    """A response whose body is written in pieces after ``prepare()``."""

    __slots__ = (
        "status",
        "reason",
        "_headers",
        "_content_type",
        "_charset",
        "_content_length",
        "_chunked",
        "_writer",
        "_head_only",
        "_eof_sent",
        "_keep_alive",
        "force_closed",
        "_sent",
    )

    def __init__(
        self,
        *,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        check_status(status)
        self.status = status
        self.reason = reason
        # PERF: most responses add no header; the mapping is made when first asked for.
        self._headers: CIMultiDict | None = CIMultiDict(headers) if headers else None
        self._content_type: str | None = None
        self._charset: str | None = None
        self._content_length: int | None = None
        self._chunked = False
        self._writer: Writer | None = None
        self._head_only = False
        self._eof_sent = False
        self._keep_alive = True
        self.force_closed = False  # force_close() was called (read by the connection)
        self._sent = 0  # body bytes written, when a Content-Length frames them

    # -- attributes handlers set -------------------------------------------
    @property
    def headers(self) -> CIMultiDict:
        if self._headers is None:
            self._headers = CIMultiDict()
        return self._headers

    # -- cookies (cookies.py): Set-Cookie fields, one per name -----------------------
    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | datetime | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        version: str | None = None,  # (RFC 2109's; ignored by browsers: accepted, not sent)
        samesite: str | None = None,
        partitioned: bool | None = None,
    ) -> None:
        """Set the cookie ``name`` (replacing one set before); aiohttp's signature."""
        line = set_cookie_value(
            name,
            value,
            expires=expires,
            domain=domain,
            max_age=max_age,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        self._replace_cookie(name, line)

    def del_cookie(
        self,
        name: str,
        *,
        domain: str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Tell the client to forget ``name``: an empty value, expired (as aiohttp does)."""
        self.set_cookie(
            name,
            "",
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            max_age=0,
            domain=domain,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    @property
    def cookies(self) -> Mapping[str, str]:
        """The cookies set so far: name -> its ``Set-Cookie`` value (read-only)."""
        fields = self._headers.getall("Set-Cookie", []) if self._headers else []
        return MappingProxyType({cookie_name(line): line for line in fields})

    def _replace_cookie(self, name: str, line: str) -> None:
        headers = self.headers
        others = [v for v in headers.getall("Set-Cookie", []) if cookie_name(v) != name]
        if "Set-Cookie" in headers:
            del headers["Set-Cookie"]
        for other in others:
            headers.add("Set-Cookie", other)
        headers.add("Set-Cookie", line)

    def set_status(self, status: int, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason

    @property
    def content_type(self) -> str | None:
        return self._content_type

    @content_type.setter
    def content_type(self, value: str | None) -> None:
        self._content_type = value

    @property
    def charset(self) -> str | None:
        return self._charset

    @charset.setter
    def charset(self, value: str | None) -> None:
        self._charset = value

    @property
    def content_length(self) -> int | None:
        return self._content_length

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if self.prepared:
            raise RuntimeError("cannot change Content-Length after prepare()")
        if self._chunked and value is not None:
            raise RuntimeError("cannot set a Content-Length once chunked encoding is enabled")
        self._content_length = value

    @property
    def chunked(self) -> bool:
        """Whether the body is (to be) sent in chunks (RFC 9112 section 7.1)."""
        return self._chunked

    def enable_chunked_encoding(self, chunk_size: int | None = None) -> None:
        """Send the body in chunks: no ``Content-Length`` may be set (``chunk_size``: ignored).

        A body of unknown length is chunked to HTTP/1.1 clients anyway; to an HTTP/1.0
        client, which cannot read chunks, it ends with the connection instead.
        """
        if self._content_length is not None or (self._headers and "Content-Length" in self._headers):
            raise RuntimeError("cannot enable chunked encoding when a Content-Length is set")
        self._chunked = True

    # -- validators (RFC 9110 section 8.8; conditional.py) -------------------------------
    @property
    def last_modified(self) -> datetime | None:
        """``Last-Modified`` as a UTC datetime (``None`` when absent or not a date)."""
        return parse_http_date(self._headers.get("Last-Modified") if self._headers else None)

    @last_modified.setter
    def last_modified(self, value: int | float | datetime | str | None) -> None:
        """A datetime, a POSIX time (int or float) or an HTTP-date as written; None removes it."""
        if value is None:
            self.headers.pop("Last-Modified", None)
        else:
            self.headers["Last-Modified"] = http_date(value)

    @property
    def etag(self) -> ETag | None:
        """``ETag`` as an ``ETag`` (``None`` when absent or malformed)."""
        return parse_etag(self._headers.get("ETag") if self._headers else None)

    @etag.setter
    def etag(self, value: ETag | str | None) -> None:
        """A str (a strong tag), an ``ETag`` (weak or strong), ``"*"``; None removes it."""
        if value is None:
            self.headers.pop("ETag", None)
        else:
            self.headers["ETag"] = etag_field(value)

    @property
    def prepared(self) -> bool:
        return self._writer is not None

    @property
    def keep_alive(self) -> bool:
        return self._keep_alive and not self.force_closed

    def force_close(self) -> None:
        """Close the connection after this response."""
        self.force_closed = True

    def _full_content_type(self) -> str | None:
        ct = self._content_type
        if ct is not None and self._charset is not None and "charset=" not in ct:
            return f"{ct}; charset={self._charset}"
        return ct

    # -- rendering ------------------------------------------------------------
    def _render_head(self, keep_alive: bool, http10: bool, length: int | None) -> bytes:
        """The status line and header block, ending with the blank line."""
        parts = [_status_line(self.status, self.reason)]
        # A 204 or 304 has no content, so no type either (RFC 9110 sections 8.3, 15.4.5).
        bodyless = self.status == 204 or self.status == 304
        ct = None if bodyless else self._full_content_type()
        if ct is not None and "content-type" not in self.headers:
            parts.append(_ct_line(ct))
        skipped = _FRAMING_AND_TYPE if bodyless else _FRAMING
        for name, value in self.headers.items():
            if _TOKEN.fullmatch(name) is None:
                raise ValueError(f"invalid header name {name!r}")
            _check_header_text(value)
            lowered = name.lower()
            if lowered in skipped:
                if lowered == "transfer-encoding":
                    raise ValueError("Transfer-Encoding is the server's to set (StreamResponse chunks)")
                continue  # Content-Length: checked against the body by the caller, written below
            parts.append(f"{name}: {value}\r\n".encode("latin-1"))
        if length is not None:
            parts.append(b"Content-Length: %d\r\n" % length)
        elif self._chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        parts.append(date_cache.lines())
        if not keep_alive:
            parts.append(b"Connection: close\r\n")
        elif http10:
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    # -- streaming API --------------------------------------------------------
    async def prepare(self, request: Request) -> Writer:
        """Send the status line and headers; the body follows with ``write()``."""
        if self._writer is not None:
            return self._writer
        writer, keep_alive, http10, head_only = request.protocol.begin_response(request, self)
        length = self._content_length
        declared = self._headers.get("Content-Length") if self._headers else None
        if declared is not None:  # aiohttp's way of declaring it: as a header
            size = _declared_length(declared)
            if length is not None and size != length:
                raise ValueError(f"Content-Length header {declared!r} contradicts content_length={length}")
            length = self._content_length = size
        status = self.status  # (a 1xx is refused by _render_head: it is no answer)
        bodyless = status in (204, 304)  # RFC 9110 section 6.4.1: never a body
        if self._chunked and length is not None:  # enable_chunked_encoding(), then a length
            raise RuntimeError("chunked encoding is enabled but a Content-Length is set")
        self._chunked = False  # from here on: whether the body goes in chunks
        if length is None and not head_only and not bodyless:
            if http10:
                keep_alive = False  # the end of the body is the end of the connection
            else:
                self._chunked = True
        if status == 204:
            length = None  # and never a Content-Length (RFC 9110 section 8.6)
        head = self._render_head(keep_alive, http10, length)  # may refuse a bad header: a 500, not sent
        self._keep_alive = keep_alive
        self._head_only = head_only or bodyless  # what write() is given is not sent
        request.protocol.response_started(request, self, keep_alive)
        writer.write(head)
        self._writer = writer
        return writer

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        writer = self._writer
        if writer is None:
            raise RuntimeError("call prepare() before write()")
        if self._eof_sent:
            raise RuntimeError("cannot write() after write_eof()")
        if not data or self._head_only:
            return
        if self._chunked:
            writer.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")
        else:
            if self._content_length is not None:
                # More than declared would be read by the client as the next response.
                if self._sent + len(data) > self._content_length:
                    raise RuntimeError(f"write() past the declared Content-Length of {self._content_length}")
                self._sent += len(data)
            writer.write(bytes(data))
        await writer.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        if data:
            await self.write(data)
        if self._writer is None:
            raise RuntimeError("call prepare() before write_eof()")
        if not self._head_only and self._content_length is not None and self._sent < self._content_length:
            # The client waits for the missing bytes: only closing the connection ends it.
            # (Raised every time, so a handler that catches it cannot end the message.)
            raise RuntimeError(
                f"write_eof() after {self._sent} of the {self._content_length} bytes Content-Length declared"
            )
        self._eof_sent = True
        if self._chunked and not self._head_only:
            self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    async def write_file(self, file: IO[bytes], offset: int, count: int, chunk_size: int = 262144) -> None:
        """Write ``count`` bytes of the binary ``file`` from ``offset``, as ``write()`` would.

        The kernel copies them (``sendfile``) when the connection can and the body is
        not chunked; otherwise they are read and written ``chunk_size`` at a time, on
        the event loop (reads of a local file are short). A file that ends early
        writes less: a declared ``Content-Length`` then makes ``write_eof()`` refuse.
        """
        writer = self._writer
        if writer is None or self._eof_sent:
            raise RuntimeError("write_file() is for after prepare() and before write_eof()")
        if count <= 0 or self._head_only:
            return
        if self._content_length is not None and self._sent + count > self._content_length:
            raise RuntimeError(f"write_file() past the declared Content-Length of {self._content_length}")
        if not self._chunked and is_os_file(file):
            try:
                self._sent += await writer.sendfile(file, offset, count)
                return
            except NotImplementedError:  # uvloop's transports, TLS: read and write below
                pass
        file.seek(offset)
        while count > 0 and (data := file.read(min(chunk_size, count))):
            count -= len(data)
            await self.write(data)


class Response(StreamResponse):
    """A response with its whole body in memory, rendered in one write."""

    __slots__ = ("_body",)

    def __init__(
        self,
        *,
        body: bytes | bytearray | memoryview | IO[bytes] | AsyncIterable[bytes] | None = None,
        status: int = 200,
        reason: str | None = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        charset: str | None = None,
    ) -> None:
        # PERF: every slot set here rather than through super().__init__(): one
        # Response is made per request.
        if not 100 <= status <= 999:  # PERF: the test inline (one Response per request)
            check_status(status)
        self.status = status
        self.reason = reason
        self._headers = CIMultiDict(headers) if headers else None
        self._content_length = self._writer = None
        self._chunked = self._head_only = self._eof_sent = self.force_closed = False
        self._keep_alive = True
        if text is not None:
            if body is not None:
                raise ValueError("pass body or text, not both")
            if not isinstance(text, str):
                raise TypeError(f"text must be str, not {type(text).__name__}")
            self._content_type = content_type or "text/plain"
            if charset is None and content_type is not None and "charset=" in content_type.lower():
                charset = content_type.lower().partition("charset=")[2].split(";")[0].strip(' "')
            if not charset or charset == "utf-8":
                self._charset = "utf-8"
                self._body = text.encode()  # PERF: the codec lookup skipped
            else:
                self._charset = charset
                self._body = text.encode(charset)
        else:
            if body is not None and not isinstance(body, (bytes, bytearray)):
                self._adopt_body(body, content_type, charset)  # (bodies.py: cold)
                return
            self._body = body if type(body) is bytes else bytes(body) if body is not None else b""
            self._charset = charset
            if content_type is not None:
                self._content_type = content_type
            else:
                self._content_type = "application/octet-stream" if body is not None else None

    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: bytes | bytearray | memoryview | IO[bytes] | AsyncIterable[bytes]) -> None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            self._body = bytes(value)
        else:
            self._adopt_body(value, self._content_type, self._charset)

    def _adopt_body(self, body: object, content_type: str | None, charset: str | None) -> None:
        """Take a body that is not bytes; anything but a memoryview is streamed when sent.

        A binary file or an async iterable of bytes makes this response a
        ``StreamedBodyResponse`` (bodies.py): the protocol then prepares it and it
        writes its body in pieces. Its class changes rather than each ``Response``
        asking at send time what its body is (PERF: the bytes path is untouched).
        """
        from .bodies import StreamedBodyResponse, body_content_type

        if isinstance(body, memoryview):
            self._body = bytes(body)
            kind = "application/octet-stream"
        else:
            kind = body_content_type(body)  # TypeError for what cannot be a body
            self._body = body  # type: ignore[assignment]  # (a StreamedBodyResponse's slot now)
            self._sent = 0  # (the one slot a Response leaves unset: a StreamResponse counts with it)
            self.__class__ = StreamedBodyResponse  # type: ignore[assignment]
        self._charset = charset
        self._content_type = content_type or kind

    def enable_chunked_encoding(self, chunk_size: int | None = None) -> None:
        """Nothing to do: a whole body is sent with its Content-Length, which tells its end best."""

    @property
    def text(self) -> str:
        return self._body.decode(self._charset or "utf-8")

    @text.setter
    def text(self, value: str) -> None:
        self._charset = self._charset or "utf-8"
        self._body = value.encode(self._charset)
        if self._content_type is None:
            self._content_type = "text/plain"

    @property
    def content_length(self) -> int | None:
        return len(self._body)

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        raise RuntimeError("a Response's Content-Length is its body's length")

    def _render(self, keep_alive: bool, http10: bool, head_only: bool) -> bytes:
        """Head and body as one ``bytes`` (no body for HEAD, 204 or 304)."""
        self._keep_alive = keep_alive
        status = self.status
        body = self._body
        no_body = status < 200 or status == 204 or status == 304
        if self._headers or self.reason is not None:
            size = None if no_body else len(body)
            declared = self._headers.get("Content-Length") if self._headers else None
            if declared is not None:
                given = _declared_length(declared)
                if status == 304 or (head_only and not no_body):
                    size = given  # it describes the body a GET would get (RFC 9110 section 8.6)
                elif not no_body and given != size:  # (1xx and 204 never send one)
                    raise ValueError(f"Content-Length header {declared!r} but the body is {size} bytes")
            head = self._render_head(keep_alive, http10, size)
            return head if head_only or no_body else head + body
        # PERF: the common case: cached status + Content-Type and Content-Length
        # lines, then one join.
        if status == 200 and self._charset == "utf-8":
            prefix = _OK_UTF8_PREFIXES.get(self._content_type)  # type: ignore[arg-type]
        else:
            prefix = _PREFIXES.get((status, self._content_type, self._charset))
        if prefix is None:
            prefix = self._prefix()
        if keep_alive and not http10:
            connection = b""
        else:
            connection = b"Connection: keep-alive\r\n" if keep_alive else b"Connection: close\r\n"
        if no_body:  # no Content-Type or Content-Length either (RFC 9110 sections 8.3, 8.6)
            return b"".join((_status_line(status, None), date_cache.lines(), connection, b"\r\n"))
        size = len(body)
        length = _LENGTH_LINES.get(size) or _length_line(size)
        if head_only:
            return b"".join((prefix, length, date_cache.lines(), connection, b"\r\n"))
        return b"".join((prefix, length, date_cache.lines(), connection, b"\r\n", body))

    def _prefix(self) -> bytes:
        status, ct, charset = self.status, self._content_type, self._charset
        full = self._full_content_type()
        prefix = _status_line(status, None) + (_ct_line(full) if full is not None else b"")
        if len(_PREFIXES) < 1024:  # bounded: statuses x content types seen
            _PREFIXES[(status, ct, charset)] = prefix
            if status == 200 and charset == "utf-8" and ct is not None:
                _OK_UTF8_PREFIXES[ct] = prefix
        return prefix

    async def prepare(self, request: Request) -> Writer:
        """Send the whole response now (rarely needed: returning it is enough)."""
        if self._writer is not None:
            return self._writer
        writer, keep_alive, http10, head_only = request.protocol.begin_response(request, self)
        data = self._render(keep_alive, http10, head_only)
        self._head_only = head_only
        request.protocol.response_started(request, self, keep_alive)
        writer.write(data)
        self._writer = writer
        self._eof_sent = True
        return writer

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        raise RuntimeError("a Response is sent whole; use StreamResponse to write in pieces")


# What the connection calls to turn a whole Response into its bytes: the method
# itself, bound to no instance (PERF: no wrapper frame), named without an underscore
# because it is the module's interface, not a user's.
render = Response._render


def internal_error() -> Response:
    """The answer to a failure of the server's or a handler's: it says nothing of the cause."""
    return Response(status=500, text=INTERNAL_ERROR_TEXT)


def _compact_dumps() -> Callable[[Any], str]:
    """``json.dumps`` with its defaults, minus the per-call encoder set-up (PERF).

    ``json.dumps`` builds a new C encoder on every call; this builds it once. The
    output is byte for byte the same (ASCII-escaped, ``", "``/``": "``); only the
    circular-reference check is gone -- a circular structure raises
    ``RecursionError`` instead of ``ValueError``, a 500 either way.
    """
    import json.encoder

    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - interpreters without the C accelerator
        return json.dumps
    encode_basestring_ascii = json.encoder.encode_basestring_ascii
    encode = c_make_encoder(
        None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True
    )

    def dumps(data: Any) -> str:
        return "".join(encode(data, 0))

    return dumps


_dumps = _compact_dumps()


def json_response(
    data: Any = None,
    *,
    status: int = 200,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    dumps: Callable[[Any], str] = json.dumps,
) -> Response:
    """A ``Response`` whose body is ``data`` serialised as JSON (UTF-8)."""
    return Response(
        text=(_dumps if dumps is json.dumps else dumps)(data),
        status=status,
        reason=reason,
        headers=headers,
        content_type=content_type,
    )
