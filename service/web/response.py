"""What handlers return: ``Response``, a whole body rendered in one write.

A ``Response`` renders its status line, headers and body into one ``bytes``
object, once, when the connection writes it (RFC 9112 sections 4 and 6), through
``render``. The common case -- no extra headers -- is assembled from precomputed
pieces: the status and ``Content-Type`` lines cached here by status, type and
charset, and the ``Content-Length`` and ``Date`` lines cached by heads.py, which
also renders any other head and checks its text.

A body that is not bytes -- a binary file, an async iterable of bytes -- makes a
``Response`` a ``StreamedBodyResponse`` (bodies.py) as it is made, so the bytes path
pays nothing for it. A 204 or 304 has no content (RFC 9110 sections 15.3.5 and
15.4.5), so it never carries a body, a ``Content-Type`` or a ``Content-Length`` of
its own (a 304 keeps one a handler declared: it tells the length a GET would get,
section 8.6).

``StreamResponse``, the base class that writes its body in pieces, lives in
streamresponse.py. This module stays the one place to import responses from: it
re-exports ``StreamResponse``, ``Writer`` and ``is_os_file`` (streamresponse.py)
and ``check_status``, ``reason_phrase`` and ``date_cache`` (heads.py).
``json_response`` is here too: a ``Response`` with a JSON body.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterable, Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

from . import heads
from .compression import ContentCoding
from .heads import SERVER_HEADER as SERVER_HEADER
from .heads import (
    check_status,
    ct_line,
    declared_length,
    full_content_type,
    length_line,
    render_head,
    status_line,
)
from .heads import reason_phrase as reason_phrase
from .multidict import CIMultiDict
from .streamresponse import StreamResponse, run_prepare_hooks
from .streamresponse import Writer as Writer
from .streamresponse import is_os_file as is_os_file

if TYPE_CHECKING:
    from .request import Request

__all__ = [
    "Response",
    "StreamResponse",
    "check_status",
    "internal_error",
    "json_bytes_response",
    "json_response",
    "render",
]

INTERNAL_ERROR_TEXT = "500: Internal Server Error"  # all a client learns of a failure

# PERF: Response._render's helpers are this module's globals: one global lookup
# each, no attribute of a module. CPython 3.11 compiles ``name.method()`` as an
# attribute load and a bound-method call, not as its faster method call, when
# ``name`` was bound by an import (it takes it for a module), so the two objects
# whose methods Response._render calls are bound by assignment. (date_cache is
# re-exported too: http/wire.py imports it from here.)
date_cache = heads.date_cache
_LENGTH_LINES = heads.LENGTH_LINES

# PERF: a whole Response's status and Content-Type lines, built once per
# (status, content type, charset) seen; the most common key, 200 in UTF-8, is
# looked up by content type alone.
_PREFIXES: dict[tuple[int, str | None, str | None], bytes] = {}
_OK_UTF8_PREFIXES: dict[str, bytes] = {}


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
        elif isinstance(body, str):  # as aiohttp's: text in the given charset, else UTF-8
            charset = charset or "utf-8"
            self._body = body.encode(charset)
            kind = "text/plain"
        else:
            kind = body_content_type(body)  # TypeError for what cannot be a body
            self._body = body  # type: ignore[assignment]  # (a StreamedBodyResponse's slot now)
            self._sent = 0  # (the one slot a Response leaves unset: a StreamResponse counts with it)
            self.__class__ = StreamedBodyResponse  # type: ignore[assignment]
        self._charset = charset
        self._content_type = content_type or kind

    @property
    def body_length(self) -> int:
        return len(self._body)

    def enable_compression(self, force: ContentCoding | None = None, strategy: int | None = None) -> None:
        """Compress the body when it is sent (compression.py): it then goes in chunks, as
        a ``StreamedBodyResponse`` over the bytes (the bytes path stays untouched)."""
        super().enable_compression(force, strategy)
        self._adopt_body(io.BytesIO(self._body), self._content_type, self._charset)

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

    def _render(self, keep_alive: bool, http10: bool, head_only: bool, extra: bytes = b"") -> bytes:
        """Head and body as one ``bytes`` (no body for HEAD, 204 or 304); ``extra``: more
        header lines, each ending in CRLF, that the server adds (an ``X-Request-ID``)."""
        self._keep_alive = keep_alive
        status = self.status
        body = self._body
        no_body = status < 200 or status == 204 or status == 304
        if self._headers or self.reason is not None:
            size = None if no_body else len(body)
            declared = self._headers.get("Content-Length") if self._headers else None
            if declared is not None:
                given = declared_length(declared)
                if status == 304 or (head_only and not no_body):
                    size = given  # it describes the body a GET would get (RFC 9110 section 8.6)
                elif not no_body and given != size:  # (1xx and 204 never send one)
                    raise ValueError(f"Content-Length header {declared!r} but the body is {size} bytes")
            head = render_head(
                status,
                self.reason,
                self._headers,
                self._content_type,
                self._charset,
                self._chunked,
                keep_alive,
                http10,
                size,
            )
            if extra:
                head = head[:-2] + extra + b"\r\n"
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
            return b"".join((status_line(status, None), date_cache.lines(), connection, extra, b"\r\n"))
        size = len(body)
        length = _LENGTH_LINES.get(size) or length_line(size)
        if head_only:
            return b"".join((prefix, length, date_cache.lines(), connection, extra, b"\r\n"))
        return b"".join((prefix, length, date_cache.lines(), connection, extra, b"\r\n", body))

    def _prefix(self) -> bytes:
        status, ct, charset = self.status, self._content_type, self._charset
        full = full_content_type(ct, charset)
        prefix = status_line(status, None) + (ct_line(full) if full is not None else b"")
        if len(_PREFIXES) < 1024:  # bounded: statuses x content types seen
            _PREFIXES[(status, ct, charset)] = prefix
            if status == 200 and charset == "utf-8" and ct is not None:
                _OK_UTF8_PREFIXES[ct] = prefix
        return prefix

    async def prepare(self, request: Request) -> Writer:
        """Send the whole response now (rarely needed: returning it is enough)."""
        if self._writer is not None:
            return self._writer
        await run_prepare_hooks(request, self)  # on_response_prepare (prepare.py)
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


_NO_DATA: Any = object()


def json_bytes_response(
    data: Any = _NO_DATA,
    *,
    dumps: Callable[[Any], bytes],
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> Response:
    """``json_response`` for an encoder that returns bytes (orjson's ``dumps``): no decode
    and encode again. Give ``data`` to encode, or an encoded ``body``."""
    if data is not _NO_DATA:
        if body is not None:
            raise ValueError("give data or body, not both")
        body = dumps(data)
    return Response(body=body, status=status, reason=reason, headers=headers, content_type=content_type)
