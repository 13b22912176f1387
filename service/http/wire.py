"""HTTP/1.1 on the wire, outside any connection: limits, targets, error answers.

The pieces of RFC 9112 the connection needs that hold no state of their own:
the limits a head must keep, how a request target becomes a path (section 3.2),
how a parser error becomes the status we answer, and the bytes of that answer.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass
from urllib.parse import unquote

import httptools

from ..errors import ProtocolError
from ..web.request import HTTP10, HTTP11, HttpVersion
from ..web.response import date_cache, reason_phrase

__all__ = [
    "NOTED_NAME_SIZES",
    "METHOD_NAMES",
    "VERSIONS",
    "Limits",
    "HOSTS_SEEN",
    "REG_NAME_BYTES",
    "check_host",
    "check_host_value",
    "check_request_line",
    "check_transfer_encoding",
    "client_error",
    "error_bytes",
    "method_name",
    "origin_form",
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
        # Interned: the one "GET" object everywhere (routes' too), so code on the request
        # path may compare methods by identity (ops/metrics.py).
        name = sys.intern(raw.decode("ascii"))
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
    if method == b"CONNECT":  # authority-form (RFC 9112 section 3.2.3): well-formed, not served
        raise ProtocolError(501, "CONNECT is not supported: this server opens no tunnels")
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


# RFC 9112 section 3.2 / RFC 3986 section 3.2.2: a Host is uri-host [":" port]. These
# are the bytes of a reg-name (a host name or IPv4 address): a value made of them alone
# is valid. Anything else is either a port or an IP literal, checked whole by
# check_host_value, or a byte no Host may hold (a space, "/", "@", a quote): 400.
REG_NAME_BYTES = (
    bytes(range(0x30, 0x3A)) + bytes(range(0x41, 0x5B)) + bytes(range(0x61, 0x7B)) + b"-._~!$&'()*+,;=%"
)
_PORT_DIGITS = b"0123456789"


# Host values found valid, up to a few (PERF: a server hears the same one or two Hosts
# all day; one dict lookup per request instead of the grammar). Bounded: when full it
# starts afresh, so a client sending many valid Hosts costs only the grammar check.
HOSTS_SEEN: dict[bytes, None] = {}
_HOSTS_KEPT = 64


def check_host_value(value: bytes) -> None:
    """RFC 9112 section 3.2: ``uri-host [":" port]``, else 400."""
    if value.translate(None, REG_NAME_BYTES):  # a port, an IP literal, or no host at all
        _check_host_and_port(value)
    if len(value) <= 255:  # a name that fits in DNS: worth keeping
        if len(HOSTS_SEEN) >= _HOSTS_KEPT:
            HOSTS_SEEN.clear()  # so the Host in use gets back in, whatever was seen before
        HOSTS_SEEN[value] = None


def _check_host_and_port(value: bytes) -> None:
    host, port = value, b""
    if value[:1] == b"[":  # IP-literal: "[" IPv6address / IPvFuture "]"
        end = value.find(b"]")
        host, port = value[1:end], value[end + 1 :]
        if end < 0 or not _ip_literal(host):
            raise ProtocolError(400, "invalid Host header field (bad IP literal)")
    else:
        host, colon, digits = value.partition(b":")
        port = colon + digits
        if host.translate(None, REG_NAME_BYTES):  # a second ":", a bracket, a byte no host has
            raise ProtocolError(400, "invalid Host header field (expected host[:port])")
    if port and (port[:1] != b":" or port[1:].translate(None, _PORT_DIGITS)):
        raise ProtocolError(400, "invalid Host header field (the port is not a number)")


def _ip_literal(text: bytes) -> bool:
    if text[:1] in (b"v", b"V"):  # IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        return re.fullmatch(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+", text) is not None
    if b"%" in text:  # a zone id ("fe80::1%eth0"): RFC 9110 has no place for one in Host
        return False
    try:
        ipaddress.IPv6Address(text.decode("ascii"))
    except ValueError:
        return False
    return True


def check_host(count: int, version: HttpVersion) -> None:
    """RFC 9112 section 3.2: one Host field, and in HTTP/1.1 exactly one, else 400."""
    if count > 1:
        raise ProtocolError(400, "more than one Host header field")
    if count == 0 and version is HTTP11:
        raise ProtocolError(400, "an HTTP/1.1 request needs a Host header field")


def client_error(exc: Exception) -> ProtocolError | None:
    """What the client is told for ``exc`` raised while reading its request, or None.

    The exception's type decides, never where it was raised: llhttp's own parse
    errors and our ``ProtocolError`` (a limit, a framing rule) are the client's
    fault and answered with their 4xx/5xx; anything else is a bug of ours (None),
    which the connection answers with a logged 500.
    """
    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, httptools.HttpParserError):
        cause = exc.__context__
        if cause is not None:  # a callback of ours raised it: its type decides
            return client_error(cause) if isinstance(cause, Exception) else None
        reason = str(exc) or type(exc).__name__
        # llhttp says this only once it has read a well-formed "HTTP/x.y" it does not
        # know (or "RTSP/x.y": the connection checks the name before answering 505).
        return ProtocolError(505 if reason == "Invalid HTTP version" else 400, reason)
    return None


_NOT_HTTP = "not an HTTP request line: the version must be HTTP/1.1 or HTTP/1.0"


def check_request_line(raw: bytes | bytearray, start: int, method: bytes, target: bytes) -> int:
    """Check the HTTP-name of the request line ``method target ...``; where it ends.

    llhttp takes ``RTSP/1.0`` and ``ICE/1.0`` for versions too, and a line with no
    version at all (``GET /``) for HTTP/0.9's simple request. None of them is
    ``method SP request-target SP HTTP-version`` (RFC 9112 section 3): 400. ``raw``
    holds the bytes received since before the head began; the line is looked for
    after ``start``, at each place ``target`` stands between the method and a
    version (or a line end), and the first that says ``HTTP/`` wins: bytes of a
    body that merely look like a request line never refuse a good request, and
    when the line cannot be found nothing is refused. (A body can thus vouch for
    a bad name after it: that request is served just as if it had said HTTP/1.1,
    which its sender could have done anyway.) Each byte after ``start`` is looked
    at a bounded number of times, whatever the bytes are.
    """
    refusal: ProtocolError | None = None
    at = raw.find(target, start)
    while at >= 0:
        end = at + len(target)
        before = at
        while before > start and raw[before - 1] == 0x20:  # SP (llhttp takes several)
            before -= 1
        after = end
        while after < len(raw) and raw[after] == 0x20:
            after += 1
        if before < at and raw.endswith(method, start, before):
            if after > end and raw.startswith(b"HTTP/", after):
                return after + 5
            if refusal is None and after > end and raw.startswith((b"RTSP/", b"ICE/"), after):
                refusal = ProtocolError(400, _NOT_HTTP)
            elif refusal is None and after < len(raw) and raw[after] in b"\r\n":
                refusal = ProtocolError(400, "the request line has no HTTP version")
        at = raw.find(target, max(end, after))
    if refusal is not None:
        raise refusal
    return start
