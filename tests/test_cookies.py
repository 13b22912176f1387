"""Cookies: request.cookies read when asked, set_cookie/del_cookie written as RFC 6265 says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service import Application, Request, Server, web
from service.web.cookies import parse_cookie_header, set_cookie_value

MakeServer = Callable[..., Awaitable[Server]]


@pytest.mark.parametrize(
    ("field", "cookies"),
    [
        ("a=1", {"a": "1"}),
        ("a=1; b=two", {"a": "1", "b": "two"}),
        ('a="quoted value"', {"a": "quoted value"}),
        ("a=1;b=2 ;  c = 3", {"a": "1", "b": "2", "c": "3"}),
        ("a=1; bad; =x; b=2", {"a": "1", "b": "2"}),  # a malformed pair is skipped, not the field
        ("a=1; a=2", {"a": "1"}),  # the first wins (RFC 6265 5.4: longest path first, then oldest)
        ("", {}),
    ],
    ids=["one", "two", "quoted", "spaces", "malformed-pair", "repeated", "empty"],
)
def test_the_cookie_field_is_read_leniently(field: str, cookies: dict[str, str]) -> None:
    assert parse_cookie_header(field) == cookies


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({}, "id=42; Path=/"),
        ({"path": None}, "id=42"),
        (
            {"max_age": 3600, "secure": True, "httponly": True},
            "id=42; Max-Age=3600; Path=/; Secure; HttpOnly",
        ),
        ({"domain": "example.com", "samesite": "lax"}, "id=42; Domain=example.com; Path=/; SameSite=Lax"),
        (
            {"samesite": "None", "secure": True, "partitioned": True},
            "id=42; Path=/; Secure; SameSite=None; Partitioned",
        ),
        (
            {"expires": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)},
            "id=42; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/",
        ),
    ],
    ids=["default", "no-path", "secure", "domain-samesite", "partitioned", "expires-datetime"],
)
def test_set_cookie_values(kwargs: dict[str, Any], line: str) -> None:
    assert set_cookie_value("id", "42", **kwargs) == line


def test_a_value_outside_cookie_octets_is_quoted_and_control_characters_refused() -> None:
    assert set_cookie_value("n", 'a b"c') == 'n="a b\\"c"; Path=/'
    for name, value, kwargs in [
        ("bad name", "v", {}),
        ("n", "a\r\nSet-Cookie: x=y", {}),
        ("n", "v", {"path": "/\n"}),
    ]:
        with pytest.raises(ValueError):
            set_cookie_value(name, value, **kwargs)
    with pytest.raises(ValueError, match="samesite"):
        set_cookie_value("n", "v", samesite="sometimes")


async def test_cookies_through_a_real_server(make_server: MakeServer) -> None:
    async def handler(request: Request) -> web.Response:
        response = web.json_response(dict(request.cookies))
        response.set_cookie("session", "abc", httponly=True)
        response.set_cookie("theme", "dark")
        response.set_cookie("session", "xyz", httponly=True, samesite="Strict")  # replaces the first
        response.del_cookie("old")
        return response

    app = Application()
    app.router.add_get("/", handler)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = await client.get("/", headers={"Cookie": "a=1; b=2"})
    assert response.json() == {"a": "1", "b": "2"}
    assert response.headers.get_list("Set-Cookie") == [
        "theme=dark; Path=/",
        "session=xyz; Path=/; HttpOnly; SameSite=Strict",
        "old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",
    ]


def test_response_cookies_is_what_was_set() -> None:
    response = web.Response()
    assert dict(response.cookies) == {}
    response.set_cookie("a", "1")
    assert dict(response.cookies) == {"a": "a=1; Path=/"}
    request = Request(
        "GET", b"/", "/", "", [(b"Host", b"x")], web.HttpVersion(1, 1), True, None, Application()
    )  # type: ignore[arg-type]
    assert dict(request.cookies) == {}
