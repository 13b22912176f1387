"""What a handler sees: one parsed HTTP request, mostly parsed lazily.

The connection hands over raw pieces (method, target bytes, header pairs as
bytes); headers, query and body become Python objects only when a handler asks
(PERF: most handlers read one or two of them, many none).

The body arrives from the connection in a ``RequestBody`` (body.py), which holds
it up to the application's ``client_max_size``; ``read()`` waits for the end of
it. The request reaches its connection only through ``Connection``, the narrow
interface declared below. A request sent with ``Expect: 100-continue`` gets its ``100 Continue``
only when the handler first asks for the body, so a handler that answers without
reading never makes the client upload.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import parse_qsl

from .httpexc import InvalidJSONBody
from .multidict import CIMultiDict, MultiDict

if TYPE_CHECKING:
    from .app import Application
    from .body import RequestBody
    from .response import StreamResponse, Writer
    from .router import Route

__all__ = ["HttpVersion", "Request"]


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

    def want_body(self, body: RequestBody, expect_continue: bool) -> None:
        """A handler waits for ``body``: say ``100 Continue`` if asked, read on."""
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
        "_stream",
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
        body: RequestBody | None = None,
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
        self._stream = body  # None: the request has no body (PERF: nothing to make)
        self._body: bytes | None = None if body is not None else b""  # once read
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

    @property
    def content_type(self) -> str:
        raw = self.headers.get("Content-Type", "")
        return raw.split(";", 1)[0].strip().lower() or "application/octet-stream"

    @property
    def charset(self) -> str | None:
        raw = self.headers.get("Content-Type", "")
        for param in raw.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"').lower() or None
        return None

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
        stream = self._stream
        return stream is not None and (not stream.done or stream.buffered)

    @property
    def body_exists(self) -> bool:
        return self._stream is not None

    # -- the body -------------------------------------------------------------------
    async def read(self) -> bytes:
        """The whole body (waits for it). Over ``client_max_size`` raises 413."""
        if self._body is not None:
            return self._body
        stream = self._stream
        assert stream is not None  # (no stream: _body is b"")
        if not stream.done:
            expect_continue, self._expect_continue = self._expect_continue, False
            self._conn.want_body(stream, expect_continue)
            await stream.wait()
        self._body = stream.take()
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
