"""The access log (ops/accesslog.py) and request ids (web/requestid.py): one valid line per
request whatever the client sends, written off the event loop, and the id that ties a line
to its answer."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from serving import ChildProcess, hello_project

from service import Application, Response, StreamResponse
from service.http.server import Server
from service.ops import accesslog
from service.ops.accesslog import AccessLog, LineWriter
from service.testing import TestClient
from service.web.requestid import new_id, trace_id

TIMEOUT = 10.0  # bound on every wait; never a timing assertion
TRACE = "0af7651916cd43dd8448eb211c80319c"
FIELDS = [
    "time",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "bytes",
    "remote",
    "request_id",
    "user_agent",
]


class Lines:
    """A LineWriter's output, collected from a pipe."""

    def __init__(self) -> None:
        self.read_fd, write_fd = os.pipe()
        self.writer = LineWriter(write_fd)
        self._write_fd = write_fd

    def close(self) -> list[str]:
        self.writer.close()
        os.close(self._write_fd)
        with os.fdopen(self.read_fd, "rb") as pipe:
            return pipe.read().decode("utf-8").splitlines()


async def hello(request):  # type: ignore[no-untyped-def]
    return Response(text=f"hi {request.request_id}")


async def streamed(request):  # type: ignore[no-untyped-def]
    response = StreamResponse()
    await response.prepare(request)
    await response.write(b"12345")
    return response


async def own_id(request):  # type: ignore[no-untyped-def]
    return Response(text="mine", headers={"X-Request-ID": "set-by-the-handler"})


async def headed(request):  # type: ignore[no-untyped-def]
    return Response(text="headed", headers={"X-Other": "1"})  # (rendered by the general path)


async def empty(request):  # type: ignore[no-untyped-def]
    return Response(status=204)


def app() -> Application:
    application = Application()
    application.router.add_get("/users/{id}", hello)
    application.router.add_get("/stream", streamed)
    application.router.add_get("/own", own_id)
    application.router.add_get("/headed", headed)
    application.router.add_get("/empty", empty)
    return application


async def serve_logged(
    requests: list[tuple[str, str, dict[str, str]]], fmt: str = "json"
) -> tuple[list, list[str]]:
    """Answer ``requests`` (method, path, headers) on a real server; the answers and the log."""
    lines = Lines()
    server = Server(app(), host="127.0.0.1", port=0, access_log=AccessLog(lines.writer, fmt=fmt))  # type: ignore[arg-type]
    answers = []
    async with (
        server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client,
    ):
        for method, path, headers in requests:
            answers.append(await client.request(method, path, headers=headers))
    return answers, lines.close()


async def test_one_line_per_request_with_every_field() -> None:
    headers = {"User-Agent": "curl/8.5", "traceparent": f"00-{TRACE}-b7ad6b7169203331-01"}
    answers, lines = await serve_logged([("GET", "/users/7?x=1", headers), ("HEAD", "/users/8", {})])
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first)[: len(FIELDS)] == FIELDS
    assert datetime.fromisoformat(first["time"].replace("Z", "+00:00")).tzinfo is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (first["method"], first["route"], first["path"], first["status"]) == (
        "GET",
        "/users/{id}",
        "/users/7?x=1",
        200,
    )
    assert first["bytes"] == len(answers[0].content) and first["duration_ms"] >= 0
    assert (first["remote"], first["user_agent"], first["trace_id"]) == ("127.0.0.1", "curl/8.5", TRACE)
    assert first["request_id"] == answers[0].headers["X-Request-ID"] == answers[0].text.split()[1]
    assert second["method"] == "HEAD" and second["bytes"] == 0 and "trace_id" not in second


HOSTILE = [
    ("/p%22q", {"User-Agent": 'a "quoted" \\ agent'}),
    ('/say/"hi"', {"User-Agent": "tab\there"}),
    ("/x\\y", {"User-Agent": "back\\slash"}),
    ("/caf%C3%A9", {"User-Agent": "caf\xe9 \x85 latin-1"}),
    ("/" + "a" * 3000, {"User-Agent": "}" * 500 + '"]'}),
    ("/{id}", {"User-Agent": "x=1 y=2"}),
]


async def raw_logged(path: str, user_agent: str, fmt: str = "json") -> list[str]:
    """Send one request with exactly these bytes (no client library normalizes them); the log."""
    lines = Lines()
    server = Server(app(), host="127.0.0.1", port=0, access_log=AccessLog(lines.writer, fmt=fmt))  # type: ignore[arg-type]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        head = f"GET {path} HTTP/1.1\r\nHost: t\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode("latin-1"))
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 404 ")
    return lines.close()


@pytest.mark.parametrize(("path", "headers"), HOSTILE)
async def test_hostile_input_still_makes_one_valid_json_line(path: str, headers: dict[str, str]) -> None:
    lines = await raw_logged(path, headers["User-Agent"])
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["path"] == path
    assert entry["user_agent"] == headers["User-Agent"]


