"""What a handler sees: one parsed HTTP request, mostly parsed lazily.

The connection hands over raw pieces (method, target bytes, header pairs as
bytes); headers, query and body become Python objects only when a handler asks
(PERF: most handlers read one or two of them, many none).

The connection delivers the body through its side of the request, nothing a
handler calls: ``feed_body()`` each piece (held up to the application's
``client_max_size``), ``end_body()`` once no more comes (with an error if it
failed), and ``body_done`` / ``body_size`` to ask where it is. ``read()`` waits
for the end of it. (PERF: the body's state lives here, not in an object of its
own: one more object per request with a body measured ~4% of POST /echo.) A
request sent with ``Expect: 100-continue`` gets its ``100 Continue`` only when
the handler first asks for the body, so a handler that answers without reading
never makes the client upload. The request reaches its connection only through
``Connection``, the narrow interface declared below.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar
from urllib.parse import parse_qsl

from .cookies import parse_cookie_header
from .httpexc import HTTPRequestEntityTooLarge, InvalidJSONBody
from .multidict import CIMultiDict, MultiDict

if TYPE_CHECKING:
    from .app import Application
    from .response import StreamResponse, Writer
    from .router import Route

__all__ = ["HttpVersion", "Request"]

M = TypeVar("M")
VALIDATED_KEY = "service.validated"  # in the request's state: {model class: what it validated}


class HttpVersion(NamedTuple):
    major: int
    minor: int


HTTP10 = HttpVersion(1, 0)
HTTP11 = HttpVersion(1, 1)


class Connection(Protocol):
    """The connection as a request and its response see it (implemented in protocol.py)."""

    def begin_response(self, request: Request, response: StreamResponse) -> tuple[Writer, bool, bool, bool]:
        """How ``response`` is to be sent: (writer, keep-alive, HTTP/1.0?, HEAD?)."""
        ...

    def response_started(self, request: Request, response: StreamResponse, keep_alive: bool) -> None:
        """``response``'s head rendered fine and is being sent; the connection follows it."""
        ...

    def want_body(self, request: Request, expect_continue: bool) -> None:
        """A handler waits for ``request``'s body: say ``100 Continue`` if asked, read on."""
        ...

    @property
    def remote(self) -> str | None: ...
    @property
    def connected(self) -> bool: ...


