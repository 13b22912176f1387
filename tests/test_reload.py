"""Live reload: ``python -m service serve`` in a subprocess while its files change.

Each test gets its own directory with a routes.yaml and a handler package whose
name is unique (``h_<hex>``), runs the real CLI on 127.0.0.1 port 0, reads the
server's log in a background thread, edits the files the way people and tools
do (in place, by atomic rename, by swapping a symlink), and polls until the
effect shows. Every wait is bounded; nothing asserts how fast anything happens.
At the end each server gets SIGTERM and must exit 0.

The last tests drive ``Reloader`` in-process with a fake current/swap pair.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import serving

from service import Limits
from service.config.project import HEALTH_KEY, Health, load_app, module_file, spec_of
from service.ops.reload import Reloader, limits_of
from service.web.app import Application

WAIT = serving.WAIT  # upper bound for a reload to show; never a timing assertion
POLL = 0.1
HTTP_TIMEOUT = 10.0

MODULE = """\
from service import web


async def one(request):
    return web.Response(text="one")


async def two(request):
    return web.Response(text="two")
"""


# -- the project on disk ------------------------------------------------------------------
@dataclass
class Project:
    root: Path
    pkg: str

    @property
    def routes(self) -> Path:
        return self.root / "routes.yaml"

    def text(self, template: str) -> str:
        """``PKG`` in a template is the unique package name."""
        return template.replace("PKG", self.pkg)

    def write_routes(self, template: str, *, path: Path | None = None) -> None:
        (path or self.routes).write_text(self.text(template))

    def write_module(self, name: str, source: str) -> Path:
        file = self.root / self.pkg / f"{name}.py"
        file.write_text(source)
        return file


def make_project(root: Path, routes: str, modules: dict[str, str] | None = None) -> Project:
    project = Project(root, f"h_{uuid.uuid4().hex}")
    (root / project.pkg).mkdir()
    (root / project.pkg / "__init__.py").write_text("")
    for name, source in (modules or {"m": MODULE}).items():
        project.write_module(name, source)
    project.write_routes(routes)
    return project


def write_atomic(path: Path, text: str) -> None:
    """What many editors and config tools do: a new file in the same directory, renamed over."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- the server process ---------------------------------------------------------------------
class ServiceProcess(serving.ServiceProcess):
    """The served project, with the HTTP helpers these tests poll it through."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: httpx.Client | None = None
        self.stopped = False

    # -- HTTP ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT, trust_env=False)
        return self._client

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def health(self) -> dict[str, Any]:
        response = self.get("/healthz")
        assert response.status_code == 200, response.text
        data = response.json()
        assert isinstance(data, dict)
        return data

    def wait_until(self, check: Callable[[], Any], what: str, *, timeout: float = WAIT) -> Any:
        """Poll ``check`` (every POLL s, for at most ``timeout`` s) until it returns a true value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        for _ in range(int(timeout / POLL) + 2):
            last = check()
            if last:
                return last
            if time.monotonic() >= deadline or self.proc.poll() is not None:
                break
            time.sleep(POLL)
        raise AssertionError(f"{what}: not within {timeout} s (last: {last!r}); log:\n{self.log()}")

    def wait_answer(self, path: str, text: str, *, status: int = 200) -> None:
        answers: list[tuple[int, str]] = []

        def check() -> bool:
            response = self.get(path)
            answers.append((response.status_code, response.text))
            return answers[-1] == (status, text)

        try:
            self.wait_until(check, f"GET {path} answering {status} {text!r}")
        except AssertionError as exc:
            raise AssertionError(f"last answers {answers[-3:]}: {exc}") from None

    def wait_status(self, path: str, status: int) -> None:
        self.wait_until(lambda: self.get(path).status_code == status, f"GET {path} answering {status}")

    def wait_health(self, **expected: Any) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            data = self.health()
            return data if all(data.get(k) == v for k, v in expected.items()) else None

        result = self.wait_until(check, f"/healthz showing {expected}")
        assert isinstance(result, dict)
        return result

    # -- stopping -----------------------------------------------------------------------------
    def close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self) -> None:
        """SIGTERM, then the exit code must be 0."""
        self.close_client()
        try:
            code = self.terminate()
        finally:
            self.stopped = True
        assert code == 0, f"exit code {code}; log:\n{self.log()}"

    def kill(self) -> None:
        self.close_client()
        super().kill()


