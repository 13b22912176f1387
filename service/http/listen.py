"""Listening sockets: where a server accepts its connections.

A listener is an ``asyncio.Server`` opened with the server's protocol factory
and *not yet accepting* (``start_serving=False``): the ``Server`` decides when
it accepts -- once the startup hooks are done -- so a listener can be opened
before them (``run_app``: a port in use fails before any hook has opened
anything) or after them (``AppRunner``'s sites, as in aiohttp).

Three kinds, one function each: a TCP host and port, a Unix socket path, and a
socket the caller bound already (the supervisor of ``--workers``, systemd, a
test). A failure to listen is a ``ListenError`` naming the address, which is
also an ``OSError`` as aiohttp's callers expect.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

from ..errors import ListenError

__all__ = ["ProtocolFactory", "http_url", "open_sock", "open_tcp", "open_unix", "url_of"]

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


async def open_tcp(
    factory: ProtocolFactory,
    host: str | None,
    port: int,
    *,
    backlog: int,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
) -> asyncio.Server:
    """Listen on ``host``:``port`` (``host=None``: every interface; ``port=0``: any free port)."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_server(
            factory,
            host,
            port,
            backlog=backlog,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            start_serving=False,
        )
    except OSError as exc:
        raise ListenError.wrap("0.0.0.0" if host is None else host, port, exc) from exc


async def open_unix(
    factory: ProtocolFactory, path: str | os.PathLike[str], *, backlog: int
) -> asyncio.Server:
    """Listen on the Unix socket ``path`` (a stale socket file left there is replaced)."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_unix_server(factory, os.fspath(path), backlog=backlog, start_serving=False)
    except OSError as exc:
        raise ListenError.at(f"unix:{os.fspath(path)}", exc) from exc


async def open_sock(factory: ProtocolFactory, sock: socket.socket, *, backlog: int) -> asyncio.Server:
    """Listen on ``sock``, bound already by the caller (TCP or Unix)."""
    loop = asyncio.get_running_loop()
    try:
        # uvloop wants a Unix socket handed to the Unix call; asyncio takes either here.
        if sock.family == socket.AF_UNIX:
            return await loop.create_unix_server(factory, sock=sock, backlog=backlog, start_serving=False)
        return await loop.create_server(factory, sock=sock, backlog=backlog, start_serving=False)
    except OSError as exc:
        raise ListenError.at(url_of(sock).removeprefix("http://"), exc) from exc


def url_of(sock: socket.socket) -> str:
    """The URL a listening socket serves, as aiohttp names its sites:
    ``http://127.0.0.1:8080``, ``http://[::1]:8080``, ``http://unix:/run/app.sock:``."""
    address = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        path = address.decode(errors="replace") if isinstance(address, bytes) else address
        return f"http://unix:{path}:"
    return http_url(str(address[0]), int(address[1]))


def http_url(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
