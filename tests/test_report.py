"""routes.yaml problems as a person reads them on a terminal, and as JSON for tools.

The machine line (``FILE:LINE:COL: where: what``) never changes; on a terminal the
offending line of the file follows with a caret under the column and the
suggestion, in colour unless ``NO_COLOR`` is set. A stream that says it is a
terminal stands in for one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from serving import run_service

from service.config.report import render
from service.errors import Issue


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def shown(issues: list[Issue], stream: io.StringIO) -> list[str]:
    render(issues, stream)
    return stream.getvalue().splitlines()


@pytest.fixture
def routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "__init__.py").write_text("")
    (tmp_path / "handlers" / "broken.py").write_text("import os\nvalue = 1 / 0\n")
    path = tmp_path / "routes.yaml"
    path.write_text(
        "service:\n  body_timeout: soon\n  healthcheck: /h\nroutes:\n  GET /a: handlers.broken.a\n"
    )
    return path


NOT_A_DURATION = "'soon' is not a duration: use a number with ms, s, m or h"
UNKNOWN_KEY = "unknown key 'healthcheck' (did you mean 'healthz'? known keys: x)"
IMPORT_FAILED = (
    "importing 'handlers.broken' failed: ZeroDivisionError: division by zero (at handlers/broken.py:2)"
)
EXCERPTS = [
    pytest.param(
        Issue("routes.yaml", 2, 17, "service.body_timeout", NOT_A_DURATION),
        ["  |", "2 |   body_timeout: soon", "  |                 ^^^^ help: use a number with ms, s, m or h"],
        id="a-value-and-the-advice",
    ),
    pytest.param(
        Issue("routes.yaml", 3, 3, "service.healthcheck", UNKNOWN_KEY),
        ["  |", "3 |   healthcheck: /h", "  |   ^^^^^^^^^^^ help: did you mean 'healthz'?"],
        id="a-key-and-did-you-mean",
    ),
    pytest.param(
        Issue(
            "routes.yaml",
            5,
            11,
            "routes['GET /a']",
            IMPORT_FAILED,
        ),
        [
            "  |",
            "5 |   GET /a: handlers.broken.a",
            "  |           ^^^^^^^^^^^^^^^^^",
            "  --> handlers/broken.py:2",
            "2 | value = 1 / 0",
        ],
        id="an-import-error-shows-the-modules-line",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("issue", "excerpt"), EXCERPTS)
def test_on_a_terminal_the_line_of_the_file_follows(routes: Path, issue: Issue, excerpt: list[str]) -> None:
    assert shown([issue], Terminal()) == [str(issue), *excerpt]


def test_elsewhere_only_the_machine_line(routes: Path) -> None:
    issue = EXCERPTS[0].values[0]
    assert shown([issue], io.StringIO()) == [str(issue)]  # type: ignore[list-item]


def test_colour_on_a_terminal_unless_no_color(routes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issue = EXCERPTS[0].values[0]
    assert "\x1b[" not in "".join(shown([issue], Terminal()))  # type: ignore[list-item]
    monkeypatch.delenv("NO_COLOR")
    coloured = shown([issue], Terminal())  # type: ignore[list-item]
    assert coloured[0] == str(issue) and "\x1b[31m" in coloured[3]


def test_check_format_json(routes: Path) -> None:
    result = run_service(routes.parent, "check", "--format", "json")
    assert result.returncode == 2
    found = json.loads(result.stdout)
    assert [(i["line"], i["col"], i["where"]) for i in found] == [
        (2, 17, "service.body_timeout"),
        (3, 3, "service.healthcheck"),
        (5, 11, "routes['GET /a']"),
    ]
    assert found[2]["message"].startswith("importing 'handlers.broken' failed: ZeroDivisionError")
    assert {i["file"] for i in found} == {"routes.yaml"} and {i["severity"] for i in found} == {"error"}


def test_check_format_json_when_all_is_well(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text("routes: {}\n")
    result = run_service(tmp_path, "check", "--format", "json")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
