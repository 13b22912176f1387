"""The JSON Schema (draft-07) of routes.yaml, for editors (yaml-language-server).

The fixed-shape parts come from the pydantic models of schema.py, so the editor
and the loader agree on every key; the ``routes:`` grammar, which the loader
walks by hand, is written here the same way: ``"METHOD /path"`` keys and
``/path`` keys holding methods (or naming a class-based view), each matched by ``patternProperties``, with
``additionalProperties: false`` so that a misspelled method (``GTE /users``) is
flagged while it is typed. Two things YAML allows are allowed here too: every
number and boolean may be written as ``${VAR}`` (interpolated when loaded), and
sizes and durations may be written with units (``1MiB``, ``10s``).

The schema is a pure function of the models: ``python -m service schema`` prints
it, and the repository's ``routes.schema.json`` is kept equal to it by a test.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from ..web.router import ANY_METHOD, METHODS
from .schema import (
    DOTTED_PATTERN,
    DURATION_PATTERN,
    RATE_PATTERN,
    SIZE_PATTERN,
    Rate,
    RouteOptions,
    RoutesFile,
)

__all__ = ["render", "routes_schema"]

_DRAFT = "http://json-schema.org/draft-07/schema#"
_INTERPOLATED = {"type": "string", "pattern": r"\$\{"}  # ${VAR} or ${VAR:-default}


def render() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indents, a newline."""
    return json.dumps(routes_schema(), indent=2, sort_keys=True) + "\n"


def routes_schema() -> dict[str, Any]:
    top = RoutesFile.model_json_schema(ref_template="#/definitions/{model}")
    definitions = top.pop("$defs", {})
    definitions["RouteOptions"] = RouteOptions.model_json_schema(ref_template="#/definitions/{model}")
    definitions["RouteOptions"].pop("$defs", None)
    route = {
        "description": "A handler's dotted name (short form), or a mapping with 'handler:' (long form).",
        "anyOf": [{"type": "string", "pattern": DOTTED_PATTERN}, {"$ref": "#/definitions/RouteOptions"}],
    }
    definitions["Route"] = route
    method = "|".join([*(_any_case(m) for m in METHODS), re.escape(ANY_METHOD)])
    top["properties"]["routes"] = {
        "description": '"METHOD /path": route, or "/path": {METHOD: route}.',
        "type": "object",
        "patternProperties": {
            rf"^(?:{method})\s+/\S*$": {"$ref": "#/definitions/Route"},
            r"^/\S*$": {
                "anyOf": [
                    {
                        "type": "object",
                        "patternProperties": {rf"^(?:{method})$": {"$ref": "#/definitions/Route"}},
                        "additionalProperties": False,
                    },
                    {
                        "description": "A class-based view (a web.View subclass): every method it defines.",
                        "type": "string",
                        "pattern": DOTTED_PATTERN,
                    },
                ]
            },
        },
        "additionalProperties": False,
    }
    top["required"] = ["routes"]
    schema: dict[str, Any] = _for_yaml(
        {"$schema": _DRAFT, "title": "routes.yaml", **top, "definitions": definitions}
    )
    return schema


def _any_case(word: str) -> str:
    """``GET`` -> ``[Gg][Ee][Tt]`` (ECMA-262 regexes, which draft-07 uses, have no inline flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def _for_yaml(node: Any) -> Any:
    """Let numbers and booleans be ``${VAR}``; sizes and durations take their units."""
    if isinstance(node, list):
        return [_for_yaml(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _for_yaml(v) for k, v in node.items()}
    unit = node.pop("x-unit", None)
    if unit == "rate":  # 100/minute, or {rate: 100/minute, per: client|api_key}
        rest = {k: v for k, v in node.items() if k not in ("$ref", "allOf", "type", "properties", "required")}
        rate = {"type": "string", "pattern": RATE_PATTERN}
        whose = list(get_args(Rate.model_fields["per"].annotation))
        long_form = {
            "type": "object",
            "properties": {"rate": {"anyOf": [rate, _INTERPOLATED]}, "per": {"enum": whose}},
            "required": ["rate"],
            "additionalProperties": False,
        }
        return {**rest, "anyOf": [rate, long_form, _INTERPOLATED]}
    if unit is not None:
        pattern = SIZE_PATTERN if unit == "size" else DURATION_PATTERN
        scalar = {k: v for k, v in node.items() if k in ("type", "minimum", "exclusiveMinimum")}
        rest = {k: v for k, v in node.items() if k not in scalar}
        return {**rest, "anyOf": [scalar, {"type": "string", "pattern": pattern}, _INTERPOLATED]}
    if node.get("type") in ("integer", "number", "boolean"):
        scalar = {k: v for k, v in node.items() if k in ("type", "minimum", "maximum", "exclusiveMinimum")}
        rest = {k: v for k, v in node.items() if k not in scalar}
        return {**rest, "anyOf": [scalar, _INTERPOLATED]}
    return node