Serve = Callable[..., ServiceProcess]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(project, *flags)`` -> a started server on 127.0.0.1, killed at teardown if still up."""
    with serving.tracked(ServiceProcess) as started:

        def start(project: Project, *flags: str) -> ServiceProcess:
            server = started(project.routes, *flags, cwd=project.root)
            assert isinstance(server, ServiceProcess)
            server.wait_serving()
            return server

        yield start


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """GET /a -> one, GET /b -> two."""
    return make_project(
        tmp_path,
        """\
service:
  name: reload-test
routes:
  GET /a: PKG.m.one
  GET /b: PKG.m.two
""",
    )


def reloaded(project: Project, generation: int) -> str:
    return rf"INFO service\.reload: Reloaded {re.escape(str(project.routes))}: generation {generation}: "


# -- the routes file changes -------------------------------------------------------------------
def test_a_route_added_to_the_file_answers(project: Project, serve: Serve) -> None:
    server = serve(project)
    assert server.get("/a").text == "one"
    assert server.get("/c").status_code == 404
    assert server.health() == {
        "status": "ok",
        "service": "reload-test",
        "instance": socket.gethostname(),
        "generation": 1,
        "last_reload_failed": False,
    }

    project.write_routes("routes:\n  GET /a: PKG.m.one\n  GET /b: PKG.m.two\n  GET /c: PKG.m.two\n")
    server.wait_answer("/c", "two")
    assert server.get("/a").text == "one"
    assert server.get("/b").text == "two"
    server.wait_health(generation=2, last_reload_failed=False)
    server.stop()


def test_a_changed_handler_target_is_served(project: Project, serve: Serve) -> None:
    server = serve(project)
    assert server.get("/a").text == "one"

    project.write_routes("routes:\n  GET /a: PKG.m.two\n  GET /b: PKG.m.two\n")
    server.wait_answer("/a", "two")
    assert server.get("/b").text == "two"
    server.stop()


def test_a_removed_route_answers_404(project: Project, serve: Serve) -> None:
    server = serve(project)
    assert server.get("/b").text == "two"

    project.write_routes("routes:\n  GET /a: PKG.m.one\n")
    server.wait_status("/b", 404)
    assert server.get("/a").text == "one"
    server.stop()


def test_the_reload_log_line_names_generation_and_added_removed_changed(tmp_path: Path, serve: Serve) -> None:
    project = make_project(
        tmp_path,
        "routes:\n  GET /keep: PKG.m.one\n  GET /gone: PKG.m.one\n  GET /change: PKG.m.one\n",
    )
    server = serve(project)
    since = server.mark()
    project.write_routes("routes:\n  GET /keep: PKG.m.one\n  GET /change: PKG.m.two\n  GET /new: PKG.m.one\n")
    line = server.wait_log(reloaded(project, 2), since=since)
    assert line.string.endswith(
        "generation 2: 1 added (GET /new); 1 removed (GET /gone); 1 changed (GET /change);"
        " 0 modules re-imported"
    ), line.string
    assert server.get("/change").text == "two"
    assert server.get("/new").text == "one"
    assert server.get("/gone").status_code == 404
    server.stop()


def test_broken_yaml_keeps_the_old_routes_then_a_fix_reloads(project: Project, serve: Serve) -> None:
    server = serve(project)
    since = server.mark()

    # Line 3 is indented one space too far: a YAML syntax error at 3:COL.
    project.write_routes("routes:\n  GET /a: PKG.m.two\n   GET /c: PKG.m.two\n")
    server.wait_log(rf"ERROR service\.reload: {re.escape(str(project.routes))}:3:\d+: .*YAML", since=since)
    server.wait_log(r"Reload of .* failed \(1 problem\); still serving generation 1", since=since)
    assert server.wait_health(last_reload_failed=True)["generation"] == 1
    assert server.get("/a").text == "one"  # the last good table keeps serving
    assert server.get("/b").text == "two"
    assert server.get("/c").status_code == 404

    since = server.mark()
    project.write_routes("routes:\n  GET /a: PKG.m.two\n  GET /c: PKG.m.two\n")
    server.wait_log(reloaded(project, 2), since=since)
    server.wait_health(generation=2, last_reload_failed=False)
    assert server.get("/a").text == "two"
    assert server.get("/c").text == "two"
    assert server.get("/b").status_code == 404
    server.stop()


def test_an_invalid_route_keeps_the_old_routes(project: Project, serve: Serve) -> None:
    """Valid YAML, invalid file: every issue is logged with its place; nothing changes."""
    server = serve(project)
    since = server.mark()
    project.write_routes("routes:\n  GET /a: PKG.m.two\n  GTE /c: PKG.m.two\n  GET /d: PKG.nope.x\n")
    server.wait_log(rf"{re.escape(str(project.routes))}:3:3: .*unknown method 'GTE'", since=since)
    server.wait_health(generation=1, last_reload_failed=True)
    assert server.get("/a").text == "one"
    assert server.get("/d").status_code == 404
    server.stop()


# -- handler modules change -------------------------------------------------------------------
def test_an_edited_handler_module_is_served_without_touching_routes(project: Project, serve: Serve) -> None:
    server = serve(project)
    assert server.get("/a").text == "one"
    routes_before = project.routes.read_bytes()
    since = server.mark()

    # Same length as before on purpose: a stale .pyc must not be taken for the new source.
    project.write_module("m", MODULE.replace('text="one"', 'text="ONE"'))
    server.wait_answer("/a", "ONE")
    line = server.wait_log(reloaded(project, 2), since=since)
    assert line.string.endswith(f"0 added; 0 removed; 0 changed; 1 module re-imported ({project.pkg}.m)"), (
        line.string
    )
    assert server.get("/b").text == "two"

    # And again, back and forth: each edit is seen.
    project.write_module("m", MODULE.replace('text="one"', 'text="uno"'))
    server.wait_answer("/a", "uno")
    assert project.routes.read_bytes() == routes_before
    server.stop()


def test_a_handler_module_with_a_syntax_error_keeps_the_last_good_table(
    project: Project, serve: Serve
) -> None:
    server = serve(project)
    since = server.mark()

    module = project.write_module("m", MODULE.replace("async def two(request):", "async def two(request)"))
    found = server.wait_log(r"SyntaxError", since=since)
    assert f"{module}:" in found.string, found.string  # the module's own file and line
    server.wait_log(r"Reload of .* failed", since=since)
    server.wait_health(generation=1, last_reload_failed=True)
    assert server.get("/a").text == "one"
    assert server.get("/b").text == "two"

    since = server.mark()
    project.write_module("m", MODULE.replace('text="two"', 'text="TWO"'))
    server.wait_answer("/b", "TWO")
    server.wait_health(generation=2, last_reload_failed=False)
    assert server.get("/a").text == "one"
    server.stop()


def test_a_broken_handler_edit_undone_to_the_exact_old_text_recovers(project: Project, serve: Serve) -> None:
    """An editor's undo: the module goes back byte for byte to what is being served."""
    server = serve(project)
    since = server.mark()

    module = project.write_module("m", MODULE.replace("async def one(", "async def won("))
    server.wait_log(r"has no attribute 'one'", since=since)
    server.wait_health(generation=1, last_reload_failed=True)
    assert server.get("/a").text == "one"

    since = server.mark()
    module.write_text(MODULE)  # undo
    # The file is valid again and says what is served: the reload must succeed ...
    server.wait_health(generation=2, last_reload_failed=False)
    # ... and later edits of routes.yaml must apply.
    project.write_routes("routes:\n  GET /a: PKG.m.one\n  GET /b: PKG.m.two\n  GET /c: PKG.m.one\n")
    server.wait_answer("/c", "one")
    server.stop()


