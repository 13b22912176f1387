"""aiohttp's request attributes: URL, origin (with and without trusted proxies),
conditional-request fields, ``http_range`` and ``clone()`` -- through a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service import Application, Request, Response, Server, json_response, middleware

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every network wait; never a timing assertion


async def describe(request: Request) -> Response:
    try:
        http_range: Any = [request.http_range.start, request.http_range.stop]
    except ValueError:
        http_range = "ValueError"
    tags = (request.if_match, request.if_none_match)
    return json_response(
        {
            "scheme": request.scheme,
            "secure": request.secure,
            "host": request.host,
            "remote": request.remote,
            "url": str(request.url),
            "rel_url": str(request.rel_url),
            "path": request.path,
            "forwarded": [dict(element) for element in request.forwarded],
            "if_match": None if tags[0] is None else [[t.value, t.is_weak] for t in tags[0]],
            "if_none_match": None if tags[1] is None else [[t.value, t.is_weak] for t in tags[1]],
            "if_modified_since": str(request.if_modified_since),
            "if_unmodified_since": str(request.if_unmodified_since),
            "if_range": str(request.if_range),
            "range": http_range,
            "transport": request.transport is not None,
        }
    )


async def ask(
    make_server: MakeServer,
    raw_connect: Any,
    head: bytes,
    trusted: list[str] | None = None,
    kind: Any = "x-forwarded",
) -> Any:
    app = Application(trusted_proxies=trusted or (), proxy_headers=kind)
    app.router.add_get("/{tail:.*}", describe)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    conn.writer.write(head + b"\r\n\r\n")
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert response.status == 200, response.body
    return json.loads(response.body)


TRUST = ["127.0.0.1", "10.0.0.0/8"]
XF = b"Host: api.test\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Host: "
FWD = "forwarded"  # proxy_headers: the trusted proxies write Forwarded (RFC 7239)
ORIGINS = [
    pytest.param(b"Host: api.test", None, ("http", "api.test", "127.0.0.1"), id="plain"),
    pytest.param(
        XF + b"evil.test",
        None,
        ("http", "api.test", "127.0.0.1"),
        id="forwarding-fields-from-an-untrusted-peer-are-ignored",
    ),
    pytest.param(
        XF + b"www.test",
        TRUST,
        ("https", "www.test", "203.0.113.7"),
        id="x-forwarded-from-a-trusted-proxy",
    ),
    pytest.param(
        b"Host: api.test\r\nForwarded: for=203.0.113.7;proto=https;host=www.test",
        (TRUST, FWD),
        ("https", "www.test", "203.0.113.7"),
        id="forwarded-from-a-trusted-proxy",
    ),
    pytest.param(
        b"Host: api.test\r\nForwarded: for=10.9.9.9;proto=https\r\nX-Forwarded-For: 203.0.113.7",
        TRUST,
        ("http", "api.test", "203.0.113.7"),
        id="a-client-forwarded-passed-on-by-an-x-forwarded-proxy-is-ignored",
    ),
    pytest.param(
        b"Host: api.test\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https",
        (TRUST, FWD),
        ("http", "api.test", "127.0.0.1"),
        id="x-forwarded-behind-a-forwarded-proxy-is-ignored",
    ),
    pytest.param(
        b"Host: api.test\r\nX-Forwarded-For: 1.1.1.1, 203.0.113.9, 10.1.2.3",
        TRUST,
        ("http", "api.test", "203.0.113.9"),
        id="the-rightmost-untrusted-hop-is-the-client-(a-forged-left-one-is-not)",
    ),
    pytest.param(
        b'Host: api.test\r\nForwarded: for=192.0.2.1, for="[2001:db8::1]:4711";proto=https, for=10.0.0.5',
        (TRUST, FWD),
        ("https", "api.test", "2001:db8::1"),
        id="forwarded-ipv6-with-port-behind-two-proxies",
    ),
    pytest.param(
        b"Host: api.test\r\nX-Forwarded-Proto: javascript\r\nX-Forwarded-Host: a b",
        TRUST,
        ("http", "api.test", "127.0.0.1"),
        id="values-that-are-no-scheme-or-host-are-ignored",
    ),
]


@pytest.mark.parametrize(("fields", "trusted", "expected"), ORIGINS)
async def test_scheme_host_and_remote(
    make_server: MakeServer, raw_connect: Any, fields: bytes, trusted: Any, expected: Any
) -> None:
    trusted, kind = trusted if isinstance(trusted, tuple) else (trusted, "x-forwarded")
    got = await ask(make_server, raw_connect, b"GET /p?q=1 HTTP/1.1\r\n" + fields, trusted, kind)
    assert (got["scheme"], got["host"], got["remote"]) == expected
    assert got["secure"] == (expected[0] == "https")
    assert got["url"] == f"{expected[0]}://{expected[1]}/p?q=1"
    assert (got["rel_url"], got["transport"]) == ("/p?q=1", True)


async def test_an_absolute_form_target_does_not_make_a_plain_connection_secure(
    make_server: MakeServer, raw_connect: Any
) -> None:
    got = await ask(make_server, raw_connect, b"GET https://bank.test/a%20b HTTP/1.1\r\nHost: bank.test")
    assert (got["scheme"], got["secure"], got["url"]) == ("http", False, "http://bank.test/a%20b")
    assert (got["path"], got["rel_url"]) == ("/a b", "/a%20b")


async def test_forwarded_is_parsed_as_sent(make_server: MakeServer, raw_connect: Any) -> None:
    head = b'GET / HTTP/1.1\r\nHost: x\r\nForwarded: for="_gazonk";by=10.0.0.1, For="[::1]:80";proto=http'
    got = await ask(make_server, raw_connect, head)
    assert got["forwarded"] == [{"for": "_gazonk", "by": "10.0.0.1"}, {"for": "[::1]:80", "proto": "http"}]


CONDITIONALS = [
    pytest.param(b"", {"if_match": None, "if_none_match": None, "range": [None, None]}, id="none"),
    pytest.param(
        b'\r\nIf-Match: "a", W/"b"\r\nIf-None-Match: *',
        {"if_match": [["a", False], ["b", True]], "if_none_match": [["*", False]]},
        id="entity-tags",
    ),
    pytest.param(
        b"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-Unmodified-Since: nonsense",
        {"if_modified_since": "1994-11-06 08:49:37+00:00", "if_unmodified_since": "None"},
        id="dates",
    ),
    pytest.param(b'\r\nIf-Range: "etag"', {"if_range": "None"}, id="if-range-etag-is-no-date"),
    pytest.param(b"\r\nRange: bytes=10-19", {"range": [10, 20]}, id="range"),
    pytest.param(b"\r\nRange: bytes=10-", {"range": [10, None]}, id="range-open"),
    pytest.param(b"\r\nRange: bytes=-5", {"range": [-5, None]}, id="range-suffix"),
    pytest.param(b"\r\nRange: bytes=9-3", {"range": "ValueError"}, id="range-backwards"),
    pytest.param(b"\r\nRange: lines=1-2", {"range": "ValueError"}, id="range-other-unit"),
]


@pytest.mark.parametrize(("fields", "expected"), CONDITIONALS)
async def test_conditional_fields(
    make_server: MakeServer, raw_connect: Any, fields: bytes, expected: Any
) -> None:
    got = await ask(make_server, raw_connect, b"GET / HTTP/1.1\r\nHost: x" + fields)
    assert {key: got[key] for key in expected} == expected


async def test_clone_replaces_attributes_and_reads_the_same_body(
    make_server: MakeServer, raw_connect: Any
) -> None:
    @middleware
    async def rewrite(request: Request, handler: Any) -> Any:
        clone = request.clone(
            rel_url="/moved?x=1", headers={"X-Seen": "yes"}, scheme="https", remote="192.0.2.9"
        )
        return await handler(clone)

    async def show(request: Request) -> Response:
        body = await request.text()
        return json_response(
            [
                request.path,
                request.query_string,
                request.headers.get("X-Seen"),
                request.scheme,
                request.remote,
                body,
            ]
        )

    app = Application(middlewares=[rewrite])
    app.router.add_post("/p", show)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    conn.writer.write(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    await asyncio.sleep(0.05)  # the handler may wait for the body: it reads it through the clone
    conn.writer.write(b"hello")
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert json.loads(response.body) == ["/moved", "x=1", "yes", "https", "192.0.2.9", "hello"]


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not-an-address"])
def test_a_bad_trusted_proxy_is_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        Application(trusted_proxies=[entry])


async def test_a_sub_application_goes_by_the_roots_proxies(make_server: MakeServer, raw_connect: Any) -> None:
    sub = Application()
    sub.router.add_get("/p", describe)
    app = Application(trusted_proxies=["127.0.0.1"])
    app.add_subapp("/sub", sub)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    conn.writer.write(
        b"GET /sub/p HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n\r\n"
    )
    got = json.loads((await asyncio.wait_for(conn.read_response(), TIMEOUT)).body)
    assert (got["remote"], got["scheme"]) == ("9.9.9.9", "https")


async def test_trusted_proxies_from_routes_yaml(
    make_server: MakeServer, raw_connect: Any, project: Any
) -> None:
    project.write(
        "h",
        "from service import json_response\n\n"
        "async def show(request):\n"
        "    return json_response({'remote': request.remote, 'scheme': request.scheme})\n",
    )
    service = "service:\n  trusted_proxies: [127.0.0.1]\n  proxy_headers: forwarded\n"
    routes = service + "routes:\n  GET /p: PKG.h.show\n"
    server = await make_server(project.app(routes))
    conn = await raw_connect(server.port)
    conn.writer.write(b"GET /p HTTP/1.1\r\nHost: x\r\nForwarded: for=198.51.100.4;proto=https\r\n\r\n")
    got = json.loads((await asyncio.wait_for(conn.read_response(), TIMEOUT)).body)
    assert (got["remote"], got["scheme"]) == ("198.51.100.4", "https")
