"""FileResponse through a real server: ranges, conditions, validators, both ways of sending.

Every case is a request on a raw socket to a ``Server`` on 127.0.0.1:0 and the
response as read off the wire; a second request on the same connection checks
the first was framed right. The rules themselves (conditional.py) get tables of
their own at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from conftest import TIMEOUT, RawConnection, RawResponse

from service import Application, Limits, Request, Server, web
from service.web.conditional import RangeNotSatisfiable, byte_range, http_date, parse_http_date
from service.web.fileresponse import FileResponse

MakeServer = Callable[..., Awaitable[Server]]
Connect = Callable[[int], Awaitable[RawConnection]]

SMALL = b"0123456789abcdefghij"  # 20 bytes
BIG = random.Random(21).randbytes(5 * 1024 * 1024 + 123)  # past many chunks and sendfile pieces
OLD_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
NOT_SATISFIABLE = f"416: {HTTPStatus(416).phrase}".encode()  # (Python's phrase: "Requested Range...")


def app_for(root: Path) -> Application:
    async def plain(request: Request) -> web.StreamResponse:
        return FileResponse(root / request.match_info["name"])

    async def prepared(request: Request) -> web.StreamResponse:
        response = FileResponse(root / request.match_info["name"], chunk_size=1000)
        await response.prepare(request)
        return response

    async def typed(request: Request) -> web.StreamResponse:
        return FileResponse(root / "small.txt", headers={"Content-Type": "text/x-given"})

    app = Application()
    app.add_routes(
        [
            web.get("/f/{name}", plain),
            web.post("/f/{name}", plain),
            web.get("/prepared/{name}", prepared),
            web.get("/typed", typed),
        ]
    )
    return app


@dataclass
class Site:
    root: Path
    port: int
    connect: Connect

    async def fetch(self, method: str, target: str, **headers: str) -> RawResponse:
        """One request on a new connection; then one more on it, to check the framing."""
        conn = await self.connect(self.port)
        fields = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
        await conn.send(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode())
        response = await conn.read_response(head_only=method == "HEAD")
        await conn.send(b"GET /f/small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        after = await conn.read_response()
        assert (after.status, after.body) == (200, SMALL), response.raw
        return response

    async def validators(self) -> tuple[str, str]:
        first = await self.fetch("GET", "/f/small.txt")
        etag, last_modified = first.header("ETag"), first.header("Last-Modified")
        assert etag is not None and last_modified is not None
        return etag, last_modified


@pytest.fixture
async def site(tmp_path: Path, make_server: MakeServer, raw_connect: Connect) -> Site:
    (tmp_path / "small.txt").write_bytes(SMALL)
    (tmp_path / "big.bin").write_bytes(BIG)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "page.html").write_bytes(b"<p>")
    (tmp_path / "archive.tar.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "data.unknownext").write_bytes(b"?")
    (tmp_path / "a-dir").mkdir()
    past = datetime(2020, 1, 2, 3, 4, 5, 500000, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "small.txt", (past, past))  # a second ago or more: Last-Modified is its own
    server = await make_server(app_for(tmp_path))
    return Site(tmp_path, server.port, raw_connect)


async def test_the_whole_file_with_its_validators_and_type(site: Site) -> None:
    response = await site.fetch("GET", "/f/small.txt")
    st = os.stat(site.root / "small.txt")
    assert (response.status, response.body) == (200, SMALL)
    assert response.header("Content-Length") == "20"
    assert response.header("Content-Type") == "text/plain"
    assert response.header("Accept-Ranges") == "bytes"
    assert response.header("ETag") == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    assert response.header("Last-Modified") == "Thu, 02 Jan 2020 03:04:06 GMT"  # rounded up
    assert response.header("Content-Range") is None


async def test_last_modified_is_never_later_than_date(site: Site) -> None:
    # Dated later than now (changed this second and rounded up, or a clock ahead): an hour
    # ahead, so that no second can pass between here and the answer that changes the case.
    ahead = datetime.now(UTC).timestamp() + 3600
    os.utime(site.root / "empty.txt", (ahead, ahead))
    response = await site.fetch("GET", "/f/empty.txt")
    last_modified = parse_http_date(response.header("Last-Modified"))
    date = parse_http_date(response.header("Date"))
    assert last_modified is not None and date is not None and last_modified <= date
    again = await site.fetch("GET", "/f/empty.txt", If_Modified_Since=response.header("Last-Modified") or "")
    assert again.status == 200  # a date earlier than the change validates nothing


@pytest.mark.parametrize(
    ("field", "status", "body", "content_range"),
    [
        ("bytes=0-4", 206, SMALL[0:5], "bytes 0-4/20"),
        ("bytes=5-", 206, SMALL[5:], "bytes 5-19/20"),
        ("bytes=-3", 206, SMALL[-3:], "bytes 17-19/20"),
        ("bytes=15-100", 206, SMALL[15:], "bytes 15-19/20"),  # past the end: to the end
        ("bytes=-100", 206, SMALL, "bytes 0-19/20"),  # a suffix longer than the file: all of it
        ("bytes=0-0", 206, SMALL[:1], "bytes 0-0/20"),
        ("bytes=19-19", 206, SMALL[19:], "bytes 19-19/20"),
        ("BYTES=1-2", 206, SMALL[1:3], "bytes 1-2/20"),  # units are case-insensitive
        ("bytes=20-", 416, NOT_SATISFIABLE, "bytes */20"),
        ("bytes=99999999999999999999999-", 416, NOT_SATISFIABLE, "bytes */20"),
        ("bytes=-0", 416, NOT_SATISFIABLE, "bytes */20"),
        ("bytes=0-1,5-6", 200, SMALL, None),  # several ranges: the whole file (documented)
        ("bytes=5-2", 200, SMALL, None),  # invalid: ignored
        ("items=0-1", 200, SMALL, None),  # another unit: ignored
        ("bytes=abc", 200, SMALL, None),
        ("bytes=-", 200, SMALL, None),
    ],
)
async def test_range_requests(
    site: Site, field: str, status: int, body: bytes, content_range: str | None
) -> None:
    response = await site.fetch("GET", "/f/small.txt", Range=field)
    assert (response.status, response.body) == (status, body)
    assert response.header("Content-Range") == content_range
    assert response.header("Content-Length") == str(len(body))


async def test_ranges_of_an_empty_file(site: Site) -> None:
    assert (await site.fetch("GET", "/f/empty.txt", Range="bytes=0-")).status == 416
    whole = await site.fetch("GET", "/f/empty.txt", Range="bytes=-5")  # the last 5 of nothing
    assert (whole.status, whole.body, whole.header("Content-Length")) == (200, b"", "0")


async def test_a_range_on_head_or_post_is_ignored(site: Site) -> None:
    head = await site.fetch("HEAD", "/f/small.txt", Range="bytes=0-4")
    assert (head.status, head.header("Content-Length"), head.body) == (200, "20", b"")
    post = await site.fetch("POST", "/f/small.txt", Range="bytes=0-4", Content_Length="0")
    assert (post.status, post.body) == (200, SMALL)


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        (lambda etag, date: etag, 206),
        (lambda etag, date: '"other"', 200),
        (lambda etag, date: "W/" + etag, 200),  # a weak tag never matches (strong comparison)
        (lambda etag, date: date, 206),
        (lambda etag, date: OLD_DATE, 200),
        (lambda etag, date: "not a date", 200),
    ],
    ids=["etag", "other-etag", "weak-etag", "date", "other-date", "garbage"],
)
async def test_if_range_decides_whether_the_range_applies(
    site: Site, if_range: Callable[[str, str], str], status: int
) -> None:
    etag, date = await site.validators()
    response = await site.fetch("GET", "/f/small.txt", Range="bytes=0-4", If_Range=if_range(etag, date))
    assert (response.status, response.body) == (status, SMALL[:5] if status == 206 else SMALL)


Fields = Callable[[str, str], dict[str, str]]


@pytest.mark.parametrize(
    ("method", "fields", "status"),
    [
        ("GET", lambda e, d: {"If-None-Match": e}, 304),
        ("HEAD", lambda e, d: {"If-None-Match": e}, 304),
        ("GET", lambda e, d: {"If-None-Match": "*"}, 304),
        ("GET", lambda e, d: {"If-None-Match": "W/" + e}, 304),  # weak comparison
        ("GET", lambda e, d: {"If-None-Match": f'"other", {e}'}, 304),
        ("GET", lambda e, d: {"If-None-Match": '"other"'}, 200),
        ("POST", lambda e, d: {"If-None-Match": e}, 412),  # not GET or HEAD: the condition fails
        ("GET", lambda e, d: {"If-Modified-Since": d}, 304),
        ("HEAD", lambda e, d: {"If-Modified-Since": d}, 304),
        ("GET", lambda e, d: {"If-Modified-Since": OLD_DATE}, 200),
        ("GET", lambda e, d: {"If-Modified-Since": "yesterday"}, 200),  # not a date: ignored
        ("POST", lambda e, d: {"If-Modified-Since": d}, 200),  # only for GET and HEAD
        ("GET", lambda e, d: {"If-None-Match": '"other"', "If-Modified-Since": d}, 200),  # INM wins
        ("GET", lambda e, d: {"If-Match": e}, 200),
        ("GET", lambda e, d: {"If-Match": "*"}, 200),
        ("GET", lambda e, d: {"If-Match": '"other"'}, 412),
        ("GET", lambda e, d: {"If-Match": "W/" + e}, 412),  # strong comparison
        ("HEAD", lambda e, d: {"If-Match": '"other"'}, 412),
        ("GET", lambda e, d: {"If-Unmodified-Since": OLD_DATE}, 412),
        ("GET", lambda e, d: {"If-Unmodified-Since": d}, 200),
        ("GET", lambda e, d: {"If-Match": e, "If-Unmodified-Since": OLD_DATE}, 200),  # If-Match wins
        ("GET", lambda e, d: {"If-Match": '"other"', "If-None-Match": e}, 412),  # 412 comes first
    ],
)
async def test_conditional_requests(site: Site, method: str, fields: Fields, status: int) -> None:
    etag, date = await site.validators()
    headers = {name.replace("-", "_"): value for name, value in fields(etag, date).items()}
    if method == "POST":
        headers["Content_Length"] = "0"
    response = await site.fetch(method, "/f/small.txt", **headers)
    assert response.status == status
    if status == 304:
        assert (response.header("ETag"), response.header("Last-Modified")) == (etag, date)
        assert "content-type" not in response.header_names()
        assert "content-length" not in response.header_names()
        assert response.body == b""  # (and the next response on the connection is intact)
    elif status == 412:
        assert response.body == (b"" if method == "HEAD" else b"412: Precondition Failed")
    else:
        assert response.body == (b"" if method == "HEAD" else SMALL)


async def test_head_sends_the_head_of_get_without_a_body(site: Site) -> None:
    get = await site.fetch("GET", "/f/big.bin")
    head = await site.fetch("HEAD", "/f/big.bin")
    assert (head.status, head.body) == (200, b"")
    assert head.header("Content-Length") == str(len(BIG))
    same = ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges")
    assert [head.header(name) for name in same] == [get.header(name) for name in same]


@pytest.mark.parametrize(
    ("target", "content_type"),
    [
        ("/f/small.txt", "text/plain"),
        ("/f/page.html", "text/html"),
        ("/f/archive.tar.gz", "application/gzip"),  # the bytes are gzip's, not tar's
        ("/f/data.unknownext", "application/octet-stream"),
        ("/typed", "text/x-given"),  # one given is kept
    ],
)
async def test_content_type_is_guessed_from_the_name(site: Site, target: str, content_type: str) -> None:
    response = await site.fetch("GET", target)
    assert (response.status, response.header("Content-Type")) == (200, content_type)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("missing.txt", 404),
        ("a-dir", 403),  # not a regular file
        ("small.txt%00x", 404),  # a NUL in the name
        ("small.txt%2Fx", 404),  # under a file, not a directory
        ("fifo", 403),  # opening it would wait for a writer: refused before
    ],
)
async def test_what_is_not_a_readable_file(site: Site, name: str, status: int) -> None:
    os.mkfifo(site.root / "fifo")
    response = await site.fetch("GET", f"/f/{name}")
    assert response.status == status
    assert response.body == f"{status}: {'Not Found' if status == 404 else 'Forbidden'}".encode()
    assert response.header("Content-Type") == "text/plain; charset=utf-8"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
async def test_an_unreadable_file_is_forbidden(site: Site) -> None:
    (site.root / "secret.txt").write_bytes(b"x")
    (site.root / "secret.txt").chmod(0)
    assert (await site.fetch("GET", "/f/secret.txt")).status == 403


# -- both ways of sending ------------------------------------------------------------------
@pytest.fixture
async def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[tuple[int, int]]]:
    """The (offset, count) of each loop.sendfile call on this test's loop."""
    loop = asyncio.get_running_loop()
    original = loop.sendfile
    calls: list[tuple[int, int]] = []

    async def spy(transport: Any, file: Any, offset: int = 0, count: int | None = None, **kw: Any) -> int:
        calls.append((offset, count or 0))
        return await original(transport, file, offset, count, **kw)

    monkeypatch.setattr(loop, "sendfile", spy)
    yield calls


