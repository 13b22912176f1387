"""``normalize_path_middleware``: redirect a path that matches no route to one that does.

As aiohttp's: for a request no route matches, try the path with repeated slashes
merged (``merge_slashes``), then with a slash appended (``append_slash``) or
removed (``remove_slash``), each also after merging; the first that a route of
the same method matches is where the client is redirected, query string kept,
with ``redirect_class`` (308 by default, which keeps the method and body). A
request that matched a route is passed on untouched: this runs only on misses.
"""

from __future__ import annotations

import re

from .app import Middleware, middleware
from .httpexc import HTTPMove, HTTPPermanentRedirect
from .request import Request
from .response import StreamResponse
from .routedef import Handler

__all__ = ["normalize_path_middleware"]

_SLASHES = re.compile(r"//+")


def normalize_path_middleware(
    *,
    append_slash: bool = True,
    remove_slash: bool = False,
    merge_slashes: bool = True,
    redirect_class: type[HTTPMove] = HTTPPermanentRedirect,
) -> Middleware:
    if append_slash and remove_slash:
        raise ValueError("append_slash and remove_slash cannot both be true")

    def candidates(path: str) -> list[str]:
        found = []
        merged = _SLASHES.sub("/", path) if merge_slashes else path
        if merged != path:
            found.append(merged)
        for base in dict.fromkeys((path, merged)):  # (the original first, without repeats)
            if append_slash and not base.endswith("/"):
                found.append(base + "/")
            if remove_slash and base.endswith("/") and base != "/":
                found.append(base[:-1])
        return found

    @middleware
    async def normalize(request: Request, handler: Handler) -> StreamResponse:
        if request.route is None:  # no route matched: a 404 or 405 is coming
            router = request.app.router
            raw = request.raw_path.partition("?")[0]  # the Location keeps the path as sent
            for path, sent in zip(candidates(request.path), candidates(raw), strict=False):
                route, _, _ = router.resolve(request.method, path)
                if route is not None:
                    query = request.query_string
                    raise redirect_class(sent + ("?" + query if query else ""))
        return await handler(request)

    return normalize
