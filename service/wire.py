"""HTTP/1.1 on the wire, outside any connection: limits, targets, error answers.

The pieces of RFC 9112 the connection needs that hold no state of their own:
the limits a head must keep, how a request target becomes a path (section 3.2),
how a parser error becomes the status we answer, and the bytes of that answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import ProtocolError
from .request import HTTP10, HTTP11, HttpVersion
from .response import date_cache, reason_phrase

__all__ = [
    "NOTED_NAME_SIZES",
    "METHOD_NAMES",
    "VERSIONS",
    "Limits",
    "HOST_BYTES",
    "check_host",
    "check_transfer_encoding",
    "error_bytes",
    "method_name",
    "origin_form",
    "parser_error",
    "unquote_path",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits and timeouts (defaults are safe for the internet)."""

    max_target_size: int = 8192  # bytes of request target; over -> 414
    max_header_size: int = 8192  # sum of name + value bytes over all fields; over -> 431
    max_header_count: int = 100  # header fields; over -> 431
    header_timeout: float = 10.0  # seconds from a head's first byte to its end; over -> 408
    keepalive_timeout: float = 75.0  # seconds an idle keep-alive connection is kept
    body_timeout: float = 60.0  # seconds for a body a handler waits for to arrive; over -> 408
    max_connections: int = 10_000  # open connections; past it a new one gets 503 and is closed
    linger_timeout: float = 2.0  # seconds a closing connection drops what the client still sends
    send_timeout: float = 60.0  # seconds a response may wait for a client that reads nothing; then dropped

    def max_framing_bytes(self, body_bytes: int) -> int:
        """Bytes a chunked body may spend on framing (sizes, extensions, CRLFs).

        Extensions are skipped, never stored, but a client must not stream them
        forever (CVE-2024-22019 in Node.js): 16 KiB plus 8 per body byte, which
        still lets a body arrive in one-byte chunks.
        """
        return 16384 + 8 * body_bytes

    @property
    def max_head_bytes(self) -> int:
        """Raw bytes a head may occupy, whitespace and line ends included (memory guard)."""
        return self.max_target_size + self.max_header_size + 64 * (self.max_header_count + 1)


VERSIONS = {"1.1": HTTP11, "1.0": HTTP10}
# Lengths of the header names the parser notes: Host (counted: RFC 9112 section 3.2),
# Content-Length, Transfer-Encoding and Expect (they frame a message), Connection and
# Proxy-Connection (see HttpProtocol.on_headers_complete).
NOTED_NAME_SIZES = frozenset((4, 14, 17, 6, 10, 16))
_ABSOLUTE_FORM = re.compile(rb"(?i)https?://[^/?#]*")
METHOD_NAMES: dict[bytes, str] = {}


def method_name(raw: bytes) -> str:
    name = METHOD_NAMES.get(raw)
    if name is None:
        name = raw.decode("ascii")
        if len(METHOD_NAMES) < 64:
            METHOD_NAMES[raw] = name
    return name


def error_bytes(status: int, detail: str = "") -> bytes:
    """A complete ``Connection: close`` response for a protocol error."""
    text = f"{status}: {reason_phrase(status)}"
    if detail:
        text += f" ({detail})"
    body = text.encode("latin-1", "replace") + b"\n"
    return b"".join(
        (
            f"HTTP/1.1 {status} {reason_phrase(status)}\r\n".encode("latin-1"),
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"Content-Length: %d\r\n" % len(body),
            date_cache.lines(),
            b"Connection: close\r\n\r\n",
            body,
        )
    )


def origin_form(target: bytes, method: bytes) -> bytes:
    """The path (and query) of an absolute-form target, ``*`` of ``OPTIONS *``, else 400."""
    if target == b"*" and method == b"OPTIONS":
        return target  # the server as a whole (RFC 9112 section 3.2.4, RFC 9110 section 9.3.7)
    # RFC 9112 section 3.2.2: a server MUST accept the absolute-form.
    absolute = _ABSOLUTE_FORM.match(target)
    if absolute is None:
        raise ProtocolError(400, "request target must be origin-form or absolute-form")
    rest = target[absolute.end() :]
    return rest if rest.startswith(b"/") else b"/" + rest


def unquote_path(path: str) -> str:
    try:
        return unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise ProtocolError(400, "request path is not valid UTF-8 once percent-decoded") from None


def check_transfer_encoding(value: bytes) -> None:
    """Only ``chunked``, exactly, frames a request body here (RFC 9112 section 6.1, 6.3)."""
    # Empty list elements are allowed and ignored (RFC 9110 section 5.6.1).
    codings = [coding for coding in (part.strip() for part in value.lower().split(b",")) if coding]
    if not codings or codings[-1] != b"chunked":
        # The body's length cannot be known: the server MUST answer 400 and close.
        raise ProtocolError(400, "Transfer-Encoding does not end with chunked")
    if codings != [b"chunked"]:
        raise ProtocolError(501, "only the chunked transfer coding is supported")


# RFC 9112 section 3.2 / RFC 3986 section 3.2.2: a Host is uri-host [":" port]; these are
# all the bytes it may hold (an IP literal's brackets included). Anything else -- a
# space, "/", "@", a quote -- is an invalid Host: 400.
HOST_BYTES = (
    bytes(range(0x30, 0x3A)) + bytes(range(0x41, 0x5B)) + bytes(range(0x61, 0x7B)) + b"-._~!$&'()*+,;=%:[]"
)


def check_host(count: int, version: HttpVersion) -> None:
    """RFC 9112 section 3.2: one Host field, and in HTTP/1.1 exactly one, else 400."""
    if count > 1:
        raise ProtocolError(400, "more than one Host header field")
    if count == 0 and version is HTTP11:
        raise ProtocolError(400, "an HTTP/1.1 request needs a Host header field")


def parser_error(exc: Exception) -> ProtocolError:
    """Map an httptools error to what the client is told."""
    context = exc.__context__
    if isinstance(context, ProtocolError):
        return context
    reason = str(exc) or type(exc).__name__
    if reason == "Invalid HTTP version":
        return ProtocolError(505, reason)
    return ProtocolError(400, reason)
