"""Response bodies that are not bytes: binary files and async iterables of bytes.

Theory of operation
-------------------
A ``Response`` with a bytes body is rendered, head and body, as one write. Given a
binary file object or an async iterable of bytes instead, aiohttp sends the body
as it is read, and so does this module: as it is made, the ``Response`` becomes a
``StreamedBodyResponse`` -- a ``StreamResponse`` with the very slots of a
``Response`` -- which the connection prepares like any streamed response.
``prepare()`` sends the head, the body and the end of the message:

- a file whose size can be learned (it is seekable: what is left from its
  position) is sent with a ``Content-Length`` (RFC 9110 section 8.6): an operating
  system's file through ``write_file`` -- the kernel's ``sendfile`` where the
  connection can -- and any other (``io.BytesIO``) in reads of ``CHUNK_SIZE``;
- a file whose size cannot be learned (a pipe) and an async iterable are sent in
  chunks to HTTP/1.1 clients (RFC 9112 section 7.1), and to HTTP/1.0 ones until
  the connection closes;
- nothing is read for a HEAD request, a 204 or a 304 (RFC 9110 sections 9.3.2,
  6.4.1): their answers have no body.

Once sent, an operating system's file is closed, as aiohttp closes it (a file in
memory, ``io.BytesIO``, stays the caller's), and an async generator is closed
(``aclose()``) even when the client went away in the middle of it. Reads of a
file happen on the event loop: local files answer fast, and no thread is involved.

The ``Content-Type`` is the one given; else a named file's, guessed from its name
(``guess_content_type``, which ``FileResponse`` uses too); else
``application/octet-stream``.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import AsyncIterable
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, cast

from .response import Response, StreamResponse, Writer, is_os_file

if TYPE_CHECKING:
    from .request import Request

__all__ = ["CHUNK_SIZE", "StreamedBodyResponse", "body_content_type", "guess_content_type"]

CHUNK_SIZE = 262144  # bytes read from a file at a time (aiohttp's FileResponse default)
OCTET_STREAM = "application/octet-stream"  # RFC 9110 section 8.3: bytes of no known type
# mimetypes reads "x.tar.gz" as a tar file with a gzip *encoding*; sent without a
# Content-Encoding, its bytes are a gzip file (aiohttp's types for these, too).
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}


def guess_content_type(name: str | PurePath) -> str:
    """The media type a file's name suggests (``application/octet-stream`` when none)."""
    kind, encoding = mimetypes.guess_type(PurePath(name).name)
    if encoding is not None:
        return _COMPRESSED.get(encoding, OCTET_STREAM)
    return kind or OCTET_STREAM


def _is_file(body: object) -> bool:
    return isinstance(body, io.IOBase) or (callable(getattr(body, "read", None)) and not _is_aiter(body))


def _is_aiter(body: object) -> bool:
    return isinstance(body, AsyncIterable)


def body_content_type(body: object) -> str:
    """The default ``Content-Type`` of a body that is not bytes; ``TypeError`` if it cannot be one."""
    if isinstance(body, io.TextIOBase):
        raise TypeError("a file body must be opened in binary mode ('rb'), not text mode")
    if _is_file(body):
        name = getattr(body, "name", None)  # (an int for a file opened from a descriptor)
        return guess_content_type(name) if isinstance(name, str) and name else OCTET_STREAM
    if _is_aiter(body):
        return OCTET_STREAM
    raise TypeError(
        f"body must be bytes, a binary file or an async iterable of bytes, not {type(body).__name__}"
    )


def _remaining(file: IO[bytes]) -> int | None:
    """The bytes left from the file's position, or ``None`` when it cannot tell (not seekable)."""
    try:
        if not file.seekable():
            return None
        here = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(here)
    except (OSError, ValueError, AttributeError):
        return None
    return max(end - here, 0)


class StreamedBodyResponse(StreamResponse):
    """What a ``Response`` whose body is a file or an async iterable becomes (see above)."""

    __slots__ = ("_body",)  # the same as Response's: the class of an instance can change

    _body: IO[bytes] | AsyncIterable[bytes]

    @property
    def body(self) -> IO[bytes] | AsyncIterable[bytes]:
        return self._body

    @body.setter
    def body(self, value: bytes | bytearray | memoryview | IO[bytes] | AsyncIterable[bytes]) -> None:
        if self.prepared:
            raise RuntimeError("cannot change the body after prepare()")
        self.__class__ = Response  # type: ignore[assignment]  # whose setter decides again
        cast(Response, self).body = value

    async def prepare(self, request: Request) -> Writer:
        """Send the head, then the whole body, then the end of the message."""
        if self.prepared:
            return await super().prepare(request)
        body = self._body
        if _is_file(body):
            file = cast(IO[bytes], body)
            try:
                return await self._send_file(request, file)
            finally:
                if is_os_file(file):
                    file.close()
        iterable = cast(AsyncIterable[bytes], body)
        try:
            return await self._send_iterable(request, iterable)
        finally:
            aclose = getattr(iterable, "aclose", None)
            if aclose is not None:  # an async generator left in the middle: its finally blocks run now
                await aclose()

    def _bodyless(self, request: Request) -> bool:
        return request.method == "HEAD" or self.status in (204, 304)

    async def _send_file(self, request: Request, file: IO[bytes]) -> Writer:
        size = _remaining(file)
        if size is not None and not self.chunked and "Content-Length" not in self.headers:
            self.content_length = size  # (a declared one is checked against the body by prepare)
        writer = await super().prepare(request)
        if not self._bodyless(request):
            if size is not None:
                await self.write_file(file, file.tell(), size, CHUNK_SIZE)
            else:
                while data := file.read(CHUNK_SIZE):
                    await self.write(data)
        await self.write_eof()
        return writer

    async def _send_iterable(self, request: Request, body: AsyncIterable[bytes]) -> Writer:
        writer = await super().prepare(request)
        if not self._bodyless(request):
            async for chunk in body:
                await self.write(chunk)
        await self.write_eof()
        return writer
