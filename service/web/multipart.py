"""``request.multipart()``: a ``multipart/form-data`` body read part by part, as a stream.

Parsing is python-multipart's (the streaming parser Starlette uses): a push parser
that calls back for each part's headers and data. ``MultipartReader`` turns it
into aiohttp's pull API. Each time a reader needs the next event it feeds the
parser one piece of ``request.content`` (streams.py), whose callbacks queue
events; so no more than one piece of the body is held at a time, however large
the parts are, and reading from the socket waits for the handler, as for any
stream.

RFC 7578 (multipart/form-data) and RFC 2046 section 5.1 (the boundary syntax).
Differences from aiohttp: a part's ``read()`` gives ``bytes`` (aiohttp:
``bytearray``); a nested ``multipart/mixed`` part is read as one opaque part, not
as a reader of its own (RFC 7578 section 4.3 deprecates them); and
``Content-Transfer-Encoding`` is not undone (RFC 7578 section 4.7: senders do not
use it).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from .httpexc import HTTPBadRequest
from .multidict import CIMultiDict, MultiDict

if TYPE_CHECKING:
    from .request import Request
    from .streams import BodyStream

__all__ = ["BodyPartReader", "MultipartReader", "boundary_of"]

MAX_PART_HEADERS = 16  # header fields in one part (Content-Disposition, Content-Type, a few more)
CHUNK_SIZE = 8192  # read_chunk()'s default, as aiohttp's

# What the parser's callbacks queue, in order.
_HEADER, _DATA, _END, _DONE = 1, 2, 3, 4


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a multipart ``Content-Type`` (400 when it has none)."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 70:  # RFC 2046 section 5.1.1: 1 to 70 characters
        raise HTTPBadRequest(text="400: a multipart body needs a boundary of 1 to 70 characters")
    return boundary


class MultipartReader:
    """The parts of one ``multipart/form-data`` body, in order (aiohttp's reader)."""

    def __init__(self, headers: CIMultiDict, content: BodyStream) -> None:
        self.headers = headers
        self._content = content
        self._events: deque[tuple[int, Any]] = deque()
        self._pending_header: list[bytes] = [b"", b""]  # the field name and value being read
        self._parser = MultipartParser(
            boundary_of(headers.get("Content-Type", "")),
            {
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": lambda: self._events.append((_HEADER, None)),
                "on_part_data": lambda data, start, end: self._events.append((_DATA, data[start:end])),
                "on_part_end": lambda: self._events.append((_END, None)),
                "on_end": lambda: self._events.append((_DONE, None)),
            },
            max_header_count=MAX_PART_HEADERS,
        )
        self._part: BodyPartReader | None = None
        self._done = False

    @classmethod
    def of(cls, request: Request) -> MultipartReader:
        if not request.content_type.startswith("multipart/"):
            raise HTTPBadRequest(text=f"400: expected a multipart body, not {request.content_type}")
        return cls(request.headers, request.content)

    # -- the parser's callbacks ---------------------------------------------------------
    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._pending_header[0] += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._pending_header[1] += data[start:end]

    def _on_header_end(self) -> None:
        name, value = self._pending_header
        self._pending_header = [b"", b""]
        # latin-1, as every HTTP field: a UTF-8 filename is decoded as UTF-8 by _param.
        self._events.append((_HEADER, (name.decode("latin-1"), value.decode("latin-1").strip())))

    # -- pulling events ------------------------------------------------------------------
    async def event(self) -> tuple[int, Any]:
        """The next thing the parser found, feeding it more of the body as needed."""
        while not self._events:
            data = await self._content.readany()
            if not data:
                raise HTTPBadRequest(text="400: the multipart body ends before its closing boundary")
            try:
                self._parser.write(data)
            except MultipartParseError as exc:
                raise HTTPBadRequest(text=f"400: malformed multipart body: {exc}") from None
        return self._events.popleft()

    async def next(self) -> BodyPartReader | None:
        """The next part (the one before it is skipped if unread), or None after the last."""
        if self._part is not None:
            await self._part.release()
            self._part = None
        if self._done:
            return None
        headers: list[tuple[str, str]] = []
        while True:
            kind, value = await self.event()
            if kind == _DONE:
                self._done = True
                await self._content.wait_eof()  # an epilogue after the closing boundary is ignored
                return None
            if kind != _HEADER:
                raise HTTPBadRequest(text="400: malformed multipart body")
            if value is None:  # the end of this part's header section
                break
            headers.append(value)
        self._part = BodyPartReader(self, CIMultiDict(headers))
        return self._part

    def at_eof(self) -> bool:
        return self._done

    def __aiter__(self) -> AsyncIterator[BodyPartReader]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BodyPartReader]:
        while (part := await self.next()) is not None:
            yield part

    async def release(self) -> None:
        """Read and drop every part left."""
        while await self.next() is not None:
            pass


class BodyPartReader:
    """One part: its headers, its form-data name and filename, and its content."""

    def __init__(self, reader: MultipartReader, headers: CIMultiDict) -> None:
        self.headers = headers
        self._reader = reader
        self._held = b""  # data read from the parser past what read_chunk() returned
        self._eof = False
        _, params = parse_options_header(headers.get("Content-Disposition", ""))
        self.name: str | None = _param(params, b"name")
        self.filename: str | None = _param(params, b"filename")

    async def read_chunk(self, size: int = CHUNK_SIZE) -> bytes:
        """At most ``size`` bytes of the part's content; ``b""`` at its end."""
        data = self._held
        while not data and not self._eof:
            kind, value = await self._reader.event()
            if kind == _DATA:
                data = value
            elif kind == _END:
                self._eof = True
            else:
                raise HTTPBadRequest(text="400: malformed multipart body")
        self._held = data[size:]
        return data[:size]

    async def read(self, *, decode: bool = False) -> bytes:
        """The part's whole content (``decode`` is aiohttp's; nothing is encoded here)."""
        pieces = []
        while piece := await self.read_chunk(1 << 20):
            pieces.append(piece)
        return b"".join(pieces)

    async def text(self, *, encoding: str | None = None) -> str:
        return (await self.read()).decode(encoding or self.get_charset("utf-8"))

    async def json(self, *, encoding: str | None = None) -> Any:
        """The part as JSON; None for an empty part (as aiohttp's)."""
        data = await self.read()
        return json.loads(data.decode(encoding or self.get_charset("utf-8"))) if data else None

    async def form(self, *, encoding: str | None = None) -> MultiDict:
        text = await self.text(encoding=encoding)
        return MultiDict(parse_qsl(text, keep_blank_values=True))

    def get_charset(self, default: str) -> str:
        _, params = parse_options_header(self.headers.get("Content-Type", ""))
        return _param(params, b"charset") or default

    def at_eof(self) -> bool:
        return self._eof and not self._held

    async def release(self) -> None:
        """Read and drop what is left of the part."""
        while await self.read_chunk(1 << 20):
            pass


def _param(params: dict[bytes, bytes], name: bytes) -> str | None:
    value = params.get(name)
    return None if value is None else value.decode("utf-8", "replace")
