"""``StreamResponse``: a response whose body is written in pieces.

It sends its head on ``prepare()`` and its body on ``write()``: with
``Content-Length`` when the handler set one, otherwise with chunked transfer
coding (RFC 9112 section 7.1) for HTTP/1.1 peers, or by closing the connection
for HTTP/1.0 peers, which do not understand chunks. ``write_file`` sends a file's
bytes with the kernel's ``sendfile`` when the connection can (``FileResponse``,
fileresponse.py, uses it). A 204 or 304 has no content (RFC 9110 sections 15.3.5
and 15.4.5): what is written for one is not sent.

It is also the base of ``Response`` (response.py), and holds what every response
has: status, headers, content type, cookies (cookies.py) and the validators
``etag`` and ``last_modified`` (conditional.py, RFC 9110 section 8.8). The head is
rendered by heads.py.

The connection is reached only through the small ``Writer`` protocol below, so
this module knows nothing of sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar, overload

from .compression import Compressor, ContentCoding, choose_coding
from .conditional import ETag, etag_field, http_date, parse_etag, parse_http_date
from .cookies import cookie_name, set_cookie_value
from .heads import check_status, declared_length, render_head
from .keys import ResponseKey
from .multidict import CIMultiDict

if TYPE_CHECKING:
    from .request import Request

__all__ = ["StreamResponse", "Writer", "is_os_file"]


async def run_prepare_hooks(request: Request, response: StreamResponse) -> None:
    """Run ``request.app``'s ``on_response_prepare`` hooks, compiled at freeze (prepare.py)."""
    hooks_for = getattr(request.app, "prepare_hooks_for", None)  # (a test's stand-in app has none)
    if hooks_for is not None:
        # By route: once a sub-application's handler returns, request.app is the root again.
        for hook in hooks_for(request.route):
            await hook(request, response)


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


_T = TypeVar("_T")


