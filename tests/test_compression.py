"""Response compression: the coding chosen from Accept-Encoding (RFC 9110 section 12.5.3)
and compressed bodies as a client receives them, through a real server."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service import Application, Request, Response, Server, StreamResponse, web
from service.web.compression import choose_coding

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every network wait; never a timing assertion
TEXT = "compress me " * 2000
GZIP, DEFLATE = web.ContentCoding.gzip, web.ContentCoding.deflate


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, None),
        ("", None),
        ("gzip", GZIP),
        ("GZIP", GZIP),
        ("deflate", DEFLATE),
        ("gzip, deflate", GZIP),
        ("deflate;q=1, gzip;q=0.5", DEFLATE),
        ("gzip;q=0, deflate", DEFLATE),
        ("gzip;q=0", None),  # aiohttp's substring match would still send gzip
        ("*", GZIP),
        ("*;q=0", None),
        ("identity", None),
        ("br", None),
        ("gzip;q=abc", None),
        ("gzip;q=2", None),
    ],
)
def test_the_coding_follows_accept_encoding(accept: str | None, chosen: web.ContentCoding | None) -> None:
    assert choose_coding(accept) is chosen


async def whole(request: Request) -> Response:
    response = Response(text=TEXT)
    response.enable_compression()
    return response


async def forced(request: Request) -> Response:
    response = Response(text=TEXT)
    response.enable_compression(web.ContentCoding.deflate)
    return response


async def streamed(request: Request) -> StreamResponse:
    response = StreamResponse()
    response.enable_compression()
    await response.prepare(request)
    for _ in range(20):
        await response.write(TEXT[:1200].encode())
    await response.write_eof()
    return response


async def empty(request: Request) -> Response:
    response = Response(status=204)
    response.enable_compression()
    return response


async def exchange(
    make_server: MakeServer, raw_connect: Any, path: str, fields: bytes, method: bytes = b"GET"
) -> Any:
    app = Application()
    for route, handler in (
        ("/whole", whole),
        ("/forced", forced),
        ("/streamed", streamed),
        ("/empty", empty),
    ):
        app.router.add_get(route, handler)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    conn.writer.write(method + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    return await asyncio.wait_for(conn.read_response(head_only=method == b"HEAD"), TIMEOUT)


@pytest.mark.parametrize(
    ("path", "fields", "encoding", "decode", "expected"),
    [
        ("/whole", b"Accept-Encoding: gzip\r\n", "gzip", gzip.decompress, TEXT.encode()),
        ("/whole", b"Accept-Encoding: deflate\r\n", "deflate", zlib.decompress, TEXT.encode()),
        ("/whole", b"", None, bytes, TEXT.encode()),
        ("/whole", b"Accept-Encoding: gzip;q=0\r\n", None, bytes, TEXT.encode()),
        ("/forced", b"", "deflate", zlib.decompress, TEXT.encode()),
        ("/streamed", b"Accept-Encoding: gzip\r\n", "gzip", gzip.decompress, TEXT[:1200].encode() * 20),
    ],
)
async def test_compressed_bodies_arrive_whole(
    make_server: MakeServer,
    raw_connect: Any,
    path: str,
    fields: bytes,
    encoding: str | None,
    decode: Callable[[bytes], bytes],
    expected: bytes,
) -> None:
    response = await exchange(make_server, raw_connect, path, fields)
    assert response.status == 200
    assert response.header("Content-Encoding") == encoding
    assert decode(response.body) == expected
    if encoding is not None:
        assert response.header("Vary") == "Accept-Encoding"
        assert response.header("Content-Length") is None and response.chunked
        assert len(response.body) < len(expected)


async def test_head_and_204_send_no_compressed_body(make_server: MakeServer, raw_connect: Any) -> None:
    head = await exchange(make_server, raw_connect, "/whole", b"Accept-Encoding: gzip\r\n", b"HEAD")
    assert (head.status, head.header("Content-Encoding"), head.body) == (200, "gzip", b"")
    empty_answer = await exchange(make_server, raw_connect, "/empty", b"Accept-Encoding: gzip\r\n")
    assert (empty_answer.status, empty_answer.header("Content-Encoding")) == (204, None)


async def test_a_compressed_file_to_an_http10_client(
    make_server: MakeServer, raw_connect: Any, tmp_path: Any
) -> None:
    """No chunks for HTTP/1.0: the body ends with the connection, and it is compressed
    (the kernel's sendfile, which would skip the compressor, is not used)."""
    path = tmp_path / "big.txt"
    path.write_text(TEXT)

    async def send_file(request: Request) -> web.FileResponse:
        response = web.FileResponse(path)
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = Application()
    app.router.add_get("/file", send_file)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    conn.writer.write(b"GET /file HTTP/1.0\r\n\r\n")
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert (response.status, response.header("Content-Encoding")) == (200, "gzip")
    assert gzip.decompress(response.body) == TEXT.encode()
