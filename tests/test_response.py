"""Response rendering, byte for byte, and the HTTPException family.

``render(response, keep_alive, http10, head_only)`` is what the connection
writes. The ``Date`` header changes every second, so ``rendered()`` checks it
is a valid IMF-fixdate and replaces it with ``<now>`` before comparing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import pytest

from service.web.httpexc import (
    HTTPBadRequest,
    HTTPConflict,
    HTTPException,
    HTTPForbidden,
    HTTPInternalServerError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    HTTPServiceUnavailable,
    HTTPUnprocessableEntity,
    HTTPUnsupportedMediaType,
)
from service.web.response import Response, json_response, render

_DATE_LINE = re.compile(rb"Date: ([^\r\n]*)\r\n")
NOW = b"Date: <now>\r\nServer: service\r\n"


def rendered(
    response: Response, *, keep_alive: bool = True, http10: bool = False, head_only: bool = False
) -> bytes:
    """The bytes a client receives, with the one ``Date`` value replaced by ``<now>``."""
    raw = render(response, keep_alive, http10, head_only)
    dates = _DATE_LINE.findall(raw)
    assert len(dates) == 1, raw
    assert re.fullmatch(rb"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", dates[0])
    parsedate_to_datetime(dates[0].decode())  # a real date, not just the right shape
    return _DATE_LINE.sub(b"Date: <now>\r\n", raw)


def head_and_body(raw: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


TEXT_HELLO = b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"


@pytest.mark.parametrize(
    ("make", "options", "expected"),
    [
        pytest.param(
            lambda: Response(text="hello"),
            {},
            b"HTTP/1.1 200 OK\r\n" + TEXT_HELLO + NOW + b"\r\nhello",
            id="http11-keep-alive",
        ),
        pytest.param(
            lambda: Response(text="hello"),
            {"keep_alive": False},
            b"HTTP/1.1 200 OK\r\n" + TEXT_HELLO + NOW + b"Connection: close\r\n\r\nhello",
            id="http11-close",
        ),
        pytest.param(
            lambda: Response(text="hello"),
            {"http10": True},
            b"HTTP/1.1 200 OK\r\n" + TEXT_HELLO + NOW + b"Connection: keep-alive\r\n\r\nhello",
            id="http10-keep-alive",
        ),
        pytest.param(
            lambda: Response(text="hello"),
            {"http10": True, "keep_alive": False},
            b"HTTP/1.1 200 OK\r\n" + TEXT_HELLO + NOW + b"Connection: close\r\n\r\nhello",
            id="http10-close",
        ),
        pytest.param(
            lambda: Response(text="hello"),
            {"head_only": True},
            b"HTTP/1.1 200 OK\r\n" + TEXT_HELLO + NOW + b"\r\n",
            id="head-keeps-length-drops-body",
        ),
        pytest.param(
            lambda: Response(),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + NOW + b"\r\n",
            id="empty",
        ),
        pytest.param(
            lambda: Response(body=b"\x00\x01"),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n"
            + NOW
            + b"\r\n\x00\x01",
            id="bytes-body",
        ),
        pytest.param(
            lambda: Response(body=b"<p>", content_type="text/html", charset="utf-8"),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n"
            + NOW
            + b"\r\n<p>",
            id="bytes-with-type-and-charset",
        ),
        pytest.param(
            lambda: Response(text="h\u00e9llo"),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n"
            + NOW
            + b"\r\nh\xc3\xa9llo",
            id="length-counts-bytes",
        ),
        pytest.param(
            lambda: Response(text="\u00e9", charset="latin-1"),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\nContent-Length: 1\r\n"
            + NOW
            + b"\r\n\xe9",
            id="latin-1",
        ),
        pytest.param(
            lambda: Response(text="<b>", content_type="text/html"),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n"
            + NOW
            + b"\r\n<b>",
            id="html",
        ),
        pytest.param(
            lambda: Response(status=404, text="nope"),
            {},
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n"
            + NOW
            + b"\r\nnope",
            id="404",
        ),
        pytest.param(
            lambda: Response(status=204),
            {},
            b"HTTP/1.1 204 No Content\r\n" + NOW + b"\r\n",
            id="204-no-body-no-length",
        ),
        pytest.param(
            lambda: Response(status=204),
            {"keep_alive": False},
            b"HTTP/1.1 204 No Content\r\n" + NOW + b"Connection: close\r\n\r\n",
            id="204-close",
        ),
        pytest.param(
            lambda: Response(status=304),
            {},
            b"HTTP/1.1 304 Not Modified\r\n" + NOW + b"\r\n",
            id="304",
        ),
        pytest.param(
            lambda: Response(status=599),
            {},
            b"HTTP/1.1 599 \r\nContent-Length: 0\r\n" + NOW + b"\r\n",
            id="unknown-status-empty-reason",
        ),
        pytest.param(
            lambda: Response(status=201, reason="Made It", text="ok"),
            {},
            b"HTTP/1.1 201 Made It\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"
            + NOW
            + b"\r\nok",
            id="custom-reason",
        ),
        pytest.param(
            lambda: Response(text="hello", headers={"X-Request-Id": "abc", "Cache-Control": "no-store"}),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"X-Request-Id: abc\r\nCache-Control: no-store\r\nContent-Length: 5\r\n" + NOW + b"\r\nhello",
            id="custom-headers",
        ),
        pytest.param(
            lambda: Response(text="hello", headers={"X-A": "1"}),
            {"head_only": True},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: 1\r\nContent-Length: 5\r\n"
            + NOW
            + b"\r\n",
            id="custom-headers-head",
        ),
        pytest.param(
            lambda: Response(text="hello", headers={"X-A": "1"}),
            {"http10": True},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: 1\r\nContent-Length: 5\r\n"
            + NOW
            + b"Connection: keep-alive\r\n\r\nhello",
            id="custom-headers-http10",
        ),
        pytest.param(
            lambda: Response(text="hello", headers={"X-A": "1"}),
            {"keep_alive": False},
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: 1\r\nContent-Length: 5\r\n"
            + NOW
            + b"Connection: close\r\n\r\nhello",
            id="custom-headers-close",
        ),
        pytest.param(
            lambda: Response(status=204, headers={"Allow": "GET, HEAD"}),
            {},
            b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD\r\n" + NOW + b"\r\n",
            id="204-with-headers",
        ),
        pytest.param(
            lambda: Response(text="{}", headers={"Content-Type": "application/problem+json"}),
            {},
            b"HTTP/1.1 200 OK\r\nContent-Type: application/problem+json\r\nContent-Length: 2\r\n"
            + NOW
            + b"\r\n{}",
            id="content-type-header-wins",
        ),
    ],
)
def test_render(make: Callable[[], Response], options: dict[str, bool], expected: bytes) -> None:
    assert rendered(make(), **options) == expected


def test_repeated_header_names_are_all_sent() -> None:
    response = Response(text="x")
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    head, _ = head_and_body(rendered(response))
    assert [line for line in head if line.startswith(b"Set-Cookie")] == [
        b"Set-Cookie: a=1",
        b"Set-Cookie: b=2",
    ]


def test_body_changed_after_construction_is_what_is_sent() -> None:
    response = Response(text="old")
    response.text = "newer"
    assert rendered(response).endswith(b"Content-Length: 5\r\n" + NOW + b"\r\nnewer")
    response.body = b"x"
    assert rendered(response).endswith(b"Content-Length: 1\r\n" + NOW + b"\r\nx")


def test_content_length_is_the_body_length_and_cannot_be_set() -> None:
    response = Response(body=b"abc")
    assert response.content_length == 3
    with pytest.raises(RuntimeError):
        response.content_length = 10


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Response(headers={"X-A": "a\r\nSet-Cookie: evil=1"}), id="crlf-in-value"),
        pytest.param(lambda: Response(headers={"X-A": "a\nb"}), id="lf-in-value"),
        pytest.param(lambda: Response(headers={"X-A": "a\rb"}), id="cr-in-value"),
        pytest.param(lambda: Response(headers={"X-A": "a\x00b"}), id="nul-in-value"),
        pytest.param(lambda: Response(headers={"X-A\r\nX-B": "v"}), id="crlf-in-name"),
        pytest.param(lambda: Response(headers={"X-A: b": "v"}), id="colon-in-name"),
        pytest.param(lambda: Response(headers={"": "v"}), id="empty-name"),
        pytest.param(lambda: Response(headers={"X A": "v"}), id="space-in-name"),
        pytest.param(lambda: Response(headers={"X-\u00e9": "v"}), id="non-token-name"),
        pytest.param(lambda: Response(headers={"X-A": "a\x0bb"}), id="vertical-tab-in-value"),
        pytest.param(lambda: Response(headers={"X-A": "a\x7fb"}), id="del-in-value"),
        pytest.param(lambda: Response(headers={"X-A": "a\x1bb"}), id="escape-in-value"),
        pytest.param(lambda: Response(reason="O\x0bK"), id="control-in-reason"),
        # The framing is the server's: a contradicting one would desync the connection.
        pytest.param(lambda: Response(body=b"hello", headers={"Content-Length": "0"}), id="short-length"),
        pytest.param(lambda: Response(body=b"hello", headers={"Content-Length": "50"}), id="long-length"),
        pytest.param(lambda: Response(body=b"hello", headers={"Content-Length": "+5"}), id="signed-length"),
        pytest.param(lambda: Response(body=b"hello", headers={"Content-Length": "5, 5"}), id="list-length"),
        pytest.param(lambda: Response(text="x", headers={"Transfer-Encoding": "chunked"}), id="te-chunked"),
        pytest.param(lambda: Response(text="x", headers={"transfer-encoding": "gzip"}), id="te-any"),
        pytest.param(lambda: Response(reason="OK\r\nX-B: y"), id="crlf-in-reason"),
        pytest.param(
            lambda: Response(text="x", content_type="text/plain\r\nX-B: y"), id="crlf-in-content-type"
        ),
        pytest.param(
            lambda: Response(text="x", headers={"X-A": "1"}, content_type="text/plain\r\nX-B: y"),
            id="crlf-in-content-type-with-headers",
        ),
    ],
)
def test_header_injection_raises_value_error(make: Callable[[], Response]) -> None:
    for _ in range(2):  # and again: the renderer remembers good names, never a bad one
        response = make()
        with pytest.raises(ValueError):
            render(response, True, False, False)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            lambda: Response(text="x", headers={"X-A": "1"}), [b"text/plain; charset=utf-8"], id="ours"
        ),
        pytest.param(
            lambda: Response(text="x", headers={"content-type": "text/html"}), [b"text/html"], id="theirs"
        ),
        pytest.param(lambda: Response(status=204, headers={"Content-Type": "text/html"}), [], id="204-none"),
    ],
)
def test_one_content_type_line_the_handlers_when_it_sets_one(
    make: Callable[[], Response], expected: list[bytes]
) -> None:
    lines, _ = head_and_body(rendered(make()))
    assert [
        line.partition(b": ")[2] for line in lines if line.lower().startswith(b"content-type:")
    ] == expected


@pytest.mark.parametrize(
    ("make", "options", "length"),
    [
        pytest.param(lambda: Response(body=b"hello", headers={"Content-Length": "5"}), {}, b"5", id="equal"),
        pytest.param(
            lambda: Response(body=b"hello", headers={"content-length": "005"}), {}, b"5", id="leading-zeros"
        ),
        pytest.param(
            lambda: Response(headers={"Content-Length": "1234"}), {"head_only": True}, b"1234", id="head"
        ),
        pytest.param(lambda: Response(status=304, headers={"Content-Length": "99"}), {}, b"99", id="304"),
        pytest.param(lambda: Response(status=204, headers={"Content-Length": "0"}), {}, None, id="204"),
    ],
)
def test_a_handler_content_length_that_agrees_is_sent_once(
    make: Callable[[], Response], options: dict[str, bool], length: bytes | None
) -> None:
    """A Content-Length a handler copied from elsewhere: sent once, as the server writes it.

    HEAD and 304 may describe the body a GET would get; 204 never carries one.
    """
    lines, _ = head_and_body(rendered(make(), **options))
    lengths = [line for line in lines if line.lower().startswith(b"content-length:")]
    assert lengths == ([b"Content-Length: " + length] if length is not None else []), lines


def test_header_injection_added_after_construction_raises_value_error() -> None:
    response = Response(text="ok")
    response.headers["Location"] = "/next\r\nSet-Cookie: evil=1"
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        render(response, True, False, False)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"body": b"x", "text": "x"}, ValueError, id="body-and-text"),
        pytest.param({"body": b"", "text": ""}, ValueError, id="empty-body-and-text"),
        pytest.param({"text": b"x"}, TypeError, id="bytes-as-text"),
        pytest.param({"status": 99}, ValueError, id="status-too-small"),
        pytest.param({"status": 1000}, ValueError, id="status-too-large"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Response(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("charset", "encoded", "content_type"),
    [(None, "é".encode(), "text/plain; charset=utf-8"), ("latin-1", b"\xe9", "text/plain; charset=latin-1")],
)
def test_a_str_body_is_text_as_in_aiohttp(charset: str | None, encoded: bytes, content_type: str) -> None:
    response = Response(body="é", charset=charset)
    assert response.body == encoded
    data = render(response, True, False, False)
    assert b"Content-Type: " + content_type.encode() + b"\r\n" in data and data.endswith(encoded)


# -- json_response --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "body"),
    [
        ({"a": 1, "b": [True, None]}, b'{"a": 1, "b": [true, null]}'),
        ([], b"[]"),
        (None, b"null"),
        ("caf\u00e9", b'"caf\\u00e9"'),
    ],
)
def test_json_response_body_and_type(data: object, body: bytes) -> None:
    response = json_response(data)
    assert response.status == 200
    assert response.body == body
    assert json.loads(response.body) == data
    head, sent = head_and_body(rendered(response))
    assert b"Content-Type: application/json; charset=utf-8" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert sent == body


def test_json_response_status_headers_type_and_dumps() -> None:
    response = json_response(
        {"id": 1},
        status=201,
        headers={"Location": "/items/1"},
        content_type="application/vnd.api+json",
        dumps=lambda data: json.dumps(data, separators=(",", ":")),
    )
    assert rendered(response) == (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/vnd.api+json; charset=utf-8\r\n"
        b"Location: /items/1\r\nContent-Length: 8\r\n" + NOW + b'\r\n{"id":1}'
    )


# -- the HTTPException family ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "status"),
    [
        pytest.param(HTTPBadRequest, 400, id="400"),
        pytest.param(HTTPForbidden, 403, id="403"),
        pytest.param(HTTPNotFound, 404, id="404"),
        pytest.param(lambda: HTTPMethodNotAllowed("POST", ["GET"]), 405, id="405"),
        pytest.param(HTTPConflict, 409, id="409"),
        pytest.param(lambda: HTTPRequestEntityTooLarge(1024), 413, id="413"),
        pytest.param(HTTPUnsupportedMediaType, 415, id="415"),
        pytest.param(HTTPUnprocessableEntity, 422, id="422"),
        pytest.param(HTTPInternalServerError, 500, id="500"),
        pytest.param(HTTPServiceUnavailable, 503, id="503"),
        pytest.param(HTTPException, 500, id="base-defaults-to-500"),
        pytest.param(lambda: HTTPException(status=418), 418, id="any-status"),
    ],
)
def test_http_exception_family(make: Callable[[], HTTPException], status: int) -> None:
    exc = make()
    assert isinstance(exc, HTTPException)
    assert isinstance(exc, Exception)
    assert exc.status == status
    response = exc.as_response()
    assert response.status == status
    head, body = head_and_body(rendered(response))
    phrase = HTTPStatus(status).phrase
    assert head[0] == f"HTTP/1.1 {status} {phrase}".encode()
    assert b"Content-Type: text/plain; charset=utf-8" in head
    if status == 413:
        assert body == b"413: request body is larger than the limit of 1024 bytes"
    else:
        assert body == f"{status}: {phrase}".encode()
    assert f"Content-Length: {len(body)}".encode() in head


def test_http_exception_with_any_status_renders_byte_exact() -> None:
    assert rendered(HTTPException(status=418).as_response()) == (
        b"HTTP/1.1 418 I'm a Teapot\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 17\r\n"
        + NOW
        + b"\r\n418: I'm a Teapot"
    )


def test_not_found_renders_byte_exact() -> None:
    assert rendered(HTTPNotFound().as_response(), keep_alive=False) == (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n"
        + NOW
        + b"Connection: close\r\n\r\n404: Not Found"
    )


def test_method_not_allowed_carries_sorted_allow_header() -> None:
    exc = HTTPMethodNotAllowed("DELETE", ["POST", "GET", "HEAD", "OPTIONS"])
    assert exc.method == "DELETE"
    assert exc.allowed_methods == frozenset({"GET", "HEAD", "OPTIONS", "POST"})
    assert rendered(exc.as_response()) == (
        b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Allow: GET, HEAD, OPTIONS, POST\r\nContent-Length: 23\r\n" + NOW + b"\r\n405: Method Not Allowed"
    )


def test_http_exception_custom_text_reason_and_headers() -> None:
    exc = HTTPNotFound(text="no such user", reason="Gone Fishing", headers={"X-Why": "deleted"})
    assert str(exc) == "no such user"
    assert rendered(exc.as_response()) == (
        b"HTTP/1.1 404 Gone Fishing\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"X-Why: deleted\r\nContent-Length: 12\r\n" + NOW + b"\r\nno such user"
    )


def test_http_exception_default_text_uses_custom_reason() -> None:
    assert HTTPForbidden(reason="Go Away").text == "403: Go Away"


def test_http_exception_with_body_and_content_type() -> None:
    exc = HTTPUnprocessableEntity(body=b'{"error":"bad"}', content_type="application/json")
    head, body = head_and_body(rendered(exc.as_response()))
    assert b"Content-Type: application/json" in head
    assert body == b'{"error":"bad"}'


def test_http_exception_204_has_no_body() -> None:
    exc = HTTPException(status=204)
    assert exc.text is None
    assert rendered(exc.as_response()) == b"HTTP/1.1 204 No Content\r\n" + NOW + b"\r\n"


@pytest.mark.parametrize("status", [99, 1000, 0, -1])
def test_http_exception_refuses_bad_status(status: int) -> None:
    with pytest.raises(ValueError):
        HTTPException(status=status)


def test_as_response_can_be_called_twice_independently() -> None:
    exc = HTTPBadRequest(headers={"X-A": "1"})
    first = exc.as_response()
    first.headers["X-A"] = "changed"
    assert exc.as_response().headers["X-A"] == "1"


def test_http_exception_can_be_raised_and_caught_by_family() -> None:
    with pytest.raises(HTTPException) as info:
        raise HTTPConflict(text="already exists")
    assert info.value.status == 409
    assert repr(info.value) == "<HTTPConflict status=409>"


def test_http_exception_refuses_text_and_body_together() -> None:
    # Response refuses both at once; an HTTPException should too, where the mistake is made,
    # rather than failing later inside the application's error boundary.
    with pytest.raises(ValueError, match="body or text"):
        HTTPBadRequest(text="bad", body=b"bad")


def test_text_is_encoded_in_the_charset_its_content_type_declares() -> None:
    response = Response(text="caf\u00e9", content_type="text/html; charset=iso-8859-1")
    head, body = head_and_body(rendered(response))
    assert b"Content-Type: text/html; charset=iso-8859-1" in head
    assert body.decode("iso-8859-1") == "caf\u00e9"


@pytest.mark.parametrize(
    "data",
    [
        {"id": 42, "name": "user-42"},
        {"a": 1.5, "b": [1, 2, None, True, False], "c": 'é"\n\t\u2028', "d": {"nested": []}},
        {1: "int key", 2.5: "float key", None: "null key", False: "bool key"},
        [float("nan"), float("inf"), -0.0, 10**30, 1e-7],
        "just a string",
        None,
    ],
)
def test_json_response_body_is_exactly_json_dumps(data: object) -> None:
    # json_response uses a pre-built encoder (PERF); its bytes must not differ.
    assert json_response(data).body == json.dumps(data).encode()


def test_json_response_with_a_custom_dumps_uses_it() -> None:
    assert json_response({"a": 1}, dumps=lambda d: "custom").text == "custom"