class Request(MutableMapping[str, Any]):
    """One HTTP request. Also a mapping for per-request state: ``request["user"]``."""

    __slots__ = (
        "method",
        "path",
        "query_string",
        "version",
        "keep_alive",
        "app",
        "match_info",
        "route",
        "_raw_target",
        "_raw_headers",
        "_conn",
        "_headers",
        "_query",
        "_state",
        "_has_body",
        "_parts",
        "_body_size",
        "_body_done",
        "_body_error",
        "_body_waiter",
        "_body",
        "_expect_continue",
        "_content_length",
    )

    def __init__(
        self,
        method: str,
        raw_target: bytes,
        path: str,
        query_string: str,
        raw_headers: list[tuple[bytes, bytes]],
        version: HttpVersion,
        keep_alive: bool,
        conn: Connection,
        app: Application,
        content_length: int | None = None,
        expect_continue: bool = False,
        has_body: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.version = version
        self.keep_alive = keep_alive
        self.app = app
        self.match_info: dict[str, Any] = {}
        self.route: Route | None = None
        self._raw_target = raw_target
        self._raw_headers = raw_headers
        self._conn = conn
        self._headers: CIMultiDict | None = None
        self._query: MultiDict | None = None
        self._state: dict[str, Any] | None = None
        self._has_body = has_body
        self._parts: list[bytes] | None = None  # the body so far (PERF: a list only once a piece comes)
        self._body_size = 0  # bytes of it received so far
        self._body_done = not has_body  # no more of it will come (complete, or failed)
        self._body_error: Exception | None = None  # why it cannot be read, if it cannot
        self._body_waiter: asyncio.Future[None] | None = None
        self._body: bytes | None = None if has_body else b""  # once read whole
        self._expect_continue = expect_continue
        self._content_length = content_length

    # -- the request line and headers -------------------------------------------
    @property
    def raw_path(self) -> str:
        """The request target exactly as sent, query string included."""
        return self._raw_target.decode("latin-1")

    @property
    def path_qs(self) -> str:
        """Path and query, percent-encoded as sent (as aiohttp's): decoded, a ``%3F``
        in the path would read as the start of the query."""
        return self.raw_path

    @property
    def query(self) -> MultiDict:
        if self._query is None:
            self._query = MultiDict(parse_qsl(self.query_string, keep_blank_values=True))
        return self._query

    @property
    def headers(self) -> CIMultiDict:
        if self._headers is None:
            pairs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw_headers]
            self._headers = CIMultiDict.adopt(pairs)
        return self._headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple(self._raw_headers)

    @property
    def host(self) -> str | None:
        return self.headers.get("Host")

    def _content_type_field(self) -> str:
        """The first Content-Type field's value, found without building ``headers``
        (PERF: a body model checks it on every request; the mapping costs ~5x more)."""
        if self._headers is not None:
            return self._headers.get("Content-Type", "")
        for name, value in self._raw_headers:
            if len(name) == 12 and name.lower() == b"content-type":
                return value.decode("latin-1")
        return ""

    @property
    def content_type(self) -> str:
        raw = self._content_type_field()
        return raw.split(";", 1)[0].strip().lower() or "application/octet-stream"

    @property
    def charset(self) -> str | None:
        raw = self._content_type_field()
        for param in raw.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"').lower() or None
        return None

    @property
    def cookies(self) -> Mapping[str, str]:
        """The request's cookies (its ``Cookie`` fields), name -> value, read when asked."""
        fields = [v.decode("latin-1") for n, v in self._raw_headers if len(n) == 6 and n.lower() == b"cookie"]
        return MappingProxyType(parse_cookie_header("; ".join(fields)) if fields else {})

    @property
    def content_length(self) -> int | None:
        return self._content_length

    @property
    def remote(self) -> str | None:
        return self._conn.remote

    @property
    def protocol(self) -> Connection:
        """The connection this request came on (as aiohttp's), seen through ``Connection``."""
        return self._conn

    @property
    def can_read_body(self) -> bool:
        return not self._body_done or bool(self._parts)

    @property
    def body_exists(self) -> bool:
        return self._has_body

    # -- the body, as the connection delivers it (not for handlers) -----------------
    def feed_body(self, chunk: bytes) -> bool:
        """A piece of the body arrived. False once past ``client_max_size``: the body
        has then failed with 413 and the connection stops reading it."""
        if self._body_error is not None:
            return False
        size = self._body_size = self._body_size + len(chunk)
        limit = self.app.client_max_size
        if limit is not None and size > limit:
            self.end_body(HTTPRequestEntityTooLarge(limit, size))
            return False
        if self._parts is None:
            self._parts = [chunk]
        else:
            self._parts.append(chunk)
        return True

    def end_body(self, error: Exception | None = None) -> None:
        """No more of the body comes; with ``error``, reading it raises that (the first wins)."""
        if error is not None and self._body_error is None:
            self._body_error = error
            self._parts = None
        self._body_done = True
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def body_done(self) -> bool:
        """No more of the body will come: it is complete, or it failed."""
        return self._body_done

    @property
    def body_size(self) -> int:
        """Bytes of the body received so far."""
        return self._body_size

    # -- the body -------------------------------------------------------------------
    async def read(self) -> bytes:
        """The whole body (waits for it). Over ``client_max_size`` raises 413."""
        if self._body is not None:
            return self._body
        if not self._body_done:
            expect_continue, self._expect_continue = self._expect_continue, False
            self._conn.want_body(self, expect_continue)
            while not self._body_done:
                self._body_waiter = asyncio.get_running_loop().create_future()
                await self._body_waiter
        if self._body_error is not None:
            raise self._body_error
        self._body = b"".join(self._parts or ())
        self._parts = None
        return self._body

    async def text(self) -> str:
        body = await self.read()
        return body.decode(self.charset or "utf-8", errors="replace")

    async def json(self, *, loads: Callable[[str], Any] = json.loads) -> Any:
        """The body as JSON. Not JSON: ``InvalidJSONBody``, a 400 that is also a ``ValueError``."""
        text = await self.text()
        try:
            return loads(text)
        except ValueError as exc:  # JSONDecodeError, and what other loads() raise
            raise InvalidJSONBody(exc) from None

    # -- what the route's models validated (models.py) -----------------------------------
    def validated(self, model: type[M]) -> M:
        """The body or query that the route's ``body:`` or ``query:`` model validated.

        ``item = request.validated(NewItem)`` is typed ``NewItem``. Asking for a model
        the route does not declare is a bug in the handler: ``LookupError``.
        """
        found = (self._state or {}).get(VALIDATED_KEY, {}).get(model)
        if found is None:
            raise LookupError(
                f"{self.method} {self.path}: the route validates no {model.__name__}"
                " (name it as body: or query: in routes.yaml)"
            )
        return found  # type: ignore[no-any-return]

    def set_validated(self, value: object) -> None:
        """Keep what a model validated, for ``validated()`` (the models step calls this)."""
        self._store().setdefault(VALIDATED_KEY, {})[type(value)] = value

    # -- per-request state ---------------------------------------------------------------
    def _store(self) -> dict[str, Any]:
        if self._state is None:
            self._state = {}
        return self._state

    def __getitem__(self, key: str) -> Any:
        return self._store()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._store()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store())

    def __len__(self) -> int:
        return len(self._state) if self._state else 0

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"
