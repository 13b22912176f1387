"""aiohttp's HTTP exception family: every class, its status and its base, raised or returned.

The table is aiohttp's (aiohttp/web_exceptions.py), so a handler written for aiohttp
finds each name here with the same meaning.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from service import Application, Request, Server, web
from service.web import httpexc

FAMILY: dict[str, tuple[int, str]] = {
    # 2xx
    "HTTPOk": (200, "HTTPSuccessful"),
    "HTTPCreated": (201, "HTTPSuccessful"),
    "HTTPAccepted": (202, "HTTPSuccessful"),
    "HTTPNonAuthoritativeInformation": (203, "HTTPSuccessful"),
    "HTTPNoContent": (204, "HTTPSuccessful"),
    "HTTPResetContent": (205, "HTTPSuccessful"),
    "HTTPPartialContent": (206, "HTTPSuccessful"),
    # 3xx
    "HTTPMultipleChoices": (300, "HTTPMove"),
    "HTTPMovedPermanently": (301, "HTTPMove"),
    "HTTPFound": (302, "HTTPMove"),
    "HTTPSeeOther": (303, "HTTPMove"),
    "HTTPNotModified": (304, "HTTPRedirection"),
    "HTTPUseProxy": (305, "HTTPMove"),
    "HTTPTemporaryRedirect": (307, "HTTPMove"),
    "HTTPPermanentRedirect": (308, "HTTPMove"),
    # 4xx
    "HTTPBadRequest": (400, "HTTPClientError"),
    "HTTPUnauthorized": (401, "HTTPClientError"),
    "HTTPPaymentRequired": (402, "HTTPClientError"),
    "HTTPForbidden": (403, "HTTPClientError"),
    "HTTPNotFound": (404, "HTTPClientError"),
    "HTTPMethodNotAllowed": (405, "HTTPClientError"),
    "HTTPNotAcceptable": (406, "HTTPClientError"),
    "HTTPProxyAuthenticationRequired": (407, "HTTPClientError"),
    "HTTPRequestTimeout": (408, "HTTPClientError"),
    "HTTPConflict": (409, "HTTPClientError"),
    "HTTPGone": (410, "HTTPClientError"),
    "HTTPLengthRequired": (411, "HTTPClientError"),
    "HTTPPreconditionFailed": (412, "HTTPClientError"),
    "HTTPRequestEntityTooLarge": (413, "HTTPClientError"),
    "HTTPRequestURITooLong": (414, "HTTPClientError"),
    "HTTPUnsupportedMediaType": (415, "HTTPClientError"),
    "HTTPRequestRangeNotSatisfiable": (416, "HTTPClientError"),
    "HTTPExpectationFailed": (417, "HTTPClientError"),
    "HTTPMisdirectedRequest": (421, "HTTPClientError"),
    "HTTPUnprocessableEntity": (422, "HTTPClientError"),
    "HTTPFailedDependency": (424, "HTTPClientError"),
    "HTTPUpgradeRequired": (426, "HTTPClientError"),
    "HTTPPreconditionRequired": (428, "HTTPClientError"),
    "HTTPTooManyRequests": (429, "HTTPClientError"),
    "HTTPRequestHeaderFieldsTooLarge": (431, "HTTPClientError"),
    "HTTPUnavailableForLegalReasons": (451, "HTTPClientError"),
    # 5xx
    "HTTPInternalServerError": (500, "HTTPServerError"),
    "HTTPNotImplemented": (501, "HTTPServerError"),
    "HTTPBadGateway": (502, "HTTPServerError"),
    "HTTPServiceUnavailable": (503, "HTTPServerError"),
    "HTTPGatewayTimeout": (504, "HTTPServerError"),
    "HTTPVersionNotSupported": (505, "HTTPServerError"),
    "HTTPVariantAlsoNegotiates": (506, "HTTPServerError"),
    "HTTPInsufficientStorage": (507, "HTTPServerError"),
    "HTTPNotExtended": (510, "HTTPServerError"),
    "HTTPNetworkAuthenticationRequired": (511, "HTTPServerError"),
}
BASES = {"HTTPError", "HTTPClientError", "HTTPServerError", "HTTPSuccessful", "HTTPRedirection", "HTTPMove"}


def make(name: str, **kwargs: Any) -> httpexc.HTTPException:
    cls = getattr(web, name)
    if issubclass(cls, httpexc.HTTPMove):
        return cls("/elsewhere", **kwargs)
    if name == "HTTPMethodNotAllowed":
        return cls("DELETE", ["GET", "POST"], **kwargs)
    if name == "HTTPRequestEntityTooLarge":
        return cls(10, 11, **kwargs)
    if name == "HTTPUnavailableForLegalReasons":
        return cls("https://authority.example/blocked", **kwargs)
    return cls(**kwargs)


def test_the_family_is_aiohttps_whole() -> None:
    assert set(httpexc.__all__) == set(FAMILY) | BASES | {"HTTPException"}
    assert set(httpexc.__all__) <= set(web.__all__)


@pytest.mark.parametrize(
    ("name", "status", "base"), [(n, s, b) for n, (s, b) in FAMILY.items()], ids=list(FAMILY)
)
def test_each_class_has_its_status_and_its_base(name: str, status: int, base: str) -> None:
    exc = make(name)
    assert exc.status == status
    assert isinstance(exc, getattr(web, base)) and isinstance(exc, web.HTTPException)
    assert isinstance(exc, httpexc.HTTPError) == (status >= 400)


@pytest.mark.parametrize("name", [n for n, (_, b) in FAMILY.items() if b == "HTTPMove"])
def test_a_redirect_needs_a_location(name: str) -> None:
    with pytest.raises(ValueError, match="location"):
        getattr(web, name)("")


def _app() -> Application:
    app = Application()

    async def raising(request: Request) -> web.Response:
        raise make(request.match_info["name"], headers={"X-Extra": "1"})

    async def returning(request: Request) -> Any:
        return make(request.match_info["name"], text="custom", reason="Custom Reason")

    app.router.add_get("/raise/{name}", raising)
    app.router.add_get("/return/{name}", returning)
    return app


@pytest.mark.parametrize(("name", "status"), [(n, s) for n, (s, _) in FAMILY.items()], ids=list(FAMILY))
async def test_raised_or_returned_each_answers_its_status(
    make_server: Callable[..., Awaitable[Server]], name: str, status: int
) -> None:
    server = await make_server(_app())
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}", follow_redirects=False
    ) as client:
        raised = await client.get(f"/raise/{name}")
        returned = await client.get(f"/return/{name}")
    for response in (raised, returned):
        assert response.status_code == status
        if status in (204, 304):
            assert response.content == b"" and "Content-Length" not in response.headers
        if 300 <= status < 400 and status != 304:
            assert response.headers["Location"] == "/elsewhere"
    assert raised.headers["X-Extra"] == "1"
    if status == 413:  # says which limit
        assert raised.text == "413: request body is larger than the limit of 10 bytes"
    elif status not in (204, 304):
        assert raised.text == f"{status}: {raised.reason_phrase}"
        assert returned.text == "custom"
    assert returned.reason_phrase == "Custom Reason"
    if status == 451:
        assert raised.headers["Link"] == '<https://authority.example/blocked>; rel="blocked-by"'
    if status == 405:
        assert raised.headers["Allow"] == "GET, POST"


async def test_a_middleware_sees_a_raised_redirect(make_server: Callable[..., Awaitable[Server]]) -> None:
    seen: list[int] = []

    @web.middleware
    async def watch(request: Request, handler: Any) -> Any:
        try:
            return await handler(request)
        except web.HTTPRedirection as exc:
            seen.append(exc.status)
            raise

    async def login(request: Request) -> web.Response:
        raise web.HTTPFound("/login")

    app = Application(middlewares=[watch])
    app.router.add_get("/", login)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = await client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["Location"], seen) == (302, "/login", [302])
