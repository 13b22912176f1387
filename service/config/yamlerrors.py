"""PyYAML's syntax errors -> plain words, at the line where the mistake is.

PyYAML says what its scanner or parser expected ("could not find expected ':'",
"expected <block end>, but found '<block mapping start>'"), and often marks the
place where it gave up rather than the mistake: a key without its colon is
reported on the *next* line, an unclosed quote at the end of the file. Each
rule here recognises one such message by its ``problem`` (and ``context``) text,
takes the mark that points at the mistake, and says what to write instead,
quoting the offending line. A message no rule knows is returned as ``None``;
the caller words it as PyYAML did.

Line numbers follow PyYAML's own count: ``\\r\\n``, ``\\r``, ``\\n``, NEL, LS and
PS each end a line, so the quoted text is the line the mark points at.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

__all__ = ["explain", "route_line_fix"]

_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_ROUTE_LINE = re.compile(r"(?P<method>[A-Za-z]+|\*)\s+(?P<path>/\S*?)(?::|\s+)(?P<handler>[A-Za-z_][\w.:]*)")
_ROUTE_GRAMMAR = '"GET /path: module.function"'

# (1-based line, 1-based column, the message) -- the "what" of an Issue.
Explained = tuple[int, int, str]


def route_line_fix(text: str) -> str | None:
    """``'GET /a h.a'`` or ``'GET /a:h.a'`` -> ``'GET /a: h.a'``; ``None`` if it is no route line."""
    m = _ROUTE_LINE.fullmatch(text.strip())
    return f"{m['method']} {m['path']}: {m['handler']}" if m else None


class _Text:
    """The document's lines, split where PyYAML counts a line break."""

    def __init__(self, text: str) -> None:
        self.lines = _LINE_BREAK.split(text)

    def line(self, number: int) -> str:
        """Line ``number`` (1-based), or ``""`` past the end."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def above(self, number: int) -> int:
        """The nearest line before ``number`` with content (not blank, not a comment), or 0."""
        for n in range(number - 1, 0, -1):
            stripped = self.line(n).strip()
            if stripped and not stripped.startswith("#"):
                return n
        return 0


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _spaces(n: int) -> str:
    return f"{n} space{'s' if n != 1 else ''}"


def _at(mark: yaml.Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _missing_colon(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    """A key with no ': ' is found only at the next line; the key itself is the mistake."""
    line, col = _at(exc.context_mark)
    return _no_colon(line, col, doc.line(line)[col - 1 :].strip())


def _no_colon(line: int, col: int, text: str) -> Explained:
    fix = route_line_fix(text)
    if fix is not None:
        return line, col, f"no ': ' after the key in {text!r}: a route is {_ROUTE_GRAMMAR}, so write {fix!r}"
    return line, col, f"no ': ' after the key in {text!r}: each line of a mapping is 'key: value'"


def _mapping_value(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    """A ': ' where no key may start: after a key's value, or in a value begun on a line above.

    A plain value may go on over several lines, so a key that PyYAML refuses here
    may be the mistake of the line above: a key without its ': ', or a key with
    its value under which this line was indented as if it could nest.
    """
    line, col = _at(exc.problem_mark)
    text = doc.line(line)
    previous = doc.above(line)
    above = doc.line(previous)
    if ": " not in text[: col - 1] and previous:
        if ": " not in above and not above.rstrip().endswith(":"):
            return _no_colon(previous, _indent(above) + 1, above.strip())
        if _indent(text) > _indent(above):
            return (
                line,
                _indent(text) + 1,
                f"this line is indented more than line {previous} ({above.strip()!r}), whose key already"
                f" has its value, so nothing can nest under it: indent it by {_spaces(_indent(above))},"
                f" like line {previous}",
            )
    first = text.find(": ")
    if 0 <= first < col - 1 and text.count("{", 0, first) > text.count("}", 0, first):
        # ``GET /u/{id: int}: h`` -- the space inside the placeholder ended the key.
        return (
            line,
            first + 1,
            "': ' inside a '{...}' placeholder ends the key there: write the placeholder without"
            " the space, e.g. {id:int}",
        )
    return (
        line,
        col,
        "a second ': ' on one line: a key or value that contains ': ' must be quoted, e.g. key: \"a: b\"",
    )


def _block_end(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    """A block collection ended by a line that belongs to none: indentation or '- ' mixed with keys."""
    line, col = _at(exc.problem_mark)
    begun, _ = _at(exc.context_mark)
    found = (exc.problem or "").rpartition("but found ")[2]
    if found == "'<block mapping start>'":
        previous = doc.above(line)
        width = _indent(doc.line(previous))
        return (
            line,
            col,
            f"this line is indented by {_spaces(col - 1)}, which lines up with no key above it (line"
            f" {previous} is indented by {width}): the keys of one mapping start in the same column",
        )
    if found == "'-'" and exc.context == "while parsing a block mapping":
        return (
            line,
            col,
            f"a '- ' list item among 'key: value' lines (the mapping begins at line {begun}):"
            " write it as 'key: value', without '- '",
        )
    if found == "'?'" and exc.context == "while parsing a block collection":
        return (
            line,
            col,
            f"a 'key: value' line among '- ' list items (the list begins at line {begun}):"
            " start every line with '- ', or none of them",
        )
    if found == "'<scalar>'" and doc.line(line)[: col - 1].rstrip().endswith(("'", '"')):
        return line, col, "text after a closing quote: put all of the key or value inside the quotes"
    return None


def _cannot_start(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    line, col = _at(exc.problem_mark)
    char = doc.line(line)[col - 1 : col]
    if char == "\t":
        return line, col, "a tab character: YAML indents with spaces only; replace the tab with spaces"
    if char:
        return line, col, f"a key or value cannot start with {char!r} in YAML: put it in quotes"
    return None


def _unclosed_quote(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    line, col = _at(exc.context_mark)
    quote = doc.line(line)[col - 1 : col] or '"'
    return line, col, f"the quote {quote!r} opened here is never closed: add the closing {quote!r}"


def _unclosed_flow(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    """``[`` or ``{`` still open when the next line (or the end) comes."""
    line, col = _at(exc.context_mark)
    if _at(exc.problem_mark)[0] == line and "<stream end>" not in (exc.problem or ""):
        return None  # a mistake inside one line's brackets: PyYAML's words name it
    opened = doc.line(line)[col - 1 : col]
    closing = {"[": "]", "{": "}"}.get(opened)
    if closing is None:
        return None
    return line, col, f"the {opened!r} opened here is never closed: add the closing {closing!r}"


def _alias(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    """``* /any: h`` -- an unquoted key or value starting with '*' or '&'."""
    line, col = _at(exc.context_mark)
    text = doc.line(line)[col - 1 :]
    word = text.split(": ", 1)[0].strip()
    kind = "an alias" if word.startswith("*") else "an anchor"
    return (
        line,
        col,
        f'{word!r} starts with {word[:1]!r}, which YAML reads as {kind}: put it in quotes, "{word}"',
    )


def _undefined_alias(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    line, col = _at(exc.problem_mark)
    name = (exc.problem or "").rpartition(" ")[2].strip("'\"")
    return (
        line,
        col,
        f"'*{name}' reads as a YAML alias, but no anchor '&{name}' is defined: put the text in quotes"
        " if it is meant as text",
    )


def _unknown_escape(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    line, col = _at(exc.problem_mark)
    char = doc.line(line)[col - 1 : col]
    return (
        line,
        col - 1,  # at the backslash
        f"'\\{char}' is not a YAML escape (in double quotes a backslash starts one): use single quotes"
        " for text with backslashes, such as a regex",
    )


def _second_document(exc: yaml.MarkedYAMLError, doc: _Text) -> Explained | None:
    line, col = _at(exc.problem_mark)
    return (
        line,
        col,
        "a second YAML document starts here ('---'): a routes file is one document; remove the '---'"
        " and merge what follows into the first",
    )


_Rule = Callable[[yaml.MarkedYAMLError, _Text], Explained | None]

# (the start of PyYAML's problem text, the start of its context text or "", the rule)
_RULES: tuple[tuple[str, str, _Rule], ...] = (
    ("could not find expected ':'", "while scanning a simple key", _missing_colon),
    ("mapping values are not allowed here", "", _mapping_value),
    ("expected <block end>, but found", "", _block_end),
    ("found character", "while scanning for the next token", _cannot_start),
    ("found unexpected end of stream", "while scanning a quoted scalar", _unclosed_quote),
    ("expected ',' or ']'", "while parsing a flow sequence", _unclosed_flow),
    ("expected ',' or '}'", "while parsing a flow mapping", _unclosed_flow),
    ("expected alphabetic or numeric character", "while scanning an a", _alias),
    ("found undefined alias", "", _undefined_alias),
    ("found unknown escape character", "", _unknown_escape),
    ("but found another document", "expected a single document", _second_document),
)


def explain(exc: yaml.MarkedYAMLError, text: str) -> Explained | None:
    """Plain words for a PyYAML error in ``text`` and where the mistake is; ``None`` if unknown."""
    problem, context = exc.problem or "", exc.context or ""
    for problem_start, context_start, rule in _RULES:
        if problem.startswith(problem_start) and context.startswith(context_start):
            return rule(exc, _Text(text))
    return None
