"""HTTP errors that handlers raise -- or return -- to answer with a status.

As in aiohttp, ``raise web.HTTPNotFound()`` and ``return web.HTTPNotFound()`` both
answer 404. An ``HTTPException`` carries what its response needs (status,
reason, text, headers); ``Application`` turns it into a ``Response``. The family
is aiohttp's, class for class and with the same bases (``HTTPError`` >
``HTTPClientError`` / ``HTTPServerError``, ``HTTPSuccessful``, ``HTTPRedirection``
> ``HTTPMove`` for the redirects, which need a ``location``), plus
``HTTPException(status=...)`` for any other code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import ClassVar

from .multidict import CIMultiDict
from .response import Response, check_status, reason_phrase

__all__ = [
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
]


class HTTPException(Exception):
    """An HTTP answer as an exception. ``status`` picks the code when not a subclass."""

    status_code: ClassVar[int] = 500

    def __init__(
        self,
        *,
        status: int | None = None,
        reason: str | None = None,
        text: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.status = status if status is not None else self.status_code
        check_status(self.status)
        self.reason = reason
        if text is not None and body is not None:
            raise ValueError("pass body or text, not both")
        if text is None and body is None and not (self.status in (204, 304) or self.status < 200):
            text = f"{self.status}: {reason or reason_phrase(self.status)}"
        self.text = text
        self.body = body
        self.headers = CIMultiDict(headers) if headers else CIMultiDict()
        self.content_type = content_type
        # Not super(): a subclass may also derive from an exception with another
        # __init__ (InvalidJSONBody is a json.JSONDecodeError too).
        Exception.__init__(self, text or f"{self.status}")

    def as_response(self) -> Response:
        return Response(
            status=self.status,
            reason=self.reason,
            text=self.text,
            body=self.body,
            headers=self.headers,
            content_type=self.content_type,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} status={self.status}>"


# -- the families, as aiohttp has them ------------------------------------------------------


class HTTPError(HTTPException):
    """4xx and 5xx."""


class HTTPClientError(HTTPError):
    status_code = 400


class HTTPServerError(HTTPError):
    status_code = 500


class HTTPSuccessful(HTTPException):
    """2xx, raised or returned as an answer like any other."""

    status_code = 200


class HTTPRedirection(HTTPException):
    status_code = 300


class HTTPMove(HTTPRedirection):
    """A redirect: ``location`` is required and sent as the ``Location`` header."""

    def __init__(self, location: str, **kwargs: object) -> None:
        if not location:
            raise ValueError("HTTP redirects need a location to redirect to.")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.location = str(location)
        self.headers["Location"] = self.location


# -- 2xx ---------------------------------------------------------------------------------------


class HTTPOk(HTTPSuccessful):
    status_code = 200


class HTTPCreated(HTTPSuccessful):
    status_code = 201


class HTTPAccepted(HTTPSuccessful):
    status_code = 202


class HTTPNonAuthoritativeInformation(HTTPSuccessful):
    status_code = 203


class HTTPNoContent(HTTPSuccessful):
    status_code = 204


class HTTPResetContent(HTTPSuccessful):
    status_code = 205


class HTTPPartialContent(HTTPSuccessful):
    status_code = 206


# -- 3xx ---------------------------------------------------------------------------------------


class HTTPMultipleChoices(HTTPMove):
    status_code = 300


class HTTPMovedPermanently(HTTPMove):
    status_code = 301


class HTTPFound(HTTPMove):
    status_code = 302


class HTTPSeeOther(HTTPMove):
    status_code = 303


class HTTPNotModified(HTTPRedirection):
    status_code = 304


class HTTPUseProxy(HTTPMove):
    status_code = 305


class HTTPTemporaryRedirect(HTTPMove):
    status_code = 307


class HTTPPermanentRedirect(HTTPMove):
    status_code = 308


# -- 4xx ---------------------------------------------------------------------------------------


class HTTPBadRequest(HTTPClientError):
    status_code = 400


class HTTPUnauthorized(HTTPClientError):
    status_code = 401


class HTTPPaymentRequired(HTTPClientError):
    status_code = 402


class HTTPForbidden(HTTPClientError):
    status_code = 403


class HTTPNotFound(HTTPClientError):
    status_code = 404


class HTTPMethodNotAllowed(HTTPClientError):
    """405, with the ``Allow`` header listing the methods the path does accept."""

    status_code = 405

    def __init__(self, method: str, allowed_methods: Iterable[str], **kwargs: object) -> None:
        self.method = method
        self.allowed_methods = frozenset(allowed_methods)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.headers["Allow"] = ", ".join(sorted(self.allowed_methods))


class HTTPNotAcceptable(HTTPClientError):
    status_code = 406


class HTTPProxyAuthenticationRequired(HTTPClientError):
    status_code = 407


class HTTPRequestTimeout(HTTPClientError):
    status_code = 408


class HTTPConflict(HTTPClientError):
    status_code = 409


class HTTPGone(HTTPClientError):
    status_code = 410


class HTTPLengthRequired(HTTPClientError):
    status_code = 411


class HTTPPreconditionFailed(HTTPClientError):
    status_code = 412


class HTTPRequestEntityTooLarge(HTTPClientError):
    status_code = 413

    def __init__(self, max_size: int, actual_size: int | None = None, **kwargs: object) -> None:
        self.max_size = max_size
        self.actual_size = actual_size
        if "text" not in kwargs:
            kwargs["text"] = f"413: request body is larger than the limit of {max_size} bytes"
        super().__init__(**kwargs)  # type: ignore[arg-type]


class HTTPRequestURITooLong(HTTPClientError):
    status_code = 414


class HTTPUnsupportedMediaType(HTTPClientError):
    status_code = 415


class HTTPRequestRangeNotSatisfiable(HTTPClientError):
    status_code = 416


class HTTPExpectationFailed(HTTPClientError):
    status_code = 417


class HTTPMisdirectedRequest(HTTPClientError):
    status_code = 421


class HTTPUnprocessableEntity(HTTPClientError):
    status_code = 422


class HTTPFailedDependency(HTTPClientError):
    status_code = 424


class HTTPUpgradeRequired(HTTPClientError):
    status_code = 426


class HTTPPreconditionRequired(HTTPClientError):
    status_code = 428


class HTTPTooManyRequests(HTTPClientError):
    status_code = 429


class HTTPRequestHeaderFieldsTooLarge(HTTPClientError):
    status_code = 431


class HTTPUnavailableForLegalReasons(HTTPClientError):
    """451, with ``Link: <link>; rel="blocked-by"`` naming who blocks it (RFC 7725)."""

    status_code = 451

    def __init__(self, link: str | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.link = link
        if link:
            self.headers["Link"] = f'<{link}>; rel="blocked-by"'


# -- 5xx ---------------------------------------------------------------------------------------


class HTTPInternalServerError(HTTPServerError):
    status_code = 500


class HTTPNotImplemented(HTTPServerError):
    status_code = 501


class HTTPBadGateway(HTTPServerError):
    status_code = 502


class HTTPServiceUnavailable(HTTPServerError):
    status_code = 503


class HTTPGatewayTimeout(HTTPServerError):
    status_code = 504


class HTTPVersionNotSupported(HTTPServerError):
    status_code = 505


class HTTPVariantAlsoNegotiates(HTTPServerError):
    status_code = 506


class HTTPInsufficientStorage(HTTPServerError):
    status_code = 507


class HTTPNotExtended(HTTPServerError):
    status_code = 510


class HTTPNetworkAuthenticationRequired(HTTPServerError):
    status_code = 511


class InvalidJSONBody(HTTPBadRequest, json.JSONDecodeError):
    """``request.json()`` on a body that is not JSON: a 400 when nobody catches it.

    Also a ``json.JSONDecodeError`` (so a ``ValueError``), so that handlers written
    to catch what ``json.loads`` raises keep working. Its ``doc`` is left empty and
    its text names the place, never the input: the client's bytes are not echoed.
    """

    def __init__(self, error: ValueError) -> None:
        if isinstance(error, json.JSONDecodeError):
            detail = f": {error.msg} (line {error.lineno}, column {error.colno})"
            self.msg, self.pos, self.lineno, self.colno = error.msg, error.pos, error.lineno, error.colno
        else:  # another loads(): its message may quote the input
            detail = ""
            self.msg, self.pos, self.lineno, self.colno = "invalid JSON", 0, 1, 1
        self.doc = ""
        super().__init__(text=f"400: the request body is not valid JSON{detail}")

    def __reduce__(self) -> tuple[object, ...]:
        # JSONDecodeError's own __reduce__ passes (msg, doc, pos) to __init__, which
        # takes the original error: rebuild one from the fields instead.
        return (_invalid_json_body, (self.msg, self.pos, self.lineno, self.colno))


def _invalid_json_body(msg: str, pos: int, lineno: int, colno: int) -> InvalidJSONBody:
    error = json.JSONDecodeError(msg, "\n" * (lineno - 1) + " " * (colno - 1), pos)
    error.pos, error.lineno, error.colno = pos, lineno, colno
    return InvalidJSONBody(error)
