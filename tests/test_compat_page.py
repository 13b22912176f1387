"""docs/aiohttp-compat.md is in step with what service.web exports.

Every name aiohttp.web exports (3.14) is on the page, once, with a status; what is
marked supported or different exists in service.web, and every aiohttp name that
service.web exports is marked so; the names of our own are listed too.
"""

from __future__ import annotations

import re

import pytest
from serving import REPO

from service import web

PAGE = REPO / "docs" / "aiohttp-compat.md"
# The page is complete: every name is decided, none left "not yet".
STATUSES = {"supported", "different", "not supported"}

AIOHTTP_WEB = (
    "AbstractResource",
    "AbstractRoute",
    "AbstractRouteDef",
    "AppKey",
    "AppRunner",
    "Application",
    "BaseRequest",
    "BaseRunner",
    "BaseSite",
    "CleanupError",
    "ContentCoding",
    "DynamicResource",
    "FileField",
    "FileResponse",
    "GracefulExit",
    "HTTPAccepted",
    "HTTPBadGateway",
    "HTTPBadRequest",
    "HTTPClientError",
    "HTTPConflict",
    "HTTPCreated",
    "HTTPError",
    "HTTPException",
    "HTTPExpectationFailed",
    "HTTPFailedDependency",
    "HTTPForbidden",
    "HTTPFound",
    "HTTPGatewayTimeout",
    "HTTPGone",
    "HTTPInsufficientStorage",
    "HTTPInternalServerError",
    "HTTPLengthRequired",
    "HTTPMethodNotAllowed",
    "HTTPMisdirectedRequest",
    "HTTPMove",
    "HTTPMovedPermanently",
    "HTTPMultipleChoices",
    "HTTPNetworkAuthenticationRequired",
    "HTTPNoContent",
    "HTTPNonAuthoritativeInformation",
    "HTTPNotAcceptable",
    "HTTPNotExtended",
    "HTTPNotFound",
    "HTTPNotImplemented",
    "HTTPNotModified",
    "HTTPOk",
    "HTTPPartialContent",
    "HTTPPaymentRequired",
    "HTTPPermanentRedirect",
    "HTTPPreconditionFailed",
    "HTTPPreconditionRequired",
    "HTTPProxyAuthenticationRequired",
    "HTTPRedirection",
    "HTTPRequestEntityTooLarge",
    "HTTPRequestHeaderFieldsTooLarge",
    "HTTPRequestRangeNotSatisfiable",
    "HTTPRequestTimeout",
    "HTTPRequestURITooLong",
    "HTTPResetContent",
    "HTTPSeeOther",
    "HTTPServerError",
    "HTTPServiceUnavailable",
    "HTTPSuccessful",
    "HTTPTemporaryRedirect",
    "HTTPTooManyRequests",
    "HTTPUnauthorized",
    "HTTPUnavailableForLegalReasons",
    "HTTPUnprocessableEntity",
    "HTTPUnsupportedMediaType",
    "HTTPUpgradeRequired",
    "HTTPUseProxy",
    "HTTPVariantAlsoNegotiates",
    "HTTPVersionNotSupported",
    "NamedPipeSite",
    "NotAppKeyWarning",
    "PayloadAccessError",
    "PlainResource",
    "PrefixedSubAppResource",
    "Request",
    "RequestHandler",
    "RequestKey",
    "RequestPayloadError",
    "Resource",
    "ResourceRoute",
    "Response",
    "ResponseKey",
    "RouteDef",
    "RouteTableDef",
    "Server",
    "ServerRunner",
    "SockSite",
    "StaticDef",
    "StaticResource",
    "StreamResponse",
    "TCPSite",
    "UnixSite",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "View",
    "WSMsgType",
    "WebSocketReady",
    "WebSocketResponse",
    "delete",
    "get",
    "head",
    "json_bytes_response",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "run_app",
    "static",
    "view",
)


def table(heading_before: str, heading_after: str | None) -> dict[str, list[str]]:
    """The rows (name -> the other cells) of the table between two headings."""
    text = PAGE.read_text(encoding="utf-8")
    part = text.split(heading_before, 1)[1]
    if heading_after is not None:
        part = part.split(heading_after, 1)[0]
    rows: dict[str, list[str]] = {}
    for line in part.splitlines():
        m = re.fullmatch(r"\| `(\w+)` \|(.*)\|", line)
        if m:
            assert m[1] not in rows, f"{m[1]} is listed twice"
            rows[m[1]] = [cell.strip() for cell in m[2].split("|")]
    return rows


def test_every_aiohttp_name_is_on_the_page_with_a_status() -> None:
    rows = table("| name | status | notes |", "## Names of our own")
    assert sorted(rows) == sorted(AIOHTTP_WEB)
    assert {cells[0] for cells in rows.values()} <= STATUSES
    assert all(cells[1] for cells in rows.values() if cells[0] != "supported"), "say what differs or why not"


def test_the_statuses_match_what_service_web_exports() -> None:
    rows = table("| name | status | notes |", "## Names of our own")
    exported = set(web.__all__)
    present = {name for name, cells in rows.items() if cells[0] in ("supported", "different")}
    assert sorted(present - exported) == [], "marked supported or different, but not in service.web"
    assert sorted((exported & set(AIOHTTP_WEB)) - present) == [], "in service.web, but not marked so"


def test_our_own_names_are_listed() -> None:
    ours = table("## Names of our own", "## Where we differ")
    assert sorted(ours) == sorted(set(web.__all__) - set(AIOHTTP_WEB))
    assert all(cells[0] for cells in ours.values())


# aiohttp attributes these classes do not have, on purpose: each is named (`name`) in the
# class's row of the page, with the reason.
NOT_HERE = {
    "Request": {"ATTRS", "message", "writer"},
    "StreamResponse": {"ATTRS", "output_length"},
    "Response": {"ATTRS", "output_length"},
    "FileResponse": {"ATTRS", "output_length"},
    "Application": {"ATTRS", "debug", "loop", "make_handler"},
    "UrlDispatcher": {"NAME_SPLIT_RE", "index_resource", "post_init", "unindex_resource"},
    "View": set(),
    "RouteTableDef": set(),
}


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_the_classes_have_aiohttps_attributes_or_say_why_not() -> None:
    aiohttp_web = pytest.importorskip("aiohttp.web")  # (in the test extra: always there in CI)
    pairs = {
        "Request": (aiohttp_web.Request, web.Request),
        "StreamResponse": (aiohttp_web.StreamResponse(), web.StreamResponse()),
        "Response": (aiohttp_web.Response(), web.Response()),
        "FileResponse": (aiohttp_web.FileResponse, web.FileResponse),
        "Application": (aiohttp_web.Application(), web.Application()),
        "UrlDispatcher": (aiohttp_web.UrlDispatcher(), web.Router()),
        "View": (aiohttp_web.View, web.View),
        "RouteTableDef": (aiohttp_web.RouteTableDef(), web.RouteTableDef()),
    }
    rows = table("| name | status | notes |", "## Names of our own")
    for name, (theirs, ours) in pairs.items():
        missing = {attr for attr in _public(theirs) if not hasattr(ours, attr)}
        assert missing == NOT_HERE[name], f"{name}: aiohttp has {sorted(missing)} that we lack"
        for attr in missing:
            assert f"`{attr}`" in rows[name][1], f"the {name} row does not say why there is no `{attr}`"
