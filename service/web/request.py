"""What a handler sees: one parsed HTTP request, mostly parsed lazily.

The connection hands over raw pieces (method, target bytes, header pairs as
bytes); headers, query and body become Python objects only when a handler asks
(PERF: most handlers read one or two of them, many none).

The body has one buffer, here, which the connection fills and its readers drain:

- the connection calls ``feed_body()`` with each piece, ``end_body()`` once no
  more comes (with an error if it failed), and asks ``body_done`` / ``body_size``;
- ``read()`` (and ``text()``, ``json()``, ``post()``) takes the body whole, up to
  the application's ``client_max_size`` (413 past it: a declared length is refused
  at once, a chunked body as it grows);
- ``content`` (streams.py) is a stream over the same buffer for bodies of any
  size: it takes what is buffered with ``take_body()`` and waits with
  ``wait_body()``; ``client_max_size`` does not apply to it.

Flow control is one number, ``_cap``: the body size at which ``feed_body`` has to
look up from its append (``_over_cap``). Until a reader drains the buffer that is
``HIGH_WATER`` bytes past what was taken, and reading from the socket pauses
there, so a slow reader of a large upload holds at most about that much; a
stream waiting for a piece lowers it to wake on the next one; a whole read raises
it to the limit. (PERF: the body's state lives here, not in an object of its own:
one more object per request with a body measured ~4% of POST /echo. A request
whose handler never reads a stream pays one comparison per piece.)

A request sent with ``Expect: 100-continue`` gets its ``100 Continue`` only when
the handler first asks for the body, so a handler that answers without reading
never makes the client upload. The request reaches its connection only through
``Connection``, the narrow interface declared below.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, overload
from urllib.parse import parse_qsl, unquote

from .cookies import parse_cookie_header
from .forwarding import Origin
from .httpexc import HTTPRequestEntityTooLarge, InvalidJSONBody
from .keys import RequestKey
from .multidict import CIMultiDict, MultiDict
from .reqinfo import RequestInfo
from .requestid import settle

if TYPE_CHECKING:
    from .app import Application
    from .multipart import MultipartReader
    from .response import StreamResponse, Writer
    from .router import Route
    from .streams import BodyStream
    from .subapps import ChainMapProxy

__all__ = ["HIGH_WATER", "HttpVersion", "Request"]

# Bytes of body held before reading from the socket pauses (aiohttp pauses at 128 KiB).
HIGH_WATER = 256 * 1024

M = TypeVar("M")
VALIDATED_KEY = "service.validated"  # in the request's state: {model class: what it validated}
_BODY_LIMIT = "service.max_body"  # in the request's state: its route's max_body (limit_body)


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

    def pause_reading(self) -> None:
        """The body buffer is full: read no more from the socket for now."""
        ...

    def stop_body_timer(self, request: Request) -> None:
        """A stream's wait for ``request``'s body is over: ``body_timeout`` stops counting."""
        ...

    def resume_reading(self) -> None:
        """The body buffer was drained: read again (unless the connection has stopped)."""
        ...

    @property
    def remote(self) -> str | None: ...
    @property
    def connected(self) -> bool: ...
    @property
    def transport(self) -> asyncio.Transport | None: ...


class Request(RequestInfo, MutableMapping[str, Any]):
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
        "_cap",
        "_whole",
        "_stream",
        "coding",
        "_request_id",
        "__weakref__",  # forms.py closes uploaded files when the request goes
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
        self._cap = HIGH_WATER  # feed_body looks up past this size (see the module docstring)
        self._whole = False  # read() is taking the body whole
        self._stream: BodyStream | None = None
        self.coding: bytes | None = None  # its Content-Encoding, if it has one (the reader notes it)
        self._request_id: str | None = None  # (made when first asked for)

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
    def request_id(self) -> str:
        """This request's id (requestid.py): its ``X-Request-ID`` when that is 1 to 128 safe
        characters, else a new random one; the same for the whole request, and what the
        response's ``X-Request-ID`` and the access log say when request ids are on."""
        if self._request_id is None:
            sent = None
            for name, value in self._raw_headers:
                if len(name) == 12 and name.lower() == b"x-request-id":
                    sent = value
                    break
            self._request_id = settle(sent)
        return self._request_id

    def log_fields(self) -> tuple[str, bytes | None, str]:
        """(User-Agent or ``-``, traceparent or None, ``request_id``): what the access log
        reads of the header fields, in one pass (PERF: it runs for every request logged)."""
        agent, parent, sent = "-", None, None
        for name, value in self._raw_headers:
            size = len(name)
            if size == 10 and name.lower() == b"user-agent":
                agent = value.decode("latin-1")
            elif size == 11 and name.lower() == b"traceparent":
                parent = value
            elif size == 12 and sent is None and name.lower() == b"x-request-id":
                sent = value
        if self._request_id is None:
            self._request_id = settle(sent)
        return agent, parent, self._request_id

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
        fields = self.fields("Cookie")
        return MappingProxyType(parse_cookie_header("; ".join(fields)) if fields else {})

    @property
    def content_length(self) -> int | None:
        return self._content_length

    @property
    def protocol(self) -> Connection:
        """The connection this request came on (as aiohttp's), seen through ``Connection``."""
        return self._conn

    @property
    def config_dict(self) -> ChainMapProxy:
        """``request.app``'s state, then its parents' up to the root's (aiohttp's): a
        sub-app's handler finds there what the root holds. Made when asked (subapps.py)."""
        from .app import config_dict  # (a cycle at import time: app.py imports this module)

        return config_dict(self.app)

    @property
    def can_read_body(self) -> bool:
        """Some of the body is still to be read (aiohttp's)."""
        if self._stream is not None:
            return not self._stream.at_eof()
        return self.body_pending

    @property
    def body_pending(self) -> bool:
        """More of the body is buffered here or still to come."""
        return not self._body_done or bool(self._parts)

    @property
    def body_exists(self) -> bool:
        return self._has_body

    # -- the body, as the connection delivers it (not for handlers) -----------------
    def feed_body(self, chunk: bytes) -> bool:
        """A piece of the body arrived. False once a whole read passes ``client_max_size``:
        the body has then failed with 413 and the connection stops reading it."""
        if self._body_error is not None:
            return False
        size = self._body_size = self._body_size + len(chunk)
        if self._parts is None:
            self._parts = [chunk]
        else:
            self._parts.append(chunk)
        if size > self._cap:
            return self._over_cap(size)
        return True

    def _over_cap(self, size: int) -> bool:
        """The body passed ``_cap``: past the limit of a whole read, a stream's wake-up, or
        a full buffer (see the module docstring)."""
        if self._whole:
            limit = self.max_body()
            if limit is not None and size > limit:
                self.end_body(HTTPRequestEntityTooLarge(limit, size))
                return False
            return True
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # a stream waits for this piece
        held = sum(map(len, self._parts or ()))
        if held > HIGH_WATER:
            self._conn.pause_reading()  # resumed when a reader takes the buffer (take_body)
            self._cap = size
        else:
            self._cap = size - held + HIGH_WATER
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

    # -- the body, as its stream drains it (streams.py) -------------------------------
    def take_body(self) -> list[bytes]:
        """The pieces buffered so far, handed over; reading goes on if it had paused.

        Raises the body's error once no piece is left before it.
        """
        parts = self._parts
        if parts is None:
            if self._body_error is not None:
                raise self._body_error
            return []
        self._parts = None
        self._cap = self._body_size + HIGH_WATER
        if not self._body_done:
            self._conn.resume_reading()
        return parts

    def limit_body(self, limit: int) -> None:
        """Read this request's body whole only up to ``limit`` bytes, instead of the app's
        ``client_max_size`` (a route's ``max_body`` policy: web/policies.py)."""
        self._store()[_BODY_LIMIT] = limit

    def max_body(self) -> int | None:
        """The most a whole read of the body takes: the route's ``max_body``, else the
        app's ``client_max_size`` (None: no limit)."""
        state = self._state  # PERF: None unless something was stored for this request
        if state is not None:
            own: int | None = state.get(_BODY_LIMIT)
            if own is not None:
                return own
        limit: int | None = self.app.client_max_size
        return limit

    def too_large(self, limit: int, size: int) -> HTTPRequestEntityTooLarge:
        """The 413 for a whole read past ``limit``; the connection closes after its answer
        (the rest of the body may still be on its way: RFC 9110 section 15.5.14)."""
        self.keep_alive = False
        return HTTPRequestEntityTooLarge(limit, size)

    async def wait_body(self) -> None:
        """Wait until another piece arrives or the body ends (``body_timeout`` applies)."""
        if self._body_done or self._parts:
            return
        expect_continue, self._expect_continue = self._expect_continue, False
        self._conn.want_body(self, expect_continue)
        self._cap = self._body_size  # the next piece goes through _over_cap, which wakes us
        self._body_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._body_waiter
        finally:
            # body_timeout is for waiting: a handler busy between two reads is not late.
            self._conn.stop_body_timer(self)

    @property
    def content(self) -> BodyStream:
        """The body as a stream (aiohttp's ``StreamReader``), for bodies of any size."""
        stream = self._stream
        if stream is None:
            from .streams import BodyStream  # (a cycle at import time: streams uses Request's errors)

            if self._body is not None:  # read() has taken the body whole: stream its copy
                stream = BodyStream.of_bytes(self, self._body)
            else:
                stream = BodyStream(self, self.coding)
            self._stream = stream
        return stream

    # -- the body -------------------------------------------------------------------
    async def read(self) -> bytes:
        """The whole body (waits for it). Over ``client_max_size`` raises 413."""
        if self._body is not None:
            return self._body
        if self.coding is not None or self._stream is not None:
            # Decoded, or partly streamed already: read the rest through the stream.
            self._body = await self.content.read_whole(self.max_body())
            self._stream = None  # a later ``content`` streams the copy (decoded, if it was)
            return self._body
        # PERF: max_body(), inlined for the common case: nothing stored for this request
        limit = self.app.client_max_size if self._state is None else self.max_body()
        if limit is not None and self._body_size > limit:  # received already (unread, it was not refused)
            raise self.too_large(limit, self._body_size)
        if not self._body_done:  # PERF: a small body is usually whole before its handler runs
            length = self._content_length
            if limit is not None and length is not None and length > limit:
                raise self.too_large(limit, length)  # declared: no need to wait for the rest
            self._whole = True
            self._cap = limit if limit is not None else 1 << 62
            expect_continue, self._expect_continue = self._expect_continue, False
            self._conn.want_body(self, expect_continue)
            while not self._body_done:
                self._body_waiter = asyncio.get_running_loop().create_future()
                await self._body_waiter
        if self._body_error is not None:
            raise self._body_error
        parts = self._parts
        self._body = parts[0] if parts is not None and len(parts) == 1 else b"".join(parts or ())
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

    async def post(self) -> MultiDict:
        """The form in the body (urlencoded or multipart; forms.py): fields as ``str``,
        uploads as ``FileField``. Anything else is an empty form, as in aiohttp."""
        from .forms import read_form  # PERF: only a handler that reads a form imports it

        return await read_form(self)

    async def multipart(self) -> MultipartReader:
        """The multipart body, part by part, as a stream (multipart.py)."""
        from .multipart import MultipartReader

        return MultipartReader.of(self)

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
    def _store(self) -> dict[Any, Any]:
        if self._state is None:
            self._state = {}
        return self._state

    @overload
    def __getitem__(self, key: RequestKey[M]) -> M: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str | RequestKey[Any]) -> Any:
        return self._store()[key]

    def __setitem__(self, key: str | RequestKey[Any], value: Any) -> None:
        self._store()[key] = value

    def __delitem__(self, key: str | RequestKey[Any]) -> None:
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


