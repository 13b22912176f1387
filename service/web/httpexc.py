"""HTTP errors that handlers raise -- or return -- to answer with a status.

As in aiohttp, ``raise web.HTTPNotFound()`` and ``return web.HTTPNotFound()`` both
answer 404. An ``HTTPException`` carries what its response needs (status,
reason, text, headers); ``Application`` turns it into a ``Response``. The family
is deliberately small: the common client and server errors, plus
``HTTPException(status=...)`` for any other code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import ClassVar

from .multidict import CIMultiDict
from .response import Response, check_status, reason_phrase

__all__ = [
    "HTTPBadRequest",
    "HTTPConflict",
    "HTTPException",
    "HTTPForbidden",
    "HTTPInternalServerError",
    "HTTPMethodNotAllowed",
    "HTTPNotFound",
    "HTTPRequestEntityTooLarge",
    "HTTPServiceUnavailable",
    "HTTPUnprocessableEntity",
    "HTTPUnsupportedMediaType",
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


class HTTPBadRequest(HTTPException):
    status_code = 400


class HTTPForbidden(HTTPException):
    status_code = 403


class HTTPNotFound(HTTPException):
    status_code = 404


class HTTPMethodNotAllowed(HTTPException):
    """405, with the ``Allow`` header listing the methods the path does accept."""

    status_code = 405

    def __init__(self, method: str, allowed_methods: Iterable[str], **kwargs: object) -> None:
        self.method = method
        self.allowed_methods = frozenset(allowed_methods)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.headers["Allow"] = ", ".join(sorted(self.allowed_methods))


class HTTPConflict(HTTPException):
    status_code = 409


class HTTPRequestEntityTooLarge(HTTPException):
    status_code = 413

    def __init__(self, max_size: int, actual_size: int | None = None, **kwargs: object) -> None:
        self.max_size = max_size
        self.actual_size = actual_size
        if "text" not in kwargs:
            kwargs["text"] = f"413: request body is larger than the limit of {max_size} bytes"
        super().__init__(**kwargs)  # type: ignore[arg-type]


class HTTPUnsupportedMediaType(HTTPException):
    status_code = 415


class HTTPUnprocessableEntity(HTTPException):
    status_code = 422


class HTTPInternalServerError(HTTPException):
    status_code = 500


class HTTPServiceUnavailable(HTTPException):
    status_code = 503


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
