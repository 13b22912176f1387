"""Asking the router: which route answers a request, or why none does (``routes --match``).

A pure function of a loaded application's table, the same ``Router.resolve`` the
server runs, so the answer is what the server would do: the route, its handler's
dotted name (as routes.yaml writes it) and the parameters converted by their
placeholders' types; else, for a path that exists under other methods, the 405 and
its ``Allow``; else the 404 and the routes whose templates are nearest to the path
(``nearest``, which development mode's 404 page uses too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from ..web.app import Application
from ..web.devmode import nearest_routes
from ..web.router import Route

__all__ = ["Explanation", "explain", "nearest"]


@dataclass(frozen=True, slots=True)
class Explanation:
    matched: bool
    lines: tuple[str, ...]


def nearest(app: Application, path: str, count: int = 3) -> list[Route]:
    """The routes whose templates look most like ``path``, best first (devmode.py's)."""
    return nearest_routes(app.router, path, count)


def explain(app: Application, request_line: str, handlers: Mapping[tuple[str, str], str]) -> Explanation:
    """``request_line`` is ``"METHOD /path?query"``; ``handlers`` names each (method, template)."""
    method, _, target = request_line.strip().partition(" ")
    target = target.strip()
    if not method or not target.startswith("/"):
        return Explanation(False, (f"not a request: {request_line!r} (write it as 'GET /users/42')",))
    method = method.upper()
    path = unquote(target.partition("?")[0])
    route, _, found = app.router.resolve(method, path)
    if route is not None:
        name = handlers.get((route.method, route.path)) or _qualname(route)
        lines = [f"{method} {target} -> {route.method} {route.path}", f"  handler: {name}"]
        params = found if isinstance(found, dict) else {}
        lines += [f"  {key}={value!r} ({type(value).__name__})" for key, value in params.items()]
        return Explanation(True, tuple(lines))
    if found:
        allow = ", ".join(sorted(found))
        lines = [f"{method} {target} -> 405 Method Not Allowed", f"  Allow: {allow}"]
        return Explanation(False, tuple(lines))
    lines = [f"{method} {target} -> 404 Not Found: no route matches the path"]
    close = nearest(app, path)
    if close:
        lines.append("  nearest routes:")
        lines += [
            f"    {r.method} {r.path}  {handlers.get((r.method, r.path)) or _qualname(r)}" for r in close
        ]
    return Explanation(False, tuple(lines))


def _qualname(route: Route) -> str:
    handler = route.handler
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", type(handler).__name__)
    return f"{module}.{name}" if module else name
