"""AppRunner and its sites, as aiohttp's: an app run inside the test's own event loop,
over real sockets (127.0.0.1 port 0, Unix sockets in a temporary directory); and
``run_app(path=...)`` and ``handle_signals=True`` in a child process, stopped by a signal.

Timeouts are upper bounds so a broken runner fails instead of hanging; nothing
asserts how fast anything happens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import ChildProcess

from service import Application, Limits, Request, Response, RouteTableDef, StreamResponse
from service.errors import ListenError
from service.http.runner import AppRunner, BaseRunner, BaseSite, GracefulExit, SockSite, TCPSite, UnixSite
from service.http.server import run_app

TIMEOUT = 5.0  # upper bound for any single wait; never a timing assertion
RawConnect = Callable[[int], Any]  # conftest.raw_connect


def build_app(events: list[str] | None = None) -> Application:
    """``/hello``; and, with ``events``, hooks and a cleanup context that note when they run."""
    routes = RouteTableDef()

    @routes.get("/hello")
    async def hello(request: Request) -> Response:
        return Response(text="hello")

    app = Application()
    app.add_routes(routes)
    if events is not None:

        async def context(app: Application) -> AsyncIterator[None]:
            events.append("context set up")
            yield
            events.append("context torn down")

        def hook(name: str) -> Callable[[Application], Any]:
            async def run(app: Application) -> None:
                events.append(name)

            return run

        app.cleanup_ctx.append(context)
        app.on_startup.append(hook("startup"))
        app.on_shutdown.append(hook("shutdown"))
        app.on_cleanup.append(hook("cleanup"))
    return app


@pytest.fixture
async def runners() -> AsyncIterator[list[AppRunner]]:
    """Runners a test appends here are cleaned up at teardown, whatever state they are in."""
    made: list[AppRunner] = []
    yield made
    for runner in made:
        await asyncio.wait_for(runner.cleanup(), TIMEOUT + 1.0)


async def set_up(runners: list[AppRunner], app: Application, **kwargs: Any) -> AppRunner:
    runner = AppRunner(app, shutdown_timeout=1.0, **kwargs)
    runners.append(runner)
    await asyncio.wait_for(runner.setup(), TIMEOUT)
    return runner


async def tcp_site(runner: BaseRunner) -> TCPSite:
    site = TCPSite(runner, "127.0.0.1", 0)
    await asyncio.wait_for(site.start(), TIMEOUT)
    return site


@pytest.fixture
def unix_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for Unix sockets; a shorter one than ``tmp_path`` when that is too long
    for a socket path (about 100 bytes)."""
    if len(str(tmp_path)) < 80:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="svc") as short:
        yield Path(short)


def unix_client(path: Path) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(path))
    return httpx.AsyncClient(transport=transport, base_url="http://unix", timeout=TIMEOUT)


async def get(port: int, path: str = "/hello") -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        return await client.get(path)


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


# -- serving -----------------------------------------------------------------------------------------
async def test_a_tcp_site_serves_and_names_its_real_address(runners: list[AppRunner]) -> None:
    runner = await set_up(runners, build_app())
    site = TCPSite(runner, "127.0.0.1", 0)
    assert (site.port, site.name) == (0, "http://127.0.0.1:0")  # not started: what was asked for
    await asyncio.wait_for(site.start(), TIMEOUT)
    assert site.port != 0
    assert site.name == f"http://127.0.0.1:{site.port}"
    assert runner.addresses == [("127.0.0.1", site.port)]
    assert runner.sites == {site}
    response = await get(site.port)
    assert (response.status_code, response.text) == (200, "hello")


async def test_hooks_run_at_setup_and_cleanup_in_order(runners: list[AppRunner]) -> None:
    events: list[str] = []
    app = build_app(events)
    runner = await set_up(runners, app)
    assert events == ["context set up", "startup"]  # before any site exists
    assert app.frozen
    site = await tcp_site(runner)
    assert (await get(site.port)).text == "hello"
    await asyncio.wait_for(runner.cleanup(), TIMEOUT)
    assert events == ["context set up", "startup", "shutdown", "context torn down", "cleanup"]
    assert runner.server is None and runner.sites == set() and runner.addresses == []
    assert await refused(site.port)
    await asyncio.wait_for(runner.cleanup(), TIMEOUT)  # a second cleanup runs no hook again
    assert events[-1] == "cleanup" and events.count("cleanup") == 1


async def test_two_sites_share_one_server_and_its_limits(
    runners: list[AppRunner], raw_connect: RawConnect
) -> None:
    runner = await set_up(runners, build_app(), max_connections=1)
    first, second = await tcp_site(runner), await tcp_site(runner)
    assert sorted(runner.addresses) == sorted([("127.0.0.1", first.port), ("127.0.0.1", second.port)])
    kept = await raw_connect(first.port)
    await kept.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await kept.read_response()).status == 200  # and the connection stays open
    assert runner.server is not None and runner.server.connections == 1
    over = await raw_connect(second.port)  # the cap counts the first site's connection too
    assert (await over.read_until_close()).startswith(b"HTTP/1.1 503 ")