@pytest.fixture(
    params=[NotImplementedError, RuntimeError, asyncio.SendfileNotAvailableError],
    ids=["uvloop-like", "transport-without-sendfile", "no-native-sendfile"],
)
async def no_sendfile(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's loop cannot sendfile, as uvloop's, or its transport cannot, as TLS's."""

    async def refuse(*args: Any, **kwargs: Any) -> int:
        raise request.param("no sendfile here")

    monkeypatch.setattr(asyncio.get_running_loop(), "sendfile", refuse)


@pytest.mark.parametrize("target", ["/f/big.bin", "/prepared/big.bin"])
async def test_a_large_file_goes_by_sendfile_intact(
    site: Site, sendfile_calls: list[tuple[int, int]], target: str
) -> None:
    whole = await site.fetch("GET", target)
    assert (whole.status, len(whole.body), whole.body == BIG) == (200, len(BIG), True)
    assert sum(count for _, count in sendfile_calls) >= len(BIG)  # (+ the small file after it)
    part = await site.fetch("GET", target, Range="bytes=1000000-3999999")
    assert (part.status, part.body == BIG[1000000:4000000]) == (206, True)


@pytest.mark.parametrize("target", ["/f/big.bin", "/prepared/big.bin"])
async def test_without_sendfile_a_large_file_is_read_and_written_intact(
    site: Site, no_sendfile: None, target: str
) -> None:
    whole = await site.fetch("GET", target)
    assert (whole.status, len(whole.body), whole.body == BIG) == (200, len(BIG), True)
    part = await site.fetch("GET", target, Range="bytes=-2000000")
    assert (part.status, part.body == BIG[-2000000:]) == (206, True)


def test_under_uvloop_a_large_file_is_sent_intact(tmp_path: Path) -> None:
    uvloop = pytest.importorskip("uvloop")
    (tmp_path / "big.bin").write_bytes(BIG)
    (tmp_path / "small.txt").write_bytes(SMALL)

    async def main() -> tuple[RawResponse, RawResponse]:
        server = Server(app_for(tmp_path), host="127.0.0.1", port=0)
        await asyncio.wait_for(server.start(), TIMEOUT)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        conn = RawConnection(reader, writer)
        try:
            await conn.send(b"GET /f/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            whole = await conn.read_response()
            await conn.send(b"GET /f/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-\r\n\r\n")
            return whole, await conn.read_response()
        finally:
            await conn.close()
            server.force()
            await asyncio.wait_for(server.shutdown(), TIMEOUT + server.shutdown_timeout)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        whole, part = runner.run(main())
    assert (whole.status, whole.body == BIG, part.status, part.body == BIG[10:]) == (200, True, 206, True)


async def test_a_client_that_stops_reading_a_sendfile_is_dropped(
    tmp_path: Path, make_server: MakeServer, raw_connect: Connect
) -> None:
    with open(tmp_path / "huge.bin", "wb") as file:
        file.truncate(64 * 1024 * 1024)  # more than the kernel's buffers hold (sparse: no disk)
    server = await make_server(app_for(tmp_path), limits=Limits(send_timeout=0.5))
    conn = await raw_connect(server.port)
    await conn.send(b"GET /f/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.1)
    assert server.connections == 1
    for _ in range(int(TIMEOUT / 0.05)):  # bounded wait for the server to give up on it
        if server.connections == 0:
            break
        await asyncio.sleep(0.05)
    assert server.connections == 0
    received = await conn.read_until_close()
    assert len(received) < 64 * 1024 * 1024


# -- the rules ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "size", "expected"),
    [
        ("bytes=0-9", 100, range(0, 10)),
        ("bytes=90-", 100, range(90, 100)),
        ("bytes=-10", 100, range(90, 100)),
        ("bytes=0-999", 100, range(0, 100)),
        (" bytes=1-1 ", 100, range(1, 2)),
        ("bytes=0000000000000000000000001-2", 100, range(1, 3)),  # leading zeros are still numbers
        ("bytes=1-2, 4-5", 100, None),
        ("bytes=2-1", 100, None),
        ("bytes = 1-2", 100, None),
        ("bytes=1-2-3", 100, None),
        ("", 100, None),
        ("bytes=100-", 100, RangeNotSatisfiable),
        ("bytes=-0", 100, RangeNotSatisfiable),
        ("bytes=0-", 0, RangeNotSatisfiable),
        ("bytes=-1", 0, None),
    ],
)
def test_byte_range(field: str, size: int, expected: range | None | type[Exception]) -> None:
    if isinstance(expected, type):
        with pytest.raises(expected):
            byte_range(field, size)
    else:
        assert byte_range(field, size) == expected


@pytest.mark.parametrize(
    "field",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
    ids=["imf-fixdate", "rfc850", "asctime"],
)
def test_the_three_forms_of_http_date_are_read(field: str) -> None:
    assert parse_http_date(field) == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)


@pytest.mark.parametrize("field", [None, "", "yesterday", "Sun, 99 Nov 1994 08:49:37 GMT"])
def test_what_is_not_a_date_reads_as_none(field: str | None) -> None:
    assert parse_http_date(field) is None


def test_http_date_writes_imf_fixdate() -> None:
    assert http_date(784111777) == formatdate(784111777, usegmt=True) == OLD_DATE