STORE = """\
from service import web

ITEMS = []  # module-level state, like an in-memory store or a pool: a re-import empties it


async def add(request):
    ITEMS.append(request.path)
    return web.Response(text=str(len(ITEMS)))


async def count(request):
    return web.Response(text=str(len(ITEMS)))
"""

STORE_ROUTES = "routes:\n  GET /add: PKG.store.add\n  GET /count: PKG.store.count\n  GET /a: PKG.m.one\n"

# Ways a reload fails, each leaving out of the file's valid part the module that holds the store.
BROKEN_ROUTES = {
    "yaml": "routes:\n  GET /count: PKG.store.count\n   GET /a: PKG.m.one\n",  # indented too far
    "schema": "routes:\n  GTE /count: PKG.store.count\n",  # no such method
    "import": "routes:\n  GET /count: PKG.nope.count\n",  # no such module
}


@pytest.mark.parametrize(
    "failures",
    [["schema"], ["import"], ["yaml", "schema", "import"]],
    ids=lambda failures: "-then-".join(failures),
)
def test_failed_reloads_do_not_re_import_unchanged_modules(
    tmp_path: Path, serve: Serve, failures: list[str]
) -> None:
    """An unchanged module keeps its state across any number of failed reloads and the good one after."""
    project = make_project(tmp_path, STORE_ROUTES, {"m": MODULE, "store": STORE})
    server = serve(project)
    assert server.get("/add").text == "1"
    assert server.get("/add").text == "2"

    for failure in failures:
        since = server.mark()
        project.write_routes(BROKEN_ROUTES[failure])
        server.wait_log(r"Reload of .* failed \(1 problem\); still serving generation 1", since=since)
    server.wait_health(generation=1, last_reload_failed=True)
    assert server.get("/count").text == "2"

    since = server.mark()
    project.write_routes(STORE_ROUTES + "  GET /b: PKG.m.two\n")
    line = server.wait_log(reloaded(project, 2), since=since)
    assert server.get("/count").text == "2", line.string  # the store was not emptied
    assert server.get("/add").text == "3"
    assert line.string.endswith(
        "generation 2: 1 added (GET /b); 0 removed; 0 changed; 0 modules re-imported"
    ), line.string
    server.wait_health(generation=2, last_reload_failed=False)
    server.stop()