async def test_a_stopped_site_refuses_while_another_serves(runners: list[AppRunner]) -> None:
    runner = await set_up(runners, build_app())
    first, second = await tcp_site(runner), await tcp_site(runner)
    await first.stop()
    assert runner.sites == {second}
    assert await refused(first.port)
    assert (await get(second.port)).text == "hello"
    with pytest.raises(RuntimeError, match="not registered"):
        await first.stop()


async def test_a_unix_site_serves(runners: list[AppRunner], unix_dir: Path) -> None:
    path = unix_dir / "app.sock"
    runner = await set_up(runners, build_app())
    site = UnixSite(runner, path)
    await asyncio.wait_for(site.start(), TIMEOUT)
    assert site.name == f"http://unix:{path}:"
    assert runner.addresses == [str(path)]
    async with unix_client(path) as client:
        response = await client.get("/hello")
    assert (response.status_code, response.text) == (200, "hello")


async def test_a_unix_site_replaces_a_stale_socket_file(runners: list[AppRunner], unix_dir: Path) -> None:
    path = unix_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old:  # a crashed server's leftover
        old.bind(str(path))
    runner = await set_up(runners, build_app())
    await asyncio.wait_for(UnixSite(runner, path).start(), TIMEOUT)
    async with unix_client(path) as client:
        assert (await client.get("/hello")).text == "hello"


@pytest.mark.parametrize("family", ["tcp", "unix"])
async def test_a_sock_site_serves_on_a_socket_bound_by_the_caller(
    runners: list[AppRunner], unix_dir: Path, family: str
) -> None:
    if family == "tcp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(unix_dir / "bound.sock"))
    with sock:
        address = sock.getsockname()
        runner = await set_up(runners, build_app())
        site = SockSite(runner, sock)
        await asyncio.wait_for(site.start(), TIMEOUT)
        assert runner.addresses == [address]
        if family == "tcp":
            assert site.name == f"http://127.0.0.1:{address[1]}"
            response = await get(address[1])
        else:
            assert site.name == f"http://unix:{address}:"
            async with unix_client(Path(address)) as client:
                response = await client.get("/hello")
        assert response.text == "hello"
        await asyncio.wait_for(runner.cleanup(), TIMEOUT)


# -- stopping ----------------------------------------------------------------------------------------
async def test_cleanup_finishes_a_request_in_flight_then_closes(runners: list[AppRunner]) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    events: list[str] = []
    app = build_app(events)

    async def slow(request: Request) -> StreamResponse:
        entered.set()
        await release.wait()
        return Response(text="finished")

    app.router.add_route("GET", "/slow", slow)
    runner = await set_up(runners, app)
    site = await tcp_site(runner)
    in_flight = asyncio.create_task(get(site.port, "/slow"))
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    stopping = asyncio.create_task(runner.cleanup())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not stopping.done()  # it waits for the busy connection
    assert events[-1] == "shutdown"
    assert await refused(site.port)  # but accepts nothing new
    release.set()
    response = await asyncio.wait_for(in_flight, TIMEOUT)
    await asyncio.wait_for(stopping, TIMEOUT)
    assert (response.status_code, response.text) == (200, "finished")
    assert response.headers["connection"] == "close"
    assert events[-3:] == ["shutdown", "context torn down", "cleanup"]


# -- misuse, as aiohttp answers it -------------------------------------------------------------------
async def test_a_site_before_setup_is_an_error() -> None:
    runner = AppRunner(build_app())
    assert runner.server is None
    with pytest.raises(RuntimeError, match=r"Call runner.setup\(\) before making a site"):
        TCPSite(runner, "127.0.0.1", 0)


async def test_a_site_after_cleanup_cannot_start(runners: list[AppRunner]) -> None:
    runner = await set_up(runners, build_app())
    site = TCPSite(runner, "127.0.0.1", 0)
    await asyncio.wait_for(runner.cleanup(), TIMEOUT)
    with pytest.raises(RuntimeError, match="setup"):
        await site.start()


async def test_starting_a_site_twice_or_setting_up_twice_is_an_error(runners: list[AppRunner]) -> None:
    runner = await set_up(runners, build_app())
    site = await tcp_site(runner)
    with pytest.raises(RuntimeError, match="already registered"):
        await site.start()
    with pytest.raises(RuntimeError, match="set up already"):
        await runner.setup()
    assert (await get(site.port)).text == "hello"  # neither disturbed what runs


