"""The README's transcripts, replayed against the services they show.

Each ``$ curl ...`` line of the first console block after "Then, in another
terminal" (the quick start) and after "The example service declares" (Policies)
is sent to ``python -m service serve`` (the repository's own routes.yaml,
on 127.0.0.1) with httpx, and what comes back must read as the README shows it:
the body (or, for ``-w '%{http_code}\\n'``, the status) line by line; for ``-i``,
the status line and every header line shown, then the body after ``...``. Text
after two spaces and ``#`` is a comment; a ``for`` loop of curls prints their
``-w`` outputs on one line. The Policies section's second service (timeout,
concurrency, bearer_jwt) is served from its own YAML block with handlers written
here, and its ``A & B`` sends B while A is held in its handler. The ``service
check`` example is the report of the example's routes.yaml with the misspelling it
shows. So the page a new user reads first cannot drift from what the code does.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import socket
import string
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from serving import REPO, ServiceProcess, tracked

README = REPO / "README.md"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def steps_after(marker: str) -> list[Step]:
    """The commands, and what each prints, of the first console block after ``marker``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(marker)
    block = re.search(r"```console\n(.*?)```", text[start:], re.S)
    assert block is not None, f"no console block after {marker!r}"
    steps: list[Step] = []
    for line in block[1].splitlines():
        if line.startswith("$ "):
            steps.append(Step(line[2:]))
        elif steps:
            steps[-1].expected.append(re.sub(r"\s{2,}#.*$", "", line))
    return steps


_LOOP = re.compile(r"for i in ([\d ]+); do (curl .*); done")
_PIPED = re.compile(r"head -c (\d+) /dev/zero \| (curl .*)")  # N zero bytes on curl's stdin


Background = Callable[[str], AbstractContextManager[None]]


def send(
    http: httpx.Client,
    command: str,
    variables: Mapping[str, str] | None = None,
    background: Background | None = None,
) -> list[str]:
    """What the shell would print for ``command``: curl (the subset of it the README
    uses), in a ``for`` loop, reading ``head -c N /dev/zero`` from a pipe, or ``A & B``:
    B while A runs (``background(A)`` keeps it running until B is answered; A's own
    output is not shown). ``$NAME`` is taken from ``variables``."""
    command = string.Template(re.sub(r"\s{2,}#.*$", "", command)).substitute(variables or {})
    first, _, second = command.partition(" & ")
    if second:
        assert background is not None, command
        with background(first):
            return send(http, second, variables)
    loop = _LOOP.fullmatch(command)
    if loop is not None:  # the outputs run together on one line, as curl -w '... ' prints them
        outputs = ["".join(send(http, loop[2])) for _ in loop[1].split()]
        return ["".join(outputs).rstrip()]
    piped = _PIPED.fullmatch(command)
    stdin = bytes(int(piped[1])) if piped is not None else None
    words = shlex.split(piped[2] if piped is not None else command)
    assert words[0] == "curl", command
    method, headers, data, include, write_out, url = "GET", {}, None, False, None, None
    show_body = True
    args = iter(words[1:])
    for word in args:
        if word == "-X":
            method = next(args)
        elif word == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data-binary"):
            given = next(args)
            data = stdin if given == "@-" else given.encode()
            assert data is not None, command
            method = "POST" if method == "GET" else method
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif word in ("-i", "-si"):
            include = True
        elif word == "-s":
            pass  # (no progress meter: curl prints none to a terminal-less run either)
        elif word == "-o":
            assert next(args) == "/dev/null", command
            show_body = False
        elif word == "-w":
            write_out = next(args)
        else:
            url = word
    assert url is not None and url.startswith("localhost:8080/"), command
    response = http.request(method, url.removeprefix("localhost:8080"), headers=headers, content=data)
    out: list[str] = []
    if include:
        out.append(f"HTTP/1.1 {response.status_code} {response.reason_phrase}")
        out += [f"{name.decode()}: {value.decode()}" for name, value in response.headers.raw]  # as sent
        out.append("")
    body = response.text if show_body else ""
    if write_out is not None:
        assert write_out in ("%{http_code}\\n", "%{http_code} "), write_out
        body += write_out.replace("%{http_code}", str(response.status_code)).replace("\\n", "\n")
    # (the host's name differs per machine: the README shows "my-host")
    out += body.replace(f'"instance": "{socket.gethostname()}"', '"instance": "my-host"').splitlines()
    return out