class StreamResponse(MutableMapping[Any, Any]):
    """A response whose body is written in pieces after ``prepare()``; also a mapping for
    per-response state (``response["key"]``, or a typed ``ResponseKey``), as aiohttp's."""

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
        "_state",  # (left unset until used: PERF, nothing per response)
        "_compression",  # enable_compression()'s wish: unset until it is called (PERF)
        "_compressor",  # set by prepare(): the body's compressor, or None
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
        self._sent = 0  # body bytes written (as sent: compressed, if it is)

    # -- attributes handlers set -------------------------------------------
    @property
    def headers(self) -> CIMultiDict:
        if self._headers is None:
            self._headers = CIMultiDict()
        return self._headers

    def has_header(self, name: str) -> bool:
        """Whether a header ``name`` is set (PERF: without making the mapping when there is none)."""
        return self._headers is not None and name in self._headers

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
    def compression(self) -> bool:
        """``enable_compression()`` was called."""
        return getattr(self, "_compression", None) is not None

    @property
    def body_length(self) -> int:
        """Bytes of the body written so far, as sent (compressed, if it is; no chunk framing)."""
        return self._sent

    async def drain(self) -> None:
        """Wait until the client has taken what was written (write flow control)."""
        if self._writer is None:
            raise RuntimeError("call prepare() before drain()")
        await self._writer.drain()

    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The task writing this response (None outside the event loop)."""
        try:
            return asyncio.current_task()
        except RuntimeError:
            return None

    @property
    def prepared(self) -> bool:
        return self._writer is not None

    @property
    def keep_alive(self) -> bool:
        return self._keep_alive and not self.force_closed

    def force_close(self) -> None:
        """Close the connection after this response."""
        self.force_closed = True

    # -- compression (compression.py) ------------------------------------------------
    def enable_compression(self, force: ContentCoding | None = None, strategy: int | None = None) -> None:
        """Compress the body: in ``force``'s coding, else as the request accepts.
        ``strategy`` is taken as the zlib level (aiohttp's is zlib's strategy)."""
        if self.prepared:
            raise RuntimeError("cannot enable compression after prepare()")
        self._compression = (force, 6 if strategy is None else strategy)

    def _start_compression(self, request: Request) -> Compressor | None:
        wish = getattr(self, "_compression", None)
        # (A HEAD gets the headers a GET would; 204 and 304 have no body; a range is of the
        # file's own bytes, not of a compressed stream.)
        if wish is None or self.status in (204, 206, 304) or "Content-Range" in self.headers:
            return None
        force, level = wish
        coding = force if force is not None else choose_coding(request.headers.get("Accept-Encoding"))
        if coding is None or coding is ContentCoding.identity:
            return None
        headers = self.headers
        headers["Content-Encoding"] = coding.value
        vary = headers.get("Vary")
        if vary is None:
            headers["Vary"] = "Accept-Encoding"
        elif "accept-encoding" not in vary.lower() and vary.strip() != "*":
            headers["Vary"] = f"{vary}, Accept-Encoding"
        headers.pop("Content-Length", None)  # the compressed size is not known ahead
        self._content_length = None
        return Compressor(coding, level)

    # -- streaming API --------------------------------------------------------
    async def prepare(self, request: Request) -> Writer:
        """Send the status line and headers; the body follows with ``write()``."""
        if self._writer is not None:
            return self._writer
        await run_prepare_hooks(request, self)  # on_response_prepare (prepare.py)
        self._compressor = self._start_compression(request)
        writer, keep_alive, http10, head_only = request.protocol.begin_response(request, self)
        length = self._content_length
        declared = self._headers.get("Content-Length") if self._headers else None
        if declared is not None:  # aiohttp's way of declaring it: as a header
            size = declared_length(declared)
            if length is not None and size != length:
                raise ValueError(f"Content-Length header {declared!r} contradicts content_length={length}")
            length = self._content_length = size
        status = self.status  # (a 1xx is refused by render_head: it is no answer)
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
        # (render_head may refuse a bad header: a 500, not sent)
        head = render_head(
            status,
            self.reason,
            self._headers,
            self._content_type,
            self._charset,
            self._chunked,
            keep_alive,
            http10,
            length,
        )
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
        if self._compressor is not None:
            data = self._compressor.compress(bytes(data))
            if not data:
                return  # zlib holds it until it has a block
        if self._chunked:
            writer.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")
        else:
            # More than declared would be read by the client as the next response.
            if self._content_length is not None and self._sent + len(data) > self._content_length:
                raise RuntimeError(f"write() past the declared Content-Length of {self._content_length}")
            writer.write(bytes(data))
        self._sent += len(data)
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
        if self._compressor is not None and not self._head_only:
            tail, self._compressor = self._compressor.flush(), None
            if tail:
                self._writer.write(b"%x\r\n%s\r\n" % (len(tail), tail) if self._chunked else tail)
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
        if not self._chunked and self._compressor is None and is_os_file(file):
            try:
                self._sent += await writer.sendfile(file, offset, count)
                return
            except NotImplementedError:  # uvloop's transports, TLS: read and write below
                pass
        file.seek(offset)
        while count > 0 and (data := file.read(min(chunk_size, count))):
            count -= len(data)
            await self.write(data)

    # -- per-response state (a mapping, as aiohttp's) ---------------------------------
    def _store(self) -> dict[Any, Any]:
        try:
            return self._state
        except AttributeError:
            self._state: dict[Any, Any] = {}
            return self._state

    @overload
    def __getitem__(self, key: ResponseKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | ResponseKey[Any]) -> Any:
        return self._store()[key]

    def __setitem__(self, key: str | ResponseKey[Any], value: Any) -> None:
        self._store()[key] = value

    def __delitem__(self, key: str | ResponseKey[Any]) -> None:
        del self._store()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._store())

    def __len__(self) -> int:
        return len(self._store())

    def __bool__(self) -> bool:
        return True  # a response is never "empty" because its state is

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)