@pytest.mark.parametrize(("path", "headers"), HOSTILE)
async def test_hostile_input_in_logfmt(path: str, headers: dict[str, str]) -> None:
    lines = await raw_logged(path, headers["User-Agent"], fmt="logfmt")
    assert len(lines) == 1
    pairs = dict(
        (key, json.loads(value) if value.startswith('"') else value)
        for key, value in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', lines[0])
    )
    assert pairs["path"] == path and pairs["user_agent"] == headers["User-Agent"]
    assert pairs["status"] == "404" and pairs["route"] == "-"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123", True),
        ("6f1c1b8e-2a8b-4c8e-9f6e-2b1f0e7f9a10", True),
        ("x" * 128, True),
        ("A.b_c:d/e+f=g@h~i", True),
        ("x" * 129, False),
        ("", False),
        ("has space", False),
        ('quo"te', False),
        ("semi;colon", False),
        ("caf\xe9", False),
    ],
)
async def test_incoming_request_ids(sent: str, kept: bool) -> None:
    answers, lines = await serve_logged([("GET", "/users/1", {"X-Request-ID": sent.encode("latin-1")})])  # type: ignore[dict-item]
    echoed = answers[0].headers["X-Request-ID"]
    assert json.loads(lines[0])["request_id"] == echoed
    if kept:
        assert echoed == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


async def test_streamed_answers_carry_the_id_and_a_handlers_own_wins() -> None:
    answers, lines = await serve_logged([("GET", "/stream", {"X-Request-ID": "s-1"}), ("GET", "/own", {})])
    assert answers[0].headers["X-Request-ID"] == "s-1" and answers[0].text == "12345"
    assert json.loads(lines[0])["bytes"] == 5
    assert answers[1].headers.get_list("X-Request-ID") == ["set-by-the-handler"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/1", "hi r-1"),
        ("GET", "/headed", "headed"),
        ("GET", "/empty", ""),
        ("HEAD", "/users/1", ""),
    ],
)
async def test_every_rendering_path_says_the_id_once(method: str, path: str, body: str) -> None:
    """The fast rendering path, the general one (other headers), no body (204) and HEAD."""
    answers, _ = await serve_logged([(method, path, {"X-Request-ID": "r-1"})])
    assert answers[0].headers.get_list("X-Request-ID") == ["r-1"] and answers[0].text == body


async def test_request_ids_are_off_unless_asked() -> None:
    server = Server(app(), host="127.0.0.1", port=0)
    async with (
        server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client,
    ):
        plain = await client.get("/users/1")
        assert "X-Request-ID" not in plain.headers
    server = Server(app(), host="127.0.0.1", port=0, request_ids=True)
    async with (
        server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client,
    ):
        asked = await client.get("/users/1", headers={"X-Request-ID": "r-9"})
    assert asked.headers["X-Request-ID"] == "r-9" and asked.text == "hi r-9"


def test_new_ids_are_unique_hex() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", found) for found in ids)


def test_a_forked_child_gets_ids_of_its_own() -> None:
    new_id()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then gone
        os.write(write, new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    assert child != new_id()  # the parent's next one: the child did not repeat it


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"00-{TRACE}-b7ad6b7169203331-01", TRACE),
        (f" 00-{TRACE}-b7ad6b7169203331-00 ", TRACE),
        (f"00-{'0' * 32}-b7ad6b7169203331-01", None),  # an all-zero trace id is invalid
        (f"ff-{TRACE}-b7ad6b7169203331-01", None),  # version ff is invalid
        (f"00-{TRACE.upper()}-b7ad6b7169203331-01", None),  # lowercase hex only
        (f"00-{TRACE[:-1]}-b7ad6b7169203331-01", None),
        ("garbage", None),
    ],
)
def test_traceparent(value: str, expected: str | None) -> None:
    assert trace_id(value.encode()) == expected


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\u2028", "\n", "\r"])
def test_control_characters_are_escaped(control: str) -> None:
    """What llhttp lets through is escaped by the formatter all the same (tested on it directly;
    the route comes escaped, once per template, by AccessLog)."""
    text = f"a{control}b"
    route = accesslog._json_text(text)
    line = accesslog._json_line("t", "GET", route, text, 200, 1.0, 0, text, "id", text, None, "")
    assert line.count("\n") == 1 and line.endswith("\n") and line.isascii()
    entry = json.loads(line)
    assert entry["route"] == entry["path"] == entry["remote"] == entry["user_agent"] == text
    route = accesslog._logfmt_value(text)
    logfmt = accesslog._logfmt_line("t", "GET", route, text, 200, 1.0, 0, text, "id", text, None, "")
    assert logfmt.count("\n") == 1 and logfmt.isascii()


