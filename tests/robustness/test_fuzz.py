"""Fuzzing one real server with generated and mutated requests (hypothesis).

One server runs for the whole module on its own event loop in a thread, on
127.0.0.1:0. Each example opens a connection, sends its bytes in one or several
packets, shuts its sending side (so every request the server could parse is
complete or never will be) and reads until the server closes. For every example:

- the server closes within ``CASE_TIMEOUT`` (no hang);
- everything it sent is well-formed HTTP/1.1 responses, framed by Content-Length,
  none after one that says ``Connection: close``;
- nothing was logged as an error (no crash), and a fresh ``GET /ok`` still gets 200.

A second test sends the same kind of inputs without the FIN: the server's own
timeouts (head, body, idle keep-alive) must close every such connection.

Inputs are valid requests (fixed seeds and generated ones, some pipelined) with up
to three single-byte mutations (flip a bit, insert or delete a byte), often cut short
(the client stops sending early), split into packets at random points.
The run is seeded (``derandomize``) and bounded: ``FUZZ_EXAMPLES`` examples
(default 150, a few seconds); set it higher for a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from service import Limits, Server

from .support import TIMEOUT, build_app, parse_responses

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
CASE_TIMEOUT = 3.0  # upper bound for one example's answer and close; never a timing assertion
MAX_BODY = 64


class ErrorRecords(logging.Handler):
    """Collects what the server logs as an error (its own loggers and asyncio's)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class LiveServer:
    """A ``Server`` on its own loop in a thread, for a whole module."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-server", daemon=True)
        self.server = Server(
            build_app(client_max_size=MAX_BODY),
            host="127.0.0.1",
            port=0,
            limits=Limits(
                max_target_size=256,
                max_header_size=512,
                max_header_count=16,
                # Short, so that a client that never half-closes is closed within a case.
                header_timeout=0.5,
                body_timeout=0.5,
                keepalive_timeout=0.5,
            ),
            shutdown_timeout=1.0,
        )
        self.errors = ErrorRecords()

    def call(self, coro: object, timeout: float) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def start(self) -> None:
        for name in ("service", "asyncio"):
            logging.getLogger(name).addHandler(self.errors)
        self.thread.start()
        self.call(self.server.start(), TIMEOUT)

    def stop(self) -> None:
        try:
            if self.thread.is_alive():
                self.server.force()
                self.call(self.server.shutdown(), TIMEOUT + self.server.shutdown_timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
            if not self.thread.is_alive():
                self.loop.close()
            for name in ("service", "asyncio"):
                logging.getLogger(name).removeHandler(self.errors)


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    live = LiveServer()
    try:
        live.start()
        yield live
    finally:
        live.stop()


# -- talking to it with plain blocking sockets -------------------------------------------------------


def talk(port: int, packets: list[bytes], *, half_close: bool = True) -> tuple[bytes, bool]:
    """Send ``packets``, shut the sending side (if ``half_close``), read until the server
    closes (bounded).

    Returns what was received and whether the server closed within ``CASE_TIMEOUT``.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, packet in enumerate(packets):
            if i:
                time.sleep(0.0005)  # let the server read the packets apart
            try:
                sock.sendall(packet)
            except OSError:
                break  # the server closed already: it need not read the rest
        if half_close:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        deadline = time.monotonic() + CASE_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                return bytes(received), True
            if not chunk:
                return bytes(received), True
            received += chunk
        return bytes(received), False


def assert_alive(port: int) -> None:
    data, closed = talk(port, [b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
    responses, rest = parse_responses(data)
    assert [(r.status, r.body) for r in responses] == [(200, b"ok")] and not rest, data
    assert closed


# -- inputs ---------------------------------------------------------------------------------------

BODY = b"hello, world! " * 3

SEEDS = [
    b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /headers?a=1&b=%20 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Token: abc\r\n\r\n",
    b"HEAD /ok HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET http://example.com/ok HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"OPTIONS /ok HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n%s"
    % (len(BODY), BODY),
    b"POST /echo HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
]


def mostly(valid: list[bytes], odd: list[bytes]) -> list[bytes]:
    """Choices where each valid one is three times as likely as each odd one, so that
    most generated requests get past the request line and exercise framing and bodies."""
    return valid * 3 + odd


METHODS = mostly([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH"], [b"FOO", b"get", b""])
TARGETS = mostly(
    [b"/ok", b"/echo", b"/headers?x=1", b"/nope", b"http://h/ok"], [b"*", b"/%ff", b"ok", b"/" * 300]
)
VERSIONS = mostly([b"HTTP/1.1", b"HTTP/1.0"], [b"HTTP/2.0", b"HTTP/1.2", b"http/1.1", b"HTTP/1.1 "])
NAMES = mostly(
    [b"Host", b"Content-Length", b"Transfer-Encoding", b"Expect", b"Connection", b"X-A", b"Trailer"],
    [b"Upgrade", b"Transfer_Encoding", b"Content-Length ", b" X-B", b"X\x00C", b""],
)
VALUES = mostly(
    [b"x", b"0", b"5", b"chunked", b"100-continue", b"close", b"keep-alive"],
    [
        b"-1",
        b"99999999999999999999",
        b"gzip, chunked",
        b"chunked, identity",
        b"a\x00b",
        b"a\rb",
        b"\x0bchunked",
    ],
)
BYTES = st.integers(min_value=0, max_value=255)


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    """A request from parts that are mostly valid, sometimes not."""
    line = b" ".join(
        [draw(st.sampled_from(METHODS)), draw(st.sampled_from(TARGETS)), draw(st.sampled_from(VERSIONS))]
    )
    fields = draw(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)), max_size=4))
    body = draw(st.binary(max_size=MAX_BODY + 8))
    framing = draw(st.sampled_from(["none", "length", "length", "chunked", "chunked"]))
    if framing == "length":
        fields.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked":
        fields.append((b"Transfer-Encoding", b"chunked"))
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    else:
        body = b""
    head = b"\r\n".join([line, *(n + b": " + v for n, v in fields)]) + b"\r\n\r\n"
    return head + body


@st.composite
def cases(draw: st.DrawFn) -> list[bytes]:
    """One to three requests (pipelined), mutated byte-wise, maybe cut short, split into packets."""
    requests = draw(st.lists(st.sampled_from(SEEDS) | generated(), min_size=1, max_size=3))
    data = bytearray(b"".join(requests))
    # Positions are uniform over the data (hypothesis's own integers favour small ones,
    # which would put most mutations in the method); the Random is seeded by hypothesis.
    rnd = draw(st.randoms(use_true_random=False))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = rnd.randrange(max(len(data), 1))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif kind == "insert":
            data.insert(at, draw(BYTES))
        elif kind == "delete" and data:
            del data[at]
    if draw(st.booleans()):  # the client stops early: often inside the last body
        del data[max(len(data) - rnd.randint(1, 24), 0) :]
    cuts = sorted(
        {rnd.randrange(1, len(data)) for _ in range(draw(st.integers(0, 4)))} if len(data) > 1 else ()
    )
    bounds = [0, *cuts, len(data)]
    return [bytes(data[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


@settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # Shrinking replays failing examples, and an example that hangs costs CASE_TIMEOUT
    # each time: report the first failure as found (it is reproducible: derandomize).
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(packets=cases())
@example(packets=[b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello"])
@example(packets=[b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"])
@example(packets=[b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHo", b"st: x\r\n\r\n"])
def test_any_bytes_get_well_formed_answers_or_a_close(live_server: LiveServer, packets: list[bytes]) -> None:
    check(live_server, packets, half_close=True)


@settings(
    derandomize=True,
    # Each case lasts until a timeout closes it (about 0.5 s): fewer of them.
    max_examples=max(EXAMPLES // 6, 10),
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(packets=cases())
@example(packets=[b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"])  # answered, then idle: keepalive_timeout
@example(packets=[b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HT"])  # a next head begun, never ended
@example(packets=[b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello"])  # body_timeout
@example(packets=[b"GET /ok HTTP/1.1\r\nHo"])  # header_timeout
def test_a_client_that_never_half_closes_is_closed_by_a_timeout(
    live_server: LiveServer, packets: list[bytes]
) -> None:
    check(live_server, packets, half_close=False)


def check(live_server: LiveServer, packets: list[bytes], *, half_close: bool) -> None:
    port = live_server.server.port
    data, closed = talk(port, packets, half_close=half_close)
    sent = b"".join(packets)
    after = "the client's FIN" if half_close else "the last byte (no FIN)"
    assert closed, f"no close within {CASE_TIMEOUT}s after {after}\n sent {sent!r}\n got {data!r}"
    # Raises on anything malformed, or on bytes after a Connection: close response.
    _, rest = parse_responses(data, maybe_head=b"HEAD" in sent)
    assert not rest, f"truncated response\n sent {sent!r}\n got {data!r}"
    errors = [r.getMessage() for r in live_server.errors.records]
    live_server.errors.records.clear()
    assert not errors, f"the server logged errors for {sent!r}: {errors}"
    assert_alive(port)
