"""Cookies (RFC 6265): reading a request's ``Cookie`` field, writing ``Set-Cookie``.

Both are done only when a handler asks (``request.cookies``, ``response.set_cookie``):
a request that never touches cookies pays nothing. Reading is lenient, as browsers
are: a malformed pair is skipped, not the whole field (``http.cookies.SimpleCookie``
drops every cookie after one it cannot parse). Writing is strict: a name must be a
token and nothing may carry CR, LF or other control characters, so a cookie can
never split the response head.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

__all__ = ["cookie_name", "parse_cookie_header", "set_cookie_value"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*\Z")  # RFC 6265 cookie-octet
_ATTRIBUTE_TEXT = re.compile(r"[^\x00-\x1f\x7f;]*\Z")
SameSite = Literal["Strict", "Lax", "None", "strict", "lax", "none"]


def parse_cookie_header(field: str) -> dict[str, str]:
    """``a=1; b="two"`` -> ``{"a": "1", "b": "two"}``; the first of a repeated name wins."""
    cookies: dict[str, str] = {}
    for pair in field.split(";"):
        name, eq, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or _TOKEN.match(name) is None:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)
    return cookies


def set_cookie_value(
    name: str,
    value: str,
    *,
    expires: str | datetime | None = None,
    domain: str | None = None,
    max_age: int | str | None = None,
    path: str | None = "/",
    secure: bool | None = None,
    httponly: bool | None = None,
    samesite: SameSite | str | None = None,
    partitioned: bool | None = None,
) -> str:
    """The value of one ``Set-Cookie`` field. Raises ``ValueError`` for what cannot be sent."""
    if _TOKEN.match(name) is None:
        raise ValueError(f"invalid cookie name {name!r}")
    if _COOKIE_OCTETS.match(value) is None:
        if _ATTRIBUTE_TEXT.match(value) is None:
            raise ValueError(f"cookie {name!r}: its value holds a control character or ';'")
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    parts = [f"{name}={value}"]
    if domain is not None:
        parts.append(f"Domain={_attribute(name, domain)}")
    if expires is not None:
        if isinstance(expires, datetime):
            expires = format_datetime(expires.astimezone(UTC), usegmt=True)
        parts.append(f"Expires={_attribute(name, expires)}")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if path is not None:
        parts.append(f"Path={_attribute(name, path)}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        if samesite.lower() not in ("strict", "lax", "none"):
            raise ValueError(f"cookie {name!r}: samesite must be Strict, Lax or None, not {samesite!r}")
        parts.append(f"SameSite={samesite.capitalize()}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def cookie_name(set_cookie: str) -> str:
    """The name a ``Set-Cookie`` value sets."""
    return set_cookie.partition("=")[0]


def _attribute(name: str, text: str) -> str:
    if _ATTRIBUTE_TEXT.match(text) is None:
        raise ValueError(f"cookie {name!r}: an attribute holds a control character or ';': {text!r}")
    return text
