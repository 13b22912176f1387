"""``FileResponse``: a file from disk as the answer, with validators, conditions and ranges.

Theory of operation
-------------------
``FileResponse(path)`` does nothing until it is prepared (returned from a
handler, or ``await response.prepare(request)``). Then, in order:

1. The file is looked at and opened: a path that does not exist (or cannot be
   looked up) is answered 404; one that may not be read, or that is not a regular
   file (a directory, a pipe, a device), 403 -- aiohttp's answers. Its size and
   modification time come from the open file (``fstat``), so they describe the
   bytes that will be sent.
2. Its validators (RFC 9110 section 8.8) are made from them: ``ETag`` is
   ``"<mtime in ns, hex>-<size, hex>"`` as aiohttp's (strong: it changes whenever
   the bytes can have), ``Last-Modified`` the modification time rounded up to a
   second.
3. The request's preconditions are evaluated (section 13.2.2, conditional.py):
   a false ``If-Match`` or ``If-Unmodified-Since`` is answered 412; a false
   ``If-None-Match`` or ``If-Modified-Since`` is answered 304 to GET and HEAD --
   with the validators, and without a body, ``Content-Type`` or ``Content-Length``.
4. A ``Range`` on a GET (section 14.2) whose ``If-Range`` holds (section 13.1.5)
   selects one part of the file: 206 with ``Content-Range`` (section 14.4), or
   416 with ``Content-Range: bytes */<size>`` when the range starts past the end
   (section 15.5.17). A request for several ranges is answered with the whole
   file, 200, as section 14.2 allows -- no ``multipart/byteranges`` here.
5. The answer carries ``Accept-Ranges: bytes`` (section 14.3), the validators, a
   ``Content-Type`` guessed from the file's name unless one was given
   (application/octet-stream when none fits), and the ``Content-Length`` of what
   is sent. A HEAD gets the same head and no body.
6. The bytes go out with ``write_file``: the kernel's ``sendfile`` when the
   connection supports it (asyncio's own transports), otherwise reads of
   ``chunk_size`` written in turn (uvloop's transports, TLS). The file is closed
   when done, whatever happened.

Error answers (403, 404, 412, 416) are small ``text/plain`` bodies such as
``404: Not Found``, the text an ``HTTPException`` of that status would send.
The file is looked at and read on the event loop: for local files that is quick,
and it keeps threads out of the server.
"""

from __future__ import annotations

import math
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .bodies import guess_content_type
from .conditional import RangeNotSatisfiable, byte_range, if_range_holds, precondition
from .multidict import CIMultiDict
from .response import StreamResponse, Writer, reason_phrase

if TYPE_CHECKING:
    from .request import Request

__all__ = ["FileResponse"]

_PRECONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


class _Forbidden(Exception):
    """The path is there but is not a regular file: answered 403."""


def _open(path: Path) -> tuple[IO[bytes], os.stat_result]:
    """The file at ``path``, opened to read, and its status as opened.

    Its kind is checked before it is opened: opening a pipe would wait for a writer.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise _Forbidden(path)
    file = open(path, "rb", buffering=0)  # noqa: SIM115  (the caller closes it; unbuffered: read in chunks)
    try:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):  # swapped for something else in between
            raise _Forbidden(path)
    except BaseException:
        file.close()
        raise
    return file, status


def _conditions(headers: CIMultiDict) -> dict[str, list[str]]:
    return {name: values for name in _PRECONDITIONS if (values := headers.getall(name, []))}


class FileResponse(StreamResponse):
    """The file at ``path`` as the response (aiohttp's signature; see the module docstring)."""

    __slots__ = ("_path", "_chunk_size")

    def __init__(
        self,
        path: str | os.PathLike[str],
        chunk_size: int = 256 * 1024,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self._path = Path(path)
        self._chunk_size = chunk_size

    async def prepare(self, request: Request) -> Writer:
        """Answer with the file (or 304, 403, 404, 412, 416): head and body, then the end."""
        if self.prepared:
            return await super().prepare(request)
        try:
            file, status = _open(self._path)
        except (PermissionError, _Forbidden):
            return await self._refuse(request, 403)
        except (OSError, ValueError):  # missing, a loop of links, a NUL in the name...
            return await self._refuse(request, 404)
        try:
            return await self._send(request, file, status)
        finally:
            file.close()

    async def _send(self, request: Request, file: IO[bytes], st: os.stat_result) -> Writer:
        size, tag, modified = st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}", math.ceil(st.st_mtime)
        # Never later than the Date sent with it (RFC 9110 section 8.8.2.1): a file changed
        # this very second says "now", which no later date will match.
        self.etag, self.last_modified = tag, min(modified, int(time.time()))
        verdict = precondition(_conditions(request.headers), request.method, tag, modified)
        if verdict == 412:
            return await self._refuse(request, 412)
        if verdict == 304:
            self.set_status(304, None)
            return await super().prepare(request)  # (no type or length: see response.py)
        self.headers["Accept-Ranges"] = "bytes"
        part = range(size)
        field = request.headers.get("Range") if request.method == "GET" else None
        if field is not None and if_range_holds(request.headers.get("If-Range"), tag, modified):
            try:
                chosen = byte_range(field, size)
            except RangeNotSatisfiable:
                self.headers["Content-Range"] = f"bytes */{size}"
                return await self._refuse(request, 416)
            if chosen is not None:  # 206 even for the whole file: it was a range that was asked for
                part = chosen
                self.set_status(206, None)
                self.headers["Content-Range"] = f"bytes {part.start}-{part.stop - 1}/{size}"
        if self.content_type is None and "Content-Type" not in self.headers:
            self.content_type = guess_content_type(self._path)
        self.content_length = len(part)
        writer = await super().prepare(request)
        await self.write_file(file, part.start, len(part), self._chunk_size)
        await self.write_eof()
        return writer

    async def _refuse(self, request: Request, status: int) -> Writer:
        """Answer ``status`` instead of the file, with the text an HTTPException would send."""
        text = f"{status}: {reason_phrase(status)}".encode()
        self.set_status(status, None)
        self.content_type, self.charset = "text/plain", "utf-8"
        if "Content-Type" in self.headers:
            del self.headers["Content-Type"]  # (one given described the file)
        self.content_length = len(text)
        writer = await super().prepare(request)
        await self.write(text)
        await self.write_eof()
        return writer
