"""Path patterns: the grammar of a route's path, parsed once into literals and placeholders.

A path pattern is literal text with placeholders: ``{name}`` (one segment),
``{name:regex}`` (aiohttp's syntax) and typed ``{name:int|float|uuid|path|str}``.
A spec that is a bare word names a converter; anything else is a regex (write
``{x:(?:word)}`` to match a literal word).

A ``Pattern`` knows what it matches (``regex``, ``shape``, ``prefix``, used by the
router's compiled table) and how to be filled in the other way (``fill``, behind
``url_for``): each value is checked against its placeholder's regex and quoted,
so a URL made here always matches the route it was made for.
"""

from __future__ import annotations

import difflib
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import RouteError

__all__ = [
    "ANY_METHOD",
    "CONVERTERS",
    "METHODS",
    "Pattern",
    "Placeholder",
    "check_method",
    "parse_pattern",
]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ANY_METHOD = "*"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DEFAULT_REGEX = r"[^{}/]+"


def check_method(method: str) -> str:
    """``method`` as a route's key: upper-cased, one of ``METHODS`` or ``*``; else ``RouteError``.

    The message names the method as written and the closest known one, if any.
    """
    upper = method.upper() if isinstance(method, str) else method
    if upper in METHODS or upper == ANY_METHOD:
        return sys.intern(upper)  # the one "GET" object, as requests' (http/wire.py)
    close = difflib.get_close_matches(upper, METHODS, n=1) if isinstance(upper, str) else []
    hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(METHODS)} or '*'"
    raise RouteError(f"unknown method {method!r} ({hint})")


def _to_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


# name -> (regex, converter); a None converter keeps the text as it is.
CONVERTERS: dict[str, tuple[str, Callable[[str], Any] | None]] = {
    "str": (r"[^/]+", None),
    "int": (r"[0-9]+", int),
    "float": (r"[0-9]+(?:\.[0-9]+)?", float),
    "uuid": (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", _to_uuid),
    "path": (r".*", None),
}


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    regex: str
    convert: Callable[[str], Any] | None
    spec: str | None  # as written after the colon, for messages and listings


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed path pattern."""

    path: str
    parts: tuple[str | Placeholder, ...]

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def shape(self) -> tuple[str, ...]:
        """What the pattern matches, independent of placeholder names."""
        return tuple(p if isinstance(p, str) else "{" + p.regex + "}" for p in self.parts)

    @property
    def prefix(self) -> str:
        """The literal text before the first placeholder, cut after its last '/'."""
        head = self.parts[0] if isinstance(self.parts[0], str) else ""
        return head[: head.rfind("/") + 1]

    def regex(self, group_prefix: str = "") -> str:
        return "".join(
            re.escape(p) if isinstance(p, str) else f"(?P<{group_prefix}{p.name}>{p.regex})"
            for p in self.parts
        )

    @property
    def canonical(self) -> str:
        """The path with each placeholder as ``{name}`` (aiohttp's ``resource.canonical``)."""
        return "".join(p if isinstance(p, str) else "{" + p.name + "}" for p in self.parts)

    def with_prefix(self, prefix: str) -> Pattern:
        """The same pattern under ``prefix`` (literal text, without a trailing slash).

        The prefix joins the first literal, so the shape and the literal prefix (what
        the router groups and compares by) are those of the path written whole."""
        first, *rest = self.parts  # (a path starts with '/': its first part is literal)
        return Pattern(prefix + self.path, (prefix + str(first), *rest))

    def fill(self, params: Mapping[str, Any], what: str) -> str:
        """The path with ``params`` filled in and quoted (``url_for``); ``ValueError`` when
        they are not exactly the placeholders, or a value would not match its own."""
        wanted = {p.name for p in self.parts if isinstance(p, Placeholder)}
        if set(params) != wanted:
            raise ValueError(f"{what} takes parameters {sorted(wanted)}, got {sorted(params)}")
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            text = str(params[part.name])
            if not re.fullmatch(part.regex, text):
                raise ValueError(f"{part.name}={text!r} does not match {part.regex!r}")
            out.append(quote(text, safe="/" if part.spec == "path" else ""))
        return "".join(out)


def parse_pattern(path: str) -> Pattern:
    """Parse ``path`` into literals and placeholders, or raise ``RouteError``."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise RouteError(f"path must start with '/': {path!r}")
    parts: list[str | Placeholder] = []
    names: set[str] = set()
    literal: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "}":
            raise RouteError(f"unbalanced '}}' at offset {i} in {path!r}")
        if ch != "{":
            literal.append(ch)
            i += 1
            continue
        end, depth = i + 1, 1
        while end < len(path) and depth:
            depth += {"{": 1, "}": -1}.get(path[end], 0)
            end += 1
        if depth:
            raise RouteError(f"unclosed '{{' at offset {i} in {path!r}")
        placeholder = _parse_placeholder(path[i + 1 : end - 1], path)
        if placeholder.name in names:
            raise RouteError(f"placeholder {{{placeholder.name}}} appears twice in {path!r}")
        names.add(placeholder.name)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(placeholder)
        i = end
    if literal:
        parts.append("".join(literal))
    return Pattern(path, tuple(parts))


def _parse_placeholder(body: str, path: str) -> Placeholder:
    name, colon, spec = body.partition(":")
    if not _IDENT.match(name):
        raise RouteError(f"placeholder name {name!r} in {path!r} is not an identifier")
    if not colon:
        return Placeholder(name, _DEFAULT_REGEX, None, None)
    if _IDENT.match(spec):
        if spec not in CONVERTERS:
            known = ", ".join(CONVERTERS)
            raise RouteError(f"unknown converter {spec!r} in {{{body}}} (known: {known})")
        regex, convert = CONVERTERS[spec]
        return Placeholder(name, regex, convert, spec)
    if not spec:
        raise RouteError(f"empty regex in {{{body}}} in {path!r}")
    try:
        compiled = re.compile(f"(?:{spec})")
    except re.error as exc:
        raise RouteError(f"invalid regex {spec!r} in {{{name}}}: {exc}") from None
    if compiled.groupindex:
        raise RouteError(f"regex {spec!r} in {{{name}}} may not contain named groups")
    return Placeholder(name, spec, None, spec)
