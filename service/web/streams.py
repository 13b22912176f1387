"""``request.content``: the request body as a stream (aiohttp's ``StreamReader`` API).

A ``BodyStream`` is a view over its request's body buffer (request.py), not a copy
of it: each time its own small buffer runs dry it takes what the connection has
buffered (``Request.take_body``), which lets reading from the socket go on, and
when nothing is buffered it waits for the next piece (``Request.wait_body``). So a
handler that reads a 1 GiB upload with ``iter_chunked`` holds at most about
``HIGH_WATER`` bytes in each of the two buffers, whatever the body's size.

A body sent with ``Content-Encoding`` (RFC 9110 section 8.4) is decoded here, as
it is read: ``gzip`` (and ``x-gzip``), ``deflate`` (zlib, or raw deflate as some
clients send it), ``br`` when the ``brotli`` package is installed, ``identity``;
codings listed in the order they were applied are undone last first. Each step
of decoding yields at most ``DECODE_STEP`` bytes, so a small compressed body that
inflates to gigabytes (a "zip bomb") is never held whole: a whole read counts the
decoded bytes against ``client_max_size`` and answers 413 as soon as they pass it.
A coding we cannot decode is 415 (RFC 9110 section 15.5.16); a body that is not
what its coding says is 400.

Differences from aiohttp's ``StreamReader``: ``readchunk()`` never reports the end
of a transfer-coding chunk (chunk boundaries carry no meaning, RFC 9112 section
7.1, and proxies re-chunk freely), so its flag is always False; there is no
``unread_data`` (deprecated there) and no ``feed_*`` (the connection feeds the
request, not the stream).
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from .httpexc import HTTPBadRequest, HTTPUnsupportedMediaType

if TYPE_CHECKING:
    from .request import Request

__all__ = ["DECODE_STEP", "BodyStream", "EofStream", "PayloadAccessError", "RequestPayloadError"]

DECODE_STEP = 64 * 1024  # most bytes one step of decoding yields
MAX_LINE = 64 * 1024  # readline()'s default bound, as aiohttp's buffer limit
YIELD_EVERY = 16  # buffer fills between two turns of the event loop (see _fill)


class RequestPayloadError(HTTPBadRequest):
    """A body that is not what its ``Content-Encoding`` says, or that ended too soon:
    aiohttp's name, and a 400 when the handler does not catch it."""


class PayloadAccessError(Exception):
    """aiohttp's error for a body read after it was released; never raised here: a body
    can be read (again, from ``read()``'s copy) as long as its request lives."""


class EofStream(Exception):
    """The stream has ended (aiohttp's name; ``readany()`` returns ``b""`` instead)."""


class _Decoder(Protocol):
    def decode(self, data: bytes) -> bytes:
        """Up to ``DECODE_STEP`` bytes decoded from ``data`` (plus what ``pending`` held)."""
        ...

    @property
    def pending(self) -> bool:
        """Input is held that the next ``decode(b"")`` turns into more output."""
        ...

    def finish(self) -> None:
        """The input has ended: raise if it ended in the middle of the coding."""
        ...


class _Zlib:
    """gzip or zlib-wrapped deflate; raw deflate when the first bytes say so."""

    __slots__ = ("_obj", "_tail", "_gzip", "_started", "_full")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._tail = b""
        self._started = False
        self._full = False  # the last output was a whole step: zlib may hold more

    def decode(self, data: bytes) -> bytes:
        if not self._started and data and not self._gzip:
            self._started = True
            if data[0] & 0x0F != 8:  # not a zlib header: raw deflate, as some clients send it
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        data = self._tail + data if self._tail else data
        try:
            out = self._obj.decompress(data, DECODE_STEP)
        except zlib.error as exc:
            raise RequestPayloadError(text=f"400: the body is not valid {self._name}: {exc}") from None
        self._tail = self._obj.unconsumed_tail
        self._full = len(out) == DECODE_STEP
        return out

    @property
    def pending(self) -> bool:
        return bool(self._tail) or self._full

    @property
    def _name(self) -> str:
        return "gzip" if self._gzip else "deflate"

    def finish(self) -> None:
        if not self._obj.eof:
            raise RequestPayloadError(text=f"400: the {self._name} body ends early")


class _Brotli:
    """br (RFC 7932), with the optional ``brotli`` package (1.2 or later: its output bound)."""

    __slots__ = ("_obj", "_tail")

    def __init__(self) -> None:
        import brotli  # type: ignore[import-untyped, import-not-found, unused-ignore]  # the optional extra

        self._obj = brotli.Decompressor()
        self._tail = b""  # input not given yet: brotli takes more only once its output is out

    def decode(self, data: bytes) -> bytes:
        obj = self._obj
        if not obj.can_accept_more_data():
            self._tail += data
            data = b""
        elif self._tail:
            data, self._tail = self._tail + data, b""
        try:
            out: bytes = obj.process(data, output_buffer_limit=DECODE_STEP)
        except Exception as exc:  # brotli.error
            raise RequestPayloadError(text=f"400: the body is not valid br: {exc}") from None
        return out

    @property
    def pending(self) -> bool:
        return bool(self._tail) or not self._obj.can_accept_more_data()

    def finish(self) -> None:
        if not self._obj.is_finished():
            raise RequestPayloadError(text="400: the br body ends early")