def _check(project: Project) -> subprocess.CompletedProcess[str]:
    """``python -m service check ROUTES``, as the server was started (same path, same directory)."""
    return serving.run_service(project.root, "check", str(project.routes))


def test_a_deleted_handler_module_is_a_failed_reload_reported_as_check_does(
    project: Project, serve: Serve
) -> None:
    server = serve(project)
    module = project.root / project.pkg / "m.py"
    since = server.mark()
    module.unlink()

    server.wait_log(r"Reload of .* failed \(2 problems\); still serving generation 1", since=since)
    checked = _check(project)
    assert checked.returncode == 2, checked.stderr
    issues = [
        line
        for line in checked.stderr.splitlines()
        if re.match(rf"{re.escape(str(project.routes))}:\d", line)
    ]
    assert len(issues) == 2, checked.stderr
    assert f"module not found: '{project.pkg}.m'" in issues[0], issues
    for issue in issues:  # each one logged as check prints it: FILE:LINE:COL: where: what
        assert server.find_log(rf"ERROR service\.reload: {re.escape(issue)}$", since=since), (
            issue,
            server.log(),
        )
    assert server.find_log(r"Reloaded", since=since) is None, server.log()
    server.wait_health(generation=1, last_reload_failed=True)
    assert server.get("/a").text == "one"  # the last good table keeps serving

    since = server.mark()
    module.write_text(MODULE)  # put back as it was: nothing to re-import
    line = server.wait_log(reloaded(project, 2), since=since)
    assert line.string.endswith("generation 2: 0 added; 0 removed; 0 changed; 0 modules re-imported"), (
        line.string
    )
    server.wait_health(generation=2, last_reload_failed=False)
    assert server.get("/b").text == "two"
    server.stop()


@pytest.mark.parametrize("before", ["nothing", "a failed edit"])
def test_the_reload_line_counts_and_names_the_re_imported_modules(
    project: Project, serve: Serve, before: str
) -> None:
    server = serve(project)
    if before == "a failed edit":
        since = server.mark()
        project.write_module("m", MODULE.replace("async def two(request):", "async def two(request)"))
        server.wait_log(r"Reload of .* failed", since=since)
    since = server.mark()
    project.write_module("m", MODULE.replace('text="one"', 'text="ONE"'))
    line = server.wait_log(reloaded(project, 2), since=since)
    assert line.string.endswith(
        f"generation 2: 0 added; 0 removed; 0 changed; 1 module re-imported ({project.pkg}.m)"
    ), line.string
    assert server.get("/a").text == "ONE"
    server.stop()


# -- connections and requests across a reload -------------------------------------------------
def _raw_get(sock: socket.socket, buffer: bytearray, path: str) -> tuple[int, dict[str, str], str]:
    """One keep-alive GET on a raw socket; ``buffer`` holds bytes read past the last response."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the keep-alive connection"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    buffer[:] = body[length:]
    return status, headers, bytes(body[:length]).decode()


def test_a_keep_alive_connection_survives_a_reload_and_sees_the_new_table(
    project: Project, serve: Serve
) -> None:
    server = serve(project)
    with socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT) as sock:
        buffer = bytearray()
        assert _raw_get(sock, buffer, "/a")[::2] == (200, "one")

        project.write_routes("routes:\n  GET /a: PKG.m.two\n  GET /c: PKG.m.one\n")
        answers = []
        deadline = time.monotonic() + WAIT
        for _ in range(int(WAIT / POLL) + 1):  # every request on the same connection
            status, headers, body = _raw_get(sock, buffer, "/a")
            assert status == 200
            assert headers.get("connection", "").lower() != "close"
            answers.append(body)
            if body == "two" or time.monotonic() > deadline:
                break
            time.sleep(POLL)
        assert answers[-1] == "two", f"{answers}; log:\n{server.log()}"
        assert set(answers) <= {"one", "two"}
        assert _raw_get(sock, buffer, "/c")[::2] == (200, "one")
        assert _raw_get(sock, buffer, "/b")[0] == 404
    server.stop()


SLOW = """\
import asyncio
import os

