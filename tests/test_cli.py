"""``python -m service check | routes | serve`` as a user runs them: output and exit codes.

Every test runs the CLI in a subprocess (``sys.executable -m service``, through
``tests/serving.py``: ``run_service`` to its end, ``ServiceProcess`` for a server
that keeps running) from a temporary directory, with the repository root on
PYTHONPATH; every run is bounded by a timeout.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from serving import REPO, RUN_TIMEOUT, ServiceProcess, run_service, serve_env

HANDLERS = """\
from pydantic import BaseModel

from service import web


async def index(request):
    return web.Response(text="index")


async def get_user(request):
    return web.json_response({"id": request.match_info["id"]})


class NewUser(BaseModel):
    name: str


async def create_user(request):
    return web.json_response(request.validated(NewUser).model_dump(), status=201)
"""

ROUTES = """\
service:
  name: cli-test
routes:
  GET /: handlers.api.index
  /users/{id:int}:
    GET:
      handler: handlers.api.get_user
      name: user
      description: |
        One user, by id.
        (The routes table shows the first line.)
  POST /users: {handler: handlers.api.create_user, body: handlers.api.NewUser, summary: Create a user}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with routes.yaml and its own handlers/ package."""
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "__init__.py").write_text("")
    (tmp_path / "handlers" / "api.py").write_text(HANDLERS)
    (tmp_path / "routes.yaml").write_text(ROUTES)
    return tmp_path


# -- check -------------------------------------------------------------------------------------------
def test_check_repo_example_is_ok(tmp_path: Path) -> None:
    routes = REPO / "routes.yaml"
    result = run_service(tmp_path, "check", str(routes))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{routes}: OK: 9 routes, 1 middleware, 2 hook(s)\n"
    assert result.stderr == ""


def test_check_default_file_in_cwd(project: Path) -> None:
    result = run_service(project, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "routes.yaml: OK: 3 routes, 0 middleware, 0 hook(s)\n"


def test_check_file_named_by_service_routes_variable(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_service(elsewhere, "check", env={"SERVICE_ROUTES": str(project / "routes.yaml")})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{project / 'routes.yaml'}: OK: 3 routes, 0 middleware, 0 hook(s)\n"


def test_check_broken_file_prints_every_issue_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text(
        "service:\n  port: 70000\nroutes:\n  GTE /a: h.a\n  GET /b:\n    handelr: h.b\n"
    )
    result = run_service(tmp_path, "check", "routes.yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "routes.yaml:2:9: service.port: Input should be less than or equal to 65535",
        "routes.yaml:4:3: routes['GTE /a']: unknown method 'GTE' (did you mean GET?)",
        "routes.yaml:6:5: routes['GET /b'].handelr: unknown key 'handelr' (did you mean 'handler'?)",
        "routes.yaml: 3 problems found",
    ]


def test_check_import_error_exits_2(project: Path) -> None:
    (project / "routes.yaml").write_text("routes:\n  GET /a: handlers.api.indx\n")
    result = run_service(project, "check", "routes.yaml")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "routes.yaml:2:11: routes['GET /a']: module 'handlers.api' has no attribute 'indx'"
        " (did you mean 'index'?)",
        "routes.yaml: 1 problem found",
    ]


# Each command's last line says what it did not do: only serve starts anything.
@pytest.mark.parametrize(
    ("command", "outcome"),
    [
        ("check", "nope.yaml: 1 problem found"),
        ("routes", "nope.yaml: 1 problem; no routing table to print"),
        ("serve", "nope.yaml: 1 problem; nothing was started"),
    ],
)
def test_missing_file_exits_2(tmp_path: Path, command: str, outcome: str) -> None:
    result = run_service(tmp_path, command, "nope.yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-2:] == [
        f"nope.yaml:1:1: (file): file not found: there is no nope.yaml in {tmp_path.resolve()}"
        f" (name another file as the argument: python -m service {command} path/to/routes.yaml,"
        " or in the environment variable SERVICE_ROUTES)",
        outcome,
    ]


@pytest.mark.parametrize(
    ("env", "name", "hint"),
    [
        (
            {},
            "routes.yaml",
            "name another file as the argument: python -m service check path/to/routes.yaml,"
            " or in the environment variable SERVICE_ROUTES",
        ),
        (
            {"SERVICE_ROUTES": "conf.yaml"},
            "conf.yaml",
            "the environment variable SERVICE_ROUTES names this file: set it to another,"
            " or name one as the argument: python -m service check path/to/routes.yaml",
        ),
    ],
    ids=["default-file", "named-by-SERVICE_ROUTES"],
)
def test_a_missing_file_says_where_it_was_looked_for_and_how_to_name_another(
    tmp_path: Path, env: dict[str, str], name: str, hint: str
) -> None:
    result = run_service(tmp_path, "check", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{name}:1:1: (file): file not found: there is no {name} in {tmp_path.resolve()} ({hint})",
        f"{name}: 1 problem found",
    ]


# -- routes --------------------------------------------------------------------------------------------
def test_routes_prints_an_aligned_table(project: Path) -> None:
    result = run_service(project, "routes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "METHOD  PATH             HANDLER                   NAME     MODELS         POLICIES  SUMMARY",
        "GET     /                handlers.api.index",
        "GET     /users/{id:int}  handlers.api.get_user     user                              One user, by id.",  # noqa: E501
        "POST    /users           handlers.api.create_user           body: NewUser            Create a user",
        "GET     /livez           (built-in)                livez",
        "GET     /healthz         (built-in)                healthz",
        "GET     /readyz          (built-in)                readyz",
        "GET     /metrics         (built-in)                metrics",
        "GET     /openapi.json    (built-in)                openapi",
    ]


def test_routes_columns_line_up(tmp_path: Path) -> None:
    result = run_service(tmp_path, "routes", str(REPO / "routes.yaml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["METHOD", "PATH", "HANDLER", "NAME", "MODELS", "POLICIES", "SUMMARY"]
    starts = [header.index(word) for word in ("PATH", "HANDLER", "NAME", "MODELS", "POLICIES", "SUMMARY")]
    ends = [*starts[1:], None]
    for line in lines[1:]:
        for start, end in zip(starts, ends, strict=True):
            if line[start:end].strip():  # a cell, when not empty, begins at its column
                assert line[start - 2 : start] == "  " and line[start] != " ", (line, start)
    # header, the example's routes, /items' preflights (cors), /livez /healthz /readyz /metrics /openapi.json
    assert len(lines) == 1 + 9 + 1 + 5


def test_routes_on_broken_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text("routes:\n  GET a: h.a\n")
    result = run_service(tmp_path, "routes")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "routes.yaml:2:3: routes['GET a']: path must start with '/': 'a'"
    assert lines[-1] == "routes.yaml: 2 problems; no routing table to print"  # and module 'h' is missing


MATCHES = [
    pytest.param(
        "GET /users/42",
        0,
        ["GET /users/42 -> GET /users/{id:int}", "  handler: handlers.users.get_user", "  id=42 (int)"],
        id="matched-with-a-converted-parameter",
    ),
    pytest.param(
        "get /hello/Ada%20L?x=1",
        0,
        [
            "GET /hello/Ada%20L?x=1 -> GET /hello/{name}",
            "  handler: handlers.hello.greet",
            "  name='Ada L' (str)",
        ],
        id="method-case-query-and-percent-encoding",
    ),
    pytest.param(
        "DELETE /hello",
        1,
        ["DELETE /hello -> 405 Method Not Allowed", "  Allow: GET, HEAD, OPTIONS"],
        id="another-method",
    ),
    pytest.param(
        "GET /user/42",
        1,
        [
            "GET /user/42 -> 404 Not Found: no route matches the path",
            "  nearest routes:",
            "    GET /users/{id:int}  handlers.users.get_user",
        ],
        id="nearest-routes",
    ),
    pytest.param(
        "users/42", 1, ["not a request: 'users/42' (write it as 'GET /users/42')"], id="not-a-request"
    ),
]


@pytest.mark.parametrize(("request_line", "status", "lines"), MATCHES)
def test_routes_match_says_which_route_answers_or_why_none(
    tmp_path: Path, request_line: str, status: int, lines: list[str]
) -> None:
    result = run_service(tmp_path, "routes", str(REPO / "routes.yaml"), "--match", request_line)
    assert (result.returncode, result.stdout.splitlines()) == (status, lines), result.stderr


def test_every_option_says_its_default(tmp_path: Path) -> None:
    for command in ("serve", "check", "routes", "openapi"):
        text = run_service(tmp_path, command, "--help").stdout
        options = text.split("options:", 1)[1]
        entries = [e for e in options.split("\n  -")[1:] if not e.startswith("h, --help")]
        for entry in entries:
            assert "default" in " ".join(entry.split()), f"{command}: -{entry.strip()}"


def test_version(tmp_path: Path) -> None:
    result = run_service(tmp_path, "--version")
    assert (result.returncode, result.stdout) == (0, "service 0.1.0\n")


# -- help -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "usage: service [-h] [--version] COMMAND ..."),
        (("serve",), "usage: service serve"),
        (("check",), "usage: service check"),
        (("routes",), "usage: service routes"),
    ],
)
def test_help_exits_0(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = run_service(tmp_path, *args, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(expected)


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_service(tmp_path)
    assert result.returncode == 2
    assert "usage: service" in result.stderr


# -- serve ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "workers", [(), ("--workers", "1"), ("--workers", "2")], ids=["no-workers-flag", "1-worker", "2-workers"]
)
def test_serve_on_a_port_in_use_exits_1_before_any_startup_hook(
    tmp_path: Path, busy_port: int, workers: tuple[str, ...]
) -> None:
    hooks = textwrap.dedent(
        """\
        import sys


        async def up(app):
            print("startup ran", file=sys.stderr)


        async def down(app):
            print("cleanup ran", file=sys.stderr)
        """
    )
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "__init__.py").write_text("")
    (tmp_path / "handlers" / "api.py").write_text(HANDLERS)
    (tmp_path / "handlers" / "hooks.py").write_text(hooks)
    (tmp_path / "routes.yaml").write_text(
        "on_startup: [handlers.hooks.up]\n"
        "on_cleanup: [handlers.hooks.down]\n"
        "routes:\n  GET /: handlers.api.index\n"
    )
    result = run_service(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(busy_port), *workers)
    assert result.returncode == 1, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"error: cannot serve on 127.0.0.1:{busy_port}: "), result.stderr
    assert "address already in use" in last.lower()
    # With or without workers, the port is bound before any on_startup hook runs: a busy one
    # fails first, and no hook has opened anything that would need its cleanup.
    assert "startup ran" not in result.stderr and "cleanup ran" not in result.stderr, result.stderr


def test_serve_collects_garbage_though_startup_does_not(tmp_path: Path) -> None:
    """``python -m service`` starts with the cycle collector off (PERF); a server must not
    run that way, or every reference cycle a request leaves would stay in memory."""
    (tmp_path / "gch.py").write_text(
        "import gc\nfrom service import web\n\n"
        "async def state(request):\n    return web.Response(text=str(gc.isenabled()))\n"
    )
    (tmp_path / "routes.yaml").write_text("routes:\n  GET /gc: gch.state\n")
    server = ServiceProcess("routes.yaml", "--no-reload", cwd=tmp_path)
    try:
        port = server.wait_serving()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/gc", timeout=10) as answer:
            assert answer.read() == b"True"
    finally:
        assert server.terminate() == 0
        server.kill()


def _status_of(port: int, head: bytes) -> int:
    """The status the server answers ``head`` with (it may be a partial head)."""
    with socket.create_connection(("127.0.0.1", port), timeout=RUN_TIMEOUT) as sock:
        sock.sendall(head)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_serve_applies_the_limits_of_the_service_block(project: Path) -> None:
    """The ``service:`` block's limits are the served connections' limits, not only reload's."""
    (project / "routes.yaml").write_text(
        ROUTES.replace(
            "service:\n", "service:\n  max_target_size: 64\n  max_header_count: 4\n  header_timeout: 300ms\n"
        )
    )
    server = ServiceProcess("routes.yaml", "--no-reload", cwd=project)
    try:
        port = server.wait_serving()
        assert _status_of(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 200
        long_target = b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert _status_of(port, long_target) == 414
        many_fields = (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(5)) + b"\r\n"
        )
        assert _status_of(port, many_fields) == 431
        assert _status_of(port, b"GET / HTTP/1.1\r\nHo") == 408
    finally:
        assert server.terminate() == 0
        server.kill()


@pytest.mark.parametrize(
    "args", [["routes", str(REPO / "routes.yaml")], ["openapi", str(REPO / "routes.yaml")], ["schema"]]
)
def test_output_to_a_reader_that_went_away_is_no_traceback(args: list[str], tmp_path: Path) -> None:
    # `python -m service routes | head -1`: the pipe closes before the output is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "service", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=serve_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the child has imported anything, let alone printed
    with process.stderr:
        stderr = process.stderr.read()
    assert process.wait(timeout=RUN_TIMEOUT) == 1
    assert stderr == b""
