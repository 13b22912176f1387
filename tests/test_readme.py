"""The README's quick-start transcript, replayed against the example service.

Each ``$ curl ...`` line of the first console block after "Then, in another
terminal" is sent to ``python -m service serve`` (the repository's own routes.yaml,
on 127.0.0.1) with httpx, and what comes back must read as the README shows it:
the body (or, for ``-w '%{http_code}\\n'``, the status) line by line; for ``-i``,
the status line and every header line shown, then the body after ``...``. Text
after two spaces and ``#`` is a comment. So the page a new user reads first
cannot drift from what the code does.
"""

from __future__ import annotations

import re
import shlex
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from serving import REPO, ServiceProcess, tracked

README = REPO / "README.md"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def quick_start_steps() -> list[Step]:
    text = README.read_text(encoding="utf-8")
    start = text.index("Then, in another terminal:")
    block = re.search(r"```console\n(.*?)```", text[start:], re.S)
    assert block is not None, "no console block after 'Then, in another terminal:'"
    steps: list[Step] = []
    for line in block[1].splitlines():
        if line.startswith("$ "):
            steps.append(Step(line[2:]))
        elif steps:
            steps[-1].expected.append(re.sub(r"\s{2,}#.*$", "", line))
    return steps


def send(http: httpx.Client, command: str) -> list[str]:
    """What curl would print for ``command`` (the subset of curl the README uses)."""
    words = shlex.split(re.sub(r"\s{2,}#.*$", "", command))
    assert words[0] == "curl", command
    method, headers, data, include, write_out, url = "GET", {}, None, False, None, None
    args = iter(words[1:])
    for word in args:
        if word == "-X":
            method = next(args)
        elif word == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(args).encode()
            method = "POST" if method == "GET" else method
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif word == "-i":
            include = True
        elif word == "-w":
            write_out = next(args)
        else:
            url = word
    assert url is not None and url.startswith("localhost:8080/"), command
    response = http.request(method, url.removeprefix("localhost:8080"), headers=headers, content=data)
    out: list[str] = []
    if include:
        out.append(f"HTTP/1.1 {response.status_code} {response.reason_phrase}")
        out += [f"{name.title() if name != 'x-response-time' else 'X-Response-Time'}: {value}"
                for name, value in response.headers.items()]  # fmt: skip
        out.append("")
    body = response.text
    if write_out is not None:
        assert write_out == "%{http_code}\\n", write_out
        body += f"{response.status_code}\n"
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


def test_the_quick_start_transcript_is_what_the_service_answers(example: httpx.Client) -> None:
    steps = quick_start_steps()
    assert len(steps) >= 10, "the transcript was not found whole"
    for step in steps:
        actual = send(example, step.command)
        assert matches(actual, step.expected), f"$ {step.command}\nREADME: {step.expected}\ngot:    {actual}"