from service import web

STARTED = {started!r}
RELEASE = {release!r}


async def slow(request):
    open(STARTED, "w").close()
    for _ in range(400):  # at most 20 s
        if os.path.exists(RELEASE):
            break
        await asyncio.sleep(0.05)
    return web.Response(text="old")


async def new(request):
    return web.Response(text="new")
"""


def test_a_request_in_flight_during_a_reload_finishes_on_the_old_handler(
    tmp_path: Path, serve: Serve
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    project = make_project(
        tmp_path,
        "routes:\n  GET /slow: PKG.m.slow\n",
        {"m": SLOW.format(started=str(started), release=str(release))},
    )
    server = serve(project)
    result: dict[str, Any] = {}

    def slow_request() -> None:
        try:
            with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
                response = client.get("/slow")
                result["answer"] = (response.status_code, response.text)
        except Exception as exc:  # reported by the assertion below
            result["error"] = repr(exc)

    thread = threading.Thread(target=slow_request, name="slow-request", daemon=True)
    thread.start()
    try:
        server.wait_until(started.exists, "the slow handler started")
        since = server.mark()
        project.write_routes("routes:\n  GET /slow: PKG.m.new\n")
        server.wait_log(reloaded(project, 2), since=since)
        server.wait_answer("/slow", "new")  # new requests get the new table ...
        assert thread.is_alive() and not result, result  # ... while the old one is still in its handler
    finally:
        release.touch()
        thread.join(timeout=30.0)
    assert not thread.is_alive()
    assert result == {"answer": (200, "old")}
    assert server.get("/slow").text == "new"
    server.stop()


def test_concurrent_clients_see_no_errors_while_the_routes_file_flips(project: Project, serve: Serve) -> None:
    server = serve(project)
    flip = "routes:\n  GET /flip: PKG.m.{target}\n  GET /steady: PKG.m.one\n"
    write_atomic(project.routes, project.text(flip.format(target="one")))
    server.wait_answer("/flip", "one")
    generation = server.health()["generation"]

    stop = threading.Event()
    deadline = time.monotonic() + 30.0
    per_client_cap = 400  # with the pacing below, a few hundred requests in all
    lock = threading.Lock()
    errors: list[str] = []
    bodies: dict[str, int] = {}
    counts = [0, 0, 0, 0]

    def hammer(index: int) -> None:
        keep_alive = index % 2 == 0  # half reuse one connection, half open one per request
        client = httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT, trust_env=False)
        try:
            for i in range(per_client_cap):
                if stop.wait(0.02) or time.monotonic() > deadline:  # paced, so they span the rewrites
                    break
                path = "/flip" if i % 4 else "/steady"
                try:
                    headers = {} if keep_alive else {"Connection": "close"}
                    response = client.get(path, headers=headers)
                except Exception as exc:
                    with lock:
                        errors.append(f"{path}: {exc!r}")
                    continue
                with lock:
                    counts[index] += 1
                    if response.status_code != 200:
                        errors.append(f"{path}: {response.status_code} {response.text!r}")
                    elif path == "/steady" and response.text != "one":
                        errors.append(f"/steady: {response.text!r}")
                    elif path == "/flip":
                        bodies[response.text] = bodies.get(response.text, 0) + 1
        finally:
            client.close()

    threads = [threading.Thread(target=hammer, args=(i,), name=f"hammer-{i}", daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        for rewrite in range(10):
            target = "two" if rewrite % 2 == 0 else "one"
            write_atomic(project.routes, project.text(flip.format(target=target)))
            generation += 1
            server.wait_health(generation=generation, last_reload_failed=False)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=40.0)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == [], errors[:20]
    assert all(count > 0 for count in counts), counts
    assert set(bodies) == {"one", "two"}, bodies  # the clients ran across the flips
    assert server.get("/flip").text == "one"  # the last rewrite
    assert server.find_log(r"Reload of .* failed") is None, server.log()
    server.stop()


# -- ways a file gets replaced ----------------------------------------------------------------
def test_an_atomic_rename_over_the_routes_file_is_seen(project: Project, serve: Serve) -> None:
    server = serve(project)
    inode = project.routes.stat().st_ino
    write_atomic(project.routes, project.text("routes:\n  GET /a: PKG.m.two\n  GET /r: PKG.m.one\n"))
    assert project.routes.stat().st_ino != inode  # a new file, not an edit of the old one
    server.wait_answer("/r", "one")
    assert server.get("/a").text == "two"

    # An atomically replaced handler module is seen too.
    source = MODULE.replace('text="one"', 'text="renamed"')
    write_atomic(project.root / project.pkg / "m.py", source)
    server.wait_answer("/r", "renamed")
    server.stop()


def test_a_symlink_swap_like_a_configmap_is_seen(tmp_path: Path, serve: Serve) -> None:
    project = make_project(tmp_path, "routes: {}\n")
    data = tmp_path / "data"
    data.mkdir()
    project.write_routes("routes:\n  GET /v: PKG.m.one\n", path=data / "v1.yaml")
    project.write_routes("routes:\n  GET /v: PKG.m.two\n  GET /v2: PKG.m.two\n", path=data / "v2.yaml")
    project.routes.unlink()
    project.routes.symlink_to(Path("data") / "v1.yaml")
    server = serve(project)
    assert server.get("/v").text == "one"
    assert server.get("/v2").status_code == 404

    link = tmp_path / f".routes.yaml.{uuid.uuid4().hex}"
    link.symlink_to(Path("data") / "v2.yaml")
    os.replace(link, project.routes)  # atomically repoint routes.yaml
    assert os.readlink(project.routes) == str(Path("data") / "v2.yaml")
    server.wait_answer("/v", "two")
    assert server.get("/v2").text == "two"
    server.stop()


# -- signals and --no-reload ---------------------------------------------------------------------
def _assert_unchanged_for(server: ServiceProcess, path: str, text: str, seconds: float) -> None:
    """For a bounded while, ``path`` keeps answering ``text``."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / POLL) + 1):
        response = server.get(path)
        assert (response.status_code, response.text) == (200, text), server.log()
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL)


