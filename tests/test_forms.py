"""``request.post()`` and ``request.multipart()`` through a real server.

Forms are sent as a real client sends them (httpx builds the multipart bodies) and
as raw bytes for the malformed ones, whole and one byte at a time. Uploads are
measured: a file larger than memory should hold goes to disk, and the server's
traced memory stays far below its size.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from service import Application, Request, Response, Server, json_response
from service.web.forms import MAX_FIELDS, SPOOL_SIZE, FileField

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every network wait; never a timing assertion


async def describe_form(request: Request) -> Response:
    """Every field as [name, value] or [name, {filename, content_type, size, head, on_disk}]."""
    form = await request.post()
    out: list[Any] = []
    for name, value in form.items():
        if isinstance(value, FileField):
            head = value.file.read(10)
            size = len(head)
            while piece := value.file.read(1 << 16):  # (not whole: the memory test measures us too)
                size += len(piece)
            on_disk = bool(getattr(value.file, "_rolled", True))
            value.file.close()
            out.append(
                [name, {"filename": value.filename, "type": value.content_type, "size": size,
                        "head": head.decode("latin-1"), "on_disk": on_disk}]
            )  # fmt: skip
        else:
            out.append([name, value])
    assert await request.post() is form  # parsed once
    return json_response(out)


async def stream_parts(request: Request) -> Response:
    """Each part's name, filename and size, read with read_chunk (multipart())."""
    reader = await request.multipart()
    out = []
    async for part in reader:
        if part.name == "skip":
            continue  # left unread: next() releases it
        size = 0
        while chunk := await part.read_chunk(1000):
            size += len(chunk)
        out.append([part.name, part.filename, size, part.headers.get("Content-Type")])
    return json_response(out)


def form_app(client_max_size: int | None = 1024**2) -> Application:
    app = Application(client_max_size=client_max_size)
    app.router.add_post("/form", describe_form)
    app.router.add_post("/parts", stream_parts)
    return app


async def client_for(make_server: MakeServer, **app: Any) -> httpx.AsyncClient:
    server = await make_server(form_app(**app))
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT)


async def test_a_urlencoded_form(make_server: MakeServer) -> None:
    async with await client_for(make_server) as client:
        body = "a=1&b=two+words&a=3&empty=&caf%C3%A9=cr%C3%A8me"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = await client.post("/form", content=body, headers=headers)
    assert response.json() == [["a", "1"], ["b", "two words"], ["a", "3"], ["empty", ""], ["café", "crème"]]


async def test_a_multipart_form_with_fields_and_files(make_server: MakeServer) -> None:
    big = b"B" * (SPOOL_SIZE + 1)
    files = [
        ("upload", ("notes.txt", b"hello file", "text/plain")),
        ("upload", ("naïve name.bin", big, "application/octet-stream")),
    ]
    async with await client_for(make_server, client_max_size=None) as client:
        response = await client.post("/form", data={"title": "Ünïcode", "n": "1"}, files=files)
    assert response.status_code == 200, response.text
    assert response.json() == [
        ["title", "Ünïcode"],
        ["n", "1"],
        ["upload", {"filename": "notes.txt", "type": "text/plain", "size": 10, "head": "hello file",
                    "on_disk": False}],
        ["upload", {"filename": "naïve name.bin", "type": "application/octet-stream", "size": len(big),
                    "head": "BBBBBBBBBB", "on_disk": True}],
    ]  # fmt: skip


async def test_multipart_streams_parts_and_skips_unread_ones(make_server: MakeServer) -> None:
    files = [
        ("skip", ("s.bin", b"x" * 5000, "application/octet-stream")),
        ("doc", ("d.txt", b"y" * 2500, "text/plain")),
    ]
    async with await client_for(make_server, client_max_size=100) as client:  # not a whole read: no limit
        response = await client.post("/parts", data={"field": "value"}, files=files)
    assert response.json() == [["field", None, 5, None], ["doc", "d.txt", 2500, "text/plain"]]


