"""Parsing and smuggling: every malformed or ambiguous message gets a clear 4xx (or 5xx)
and a closed connection -- never a 2xx, a hang or a crash.

Each row of ``REJECTED`` is raw bytes sent to a real server on 127.0.0.1, whole and
one byte at a time, with the statuses acceptable for it and why (RFC 9112 unless
said otherwise). For every row: the answers are exactly those expected (pipelined
requests ahead of the bad one first), the error says ``Connection: close``, the
server then closes, nothing it sends is malformed, and a fresh connection is still
served. ``ACCEPTED`` holds near-misses that are valid HTTP and must be served, so
the table above cannot pass by rejecting everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service import Server

from .support import (
    CLOSE,
    Parsed,
    RawConnect,
    assert_alive,
    assert_rejected,
    build_app,
    exchange,
    final,
    short_timeouts,
)

MakeServer = Callable[..., Awaitable[Server]]

LIMITS = short_timeouts()  # otherwise the defaults

OK = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"


def get(*lines: bytes, line: bytes = b"GET /ok HTTP/1.1") -> bytes:
    return b"\r\n".join([line, b"Host: x", *lines]) + b"\r\n\r\n"


def row(
    ident: str, data: bytes, expect: int | str | tuple[Any, ...], why: str, *, before: tuple[int, ...] = ()
) -> Any:
    statuses = expect if isinstance(expect, tuple) else (expect,)
    return pytest.param(data, statuses, before, why, id=ident)


REJECTED = [
    # -- Content-Length (RFC 9112 section 6.3, RFC 9110 section 8.6) --------------------------------
    row(
        "cl-and-te",
        POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "both framings: the classic CL.TE / TE.CL smuggling vector (6.1: MAY reject, we must)",
    ),
    row(
        "te-and-cl",
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
        "both framings, the other order",
    ),
    row(
        "cl-and-te-http10",
        b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "6.1: HTTP/1.0 with Transfer-Encoding: the framing is faulty",
    ),
    row(
        "two-content-lengths",
        POST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        400,
        "6.3 item 5: differing lengths are an unrecoverable error",
    ),
    row(
        "same-content-length-twice",
        POST + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
        400,
        "8.6 allows either; a duplicate is how smuggling probes start, so reject",
    ),
    row("content-length-list", POST + b"Content-Length: 2, 2\r\n\r\nab", 400, "a list is not 1*DIGIT"),
    row("content-length-empty", POST + b"Content-Length: \r\n\r\nab", 400, "empty is not 1*DIGIT"),
    row("content-length-not-numeric", POST + b"Content-Length: abc\r\n\r\nabc", 400, "not 1*DIGIT"),
    row("content-length-plus", POST + b"Content-Length: +5\r\n\r\nhello", 400, "a sign is not a DIGIT"),
    row("content-length-minus", POST + b"Content-Length: -5\r\n\r\nhello", 400, "a sign is not a DIGIT"),
    row("content-length-hex", POST + b"Content-Length: 0x5\r\n\r\nhello", 400, "not decimal"),
    row("content-length-underscore", POST + b"Content-Length: 1_0\r\n\r\nhello", 400, "int() would take 1_0"),
    row(
        "content-length-unicode-digit",
        POST + "Content-Length: \u0661\r\n\r\nh".encode(),
        400,
        "int() would take an Arabic-Indic one",
    ),
    row("content-length-inner-space", POST + b"Content-Length: 1 2\r\n\r\nhello", 400, "two numbers"),
    row(
        "content-length-overflows-64-bits",
        POST + b"Content-Length: 18446744073709551616\r\n\r\nhi",
        400,
        "2**64 must not wrap around to 0",
    ),
    row(
        "content-length-absurd",
        POST + b"Content-Length: 99999999999999999999999999\r\n\r\nhi",
        400,
        "an overflowing length must not wrap around",
    ),
    row(
        "content-length-max-u64",
        POST + b"Content-Length: 18446744073709551615\r\n\r\nhi",
        (413, 400),
        "fits 64 bits but is over client_max_size: refused before the body is read",
    ),
    # -- Transfer-Encoding (RFC 9112 sections 6.1, 6.3 and 7) ---------------------------------------
    row(
        "te-gzip-chunked",
        POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
        "6.1: a transfer coding we do not implement is 501; never ignored (the handler would read gzip)",
    ),
    row(
        "te-gzip-then-chunked-fields",
        POST + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        (501, 400),
        "the same list split over two fields (RFC 9110 5.3)",
    ),
    row(
        "te-chunked-identity",
        POST + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        400,
        "6.3: chunked is not the final coding: the length cannot be known",
    ),
    row("te-gzip", POST + b"Transfer-Encoding: gzip\r\n\r\n", 400, "6.3: chunked is not the final coding"),
    row(
        "te-identity",
        POST + b"Transfer-Encoding: identity\r\n\r\n",
        (400, 501),
        "identity is no transfer coding any more, and chunked is not last",
    ),
    row(
        "te-chunked-twice",
        POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        400,
        "7: chunked MUST NOT be applied more than once",
    ),
    row(
        "te-chunked-twice-in-two-fields",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "7: chunked twice, split over two fields",
    ),
    row(
        "te-space-before-colon",
        POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        400,
        "5.1: whitespace between field name and colon MUST be rejected with 400",
    ),
    row(
        "te-xchunked",
        POST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        (400, 501),
        "a lookalike of chunked is not chunked",
    ),
    row(
        "te-chunkedx",
        POST + b"Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n",
        (400, 501),
        "a lookalike of chunked is not chunked",
    ),
    row(
        "te-quoted-chunked",
        POST + b'Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n',
        (400, 501),
        "a quoted string is not the token chunked",
    ),
    row("te-empty", POST + b"Transfer-Encoding: \r\n\r\n0\r\n\r\n", 400, "no coding at all"),
    row(
        "te-vertical-tab-before",
        POST + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
        400,
        "VT is not whitespace in HTTP (some stacks strip it: a desync)",
    ),
    row(
        "te-vertical-tab-after",
        POST + b"Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
        400,
        "VT is not whitespace in HTTP",
    ),
    row(
        "te-hidden-in-obs-fold",
        POST + b"X-A: b\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "5.2: a tab-led line is obs-fold (a continuation), not a new Transfer-Encoding field",
    ),
    row(
        "te-underscore",
        POST + b"Transfer_Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
        "Transfer_Encoding is another (legal) field name, so the POST has no body and is answered"
        " 200 with an empty echo; the chunk bytes after it are then a malformed request",
        before=(200,),
    ),
    # -- chunked bodies (RFC 9112 section 7.1) ------------------------------------------------------
    row("chunk-size-not-hex", CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n", 400, "chunk-size is 1*HEXDIG"),
    row("chunk-size-0x", CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n", 400, "no 0x prefix"),
    row("chunk-size-negative", CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n", 400, "no sign"),
    row(
        "chunk-size-trailing-space",
        CHUNKED + b"5 \r\nhello\r\n0\r\n\r\n",
        400,
        "whitespace after chunk-size must lead to an extension",
    ),
    row(
        "chunk-size-overflows-64-bits",
        CHUNKED + b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        400,
        "an overflowing chunk size must not wrap around",
    ),
    row(
        "chunk-size-max-u64",
        CHUNKED + b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        408,
        "a chunk of 2**64-1 bytes, then 5 of them: a body that stalls is 408 after body_timeout, never"
        " a hang (llhttp does not report chunk sizes, so the size alone is not judged; its bytes are:"
        " test_limits)",
    ),
    row("chunk-bare-lf-after-size", CHUNKED + b"5\nhello\r\n0\r\n\r\n", 400, "the size line ends in CRLF"),
    row("chunk-bare-lf-after-data", CHUNKED + b"5\r\nhello\n0\r\n\r\n", 400, "chunk data ends in CRLF"),
    row("chunk-missing-crlf-after-data", CHUNKED + b"5\r\nhello0\r\n\r\n", 400, "chunk data ends in CRLF"),
    row(
        "chunk-data-longer-than-size",
        CHUNKED + b"3\r\nhello\r\n0\r\n\r\n",
        400,
        "the data must end where the size says",
    ),
    row("chunk-ext-with-cr", CHUNKED + b"5;a=\rb\r\nhello\r\n0\r\n\r\n", 400, "a bare CR in an extension"),
    row("chunk-ext-with-lf", CHUNKED + b"5;a=\nb\r\nhello\r\n0\r\n\r\n", 400, "a bare LF in an extension"),
    row(
        "chunk-ext-quoted-crlf",
        CHUNKED + b'5;a="\r\n"\r\nhello\r\n0\r\n\r\n',
        400,
        "CRLF inside a quoted extension value",
    ),
    row(
        "chunk-ext-huge",
        CHUNKED + b"5;" + b"a" * 32768 + b"\r\nhello\r\n0\r\n\r\n",
        (400, 413),
        "a 32 KiB extension: extensions are not read but must be bounded, or a client streams"
        " them forever (CVE-2024-22019 in Node: 413 past 16 KiB)",
    ),
    row("trailer-bare-lf", CHUNKED + b"5\r\nhello\r\n0\r\nX-T: a\n\r\n", 400, "trailer lines end in CRLF"),
    row(
        "trailer-obs-fold",
        CHUNKED + b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n",
        400,
        "obs-fold in the trailer section",
    ),
    # -- request line and header section (RFC 9112 sections 2, 3 and 5) -------------------------------
    row("obs-fold-space", get(b"X-A: a", b" b"), 400, "5.2: obs-fold MUST be rejected (or replaced)"),
    row("obs-fold-tab", get(b"X-A: a", b"\tb"), 400, "5.2: obs-fold with a tab"),
    row(
        "first-field-line-indented",
        b"GET /ok HTTP/1.1\r\n Host: x\r\n\r\n",
        400,
        "2.2: whitespace before the first field line MUST be rejected (or consumed)",
    ),
    row("bare-lf-line-ends", b"GET /ok HTTP/1.1\nHost: x\n\n", 400, "line ends are CRLF (strict mode)"),
    row(
        "bare-lf-in-header-section",
        b"GET /ok HTTP/1.1\r\nHost: x\nX-A: y\r\n\r\n",
        400,
        "a bare LF hides a field line from a CRLF-only parser",
    ),
    row("bare-cr", b"GET /ok HTTP/1.1\rHost: x\r\n\r\n", 400, "2.2: a bare CR MUST be rejected"),
    row("nul-in-value", get(b"X-A: a\x00b"), 400, "RFC 9110 5.5: NUL MUST be rejected"),
    row("cr-in-value", get(b"X-A: a\rb"), 400, "RFC 9110 5.5: CR MUST be rejected"),
    row("lf-in-value", get(b"X-A: a\nX-B: c"), 400, "a bare LF would split the field"),
    row("ctl-in-value", get(b"X-A: a\x01b"), 400, "a control character is not field-vchar"),
    row("del-in-value", get(b"X-A: a\x7fb"), 400, "DEL is not field-vchar"),
    row("space-in-field-name", get(b"Bad Header: a"), 400, "a field name is a token"),
    row("ctl-in-field-name", get(b"X-A\x01: a"), 400, "a field name is a token"),
    row("empty-field-name", get(b": a"), 400, "a field name is 1*tchar"),
    row("field-line-without-colon", get(b"NoColon"), 400, "a field line needs a colon"),
    row("space-before-colon", b"GET /ok HTTP/1.1\r\nHost : x\r\n\r\n", 400, "5.1: MUST be rejected"),
    row("http-1.2", get(line=b"GET /ok HTTP/1.2"), 505, "an unknown minor version"),
    row("http-2.0", get(line=b"GET /ok HTTP/2.0"), 505, "HTTP/2 is not spoken on this port"),
    row("http-3.0", get(line=b"GET /ok HTTP/3.0"), 505, "an unknown major version"),
    row("http-0.9", get(line=b"GET /ok HTTP/0.9"), 505, "HTTP/0.9 is not served"),
    row("http-version-lowercase", get(line=b"GET /ok http/1.1"), 400, "HTTP-name is case-sensitive"),
    row("http-version-two-digits", get(line=b"GET /ok HTTP/1.10"), 400, "DIGIT.DIGIT"),
    # 505 is for a well-formed HTTP-version we do not speak; a line that is not
    # METHOD SP request-target SP HTTP-version is malformed (llhttp takes the first three
    # for HTTP/0.9's simple request and for RTSP and Icecast's ICE).
    row("no-version", get(line=b"GET /ok"), 400, "3: the version is not optional (HTTP/0.9 is not spoken)"),
    row("version-garbage", get(line=b"GET /ok garbage"), 400, "3: garbage where the version goes"),
    row("version-rtsp-1.0", get(line=b"GET /ok RTSP/1.0"), 400, "2.3: HTTP-name is HTTP, not RTSP"),
    row("version-rtsp-2.0", get(line=b"GET /ok RTSP/2.0"), 400, "not a 505: it is no HTTP version at all"),
    row("version-rtsp-1.2", get(line=b"GET /ok RTSP/1.2"), 400, "llhttp calls it an unknown HTTP version"),
    row("version-ice", get(line=b"SOURCE /ok ICE/1.0"), 400, "Icecast's ICE/1.0 is not HTTP"),
    row(
        "pipelined-rtsp",
        OK + get(line=b"GET /ok RTSP/1.0"),
        400,
        "the first is answered; the second line is not HTTP",
        before=(200,),
    ),
    row("te-in-http10", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "6.1"),
    row(
        "te-in-http10-keep-alive",
        b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "6.1: a 1.0 message with Transfer-Encoding has faulty framing, kept alive or not",
    ),
    row(
        "http2-preface",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        (400, 505),
        "an HTTP/2 prior-knowledge preface on an HTTP/1.1 port",
    ),
    row(
        "tls-client-hello",
        bytes.fromhex("16030100a5010000a10303") + b"\x00" * 40,
        400,
        "TLS spoken to a plain-text port",
    ),
    row("empty-method", get(line=b" /ok HTTP/1.1"), 400, "the method is 1*tchar"),
    row("unknown-method", get(line=b"FOO /ok HTTP/1.1"), (400, 501), "not a method we know"),
    row("lowercase-method", get(line=b"get /ok HTTP/1.1"), (400, 501), "methods are case-sensitive"),
    row("method-1000-chars", get(line=b"A" * 1000 + b" /ok HTTP/1.1"), (400, 501), "an absurd method"),
    row("tab-between-method-and-target", get(line=b"GET\t/ok HTTP/1.1"), 400, "3: SP separates"),
    row("target-asterisk-on-get", get(line=b"GET * HTTP/1.1"), 400, "3.2.4: * is for OPTIONS only"),
    row(
        "target-authority-form",
        get(line=b"GET example.com:80 HTTP/1.1"),
        400,
        "3.2.3: authority-form is for CONNECT only",
    ),
    row("target-bare-word", get(line=b"GET foo HTTP/1.1"), 400, "neither origin-form nor absolute-form"),
    row("target-with-nul", get(line=b"GET /o\x00k HTTP/1.1"), 400, "no control bytes in a target"),
    row("target-with-del", get(line=b"GET /o\x7fk HTTP/1.1"), 400, "nor DEL"),
    row("target-not-ascii", get(line=b"GET /\xc3\xa9 HTTP/1.1"), 400, "non-ASCII must be percent-encoded"),
    row(
        "target-bad-percent-utf8",
        get(line=b"GET /%ff%fe HTTP/1.1"),
        400,
        "a path that is not UTF-8 once percent-decoded",
    ),
    row("nul-in-field-name", get(b"X-A\x00b: 1"), 400, "a field name is 1*tchar"),
    row(
        "connect-authority-form",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        501,
        "a valid request for a tunnel we do not open: 501 (RFC 9110 15.6.2), never 400",
    ),
    row(
        "connect-ip-literal",
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
        501,
        "the same with an IPv6 authority",
    ),
    # -- Host (RFC 9112 section 3.2: a server MUST answer 400) ------------------------------------------
    row("host-missing", b"GET /ok HTTP/1.1\r\n\r\n", 400, "an HTTP/1.1 request without Host"),
    row("host-twice", get(b"Host: y"), 400, "two Hosts: one hop may route by the first, another by the last"),
    row("host-twice-same", get(b"Host: x"), 400, "more than one Host field line, even equal ones"),
    row("host-twice-http10", b"GET /ok HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "any version"),
    row("host-with-space", b"GET /ok HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "3.2: an invalid Host value"),
    row("host-list", b"GET /ok HTTP/1.1\r\nHost: a, b\r\n\r\n", 400, "a list is not one host"),
    row("host-with-userinfo", b"GET /ok HTTP/1.1\r\nHost: u@x\r\n\r\n", 400, "no userinfo in Host"),
    row("host-with-path", b"GET /ok HTTP/1.1\r\nHost: x/y\r\n\r\n", 400, "a host has no path"),
    row("host-two-colons", b"GET /ok HTTP/1.1\r\nHost: a:b:c\r\n\r\n", 400, "uri-host [: port], once"),
    row("host-port-not-digits", b"GET /ok HTTP/1.1\r\nHost: a:http\r\n\r\n", 400, "port = *DIGIT"),
    row("host-bare-ipv6", b"GET /ok HTTP/1.1\r\nHost: ::1\r\n\r\n", 400, "an IPv6 address needs brackets"),
    row("host-bracket-unclosed", b"GET /ok HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "IP-literal ends in ]"),
    row("host-bracket-not-ipv6", b"GET /ok HTTP/1.1\r\nHost: [a.b]\r\n\r\n", 400, "not an IPv6address"),
    row("host-bracket-in-name", b"GET /ok HTTP/1.1\r\nHost: a[b]\r\n\r\n", 400, "brackets only around IPs"),
    row("host-ipv6-zone", b"GET /ok HTTP/1.1\r\nHost: [fe80::1%eth0]\r\n\r\n", 400, "no zone id"),
    row("host-after-ipv6-junk", b"GET /ok HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400, "only :port may follow"),
    row("host-missing-absolute-form", b"GET http://x/ok HTTP/1.1\r\n\r\n", 400, "3.2: Host still required"),
    row(
        "pipelined-host-missing",
        OK + b"GET /ok HTTP/1.1\r\n\r\n" + OK,
        400,
        "the first is answered; the Host-less one is 400 and nothing after it",
        before=(200,),
    ),
    # -- pipelining: a valid request, then an ambiguous one in the same packet ------------------------
    row(
        "pipelined-cl-te",
        OK + POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + OK,
        400,
        "the first is answered; the ambiguous one is 400 and nothing after it",
        before=(200,),
    ),
    row(
        "pipelined-te-cl-smuggle",
        OK
        + POST
        + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n"
        + b"GPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\nx=1\r\n0\r\n\r\n",
        400,
        "the TE.CL body hides a second request: it must never be answered",
        before=(200,),
    ),
    row(
        "pipelined-two-content-lengths",
        OK + POST + b"Content-Length: 1\r\nContent-Length: 40\r\n\r\n" + OK,
        400,
        "the hidden GET must not be answered",
        before=(200,),
    ),
    row(
        "pipelined-te-gzip-chunked",
        OK + POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + OK,
        (501, 400),
        "a coding we cannot decode: the body's end is not ours to guess",
        before=(200,),
    ),
    row(
        "pipelined-te-space-before-colon",
        OK + POST + b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + OK,
        400,
        "a proxy that drops the bad field frames by Content-Length: a desync",
        before=(200,),
    ),
    row(
        "pipelined-obs-folded-te",
        OK + POST + b"Content-Length: 5\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + OK,
        400,
        "a proxy that unfolds the line sees Transfer-Encoding, we would see Content-Length",
        before=(200,),
    ),
    row(
        "pipelined-bare-lf-chunk",
        OK + CHUNKED + b"5\nhello\r\n0\r\n\r\n" + OK,
        400,
        "a CRLF-only and a lenient parser disagree on where the chunk ends",
        before=(200,),
    ),
]

ACCEPTED = [
    pytest.param(POST + b"Content-Length: 5\r\n\r\nhello", b"hello", id="content-length"),
    pytest.param(POST + b"Content-Length: 005\r\n\r\nhello", b"hello", id="content-length-leading-zeros"),
    pytest.param(CHUNKED + b"5\r\nhello\r\n0\r\n\r\n", b"hello", id="chunked"),
    pytest.param(
        CHUNKED + b'2;a=b;c="d"\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 1\r\n\r\n',
        b"hello",
        id="chunked-extensions-and-trailer",
    ),
    pytest.param(
        POST + b"Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"hello",
        id="te-case-insensitive",
    ),
    pytest.param(
        POST + b"Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"hello",
        id="te-tab-is-whitespace",
    ),
    pytest.param(
        POST + b"Transfer-Encoding: , chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"hello",
        id="te-empty-list-element",
    ),
    pytest.param(
        b"GET http://example.com/ok HTTP/1.1\r\nHost: example.com\r\n\r\n", b"ok", id="absolute-form"
    ),
    pytest.param(b"GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", b"ok", id="http10-needs-no-host"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost:\r\n\r\n", b"ok", id="host-empty-value"),
    pytest.param(b"GET /ok HTTP/1.1\r\nhOsT: x\r\n\r\n", b"ok", id="host-name-any-case"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", b"ok", id="host-ipv6-and-port"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", b"ok", id="host-ipv4-and-port"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n", b"ok", id="host-idna"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: x:\r\n\r\n", b"ok", id="host-empty-port"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: [v1.fe]:80\r\n\r\n", b"ok", id="host-ipvfuture"),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: [::ffff:1.2.3.4]\r\n\r\n", b"ok", id="host-ipv4-mapped"),
    pytest.param(b"GET /ok  HTTP/1.1\r\nHost: x\r\n\r\n", b"ok", id="request-line-two-spaces"),
    pytest.param(
        POST + b"Content-Length: 16\r\n\r\nGET /ok RTSP/1.0", b"GET /ok RTSP/1.0", id="body-like-a-bad-line"
    ),
    pytest.param(b"GET /ok HTTP/1.1\r\nHost: x\r\nX-A: GET /ok\r\n\r\n", b"ok", id="target-in-a-field"),
]


@pytest.mark.parametrize(("data", "statuses", "before", "why"), REJECTED)
async def test_rejected_with_an_error_and_a_close(
    make_server: MakeServer,
    raw_connect: RawConnect,
    bytewise: bool,
    data: bytes,
    statuses: tuple[Any, ...],
    before: tuple[int, ...],
    why: str,
) -> None:
    server = await make_server(build_app(), limits=LIMITS)
    conn = await raw_connect(server.port)
    result = await exchange(conn, data, bytewise=bytewise, expect=len(before) + 1)
    assert_rejected(result, statuses, before, why)
    await assert_alive(raw_connect, server.port)


@pytest.mark.parametrize(("data", "body"), ACCEPTED)
async def test_valid_near_misses_are_served(
    make_server: MakeServer, raw_connect: RawConnect, bytewise: bool, data: bytes, body: bytes
) -> None:
    server = await make_server(build_app(), limits=LIMITS)
    conn = await raw_connect(server.port)
    result = await exchange(conn, data + OK, bytewise=bytewise, expect=2)
    responses = final(result.responses())
    assert [(r.status, r.body) for r in responses] == [(200, body), (200, b"ok")], result.raw
    assert not result.closed and not responses[-1].closes


HALF_CLOSED = [
    row("nothing-sent", b"", CLOSE, "a client that connects and leaves gets nothing"),
    row("mid-head", b"GET /ok HTTP/1.1\r\nHost", (400, CLOSE), "an incomplete head is dropped (or 400)"),
    row(
        "mid-body-content-length",
        POST + b"Content-Length: 10\r\n\r\nhello",
        400,
        "the rest of the body can never come: the handler waiting for it is answered 400, not left"
        " waiting forever",
    ),
    row("mid-chunked-body", CHUNKED + b"5\r\nhel", (400, CLOSE), "the same with a chunked body"),
    row(
        "mid-trailer-section",
        CHUNKED + b"5\r\nhello\r\n0\r\nX-T: 1\r\n",
        (400, CLOSE),
        "the same inside the trailer section",
    ),
    row(
        "after-a-whole-request",
        OK,
        CLOSE,
        "the request is answered, then the server closes too",
        before=(200,),
    ),
]


@pytest.mark.parametrize(("data", "statuses", "before", "why"), HALF_CLOSED)
async def test_client_half_close_is_answered_and_closed(
    make_server: MakeServer,
    raw_connect: RawConnect,
    bytewise: bool,
    data: bytes,
    statuses: tuple[Any, ...],
    before: tuple[int, ...],
    why: str,
) -> None:
    # The client shuts its sending side (FIN) and waits: whatever it sent was all it will send.
    server = await make_server(build_app(), limits=LIMITS)
    conn = await raw_connect(server.port)
    result = await exchange(conn, data, bytewise=bytewise, expect=len(before) + 1, half_close=True)
    assert_rejected(result, statuses, before, why)
    await assert_alive(raw_connect, server.port)


async def test_trailer_fields_do_not_leak_into_the_next_request(
    make_server: MakeServer, raw_connect: RawConnect, bytewise: bool
) -> None:
    # RFC 9112 section 7.1.2: trailer fields belong to the message they end. Were they kept
    # as header fields of the next request on the connection, a client could set (say) the
    # Host or an auth header of a request a proxy forwards after its own.
    server = await make_server(build_app(), limits=LIMITS)
    conn = await raw_connect(server.port)
    data = (
        CHUNKED
        + b"5\r\nhello\r\n0\r\nX-Smuggled: 1\r\nHost: evil\r\nAuthorization: Bearer evil\r\n\r\n"
        + get(line=b"GET /headers HTTP/1.1")
    )
    result = await exchange(conn, data, bytewise=bytewise, expect=2)
    responses: list[Parsed] = final(result.responses())
    assert [r.status for r in responses] == [200, 200], result.raw
    assert responses[0].body == b"hello"
    assert responses[1].body == b'["Host"]', "trailer fields of the POST became headers of the GET"
    await assert_alive(raw_connect, server.port)


async def test_options_asterisk_describes_the_server(
    make_server: MakeServer, raw_connect: RawConnect, bytewise: bool
) -> None:
    """RFC 9110 section 9.3.7: ``OPTIONS *`` asks about the server as a whole."""
    server = await make_server(build_app(), limits=LIMITS)
    conn = await raw_connect(server.port)
    result = await exchange(conn, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + OK, bytewise=bytewise, expect=2)
    options, ok = final(result.responses())
    assert options.status == 204, result.raw
    assert options.header("Allow") == "GET, HEAD, OPTIONS, POST"  # every method of the table
    assert options.body == b"" and options.header("Content-Length") is None
    assert (ok.status, ok.body) == (200, b"ok") and not result.closed
