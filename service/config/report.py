"""How a routes.yaml problem is shown: the machine line, then the line of the file.

Every issue is first the line tools read, unchanged: ``FILE:LINE:COL: where: what``.
On a terminal it is followed, in the manner of rustc's and Elm's reports, by the
offending line of the file with a caret under the column (as wide as the value
there) and the suggestion the message makes (``did you mean ...?``, ``use ...``);
when the message says where an import failed (``(at handlers/x.py:3)``), that
line of the handler module is shown too. Colour is used when the stream is a
terminal and ``NO_COLOR`` is not set (no-color.org). ``as_json`` gives the same
issues for editors and CI annotations (``check --format json``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from ..errors import Issue

__all__ = ["as_json", "excerpt", "render", "wants_colour"]

_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|[^\s,\]\}#]+")  # the value at a column
_IMPORTED_AT = re.compile(r"\(at (?P<file>.+):(?P<line>\d+)\)$")
_MEAN = re.compile(r"did you mean [^)]*\?")
RED, BLUE, BOLD, RESET = "\x1b[31m", "\x1b[34m", "\x1b[1m", "\x1b[0m"


def wants_colour(stream: TextIO) -> bool:
    """Colour for a terminal, unless ``NO_COLOR`` is set to anything (no-color.org)."""
    return _is_tty(stream) and not os.environ.get("NO_COLOR")


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _line_of(file: str, number: int) -> str | None:
    try:
        lines = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return lines[number - 1] if 0 < number <= len(lines) else None


def _suggestion(what: str) -> str | None:
    """What the message advises: its "did you mean" part, else what follows its last colon."""
    mean = _MEAN.search(what)
    if mean:
        return mean.group(0)
    head, colon, tail = what.rpartition(": ")
    return tail if colon and head and not _IMPORTED_AT.search(tail) else None


def excerpt(issue: Issue, colour: bool = False) -> list[str]:
    """The lines shown under the machine line (none when the file cannot be read)."""
    paint = (lambda text, code: f"{code}{text}{RESET}") if colour else (lambda text, code: text)
    lines: list[str] = []
    source = _line_of(issue.file, issue.line)
    if source is not None:
        gutter = " " * len(str(issue.line))
        start = max(issue.col - 1, 0)
        token = _TOKEN.match(source, start)
        width = max(len(token.group(0).rstrip(":")), 1) if token else 1  # (a key, without its colon)
        help_text = _suggestion(issue.what)
        marks = paint("^" * width, RED + BOLD) + (f" {paint('help:', BOLD)} {help_text}" if help_text else "")
        lines += [
            paint(f"{gutter} |", BLUE),
            f"{paint(f'{issue.line} |', BLUE)} {source}",
            f"{paint(f'{gutter} |', BLUE)} {' ' * start}{marks}",
        ]
    imported = _IMPORTED_AT.search(issue.what)
    if imported:
        number = int(imported.group("line"))
        code = _line_of(imported.group("file"), number)
        if code is not None:
            lines += [
                paint(f"  --> {imported.group('file')}:{number}", BLUE),
                f"{paint(f'{number} |', BLUE)} {code}",
            ]
    return lines


def render(issues: Iterable[Issue], stream: TextIO, suffix: str = "") -> None:
    """Write each issue to ``stream``: its line (plus ``suffix``), and on a terminal its excerpt."""
    tty = _is_tty(stream)
    colour = wants_colour(stream)
    for issue in issues:
        stream.write(f"{issue}{suffix}\n")
        if tty:
            shown = excerpt(issue, colour)
            if shown:
                stream.write("\n".join(shown) + "\n")


def as_json(issues: Sequence[Issue]) -> str:
    """The issues as a JSON array of {file, line, col, where, message, severity}."""
    return json.dumps(
        [
            {
                "file": i.file,
                "line": i.line,
                "col": i.col,
                "where": i.where,
                "message": i.what,
                "severity": "error",
            }
            for i in issues
        ],
        indent=2,
    )