def test_no_reload_does_not_apply_changes(project: Project, serve: Serve) -> None:
    server = serve(project, "--no-reload")
    project.write_routes("routes:\n  GET /a: PKG.m.two\n")
    _assert_unchanged_for(server, "/a", "one", 2.0)
    assert server.health()["generation"] == 1
    assert server.find_log(r"Reloaded") is None
    server.stop()


def test_sighup_reloads_at_once_with_no_reload(project: Project, serve: Serve) -> None:
    server = serve(project, "--no-reload")
    project.write_routes("routes:\n  GET /a: PKG.m.two\n")
    _assert_unchanged_for(server, "/a", "one", 2.0)

    since = server.mark()
    server.signal(signal.SIGHUP)
    server.wait_answer("/a", "two")
    server.wait_log(reloaded(project, 2), since=since)
    server.wait_health(generation=2, last_reload_failed=False)
    server.stop()


def test_sighup_forces_a_reload_of_an_unchanged_file(project: Project, serve: Serve) -> None:
    server = serve(project)
    since = server.mark()
    server.signal(signal.SIGHUP)
    line = server.wait_log(reloaded(project, 2), since=since)
    assert line.string.endswith("generation 2: 0 added; 0 removed; 0 changed; 0 modules re-imported"), (
        line.string
    )
    server.wait_health(generation=2, last_reload_failed=False)
    assert server.get("/a").text == "one"
    server.stop()


# -- settings -----------------------------------------------------------------------------------
def test_a_changed_port_warns_needs_a_restart_while_routes_reload(project: Project, serve: Serve) -> None:
    server = serve(project)
    since = server.mark()
    project.write_routes(
        "service:\n  name: reload-test\n  port: 9999\nroutes:\n  GET /a: PKG.m.one\n  GET /p: PKG.m.two\n"
    )
    server.wait_answer("/p", "two")
    server.wait_log(
        r"WARNING service\.reload: service\.port changed in the file \(\d+ -> 9999\): it needs a restart",
        since=since,
    )
    server.wait_log(reloaded(project, 2), since=since)
    assert server.get("/a").text == "one"  # still on the port it started on
    server.stop()


