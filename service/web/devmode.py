"""Development mode's answers: what a developer needs in the body, never in production.

With ``serve --dev`` (or ``SERVICE_ENV=development``) a 404 lists the routes whose
templates are nearest to the path asked for, and a handler's failure is answered
500 with its traceback. In production -- the default -- both bodies stay generic
(``404: Not Found``, ``500: Internal Server Error``): a traceback tells an attacker
the code's layout, and the route list its surface. Only the miss path and the
error path ask (``Application.dev``); an answered request never does.
"""

from __future__ import annotations

import difflib
import traceback
from typing import TYPE_CHECKING

from .response import INTERNAL_ERROR_TEXT, Response

if TYPE_CHECKING:
    from .request import Request
    from .router import Route, Router

__all__ = ["dev_internal_error", "dev_not_found_text", "nearest_routes"]

DEV_NOTE = "(development mode: serve --dev or SERVICE_ENV=development; never shown in production)"


def nearest_routes(router: Router, path: str, count: int = 3) -> list[Route]:
    """The routes whose templates look most like ``path`` (difflib's ratio), best first."""
    routes = list(router.routes())
    templates = sorted({route.path for route in routes})
    close = difflib.get_close_matches(path, templates, n=count, cutoff=0.45)
    return [route for template in close for route in routes if route.path == template][:count]


def dev_not_found_text(request: Request) -> str:
    lines = [f"404: Not Found: no route matches {request.method} {request.path}"]
    close = nearest_routes(request.app.router, request.path)
    if close:
        lines += ["", "Nearest routes:", *(f"  {r.method} {r.path}" for r in close)]
    return "\n".join([*lines, "", DEV_NOTE])


def dev_internal_error(exc: BaseException) -> Response:
    trace = "".join(traceback.format_exception(exc))
    return Response(status=500, text=f"{INTERNAL_ERROR_TEXT}\n\n{trace}\n{DEV_NOTE}")
