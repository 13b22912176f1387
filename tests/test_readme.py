"""The README's transcripts, replayed against the example service.

Each ``$ curl ...`` line of the first console block after "Then, in another
terminal" (the quick start) and after "The example service declares" (Policies)
is sent to ``python -m service serve`` (the repository's own routes.yaml,
on 127.0.0.1) with httpx, and what comes back must read as the README shows it:
the body (or, for ``-w '%{http_code}\\n'``, the status) line by line; for ``-i``,
the status line and every header line shown, then the body after ``...``. Text
after two spaces and ``#`` is a comment; a ``for`` loop of curls prints their
``-w`` outputs on one line. The ``service check`` example is the report of the
example's routes.yaml with the misspelling it shows. So the page a new user reads
first cannot drift from what the code does.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
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


def send(http: httpx.Client, command: str) -> list[str]:
    """What the shell would print for ``command``: curl (the subset of it the README
    uses), in a ``for`` loop, or reading ``head -c N /dev/zero`` from a pipe."""
    command = re.sub(r"\s{2,}#.*$", "", command)
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