def test_the_runner_takes_an_application_only() -> None:
    with pytest.raises(TypeError, match="web.Application instance"):
        AppRunner(object())  # type: ignore[arg-type]


async def test_a_port_in_use_fails_the_site_only(runners: list[AppRunner], busy_port: int) -> None:
    runner = await set_up(runners, build_app())
    site = TCPSite(runner, "127.0.0.1", busy_port)
    with pytest.raises(ListenError, match=rf"cannot serve on 127\.0\.0\.1:{busy_port}") as failed:
        await asyncio.wait_for(site.start(), TIMEOUT)
    assert isinstance(failed.value, OSError)  # what aiohttp's callers catch
    assert runner.sites == set()
    assert (await get((await tcp_site(runner)).port)).text == "hello"


async def test_a_failing_startup_hook_fails_setup_and_closes_what_opened() -> None:
    events: list[str] = []
    app = build_app(events)

    async def broken(app: Application) -> None:
        raise RuntimeError("the database is down")

    app.on_startup.append(broken)
    runner = AppRunner(app)
    with pytest.raises(RuntimeError, match="the database is down"):
        await asyncio.wait_for(runner.setup(), TIMEOUT)
    assert events == ["context set up", "startup", "shutdown", "context torn down", "cleanup"]
    assert runner.server is None
    await asyncio.wait_for(runner.cleanup(), TIMEOUT)  # as aiohttp's programs do in finally: no-op
    assert events.count("cleanup") == 1


async def test_a_site_shutdown_timeout_is_deprecated_but_kept(runners: list[AppRunner]) -> None:
    runner = await set_up(runners, build_app())
    with pytest.deprecated_call(match="shutdown_timeout should be set on BaseRunner"):
        TCPSite(runner, "127.0.0.1", 0, shutdown_timeout=3.0)
    assert runner.server is not None and runner.server.shutdown_timeout == 3.0


def test_the_site_and_runner_classes_are_abstract() -> None:
    assert inspect.isabstract(BaseSite) and inspect.isabstract(BaseRunner)
    assert issubclass(GracefulExit, SystemExit)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Limits)])
def test_the_runner_takes_every_limit_as_run_app_does(field: str) -> None:
    runner_default = inspect.signature(AppRunner).parameters[field].default
    assert runner_default == inspect.signature(run_app).parameters[field].default == getattr(Limits(), field)


@pytest.mark.parametrize("key", ["shutdown_timeout", "access_log", "block_warning"])
def test_the_runner_and_run_app_default_alike(key: str) -> None:
    assert (
        inspect.signature(AppRunner).parameters[key].default
        == inspect.signature(run_app).parameters[key].default
    )


# -- in a child process: run_app(path=...) and handle_signals ------------------------------------------
HOOKS = """
import sys
from service import web

async def hello(request):
    return web.Response(text="hello")

def hook(name):
    async def run(app):
        print(name, flush=True)
    return run

app = web.Application()
app.router.add_route("GET", "/hello", hello)
for name in ("startup", "shutdown", "cleanup"):
    getattr(app, "on_" + name).append(hook(name))
"""

RUN_APP_ON_A_PATH = HOOKS + "web.run_app(app, path=sys.argv[1])\n"

EMBEDDED = (
    HOOKS
    + """
import asyncio, logging
from service.http.runner import AppRunner, GracefulExit, UnixSite
logging.basicConfig(level=logging.INFO)

async def main():
    runner = AppRunner(app, handle_signals=True)
    await runner.setup()
    try:
        await UnixSite(runner, sys.argv[1]).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

try:
    asyncio.run(main())
except GracefulExit:
    print("graceful exit", flush=True)
"""
)


@pytest.mark.parametrize(
    ("script", "sig", "last"),
    [(RUN_APP_ON_A_PATH, signal.SIGINT, "cleanup"), (EMBEDDED, signal.SIGTERM, "graceful exit")],
    ids=["run_app(path=)", "AppRunner(handle_signals=True)"],
)
def test_serving_on_a_unix_socket_until_a_signal(
    tmp_path: Path, unix_dir: Path, script: str, sig: signal.Signals, last: str
) -> None:
    path = unix_dir / "served.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old:  # a stale file, replaced (uvloop too)
        old.bind(str(path))
    (tmp_path / "app.py").write_text(script)
    child = ChildProcess([sys.executable, "app.py", str(path)], cwd=tmp_path)
    try:
        child.wait_log(rf"Serving on http://unix:{path}:", timeout=20.0)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=TIMEOUT) as client:
            response = client.get("http://unix/hello")
        assert (response.status_code, response.text) == (200, "hello")
        child.signal(sig)
        assert child.wait_exit() == 0
        child.wait_log(last)
        hooks = [line for line in child.lines if line in ("startup", "shutdown", "cleanup")]
        assert hooks == ["startup", "shutdown", "cleanup"]
    finally:
        child.kill()
