"""What a request says about itself beyond its method, path and body: aiohttp's attributes.

``RequestInfo`` is a mixin of ``Request`` (request.py keeps the body and the hot
path): the URL (``url``, ``rel_url``, as yarl URLs like aiohttp's), where the
request came from (``scheme``, ``secure``, ``host``, ``remote``, ``forwarded``;
forwarding.py decides which proxies to believe), the conditional-request fields
(RFC 9110 section 13.1: ``if_match``, ``if_none_match``, ``if_modified_since``,
``if_unmodified_since``, ``if_range``), ``http_range`` (section 14.2), and
``clone()``. Each is computed when asked, from the raw header pairs: a handler
that asks for none of them pays nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from yarl import URL

from .conditional import ETag, etag_list, parse_http_date
from .forwarding import Origin, TrustedProxies, origin_of, parse_forwarded

if TYPE_CHECKING:
    import asyncio

    from .request import Request

__all__ = ["RequestInfo"]

_FORWARDING = (b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
NO_PROXIES = TrustedProxies()


class RequestInfo:
    """The lazily computed attributes of ``Request`` (see the module docstring)."""

    __slots__ = ()

    def fields(self, name: str) -> list[str]:
        """Every value of the header field ``name``, in order, without building ``headers``."""
        wanted = name.lower().encode("latin-1")
        size = len(wanted)
        return [
            v.decode("latin-1")
            for n, v in self.raw_headers  # type: ignore[attr-defined]
            if len(n) == size and n.lower() == wanted
        ]

    def _header(self, name: str) -> str | None:
        values = self.fields(name)
        return values[0] if values else None

    # -- where it came from -----------------------------------------------------------------
    @property
    def _origin(self) -> Origin:
        root = getattr(self.app, "root", self.app)  # (a sub-application's requests: the root's proxies)
        trusted: TrustedProxies = getattr(root, "trusted_proxies", NO_PROXIES)
        peer: str | None = self.protocol.remote  # type: ignore[attr-defined]
        host = self._header("Host")
        if not trusted or peer not in trusted:
            return Origin("http", host, peer)
        fields = {name.decode(): self.fields(name.decode()) for name in _FORWARDING}
        return origin_of(peer, host, fields, trusted, root.proxy_headers)

    @property
    def scheme(self) -> str:
        """``http``, or what a trusted proxy says the client used (never the target's)."""
        return self._origin.scheme

    @property
    def secure(self) -> bool:
        return self.scheme == "https"

    @property
    def host(self) -> str | None:
        """The ``Host`` field (or a trusted proxy's), port included if sent."""
        return self._origin.host

    @property
    def remote(self) -> str | None:
        """The client's address: the peer's, or what trusted proxies say it was."""
        if not getattr(getattr(self.app, "root", self.app), "trusted_proxies", None):
            return self.protocol.remote  # type: ignore[attr-defined, no-any-return]
        return self._origin.remote

    @property
    def forwarded(self) -> tuple[Mapping[str, str], ...]:
        """Every ``Forwarded`` element as a mapping, as sent (trusted or not: see ``remote``)."""
        return parse_forwarded(self.fields("Forwarded"))

    @property
    def rel_url(self) -> URL:
        """The path and query as sent, a relative URL."""
        return URL(self.raw_path, encoded=True)  # type: ignore[attr-defined]

    @property
    def url(self) -> URL:
        """The absolute URL: scheme and host as above, path and query as sent."""
        origin = self._origin
        base = URL.build(scheme=origin.scheme, authority=origin.host or "localhost", encoded=True)
        return base.join(self.rel_url)

    @property
    def transport(self) -> asyncio.Transport | None:
        return self.protocol.transport  # type: ignore[attr-defined, no-any-return]

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's ``get_extra_info`` (``peername``, ``sockname``, ``socket``...)."""
        transport = self.transport
        return default if transport is None else transport.get_extra_info(name, default)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        import asyncio

        return asyncio.get_running_loop()

    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The task the request's handler runs in (its connection's; None outside the loop)."""
        import asyncio

        try:
            return asyncio.current_task()
        except RuntimeError:
            return None

    # -- the body, aiohttp's smaller names ---------------------------------------------------
    POST_METHODS = frozenset({"PATCH", "POST", "PUT", "TRACE", "DELETE"})  # (aiohttp's)

    @property
    def has_body(self) -> bool:
        """aiohttp's older name of ``body_exists``."""
        return self.body_exists  # type: ignore[attr-defined, no-any-return]

    @property
    def client_max_size(self) -> int | None:
        """The limit of a whole read of this request's body: its route's ``max_body``, else
        the application's ``client_max_size``."""
        return self.max_body()  # type: ignore[attr-defined, no-any-return]

    @property
    def client_max_fields(self) -> int:
        """The most fields ``post()`` takes (forms.py)."""
        from .forms import MAX_FIELDS

        return MAX_FIELDS

    async def release(self) -> None:
        """Read and drop what is left of the body."""
        await self.content.wait_eof()  # type: ignore[attr-defined]

    # -- conditional requests (RFC 9110 section 13.1) ---------------------------------------
    @property
    def if_match(self) -> tuple[ETag, ...] | None:
        fields = self.fields("If-Match")
        return tuple(etag_list(fields)) if fields else None

    @property
    def if_none_match(self) -> tuple[ETag, ...] | None:
        fields = self.fields("If-None-Match")
        return tuple(etag_list(fields)) if fields else None

    @property
    def if_modified_since(self) -> datetime | None:
        return parse_http_date(self._header("If-Modified-Since"))

    @property
    def if_unmodified_since(self) -> datetime | None:
        return parse_http_date(self._header("If-Unmodified-Since"))

    @property
    def if_range(self) -> datetime | None:
        """``If-Range`` as a date (None when absent or an entity tag, as aiohttp's)."""
        return parse_http_date(self._header("If-Range"))

    @property
    def http_range(self) -> slice:
        """``Range: bytes=a-b`` as ``slice(a, b + 1)``; ``-n`` as ``slice(-n, None)``; no
        field as ``slice(None, None)``. ``ValueError`` when it is not one range of bytes."""
        field = self._header("Range")
        if field is None:
            return slice(None, None, 1)
        match = _RANGE.fullmatch(field.strip())
        if match is None or not (match[1] or match[2]):
            raise ValueError(f"Range {field!r} is not one range of bytes")
        first, last = match[1], match[2]
        if not first:
            return slice(-int(last), None, 1)
        if last and int(last) < int(first):
            raise ValueError(f"Range {field!r} ends before it starts")
        return slice(int(first), int(last) + 1 if last else None, 1)

    # -- clone ------------------------------------------------------------------------------
    def clone(
        self,
        *,
        method: str | None = None,
        rel_url: str | URL | None = None,
        headers: Mapping[str, str] | None = None,
        scheme: str | None = None,
        host: str | None = None,
        remote: str | None = None,
    ) -> Request:
        """A copy with some of its attributes replaced (aiohttp's ``clone``); it reads
        the same body as this request, and shares none of its per-request state."""
        from .request import clone_request

        return clone_request(
            self,  # type: ignore[arg-type]
            method=method,
            rel_url=None if rel_url is None else str(rel_url),
            headers=headers,
            origin={"scheme": scheme, "host": host, "remote": remote},
        )

    # provided by Request
    app: Any
