"""routes.yaml text -> a validated ``Spec`` whose every piece knows its position.

Theory of operation
-------------------
1. yamldoc.py turns the text into plain values plus the position of every key
   and value (duplicate keys and ``${VAR}`` substitution are handled there).
2. Fixed-shape parts go through the pydantic models of schema.py; each pydantic
   error location is a path, looked up in the positions.
3. The flexible ``routes:`` grammar is walked here, and every route is added to
   a scratch ``Router`` so method, pattern, duplicate and ambiguity errors are
   the very ones code-built apps get -- with both positions named.

Every problem is collected; ``load`` raises one ``ConfigError`` listing them.
Importing handlers is not done here (see resolve.py).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, Issue, Location, MissingFileError, RouteError, in_file_order
from ..web.router import ANY_METHOD, Router, check_method, parse_pattern
from .policies import NO_POLICIES, defaults_of, effective, unknown_groups
from .schema import DOTTED_PATTERN, Policies, RouteOptions, RoutesFile, ServiceSettings
from .yamldoc import Doc, Loc, compose, format_where
from .yamlerrors import route_line_fix

__all__ = ["Location", "NamedRef", "RouteSpec", "Spec", "SpecError", "load", "load_text"]

_DOTTED = re.compile(DOTTED_PATTERN)
_SHORT_KEY = re.compile(r"(?P<method>[A-Za-z*]+)\s+(?P<path>\S+)\Z")
_LIKELY = 0.75  # a spelling at least this close to a known key is suggested alone
_GRAMMAR = (
    'expected routes as "GET /path: module.function" lines (or the long form "/path: {GET: module.function}")'
)


@dataclass(frozen=True, slots=True)
class NamedRef:
    """A dotted name in the file (middleware, hook) and where it is written."""

    dotted: str
    where: str
    at: Location


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    options: RouteOptions
    where: str  # e.g. routes['GET /hello']
    at: Location  # the route's key
    handler_at: Location  # the handler's dotted name
    view: bool = False  # "/path: module.SomeView": the handler is a web.View class
    policy: Policies = NO_POLICIES  # its effective policies (policies.py): own, groups', defaults
    # Where each long-form key's value is written (for messages; not part of what the route is).
    values_at: tuple[tuple[str, Location], ...] = field(default=(), compare=False)

    @property
    def handler(self) -> str:
        return self.options.handler

    def model_names(self) -> list[tuple[str, str, Location]]:
        """``(key, dotted name, where it is written)`` of each model the route names."""
        at = dict(self.values_at)
        names = [(key, getattr(self.options, key), at.get(key, self.at)) for key in ("body", "query")]
        response = self.options.response
        if isinstance(response, str):
            names.append(("response", response, at.get("response", self.at)))
        elif response is not None:
            names += [
                (f"response.{code}", name, at.get(f"response.{code}", self.at))
                for code, name in response.items()
            ]
        return [(key, name, where) for key, name, where in names if name is not None]

    def value_at(self, key: str) -> Location:
        """Where the long-form key's value is written (the route's key if it is not)."""
        return dict(self.values_at).get(key, self.at)


@dataclass(frozen=True, slots=True)
class Spec:
    """A routes file, validated; nothing imported yet."""

    file: str
    base_dir: Path
    settings: ServiceSettings
    routes: tuple[RouteSpec, ...]
    middlewares: tuple[NamedRef, ...]
    on_startup: tuple[NamedRef, ...]
    on_shutdown: tuple[NamedRef, ...]
    on_cleanup: tuple[NamedRef, ...]


class SpecError(ConfigError):
    """A file with problems, and what of it did validate (``partial``).

    The resolver imports the handlers of ``partial`` too, so one ``check`` reports
    a typo in the file and a missing handler module together.
    """

    def __init__(self, issues: list[Issue], partial: Spec) -> None:
        super().__init__(issues)
        self.partial = partial


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model reached by ``loc`` (for 'did you mean'): through optional
    models (``concurrency:``) and mappings of models (``policies: {name: ...}``)."""
    current: type[BaseModel] | None = model
    names_next = False  # the part is a mapping's key: the model is its value's
    for part in loc:
        if names_next:
            names_next = False
            continue
        field = current.model_fields.get(str(part)) if current is not None else None
        current, names_next = _model_in(field.annotation if field else None)
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model ``annotation`` holds (as itself, optionally, or as a mapping's values), and
    whether it is a mapping's."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and len(args) == 2:
        return _model_in(args[1])[0], True
    for arg in args:  # X | None
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, False
    return None, False


def _suggest(key: str, known: list[str]) -> tuple[str | None, str]:
    """The one key ``key`` was likely meant as (or None), and the hint to print.

    A word of several keys (``timeout``) names them all; a single close spelling is
    a suggestion; a far-fetched one (``healthcheck`` -> ``healthz``) comes with the
    whole list, as does no suggestion at all.
    """
    by_word = [k for k in known if key.lower() in k.split("_")]
    if len(by_word) > 1:
        return None, f" (did you mean one of {', '.join(by_word)}?)"
    if by_word:
        return by_word[0], f" (did you mean {by_word[0]!r}?)"
    close = difflib.get_close_matches(key, known, n=1)
    listed = f"known keys: {', '.join(known)}"
    if not close:
        return None, f" ({listed})"
    if difflib.SequenceMatcher(None, key, close[0]).ratio() < _LIKELY:
        return close[0], f" (did you mean {close[0]!r}? {listed})"
    return close[0], f" (did you mean {close[0]!r}?)"


def _looks_like_route(key: str) -> bool:
    return key.startswith("/") or (_SHORT_KEY.match(key) is not None and " /" in key)


def _pydantic_issues(doc: Doc, exc: ValidationError, model: type[BaseModel], prefix: Loc) -> list[Issue]:
    """Map each pydantic error to the node it is about; ``prefix`` locates the object."""
    issues = []
    errors = exc.errors()
    # An unknown key whose suggestion is a missing required key is one mistake (a typo), not two.
    suggested = {
        (tuple(e["loc"][:-1]), meant)
        for e in errors
        if e["type"] == "extra_forbidden"
        and (meant := _suggest(str(e["loc"][-1]), _fields_at(model, tuple(e["loc"][:-1])))[0])
    }
    for err in errors:
        if err["type"] == "missing" and (tuple(err["loc"][:-1]), str(err["loc"][-1])) in suggested:
            continue
        rel: Loc = tuple(err["loc"])
        loc = (*prefix, *rel)
        where = format_where(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(rel[-1])
            if not loc[:-1] and _looks_like_route(key):
                hint = " (a route: indent it under 'routes:')"
            else:
                hint = _suggest(key, _fields_at(model, rel[:-1]))[1]
            issues.append(doc.key_at(loc).issue(where, f"unknown key {key!r}{hint}"))
        elif kind == "missing":
            issues.append(doc.value_at(loc[:-1]).issue(where, f"missing required key {rel[-1]!r}"))
        elif kind == "string_pattern_mismatch":
            issues.append(
                doc.value_at(loc).issue(
                    where,
                    f"{err['input']!r} is not a dotted name (write e.g. handlers.users.get_user"
                    " or handlers.users:get_user)",
                )
            )
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            issues.append(doc.value_at(loc).issue(where, msg))
    return issues


def load_text(text: str, file: str = "routes.yaml", *, env: Mapping[str, str] | None = None) -> Spec:
    """Validate routes.yaml ``text``; ``file`` names it in messages."""
    if not text.strip():
        raise ConfigError(
            [Issue(file, 1, 1, "(file)", "the file is empty: it needs at least a 'routes:' mapping")]
        )
    root = compose(text, file)
    doc = Doc(file, os.environ if env is None else env)
    if root is None:
        raise ConfigError([Issue(file, 1, 1, "(file)", "the file holds no YAML document")])
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            [doc.at(root).issue("(top level)", "the top level must be a mapping with a 'routes:' key")]
        )
    raw = doc.convert(root, ())
    issues = doc.issues
    parsed: RoutesFile | None = None
    try:
        # ``routes:`` is the grammar's (``_routes``), which words a wrong shape in its own terms.
        parsed = RoutesFile.model_validate({k: v for k, v in raw.items() if k != "routes"})
    except ValidationError as exc:
        issues.extend(_pydantic_issues(doc, exc, RoutesFile, ()))
    groups = parsed.policies if parsed is not None else None
    scope = _Scope(
        groups or {}, defaults_of(parsed.service) if parsed is not None else NO_POLICIES, groups is None
    )
    routes = _routes(doc, raw, issues, scope)
    if parsed is not None and parsed.service.handler_timeout is not None and parsed.service.policies.timeout:
        what = "set both here and as service.policies.timeout: keep one (this is its older name)"
        issues.append(doc.value_at(("service", "handler_timeout")).issue("service.handler_timeout", what))
    builtins = [
        (key, path, doc.value_at(("service", key)))
        for key in ("livez", "healthz", "readyz", "metrics", "openapi")
        if parsed is not None and (path := getattr(parsed.service, key))
    ]
    _check_table(routes, builtins, issues)
    _check_description(routes, issues)
    if "routes" not in raw:
        issues.append(
            Issue(file, 1, 1, "(top level)", "no 'routes:' mapping: the service would answer nothing")
        )
    # A value naming an unset variable already has its issue; its knock-on errors would only confuse.
    issues = [
        i
        for i in issues
        if Location(i.file, i.line, i.col) not in doc.unset or i.what.startswith("environment variable")
    ]

    def refs(key: str) -> tuple[NamedRef, ...]:
        names = getattr(parsed, key) if parsed is not None else ()
        return tuple(
            NamedRef(name, format_where((key, i)), doc.value_at((key, i))) for i, name in enumerate(names)
        )

    spec = Spec(
        file=file,
        # The directory the file is named in, not where a symlink points: handlers
        # sit next to routes.yaml as the user sees it (ConfigMaps are symlinks).
        base_dir=Path(os.path.abspath(file)).parent,
        settings=parsed.service if parsed is not None else ServiceSettings(),
        routes=tuple(routes),
        middlewares=refs("middlewares"),
        on_startup=refs("on_startup"),
        on_shutdown=refs("on_shutdown"),
        on_cleanup=refs("on_cleanup"),
    )
    if issues:
        raise SpecError(in_file_order(issues), spec)
    return spec


def load(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Spec:
    """Read and validate a routes file. Raises ``ConfigError`` listing every problem."""
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        directory, name = os.path.split(os.path.abspath(file))
        searched = f"no {name} in {directory}" if os.path.isdir(directory) else f"no directory {directory}"
        raise MissingFileError(
            [Issue(file, 1, 1, "(file)", f"file not found: there is {searched}")]
        ) from None
    except IsADirectoryError:
        raise ConfigError([Issue(file, 1, 1, "(file)", "is a directory, not a routes file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Issue(file, 1, 1, "(file)", f"cannot read: {exc}")]) from None
    return load_text(text, file, env=env)


# -- the routes: grammar ------------------------------------------------------------------
def _found(value: Any) -> str:
    """What was written where a mapping was expected, in a user's words."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:77] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the value {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the value {value!r}"


def _routes_shape(doc: Doc, value: Any) -> Issue:
    """``routes:`` holds no mapping: say which shape was found, and how to fix the common ones."""
    at = doc.key_at(("routes",)) if value is None else doc.value_at(("routes",))
    fix = ""
    if value is None:
        fix = ": write the routes under 'routes:', indented (or 'routes: {}' for none)"
    elif isinstance(value, list):
        fix = ": remove the '- ' before each route"
    elif isinstance(value, str) and (line := route_line_fix(value)) is not None:
        if at.line == doc.key_at(("routes",)).line:
            fix = f": write '  {line}' on a line of its own under 'routes:'"
        else:
            fix = f": write {line!r}"
    elif isinstance(value, str) and _SHORT_KEY.match(" ".join(value.split()[:2])):
        fix = ": put ': ' between each route's path and its handler"
    return at.issue("routes", f"{_GRAMMAR}, found {_found(value)}{fix}")


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a route's policies resolve against: the named groups and the service's defaults."""

    groups: Mapping[str, Policies]
    defaults: Policies
    unknown: bool  # the groups could not be read (the file has problems there): no name is checked


def _routes(doc: Doc, raw: dict[str, Any], issues: list[Issue], scope: _Scope) -> list[RouteSpec]:
    """Walk ``routes:``: ``"METHOD /path": target`` or ``/path: {METHOD: target}``."""
    if "routes" not in raw:
        return []  # load_text reports it
    if not isinstance(raw["routes"], dict):
        issues.append(_routes_shape(doc, raw["routes"]))
        return []
    found: list[RouteSpec] = []
    for key, value in raw["routes"].items():
        loc: Loc = ("routes", key)
        m = _SHORT_KEY.match(key)
        if key.startswith("/"):
            if isinstance(value, str) and _DOTTED.match(value):
                # "/path: module.SomeView": a class-based view, for every method it defines.
                route = _route(doc, ANY_METHOD, key, value, loc, issues, scope)
                if route is not None:
                    found.append(dataclasses.replace(route, view=True))
                continue
            if not isinstance(value, dict):
                issues.append(_path_shape(doc, loc, key, value))
                continue
            for method, target in value.items():
                route = _route(doc, method, key, target, (*loc, method), issues, scope)
                if route is not None:
                    found.append(route)
        elif m is not None:
            route = _route(doc, m["method"], m["path"], value, loc, issues, scope)
            if route is not None:
                found.append(route)
        elif (line := route_line_fix(key)) is not None:
            what = f"no ': ' between the path and the handler: write {line!r}"
            issues.append(doc.key_at(loc).issue(format_where(loc), what))
        else:
            what = "a route key is 'METHOD /path' (e.g. 'GET /hello') or a '/path' mapping"
            issues.append(doc.key_at(loc).issue(format_where(loc), what))
    return found


def _path_shape(doc: Doc, loc: Loc, path: str, value: Any) -> Issue:
    """A ``/path:`` key without its mapping of methods."""
    fix = ""
    if isinstance(value, list):
        fix = ": remove the '- '"
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*([A-Za-z]+|\*)\s+(\S+)\s*", value)):
        fix = f": write '{path}: {{{m[1]}: {m[2]}}}'"
    what = (
        f'expected methods under the path, e.g. "{path}: {{GET: module.function}}"'
        f' (or a class-based view: "{path}: module.SomeView"), found {_found(value)}'
    )
    return doc.value_at(loc).issue(format_where(loc), what + fix)


def _route(
    doc: Doc, method: str, path: str, target: Any, loc: Loc, issues: list[Issue], scope: _Scope
) -> RouteSpec | None:
    where = format_where(loc)
    try:
        upper = check_method(method)
    except RouteError as exc:
        issues.append(doc.key_at(loc).issue(where, str(exc)))
        return None
    data = {"handler": target} if isinstance(target, str) else target
    if not isinstance(data, dict):
        what = (
            f"expected a handler's dotted name ({upper} {path}: module.function) or a mapping with"
            f" 'handler:', found {_found(target)}"
        )
        issues.append(doc.value_at(loc).issue(where, what))
        return None
    try:
        options = RouteOptions.model_validate(data)
    except ValidationError as exc:
        # In the short form ``(*loc, "handler")`` has no node of its own; its
        # position falls back to the value written after the key, as wanted.
        issues.extend(_pydantic_issues(doc, exc, RouteOptions, loc))
        return None
    handler_loc = loc if isinstance(target, str) else (*loc, "handler")
    values_at = [(key, doc.value_at((*loc, key))) for key in data] if isinstance(target, dict) else []
    if isinstance(options.response, dict):
        raw = data["response"]
        values_at += [(f"response.{int(k)}", doc.value_at((*loc, "response", k))) for k in raw]
    unknown = [] if scope.unknown else unknown_groups(options.use, scope.groups)
    for index, name in unknown:
        close = difflib.get_close_matches(name, list(scope.groups), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the groups: {', '.join(scope.groups) or 'none'}"
        what = f"no policy group {name!r} under the top-level 'policies:' ({hint})"
        issues.append(doc.value_at((*loc, "use", index)).issue(f"{where}.use", what))
    groups = [scope.groups[name] for name in options.use if name in scope.groups]
    policy = effective(options, groups, scope.defaults)
    per_key = policy.rate_limit is not None and policy.rate_limit.per == "api_key"
    if per_key and (policy.auth is None or policy.auth.api_key is None):
        what = "rate_limit counts per api_key, but this route's auth is not api_key"
        what += ": add one, or count per client"
        issues.append(doc.key_at(loc).issue(where, what))
    return RouteSpec(
        upper,
        path,
        options,
        where,
        doc.key_at(loc),
        doc.value_at(handler_loc),
        values_at=tuple(values_at),
        policy=policy,
    )


def _check_table(
    routes: list[RouteSpec], builtins: list[tuple[str, str, Location]], issues: list[Issue]
) -> None:
    """Add every route to a scratch router: bad patterns, duplicates, ambiguity.

    The built-in routes (``service.healthz``, ``service.openapi``) go in too, each
    unless a route of the file takes its path, so the real table can never be
    refused when the app is built.
    """

    async def placeholder(request: Any) -> Any:  # pragma: no cover - never called
        raise NotImplementedError

    router = Router()
    for route in routes:
        try:
            router.add_route(
                route.method, route.path, placeholder, name=route.options.name, origin=str(route.at)
            )
        except RouteError as exc:
            issues.append(route.at.issue(route.where, str(exc)))
    for key, path, at in builtins:
        if not any(r.method == "GET" and r.path == path for r in routes):
            try:
                router.add_route("GET", path, placeholder, name=key, origin=str(at))
            except RouteError as exc:
                issues.append(at.issue(f"service.{key}", str(exc)))


def _check_description(routes: list[RouteSpec], issues: list[Issue]) -> None:
    """What an API description needs of the table: one path per template, unique operation ids.

    ``/users/{id}`` and ``/users/{uid}`` are one path to OpenAPI (3.1 section 4.8.8.1:
    templates that differ only in names are identical), so they must be written alike.
    """
    shapes: dict[tuple[str | None, ...], tuple[RouteSpec, tuple[str, ...]]] = {}
    operation_ids: dict[str, RouteSpec] = {}
    for route in routes:
        try:
            pattern = parse_pattern(route.path)
        except RouteError:
            continue  # reported by _check_table
        shape = tuple(p if isinstance(p, str) else None for p in pattern.parts)
        names = tuple(p.name for p in pattern.parts if not isinstance(p, str))
        first, first_names = shapes.setdefault(shape, (route, names))
        if first_names != names and first.method != route.method:  # (one method: _check_table's ambiguity)
            issues.append(
                route.at.issue(
                    route.where,
                    f"{route.path!r} and {first.path!r} (at {first.at}) differ only in placeholder names,"
                    " so an API description sees one path: name the placeholders alike",
                )
            )
        operation_id = route.options.operation_id
        if operation_id is not None:
            other = operation_ids.setdefault(operation_id, route)
            if other is not route:
                issues.append(
                    route.value_at("operation_id").issue(
                        f"{route.where}.operation_id",
                        f"operation_id {operation_id!r} is also {other.where}'s"
                        f" (at {other.value_at('operation_id')})",
                    )
                )