class _Chain:
    """Codings applied in order (``Content-Encoding: deflate, gzip``), undone last first."""

    __slots__ = ("_steps",)

    def __init__(self, steps: list[_Decoder]) -> None:
        self._steps = steps

    def decode(self, data: bytes) -> bytes:
        for step in self._steps:
            data = step.decode(data)
        return data

    @property
    def pending(self) -> bool:
        return any(step.pending for step in self._steps)

    def finish(self) -> None:
        for step in self._steps:
            step.finish()


def decoder_for(coding: bytes) -> _Decoder | None:
    """The decoder for a ``Content-Encoding`` value; None for identity. 415 if unknown."""
    names = [name.strip().lower() for name in coding.decode("latin-1").split(",") if name.strip()]
    steps: list[_Decoder] = []
    for name in reversed(names):  # listed in the order applied: undone last first
        if name in ("gzip", "x-gzip"):
            steps.append(_Zlib(gzip=True))
        elif name == "deflate":
            steps.append(_Zlib(gzip=False))
        elif name == "br" and _has_brotli():
            steps.append(_Brotli())
        elif name != "identity":
            raise HTTPUnsupportedMediaType(text=f"415: Content-Encoding {name!r} is not supported")
    if not steps:
        return None
    return steps[0] if len(steps) == 1 else _Chain(steps)


def _has_brotli() -> bool:
    try:
        import brotli  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


