"""Shared fixtures: a real ``Server`` on 127.0.0.1:0, a raw-socket HTTP client, and a
port that is already in use.

Every wait is bounded with ``asyncio.wait_for`` so a misbehaving server fails a
test instead of hanging the run; every socket and server is closed at teardown
(pytest runs with warnings as errors, so a leaked transport is a failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from projects import project  # noqa: F401  (a fixture, shared)

from service import Application, Limits, Server

TIMEOUT = 5.0  # upper bound for any single network wait; never a timing assertion


@dataclass
class RawResponse:
    """One HTTP/1.1 response as read off the wire."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    chunked: bool = False
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def header_names(self) -> list[str]:
        return [key.lower() for key, _ in self.headers]


def _parse_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    assert version == "HTTP/1.1", f"bad status line {lines[0]!r}"
    code, _, reason = rest.partition(" ")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        assert sep, f"bad header line {line!r}"
        headers.append((name, value.strip()))
    return int(code), reason, headers


class RawConnection:
    """A plain TCP connection speaking bytes, with helpers to read whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), TIMEOUT)

    async def _readuntil(self, sep: bytes) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(sep), TIMEOUT)

    async def _readexactly(self, n: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), TIMEOUT)

    async def read_response(self, *, head_only: bool = False) -> RawResponse:
        """Read one response: by Content-Length, by chunks, or until the server closes.

        ``head_only`` is for answers to HEAD (framing headers but no body). A
        ``1xx`` interim response is returned on its own.
        """
        head = await self._readuntil(b"\r\n\r\n")
        status, reason, headers = _parse_head(head[:-4])
        response = RawResponse(status, reason, headers, b"", head)
        if head_only or 100 <= status < 200 or status in (204, 304):
            return response
        length = response.header("Content-Length")
        te = response.header("Transfer-Encoding")
        if te is not None and "chunked" in te.lower():
            response.chunked = True
            body = bytearray()
            raw = bytearray()
            while True:
                size_line = await self._readuntil(b"\r\n")
                raw += size_line
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                chunk = await self._readexactly(size + 2)
                raw += chunk
                assert chunk.endswith(b"\r\n"), f"chunk not terminated: {chunk!r}"
                body += chunk[:-2]
            while True:  # trailer section, then the final CRLF
                line = await self._readuntil(b"\r\n")
                raw += line
                if line == b"\r\n":
                    break
                name, _, value = line.decode("latin-1").partition(":")
                response.trailers.append((name, value.strip()))
            response.body = bytes(body)
            response.raw += bytes(raw)
        elif length is not None:
            response.body = await self._readexactly(int(length))
            response.raw += response.body
        else:
            response.body = await self.read_until_close()
            response.raw += response.body
        return response

    async def read_until_close(self) -> bytes:
        """Everything the server sends until it closes (a reset counts as a close)."""
        chunks = []
        while True:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    async def at_eof(self) -> bool:
        """Whether the server has closed: waits (bounded) for EOF, fails on stray data."""
        rest = await self.read_until_close()
        assert rest == b"", f"unexpected bytes after the last response: {rest!r}"
        return True

    async def close(self) -> None:
        if self.writer.is_closing():
            with contextlib.suppress(OSError):
                await asyncio.wait_for(self.writer.wait_closed(), TIMEOUT)
            return
        self.writer.close()
        with contextlib.suppress(OSError):
            await asyncio.wait_for(self.writer.wait_closed(), TIMEOUT)


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """``await make_server(app, limits=..., shutdown_timeout=...)`` -> a started Server.

    The server listens on 127.0.0.1 and an ephemeral port (``server.port`` after
    start); every server made is shut down at teardown.
    """
    servers: list[Server] = []

    async def make(app: Application, *, limits: Limits | None = None, **kwargs: Any) -> Server:
        server = Server(app, host="127.0.0.1", port=0, limits=limits, **kwargs)
        await asyncio.wait_for(server.start(), TIMEOUT)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.force()
        await asyncio.wait_for(server.shutdown(), TIMEOUT + server.shutdown_timeout)


@pytest.fixture
async def raw_connect() -> AsyncIterator[Callable[[int], Awaitable[RawConnection]]]:
    """``await raw_connect(port)`` -> a ``RawConnection`` to 127.0.0.1, closed at teardown."""
    conns: list[RawConnection] = []

    async def connect(port: int) -> RawConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        conn = RawConnection(reader, writer)
        conns.append(conn)
        return conn

    yield connect
    for conn in conns:
        await conn.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket listens on for the whole test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
