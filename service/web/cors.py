"""A route's ``cors`` policy: the Fetch standard's CORS protocol, answered by the server.

Two parts, both compiled at load for the routes that declare ``cors:``:

- ``with_cors`` wraps the route's handler. An answer to an allowed ``Origin`` --
  errors included, so a browser can read them -- says
  ``Access-Control-Allow-Origin`` (that origin, or ``*`` for a public resource
  without credentials), ``Access-Control-Allow-Credentials`` and
  ``Access-Control-Expose-Headers`` as declared. An origin that is not allowed
  gets no CORS field at all. Since the answer then depends on ``Origin``, it says
  ``Vary: Origin`` (Fetch, "CORS protocol and HTTP caches"), unless it is the
  same ``*`` for every origin.
- ``preflight`` answers ``OPTIONS`` for the route's path: a preflight
  (``Origin`` and ``Access-Control-Request-Method``) is checked against the CORS
  policy of the route the browser is about to call -- origin, method, each
  requested header -- and answered 204 with the ``Access-Control-Allow-*``
  fields and ``Max-Age``, or 403 without them. A plain ``OPTIONS`` is answered as
  the router does (204 and ``Allow``).

Origins are exact (``https://app.example.com``), ``*`` (any), or patterns with
``*`` standing for one or more host characters (``https://*.example.com``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .httpexc import HTTPException
from .request import Request
from .response import Response, StreamResponse
from .routedef import Handler

__all__ = ["CorsRules", "preflight", "with_cors"]

_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


@dataclass(frozen=True, slots=True)
class CorsRules:
    """One route's CORS policy, ready to check."""

    origins: tuple[str, ...]  # as written: exact, "*", or with "*" in the host
    methods: tuple[str, ...]  # what a preflight may ask for
    headers: tuple[str, ...] = ()  # request headers a preflight may ask for ("*": any), lowercase
    expose: tuple[str, ...] = ()
    credentials: bool = False
    max_age: int | None = None
    _wild: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    # PERF: the fields of an answer, by Origin, made once per allowed origin
    _answers: dict[str | None, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        wild = [re.escape(o).replace(r"\*", "[A-Za-z0-9.-]+") for o in self.origins if "*" in o and o != "*"]
        object.__setattr__(self, "_wild", re.compile("|".join(wild)) if wild else None)

    def answer_fields(self, origin: str | None) -> tuple[tuple[str, str], ...]:
        """The fields an answer to ``origin`` carries: ``Vary: Origin`` (unless it is the
        same ``*`` for all), then, for an allowed origin, the ``Access-Control-*`` ones."""
        found = self._answers.get(origin)
        if found is not None:
            return found
        fields = [("Vary", "Origin")] if self.varies else []
        if origin is not None and self.allows(origin):
            fields.append(("Access-Control-Allow-Origin", self.allow_origin(origin)))
            if self.credentials:
                fields.append(("Access-Control-Allow-Credentials", "true"))
            if self.expose:
                fields.append(("Access-Control-Expose-Headers", ", ".join(self.expose)))
        found = tuple(fields)
        if len(self._answers) < 256:  # bounded: patterns admit any number of origins
            self._answers[origin] = found
        return found

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def allows(self, origin: str) -> bool:
        if self.any_origin or origin in self.origins:
            return True
        return self._wild is not None and self._wild.fullmatch(origin) is not None

    def allow_origin(self, origin: str) -> str:
        """The ``Access-Control-Allow-Origin`` value for an allowed ``origin``."""
        return "*" if self.any_origin and not self.credentials else origin

    @property
    def varies(self) -> bool:
        """The answer depends on Origin (it is not the same ``*`` for all)."""
        return not (self.any_origin and not self.credentials)


def _mark(response: StreamResponse | HTTPException, rules: CorsRules, origin: str | None) -> None:
    """Put the CORS fields for ``origin`` on the answer (keeping a ``Vary`` of the handler's)."""
    fields = rules.answer_fields(origin)
    headers = response.headers
    if not headers:  # PERF: the common case, nothing to merge with
        for name, value in fields:
            headers.add(name, value)
        return
    for name, value in fields:
        if name == "Vary":
            existing = headers.get("Vary")
            if existing is not None and "origin" in existing.lower():
                continue
            value = "Origin" if existing is None else f"{existing}, Origin"
        headers[name] = value


def with_cors(handler: Handler, rules: CorsRules) -> Handler:
    """``handler``, its answers (and its errors) marked for ``Origin`` as ``rules`` say."""

    async def shared(request: Request) -> StreamResponse:
        sent = request.fields("Origin")  # PERF: without building request.headers
        origin = sent[0] if sent else None
        try:
            response = await handler(request)
        except HTTPException as exc:
            _mark(exc, rules, origin)
            raise
        if not response.prepared:  # (a streamed answer has sent its head already)
            _mark(response, rules, origin)
        return response

    return shared


def preflight(rules_by_method: Mapping[str, CorsRules]) -> Handler:
    """The ``OPTIONS`` handler of a path whose routes declare ``cors`` (by their methods)."""

    async def options(request: Request) -> StreamResponse:
        origin = request.headers.get("Origin")
        wanted = request.headers.get("Access-Control-Request-Method")
        if origin is None or wanted is None:  # not a preflight: what the router answers
            allow = ", ".join(sorted(request.app.router.allowed_methods(request.path)))
            return Response(status=204, headers={"Allow": allow})
        rules = rules_by_method.get(wanted) or (rules_by_method.get("GET") if wanted == "HEAD" else None)
        asked = [
            h.strip().lower() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
        ]
        asked = [h for h in asked if h]
        refusal = _refusal(rules, origin, wanted, asked)
        if refusal is not None:
            return Response(
                status=403, text=f"403: CORS preflight refused: {refusal}", headers={"Vary": _PREFLIGHT_VARY}
            )
        assert rules is not None
        headers = {
            "Access-Control-Allow-Origin": rules.allow_origin(origin),
            "Access-Control-Allow-Methods": ", ".join(rules.methods),
            "Vary": _PREFLIGHT_VARY,
        }
        if asked:
            headers["Access-Control-Allow-Headers"] = ", ".join(asked)
        if rules.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if rules.max_age is not None:
            headers["Access-Control-Max-Age"] = str(rules.max_age)
        return Response(status=204, headers=headers)

    return options


def _refusal(rules: CorsRules | None, origin: str, method: str, asked: list[str]) -> str | None:
    """Why the preflight is refused, or None."""
    if rules is None:
        return f"{method} on this path has no CORS policy"
    if not rules.allows(origin):
        return f"origin {origin!r} is not allowed"
    if method not in rules.methods:
        return f"method {method} is not allowed (allowed: {', '.join(rules.methods)})"
    if "*" not in rules.headers:
        extra = [h for h in asked if h not in rules.headers]
        if extra:
            return f"header(s) {', '.join(extra)} not allowed"
    return None