class BodyStream:
    """One request's body, read as a stream."""

    __slots__ = (
        "_request",
        "_coding",
        "_decoder",
        "_raw",
        "_buf",
        "_offset",
        "_size",
        "_eof",
        "_read",
        "_steps",
    )

    def __init__(self, request: Request, coding: bytes | None = None) -> None:
        # A proxy: the request holds its stream, and a cycle would keep both (and an
        # upload's files, forms.py) until the cyclic GC, rather than until the response.
        self._request: Request = weakref.proxy(request)
        self._coding = coding
        self._decoder: _Decoder | None = None
        self._raw: deque[bytes] = deque()  # taken from the request, not decoded yet
        self._buf: deque[bytes] = deque()  # ready to be read
        self._offset = 0  # where in _buf[0] the unread bytes begin
        self._size = 0  # bytes in _buf
        self._eof = False  # the body has ended and _raw is decoded
        self._read = 0  # bytes handed to the handler
        self._steps = 0  # buffer fills so far (see _fill)

    # -- filling the buffer ------------------------------------------------------------
    async def _fill(self) -> bool:
        """Make the buffer non-empty; False when the body has ended and it stays empty."""
        while not self._buf:
            if self._eof:
                return False
            self._step()
            self._steps += 1
            if not self._buf and not self._raw and not self._eof:
                await self._request.wait_body()
            elif self._steps % YIELD_EVERY == 0:
                # Decoding makes bytes without waiting for the socket: a small body that
                # inflates to gigabytes would otherwise hold the loop as long as it is read.
                await asyncio.sleep(0)
        return True

    def _step(self) -> None:
        """Move what is available one step along: decode held input, or take more."""
        decoder = self._decoder
        if decoder is None and self._coding is not None:
            decoder = self._decoder = decoder_for(self._coding)
            self._coding = None
        if decoder is not None and decoder.pending:
            self._push(decoder.decode(b""))
            return
        if not self._raw:
            self._raw.extend(self._request.take_body())
        if self._raw:
            data = self._raw.popleft()
            self._push(decoder.decode(data) if decoder is not None else data)
        elif self._request.body_done:
            self._request.take_body()  # raises the body's error, if it failed
            if decoder is not None:
                decoder.finish()
            self._eof = True

    def _push(self, data: bytes) -> None:
        if data:
            self._buf.append(data)
            self._size += len(data)

    def _take(self, n: int) -> bytes:
        """Up to ``n`` bytes (all if negative) from the buffer, which is not empty.

        The first piece is read from ``_offset`` on rather than cut: cutting a 256 KiB
        piece 1,000 bytes at a time would copy it over and over.
        """
        buf, off = self._buf, self._offset
        first = buf[0]
        if n < 0 or n >= self._size:
            data = first[off:] if len(buf) == 1 else b"".join([first[off:], *list(buf)[1:]])
            buf.clear()
            self._offset = 0
        elif n < len(first) - off:
            data = first[off : off + n]
            self._offset = off + n
        else:
            pieces = [first[off:]]
            buf.popleft()
            need = n - len(pieces[0])
            self._offset = 0
            while need:
                piece = buf[0]
                if len(piece) > need:
                    pieces.append(piece[:need])
                    self._offset = need
                    break
                pieces.append(buf.popleft())
                need -= len(piece)
            data = b"".join(pieces)
        self._size -= len(data)
        self._read += len(data)
        return data

    # -- aiohttp's StreamReader -------------------------------------------------------------
    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes as soon as some are there; with ``n < 0`` all that is left.
        ``b""`` at the end."""
        if n == 0:
            return b""
        if n < 0:
            return await self.read_whole(None)
        if not await self._fill():
            return b""
        return self._take(n)

    async def read_whole(self, limit: int | None) -> bytes:
        """All that is left; past ``limit`` bytes read in all, 413 (``client_max_size``)."""
        pieces: list[bytes] = []
        while await self._fill():
            pieces.append(self._take(-1))
            if limit is not None and self._read > limit:
                raise self._request.too_large(limit, self._read)
        return b"".join(pieces)

    async def readany(self) -> bytes:
        """What is buffered (waiting for something if nothing is); ``b""`` at the end."""
        if not await self._fill():
            return b""
        return self._take(-1)

    async def readchunk(self) -> tuple[bytes, bool]:
        """``(data, False)``; ``(b"", False)`` at the end (see the module docstring)."""
        return await self.readany(), False

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; ``asyncio.IncompleteReadError`` if the body ends first."""
        pieces: list[bytes] = []
        need = n
        while need > 0:
            if not await self._fill():
                partial = b"".join(pieces)
                raise asyncio.IncompleteReadError(partial, n)
            piece = self._take(need)
            pieces.append(piece)
            need -= len(piece)
        return b"".join(pieces)

    async def readuntil(self, separator: bytes = b"\n", *, max_size: int = MAX_LINE) -> bytes:
        """Up to and including ``separator`` (or to the end); ``ValueError`` past ``max_size``.

        Each piece is searched where it lies, from ``_offset``: a line costs its own
        length, not the buffer's (many short lines in a large piece stay linear).
        """
        if not separator:
            raise ValueError("separator must not be empty")
        line = bytearray()
        keep = len(separator) - 1  # bytes of a separator that may end the line so far
        while await self._fill():
            piece, off = self._buf[0], self._offset
            if keep and line:  # a separator split across pieces
                joint = bytes(line[-keep:]) + piece[off : off + keep]
                at = joint.find(separator)
                if 0 <= at < keep:
                    line += self._take(at + len(separator) - keep)
                    return bytes(line)
            at = piece.find(separator, off)
            if at >= 0:
                line += self._take(at + len(separator) - off)
                return bytes(line)
            line += self._take(len(piece) - off)
            if len(line) > max_size:
                raise ValueError(f"line too long: over {max_size} bytes without {separator!r}")
        return bytes(line)

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        """One line, its ``\\n`` included (the last may have none); ``b""`` at the end."""
        return await self.readuntil(b"\n", max_size=max_line_length or MAX_LINE)

    def read_nowait(self, n: int = -1) -> bytes:
        """What is buffered now, up to ``n`` bytes, without waiting (maybe ``b""``)."""
        if not self._buf:
            self._step()
        return self._take(n) if self._buf else b""

    def at_eof(self) -> bool:
        """The body has ended and everything of it has been read."""
        if self._buf:
            return False
        decoding = self._decoder is not None and self._decoder.pending
        return self._eof or not (self._raw or decoding or self._request.body_pending)

    def is_eof(self) -> bool:
        """The body has ended (what is buffered may still be read)."""
        return self._request.body_done

    async def wait_eof(self) -> None:
        """Read and drop the rest of the body."""
        while await self._fill():
            self._take(-1)

    def exception(self) -> BaseException | None:
        return None

    @property
    def total_bytes(self) -> int:
        """Bytes of the body received so far (as sent, before any decoding)."""
        return self._request.body_size

    @classmethod
    def of_bytes(cls, request: Request, data: bytes) -> BodyStream:
        """A stream over a body already read whole (``read()`` came first)."""
        stream = cls(request)
        stream._push(data)
        stream._eof = True
        return stream

    def __repr__(self) -> str:
        return f"<BodyStream {self._read} bytes read{' eof' if self._eof else ''}>"

    # -- iteration -------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[bytes]:
        """Line by line, as aiohttp's."""
        return _iterate(self.readline)

    def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Pieces of at most ``n`` bytes (fewer when that is what has arrived)."""
        return _iterate(lambda: self.read(n))

    def iter_any(self) -> AsyncIterator[bytes]:
        """Pieces as they arrive."""
        return _iterate(self.readany)

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """``(data, False)`` pieces as they arrive (see ``readchunk``)."""
        while data := await self.readany():
            yield data, False


async def _iterate(read: Callable[[], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    while data := await read():
        yield data
