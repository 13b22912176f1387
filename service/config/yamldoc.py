"""YAML text -> plain Python values, with the source position of every key and value.

1. PyYAML *composes* the text into nodes (not Python objects), so each node
   keeps its ``line:col``. Duplicate keys -- which PyYAML would silently
   collapse -- are found on the nodes.
2. ``${VAR}`` / ``${VAR:-default}`` are substituted in scalar nodes, so a value
   from the environment is typed (and reported) like one written in the file.
3. Nodes become Python values while a side table records the position of every
   key and value by its path (``("service", "port")``), so any later check can
   point at the offending text.

The document is bounded: alias expansions ("billion laughs"), nesting depth and
alias cycles are reported, never followed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import ConfigError, Issue, Location
from .yamlerrors import explain

__all__ = ["Doc", "Loc", "compose", "format_where"]

Loc = tuple[str | int, ...]
_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MAX_NODES = 100_000  # values in one document, counting each alias expansion
_MAX_DEPTH = 100  # nesting levels


def format_where(loc: Loc) -> str:
    """``("routes", "GET /x", "handler")`` -> ``routes['GET /x'].handler``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "(top level)"


class Doc:
    """Python values of a YAML document plus the position of every key and value."""

    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.values: dict[Loc, Location] = {}
        self.keys: dict[Loc, Location] = {}
        self.issues: list[Issue] = []
        self.unset: set[Location] = set()  # values naming an unset variable: reported once
        self.budget = _MAX_NODES
        self._open: set[int] = set()  # collections being converted: an alias to one is a cycle
        self._constructor = yaml.constructor.SafeConstructor()
        self._resolver = yaml.resolver.Resolver()

    def at(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def value_at(self, loc: Loc) -> Location:
        """The position of the value at ``loc``, or of its nearest ancestor."""
        for i in range(len(loc), -1, -1):
            found = self.values.get(loc[:i])
            if found is not None:
                return found
        return Location(self.file, 1, 1)

    def key_at(self, loc: Loc) -> Location:
        return self.keys.get(loc) or self.value_at(loc)

    def convert(self, node: yaml.Node, loc: Loc) -> Any:
        self.values[loc] = self.at(node)
        self.budget -= 1
        if self.budget < 0 or len(loc) > _MAX_DEPTH:
            # An alias expands its anchor again at every use, so a small file can name
            # billions of nodes ("billion laughs"); deep nesting would exhaust the stack.
            if self.budget == -1 or len(loc) == _MAX_DEPTH + 1:
                self.issues.append(
                    self.at(node).issue(format_where(loc), "the document is too large or deep")
                )
            return None
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self._open:
                self.issues.append(
                    self.at(node).issue(format_where(loc), "an alias refers to a node that contains it")
                )
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, loc)
                return [self.convert(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        return self._scalar(node, loc)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.issues.append(self.at(key_node).issue(format_where(loc), "keys must be plain strings"))
                continue
            key = str(key_node.value)
            if key in out:
                first = self.keys[(*loc, key)]
                self.issues.append(
                    self.at(key_node).issue(
                        format_where((*loc, key)),
                        f"duplicate key {key!r} (first defined at line {first.line})",
                    )
                )
                continue
            self.keys[(*loc, key)] = self.at(key_node)
            out[key] = self.convert(value_node, (*loc, key))
        return out

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) and "$" in node.value:
            text = self._interpolate(node.value, loc, node)
            if text != node.value:
                # A quoted scalar stays a string, as it would with the text written in place.
                tag = node.tag if node.style else self._resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
                node = yaml.ScalarNode(tag, text, node.start_mark, node.end_mark)
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.issues.append(self.at(node).issue(format_where(loc), f"cannot read value: {problem}"))
            return None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            # SafeConstructor raises these for e.g. ``!!int abc`` or ``!!bool maybe``.
            tag = node.tag.rpartition(":")[2]
            self.issues.append(
                self.at(node).issue(
                    format_where(loc), f"cannot read value: {node.value!r} is not a valid !!{tag}"
                )
            )
            return None

    def _interpolate(self, text: str, loc: Loc, node: yaml.Node) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            value = self.env.get(name)
            if value is not None and (value or default is None):
                return value
            if default is not None:
                return default
            self.unset.add(self.at(node))
            self.issues.append(
                self.at(node).issue(
                    format_where(loc),
                    f"environment variable {name} is not set (set it, or write ${{{name}:-default}})",
                )
            )
            return m.group(0)

        return _ENV.sub(sub, text)


# PERF: libyaml's parser, where PyYAML has it, composes several times faster than the
# pure-Python one (most of what `check` does on a large file). Its composer recurses
# in C, which no RecursionError guards, so a document that might nest deeply (more
# flow brackets than _C_MAX_BRACKETS) goes to the Python one; so does one with a
# syntax error, so that every message reads the same.
_CSafeLoader: Any = getattr(yaml, "CSafeLoader", None)
_C_MAX_BRACKETS = 1000


def compose(text: str, file: str) -> yaml.Node | None:
    """The YAML text as nodes (``None`` for an empty document); a syntax error is a ``ConfigError``."""
    if _CSafeLoader is not None and text.count("[") + text.count("{") <= _C_MAX_BRACKETS:
        try:
            return yaml.compose(text, Loader=_CSafeLoader)
        except yaml.YAMLError:
            pass  # told below, in the Python parser's words
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise ConfigError([Issue(file, 1, 1, "(yaml)", "the document is nested too deeply")]) from None
    except yaml.MarkedYAMLError as exc:
        explained = explain(exc, text)
        if explained is not None:
            line, col, what = explained
            raise ConfigError([Issue(file, line, col, "(yaml)", f"YAML syntax error: {what}")]) from None
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and exc.problem.startswith("but "):
            what = f"{exc.context} {exc.problem}"  # one sentence in two halves
        elif exc.problem and exc.context:
            started = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            what = f"{exc.problem} ({exc.context}{started})"
        raise ConfigError([Issue(file, line, col, "(yaml)", f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Issue(file, 1, 1, "(yaml)", f"YAML error: {exc}")]) from None