class _Clone(Request):
    """What ``Request.clone()`` makes: a request with some attributes replaced that reads
    its body through the original, which the connection goes on feeding."""

    __slots__ = ("_original", "_replaced")

    _original: Request
    _replaced: dict[str, str]

    @property
    def _origin(self) -> Origin:
        origin = self._original._origin
        return Origin(
            self._replaced.get("scheme", origin.scheme),
            self._replaced.get("host", origin.host),
            self._replaced.get("remote", origin.remote),
        )

    @property
    def remote(self) -> str | None:
        return self._origin.remote

    async def read(self) -> bytes:
        return await self._original.read()

    @property
    def content(self) -> BodyStream:
        return self._original.content


def clone_request(
    request: Request,
    *,
    method: str | None,
    rel_url: str | None,
    headers: Mapping[str, str] | None,
    origin: dict[str, str | None],
) -> Request:
    """``request.clone(...)`` (reqinfo.py): a ``_Clone`` with the given attributes replaced."""
    clone = _Clone.__new__(_Clone)
    for name in Request.__slots__:
        if name != "__weakref__":
            setattr(clone, name, getattr(request, name))
    clone._original = request._original if isinstance(request, _Clone) else request
    clone._replaced = {k: v for k, v in origin.items() if v is not None}
    if isinstance(request, _Clone):
        clone._replaced = {**request._replaced, **clone._replaced}
    clone._state = None
    clone.match_info = dict(request.match_info)
    if method is not None:
        clone.method = method.upper()
    if rel_url is not None:
        target = rel_url.encode("latin-1")
        raw_path, _, query = rel_url.partition("?")
        clone._raw_target, clone.query_string, clone._query = target, query, None
        clone.path = unquote(raw_path)
    if headers is not None:
        pairs = [(str(k), str(v)) for k, v in headers.items()]
        clone._raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
        clone._headers = None
    return clone