def matches(actual: list[str], expected: list[str]) -> bool:
    """``expected`` as the README shows it: with ``...``, the head lines shown must be in
    the actual head, and the lines after ``...`` must end the output."""
    if "..." not in expected:
        if expected and expected[0].startswith("HTTP/1.1 "):  # -i with no body shown
            return all(line in actual for line in expected)
        return actual == expected
    cut = expected.index("...")
    head, tail = expected[:cut], expected[cut + 1 :]
    return all(line in actual for line in head) and actual[len(actual) - len(tail) :] == tail


@pytest.fixture
def example() -> Iterator[httpx.Client]:
    with tracked() as start:
        process: ServiceProcess = start(REPO / "routes.yaml", "--no-reload", cwd=REPO)
        port = process.wait_serving()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield http


@pytest.mark.parametrize(
    ("marker", "least"),
    [("Then, in another terminal:", 10), ("The example service declares", 5)],
    ids=["quick-start", "policies"],
)
def test_a_transcript_is_what_the_service_answers(example: httpx.Client, marker: str, least: int) -> None:
    steps = steps_after(marker)
    assert len(steps) >= least, "the transcript was not found whole"
    for step in steps:
        actual = send(example, step.command)
        assert matches(actual, step.expected), f"$ {step.command}\nREADME: {step.expected}\ngot:    {actual}"


def test_the_wrong_policy_shown_is_what_check_reports(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    shown = re.search(r"\$ service check\n(routes\.yaml:(\d+):\d+: .*'(\w+)' .*'(\w+)'\?\))\n", text)
    assert shown is not None, "no 'service check' example in the README"
    report, line, wrong, right = shown[1], int(shown[2]), shown[3], shown[4]
    lines = (REPO / "routes.yaml").read_text().splitlines()
    assert right in lines[line - 1], f"line {line} of routes.yaml does not say {right!r} any more"
    lines[line - 1] = lines[line - 1].replace(right, wrong)
    (tmp_path / "routes.yaml").write_text("\n".join(lines) + "\n")
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    checked = subprocess.run(
        [sys.executable, "-m", "service", "check"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode != 0 and report in checked.stdout + checked.stderr


SLOW_HANDLERS = {  # the handlers of the README's second Policies service
    "reports": """
import asyncio
from service import Response

async def build(request):
    await asyncio.sleep(30)  # (cancelled by the route's 2 s timeout)
    return Response(text="built")
""",
    "search": """
import asyncio
from pathlib import Path
from service import Response

async def run(request):
    Path("search-started").touch()  # the test sends the second request after this
    while not Path("search-release").exists():
        await asyncio.sleep(0.01)
    return Response(text="found")
""",
    "admin": """
from service import Response

async def index(request):
    return Response(text=f"hello {request['identity'].subject}")
""",
}


def test_the_slow_and_protected_routes_transcript(tmp_path: Path) -> None:
    jwt = pytest.importorskip("jwt")  # (the test extra has it: the jwt extra's PyJWT)
    text = README.read_text(encoding="utf-8")
    start = text.index("The other three need a slow handler or a token issuer")
    routes = re.search(r"```yaml\n(.*?)```", text[start:], re.S)
    assert routes is not None
    (tmp_path / "routes.yaml").write_text(routes[1])
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "__init__.py").write_text("")
    for name, source in SLOW_HANDLERS.items():
        (tmp_path / "handlers" / f"{name}.py").write_text(textwrap.dedent(source))
    key = "a-secret-of-at-least-32-bytes-for-hs256"
    claims = {"iss": "https://id.example.com", "aud": "service", "sub": "ada", "exp": 2_000_000_000}
    variables = {
        "READ_TOKEN": jwt.encode({**claims, "scope": "read"}, key, algorithm="HS256"),
        "ADMIN_TOKEN": jwt.encode({**claims, "scope": "admin read"}, key, algorithm="HS256"),
    }

    @contextlib.contextmanager
    def background(command: str) -> Iterator[None]:
        with httpx.Client(base_url=http.base_url, timeout=30) as other:
            thread = threading.Thread(target=send, args=(other, command))
            thread.start()
            try:
                for _ in range(3000):  # until the first is in the handler: at most 30 s
                    if (tmp_path / "search-started").exists():
                        break
                    threading.Event().wait(0.01)
                yield
            finally:
                (tmp_path / "search-release").touch()
                thread.join(30)

    with tracked() as start_service:
        process = start_service(tmp_path / "routes.yaml", "--no-reload", cwd=tmp_path, env={"JWT_KEY": key})
        port = process.wait_serving()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            steps = steps_after("The other three need a slow handler or a token issuer")
            assert len(steps) == 5, "the transcript was not found whole"
            for step in steps:
                actual = send(http, step.command, variables, background)
                assert matches(actual, step.expected), (
                    f"$ {step.command}\nREADME: {step.expected}\ngot: {actual}"
                )
