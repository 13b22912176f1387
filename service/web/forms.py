"""``request.post()``: an HTML form's fields, from a urlencoded or multipart body.

``application/x-www-form-urlencoded`` is read whole (``client_max_size`` applies, as
for ``read()``) and split with the standard library. ``multipart/form-data`` is read
part by part through ``MultipartReader`` (multipart.py): a field's value becomes a
``str``; a part with a filename becomes a ``FileField`` whose ``file`` is a
``SpooledTemporaryFile`` -- in memory up to ``SPOOL_SIZE``, on disk past it, so an
upload is never held whole in memory. The decoded bytes of all parts count against
``client_max_size`` (413 past it, as aiohttp's ``post()``); a form may have at most
``MAX_FIELDS`` fields (400 past it, so many tiny fields cannot cost unbounded
work). Any other content type gives an empty form, as in aiohttp.

The result is kept in the request's state: asking twice parses once. Uploaded
files are closed (and their disk space freed) when the request is done with --
when the request object goes, after its response -- as aiohttp closes them after
the response; a handler that wants a file longer copies it.
"""

from __future__ import annotations

import tempfile
import weakref
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .httpexc import HTTPBadRequest
from .multidict import CIMultiDict, MultiDict
from .multipart import BodyPartReader, MultipartReader

if TYPE_CHECKING:
    from .request import Request

__all__ = ["MAX_FIELDS", "SPOOL_SIZE", "FileField", "read_form"]

SPOOL_SIZE = 1024 * 1024  # bytes of one uploaded file kept in memory before it goes to disk
MAX_FIELDS = 1000  # fields in one form (Starlette's default too)
_FORM_KEY = "service.form"  # where the parsed form is kept in the request's state


@dataclass(frozen=True, slots=True)
class FileField:
    """An uploaded file (aiohttp's): read it from ``file``, already at its start."""

    name: str
    filename: str
    file: IO[bytes]
    content_type: str
    headers: CIMultiDict


async def read_form(request: Request) -> MultiDict:
    """The form in ``request``'s body, parsed once (see the module docstring)."""
    form: MultiDict | None = request.get(_FORM_KEY)
    if form is None:
        kind = request.content_type
        if kind == "application/x-www-form-urlencoded":
            form = _urlencoded(await request.text())
        elif kind == "multipart/form-data":
            form = await _multipart(request)
        else:
            form = MultiDict()
        request[_FORM_KEY] = form
    return form


def _urlencoded(text: str) -> MultiDict:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more than max_num_fields
        raise HTTPBadRequest(text=f"400: a form may have at most {MAX_FIELDS} fields") from None
    return MultiDict(pairs)


async def _multipart(request: Request) -> MultiDict:
    reader = MultipartReader.of(request)
    limit = request.app.client_max_size
    fields: list[tuple[str, Any]] = []
    size = 0
    files: list[IO[bytes]] = []
    weakref.finalize(request, _close_all, files)
    async for part in reader:
        if len(fields) == MAX_FIELDS:
            raise HTTPBadRequest(text=f"400: a form may have at most {MAX_FIELDS} fields")
        if part.name is None:
            raise HTTPBadRequest(text="400: a form-data part has no name (RFC 7578 section 4.2)")
        if part.filename is None:
            pieces = []
            while piece := await part.read_chunk(1 << 16):
                size = _count(request, size, len(piece), limit)
                pieces.append(piece)
            fields.append((part.name, b"".join(pieces).decode(part.get_charset("utf-8"), "replace")))
        else:
            file, size = await _spool(request, part, size, limit)
            files.append(file)
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            fields.append((part.name, FileField(part.name, part.filename, file, content_type, part.headers)))
    return MultiDict(fields)


async def _spool(
    request: Request, part: BodyPartReader, size: int, limit: int | None
) -> tuple[IO[bytes], int]:
    """The part's content in a spooled temporary file, at its start; the form's size so far."""
    file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 (the caller's to close)
    try:
        while piece := await part.read_chunk(1 << 16):
            size = _count(request, size, len(piece), limit)
            file.write(piece)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file, size


def _close_all(files: list[IO[bytes]]) -> None:
    for file in files:
        file.close()


def _count(request: Request, size: int, more: int, limit: int | None) -> int:
    size += more
    if limit is not None and size > limit:
        raise request.too_large(limit, size)
    return size