# -- Reloader in-process, without a server ----------------------------------------------------------
@dataclass
class Holder:
    """A fake server: the current app and what swap was given."""

    app: Application
    swaps: list[tuple[Application, Limits, bool]]
    on_swap: Callable[[], None] | None = None

    def current(self) -> Application:
        return self.app

    def swap(self, app: Application, limits: Limits, access_log: bool) -> None:
        self.swaps.append((app, limits, access_log))
        self.app = app
        if self.on_swap is not None:
            self.on_swap()


def _paths(app: Application) -> set[tuple[str, str]]:
    return {(route.method, route.path) for route in app.router.routes()}


@pytest.fixture
def inprocess(tmp_path: Path) -> Iterator[Project]:
    """A project imported into this process; its modules and sys.path entry removed after."""
    project = make_project(tmp_path, "routes:\n  GET /a: PKG.m.one\n")
    path_before = list(sys.path)
    try:
        yield project
    finally:
        sys.path[:] = [p for p in sys.path if p in path_before]
        for name in [n for n in sys.modules if n == project.pkg or n.startswith(project.pkg + ".")]:
            del sys.modules[name]
        for entry in (str(tmp_path), str(tmp_path.resolve())):
            sys.path_importer_cache.pop(entry, None)


def test_reloader_reload_swaps_a_valid_file_and_keeps_the_old_app_on_errors(
    inprocess: Project, caplog: pytest.LogCaptureFixture
) -> None:
    project = inprocess
    first = load_app(project.routes)
    first["user.pool"] = pool = object()  # what an on_startup hook would have made
    holder = Holder(first, [])
    reloader = Reloader(project.routes, current=holder.current, swap=holder.swap)
    caplog.set_level(logging.INFO, logger="service.reload")

    project.write_routes(
        "service:\n  keepalive_timeout: 5s\n  access_log: true\n"
        "routes:\n  GET /a: PKG.m.two\n  GET /b: PKG.m.one\n"
    )
    assert reloader.reload() is True
    assert len(holder.swaps) == 1
    second, limits, access_log = holder.swaps[0]
    assert second is not first and holder.app is second
    assert _paths(second) >= {("GET", "/a"), ("GET", "/b"), ("GET", "/healthz")}
    assert spec_of(second).routes[0].handler == f"{project.pkg}.m.two"
    assert limits.keepalive_timeout == 5.0
    assert access_log is True
    assert second["user.pool"] is pool  # app state carries over
    health = second[HEALTH_KEY]
    assert isinstance(health, Health) and health is first[HEALTH_KEY]
    assert (health.generation, health.last_reload_failed) == (2, False)
    assert "generation 2: 1 added (GET /b); 0 removed; 1 changed (GET /a)" in caplog.text

    caplog.clear()
    project.write_routes("routes:\n  GET /a: PKG.m.nope\n")
    assert reloader.reload() is False
    assert len(holder.swaps) == 1 and holder.app is second  # untouched
    assert (health.generation, health.last_reload_failed) == (2, True)
    assert f"{project.routes}:2:11: routes['GET /a']: module {project.pkg + '.m'!r} has no attribute" in (
        caplog.text
    )
    assert "still serving generation 2" in caplog.text

    project.write_routes("routes:\n  GET /a: PKG.m.one\n")
    assert reloader.reload() is True
    assert (health.generation, health.last_reload_failed) == (3, False)
    builtins = {("GET", p) for p in ("/livez", "/healthz", "/readyz", "/metrics", "/openapi.json")}
    assert _paths(holder.app) == {("GET", "/a"), *builtins}


# Each per-connection limit as routes.yaml writes it (same units as the other keys) and
# the value the server must get; none is its default, so a limit left behind shows.
LIMIT_SETTINGS = [
    ("max_target_size", "2KiB", 2048),
    ("max_header_size", "16KB", 16_000),
    ("max_header_count", "50", 50),
    ("header_timeout", "5s", 5.0),
    ("keepalive_timeout", "30s", 30.0),
    ("body_timeout", "2m", 120.0),
    ("max_connections", "500", 500),
    ("linger_timeout", "500ms", 0.5),
    ("send_timeout", "90", 90.0),
]


def test_every_limit_is_in_the_table_of_settings() -> None:
    assert sorted(name for name, _, _ in LIMIT_SETTINGS) == sorted(f.name for f in dataclasses.fields(Limits))