async def test_an_upload_goes_to_disk_and_memory_stays_flat(make_server: MakeServer) -> None:
    size = 64 * 1024**2
    async with await client_for(make_server, client_max_size=None) as client:
        tracemalloc.start()
        try:
            payload = _Chunks(size)
            boundary = "b0undary"
            response = await client.post(
                "/form",
                content=payload.multipart(boundary),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.json() == [
        [
            "f",
            {
                "filename": "big.bin",
                "type": "application/octet-stream",
                "size": size,
                "head": "\0" * 10,
                "on_disk": True,
            },
        ]
    ]
    # The client's pieces are traced too (1 MiB each); nothing near the upload's size.
    assert peak < 12 * 1024**2, f"peak {peak} bytes traced for a {size}-byte upload"


class _Chunks:
    """A multipart body with one ``size``-byte file of zeros, produced piece by piece."""

    def __init__(self, size: int) -> None:
        self.size = size

    async def multipart(self, boundary: str) -> Any:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        block = bytes(1024**2)
        for _ in range(self.size // len(block)):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()


# -- mistakes ---------------------------------------------------------------------------------------
MP = "multipart/form-data; boundary=XyZ"
URLENCODED = "application/x-www-form-urlencoded"


def part(disposition: str, value: bytes) -> bytes:
    return b"--XyZ\r\nContent-Disposition: form-data%s\r\n\r\n%s\r\n" % (disposition.encode(), value)


END = b"--XyZ--\r\n"
MANY = b"".join(part(f'; name="f{i}"', b"v") for i in range(MAX_FIELDS + 1))
MISTAKES = [
    pytest.param("multipart/form-data", part('; name="a"', b"v") + END, 400, "a boundary", id="no-boundary"),
    pytest.param(MP, part('; name="a"', b"v"), 400, "closing boundary", id="truncated"),
    pytest.param(MP, part("", b"v") + END, 400, "no name", id="no-name"),
    pytest.param(MP, b"garbage without any boundary", 400, "", id="garbage"),
    pytest.param(MP, MANY + END, 400, "at most", id="too-many-parts"),
    pytest.param(URLENCODED, b"&".join([b"a=1"] * (MAX_FIELDS + 1)), 400, "at most", id="too-many-fields"),
    pytest.param(MP, part('; name="a"', b"v" * 70000) + END, 413, "limit", id="over-client-max-size"),
    pytest.param(
        MP, part('; name="f"; filename="x"', b"v" * 70000) + END, 413, "limit", id="file-over-the-limit"
    ),
]


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize(("content_type", "body", "status", "says"), MISTAKES)
async def test_a_bad_form_is_a_4xx(
    make_server: MakeServer,
    raw_connect: Any,
    content_type: str,
    body: bytes,
    status: int,
    says: str,
    bytewise: bool,
) -> None:
    server = await make_server(form_app(client_max_size=64 * 1024))
    conn = await raw_connect(server.port)
    data = b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        content_type.encode(),
        len(body),
        body,
    )
    if bytewise and len(data) < 3000:
        for i in range(len(data)):
            conn.writer.write(data[i : i + 1])
            await conn.writer.drain()
            await asyncio.sleep(0)
    else:
        conn.writer.write(data)
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert response.status == status, response.body
    assert says.encode() in response.body


async def test_any_other_content_type_is_an_empty_form(make_server: MakeServer) -> None:
    async with await client_for(make_server) as client:
        response = await client.post("/form", json={"a": 1})
    assert json.loads(response.text) == []


async def test_uploaded_files_are_closed_once_the_request_is_done(make_server: MakeServer) -> None:
    kept: list[FileField] = []

    async def keep(request: Request) -> Response:
        form = await request.post()
        kept.extend(value for value in form.values() if isinstance(value, FileField))
        assert not kept[0].file.closed  # open while the handler runs
        return Response(text="ok")

    app = Application()
    app.router.add_post("/keep", keep)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
        response = await client.post("/keep", files={"f": ("a.txt", b"data", "text/plain")})
        assert response.text == "ok"
        await client.get("/nothing")  # the next exchange: the first request is long gone
    assert [field.file.closed for field in kept] == [True]