async def test_the_first_request_id_field_is_the_one() -> None:
    server = Server(app(), host="127.0.0.1", port=0, request_ids=True)
    two = [("x-request-id", "one"), ("X-Request-ID", "two")]
    async with server, httpx.AsyncClient(timeout=TIMEOUT) as client:
        answer = await client.get(f"http://127.0.0.1:{server.port}/users/1", headers=two)
    assert answer.headers["X-Request-ID"] == "one"


async def test_a_slow_output_never_blocks_the_loop() -> None:
    """A pipe nobody reads fills; the server still answers every request, and the lines
    are all written once the reader comes (none lost below the pending bound)."""
    read_fd, write_fd = os.pipe()
    writer = LineWriter(write_fd)
    server = Server(app(), host="127.0.0.1", port=0, access_log=AccessLog(writer))
    count = 1500  # ~300 bytes a line: several pipe buffers' worth
    async with server:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
            for number in range(count):
                assert (await client.get(f"/users/{number}")).status_code == 200
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(_read_all(read_fd)), daemon=True)
        reader.start()
    writer.close()
    os.close(write_fd)
    reader.join(TIMEOUT)
    lines = b"".join(received).decode().splitlines()
    assert len(lines) == count
    assert [json.loads(line)["path"] for line in lines] == [f"/users/{n}" for n in range(count)]


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read()


def test_past_the_pending_bound_lines_are_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(accesslog, "MAX_PENDING", 100)
    read_fd, write_fd = os.pipe()
    writer = LineWriter(write_fd)
    writer._thread = threading.current_thread()  # no thread: nothing is written until flush()
    for number in range(10):
        writer.write(f"line {number:030d}\n")  # 36 bytes each: the fourth goes past 100
    writer.flush()
    os.close(write_fd)
    written = _read_all(read_fd).decode().splitlines()
    assert written == [f"line {n:030d}" for n in range(3)]
    assert "7 line(s) dropped" in caplog.text


async def test_test_client_with_access_log_setting(tmp_path: Path) -> None:
    routes = hello_project(tmp_path, "idsapp", "  request_ids: true\n")
    async with TestClient(routes) as client:
        answer = await client.get("/hi", headers={"X-Request-ID": "t-1"})
    assert answer.headers["X-Request-ID"] == "t-1"


def test_serve_access_log_on_stdout_apart_from_the_log(tmp_path: Path) -> None:
    """``serve --access-log --workers 2``: JSON lines on stdout, each saying its worker;
    the application's lines on stderr, each once, also saying their worker."""
    (tmp_path / "app.py").write_text(
        "import logging\nfrom service import Response\n\n"
        "async def hi(request):\n    logging.getLogger('app').warning('handled %s', request.path)\n"
        "    return Response(text='hi')\n"
    )
    (tmp_path / "routes.yaml").write_text("routes:\n  GET /hi/{n}: app.hi\n")
    argv = [sys.executable, "-m", "service", "serve", "routes.yaml", "--host", "127.0.0.1", "--port", "0"]
    process = ChildProcess(
        [*argv, "--workers", "2", "--access-log", "--no-reload"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    try:
        port = process.wait_serving()
        process.wait_log(r"\[worker 1\].*Serving on", timeout=TIMEOUT)
        process.wait_log(r"\[worker 2\].*Serving on", timeout=TIMEOUT)
        for number in range(20):
            assert httpx.get(f"http://127.0.0.1:{port}/hi/{number}", timeout=TIMEOUT).status_code == 200
        process.wait_log(r'^\{"time"', count=20, timeout=TIMEOUT)  # (each worker writes every 50 ms)
        access = [json.loads(m.string) for m in process.find_all(r'^\{"time"')]
        assert sorted(entry["path"] for entry in access) == sorted(f"/hi/{n}" for n in range(20))
        assert {entry["worker"] for entry in access} <= {1, 2} and all("worker" in e for e in access)
        handled = process.find_all(r"WARNING \[worker [12]\] app: handled /hi/(\d+)$")
        assert sorted(int(m.group(1)) for m in handled) == list(range(20))  # each once
        assert process.terminate() == 0
    finally:
        process.kill()


async def test_behind_a_trusted_proxy_the_remote_is_the_client() -> None:
    """The log's remote is request.remote: the peer, unless a trusted proxy names the client."""
    trusting = Application(trusted_proxies=["127.0.0.1"])
    trusting.router.add_get("/users/{id}", hello)
    lines = Lines()
    server = Server(trusting, host="127.0.0.1", port=0, access_log=AccessLog(lines.writer))
    async with (
        server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client,
    ):
        await client.get("/users/1", headers={"X-Forwarded-For": "203.0.113.9"})
        await client.get("/users/2")
    assert [json.loads(line)["remote"] for line in lines.close()] == ["203.0.113.9", "127.0.0.1"]