@pytest.mark.parametrize(("name", "text", "value"), LIMIT_SETTINGS, ids=[row[0] for row in LIMIT_SETTINGS])
def test_each_limit_set_in_routes_yaml_reaches_the_server_at_start_and_on_reload(
    inprocess: Project, name: str, text: str, value: float
) -> None:
    project = inprocess
    expected = dataclasses.replace(Limits(), **{name: value})
    set_it = f"service:\n  {name}: {text}\nroutes:\n  GET /a: PKG.m.one\n"
    project.write_routes(set_it)
    assert limits_of(spec_of(load_app(project.routes)).settings) == expected  # what serve starts with

    project.write_routes("routes:\n  GET /a: PKG.m.one\n")
    holder = Holder(load_app(project.routes), [])
    reloader = Reloader(project.routes, current=holder.current, swap=holder.swap)
    project.write_routes(set_it)
    assert reloader.reload() is True
    assert holder.swaps[-1][1] == expected
    project.write_routes("routes:\n  GET /a: PKG.m.one\n")  # unset again: back to the default
    assert reloader.reload() is True
    assert holder.swaps[-1][1] == Limits()


async def test_reloader_applies_a_save_that_lands_while_a_reload_runs(inprocess: Project) -> None:
    """A second save arriving while the first is being applied must not be lost."""
    project = inprocess
    holder = Holder(load_app(project.routes), [])

    def second_save() -> None:
        if len(holder.swaps) == 1:
            project.write_routes("routes:\n  GET /a: PKG.m.one\n  GET /b: PKG.m.one\n  GET /c: PKG.m.two\n")

    holder.on_swap = second_save
    reloader = Reloader(project.routes, current=holder.current, swap=holder.swap, interval=0.05)
    task = asyncio.ensure_future(reloader.run())
    try:
        project.write_routes("routes:\n  GET /a: PKG.m.one\n  GET /b: PKG.m.one\n")
        for _ in range(int(WAIT / 0.05)):
            if ("GET", "/c") in _paths(holder.app) or task.done():
                break
            await asyncio.sleep(0.05)
        assert ("GET", "/b") in _paths(holder.app)
        assert ("GET", "/c") in _paths(holder.app), (
            f"the file now has GET /c; after {len(holder.swaps)} swap(s) the app has {_paths(holder.app)}"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("saved", ["routes", "module"])
async def test_reloader_applies_a_save_that_landed_while_the_server_started(
    inprocess: Project, saved: str
) -> None:
    """Saved after the app was loaded but before the watcher began: not lost."""
    project = inprocess
    holder = Holder(load_app(project.routes), [])
    if saved == "routes":  # the window between loading the app and starting to watch
        project.write_routes("routes:\n  GET /a: PKG.m.one\n  GET /b: PKG.m.two\n")
    else:
        project.write_module("m", MODULE.replace('text="one"', 'text="one, edited"'))
    reloader = Reloader(project.routes, current=holder.current, swap=holder.swap, interval=0.05)
    task = asyncio.ensure_future(reloader.run())
    try:
        for _ in range(int(WAIT / 0.05)):
            if holder.swaps or task.done():
                break
            await asyncio.sleep(0.05)
        assert holder.swaps, "the save made before watching began was never applied"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if saved == "routes":
        assert ("GET", "/b") in _paths(holder.app)
    else:
        handler = sys.modules[project.pkg + ".m"].one
        assert (await handler(None)).text == "one, edited"


async def test_reloader_does_not_reload_what_it_started_from(inprocess: Project) -> None:
    holder = Holder(load_app(inprocess.routes), [])
    reloader = Reloader(inprocess.routes, current=holder.current, swap=holder.swap, interval=0.02)
    task = asyncio.ensure_future(reloader.run())
    await asyncio.sleep(0.3)  # a dozen polls of unchanged files
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert holder.swaps == []


def test_a_module_file_is_found_without_importing_its_package(tmp_path: Path) -> None:
    """Its digest must come before any import: the package's __init__ may import it."""
    pkg = f"h_{uuid.uuid4().hex}"
    (tmp_path / pkg / "sub").mkdir(parents=True)
    (tmp_path / pkg / "__init__.py").write_text("raise RuntimeError('imported too early')\n")
    (tmp_path / pkg / "sub" / "__init__.py").write_text("")
    (tmp_path / pkg / "sub" / "mod.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert module_file(f"{pkg}.sub.mod") == str(tmp_path / pkg / "sub" / "mod.py")
        assert module_file(f"{pkg}.sub.missing") is None
        assert module_file(f"{pkg}_absent.mod") is None
        assert pkg not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
        sys.path_importer_cache.pop(str(tmp_path), None)
