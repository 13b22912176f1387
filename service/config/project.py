"""A validated ``Spec`` -> a ready ``Application``: import every name, build the table.

This is where routes.yaml meets the code-built API: each route becomes a
``RouteDef`` and goes through ``Application.add_routes`` like any other. Every
name is resolved before the first error is raised, so one run lists them all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.machinery
import json
import os
import socket
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Issue, in_file_order
from ..ops.metrics import CONTENT_TYPE, ConfigGauges, Metrics
from ..web.app import Application
from ..web.auth import ApiKeys, JwtVerifier, with_api_key, with_bearer_jwt
from ..web.cors import CorsRules, preflight, with_cors
from ..web.httpexc import HTTPNotFound
from ..web.models import is_model, with_models
from ..web.policies import with_concurrency, with_max_body
from ..web.ratelimit import with_rate_limit
from ..web.request import Request
from ..web.response import Response, StreamResponse, json_response
from ..web.routedef import Handler, RouteDef
from ..web.router import ANY_METHOD
from ..web.timeouts import with_timeout
from ..web.views import is_view
from .loader import Location, RouteSpec, Spec, SpecError, load
from .openapi import DescribedRoute, render
from .resolve import ResolveError, add_to_path, check_async_callable, import_dotted, split_dotted
from .schema import Auth, Cors, ServiceSettings

__all__ = [
    "HEALTH_KEY",
    "SOURCES_KEY",
    "SPEC_KEY",
    "Health",
    "Sources",
    "build_app",
    "config_gauges",
    "file_digest",
    "load_app",
    "module_digests",
    "module_file",
    "module_names",
    "openapi_of",
    "spec_of",
]

# App state keys the framework uses; app state is otherwise the user's.
SPEC_KEY = "service.spec"
HEALTH_KEY = "service.health"
SOURCES_KEY = "service.sources"
OPENAPI_KEY = "service.openapi"


@dataclass(frozen=True, slots=True)
class Sources:
    """Digests of the files an app was built from, taken *before* they were read.

    The reloader starts from these: a file saved after they were taken -- even
    while the server was still starting -- differs from them, so it is seen.
    """

    routes: str | None
    modules: tuple[tuple[str, str | None], ...]  # (module name, digest), sorted


def file_digest(path: str | os.PathLike[str]) -> str | None:
    """A digest of the file's bytes (``None`` if it cannot be read)."""
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


def module_file(name: str) -> str | None:
    """The source file of a module, imported or not (one that failed to import too)."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else _find_source(name)
    return file if isinstance(file, str) and os.path.isfile(file) else None


def _find_source(name: str) -> str | None:
    """Where ``name`` would be imported from, found without importing it or its packages.

    (``importlib.util.find_spec`` imports the parent packages, whose ``__init__`` may
    import the very module whose digest is wanted before it is taken.)
    """
    search: list[str] | None = None  # None: sys.path
    found = None
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        prefix = ".".join(parts[:depth])
        loaded = sys.modules.get(prefix)
        if loaded is not None and depth < len(parts):
            search = list(getattr(loaded, "__path__", None) or [])
            continue
        try:
            found = importlib.machinery.PathFinder.find_spec(prefix, search)
        except (ImportError, ValueError):
            return None
        if found is None:
            return None
        search = list(found.submodule_search_locations or [])
    return found.origin if found is not None else None


def module_digests(names: Iterable[str]) -> dict[str, str | None]:
    """Digests of the source files of the modules ``names`` (those that have one)."""
    return {name: file_digest(file) for name in names if (file := module_file(name)) is not None}


@dataclass(slots=True)
class Health:
    """What ``/healthz`` reports; the reloader updates it."""

    generation: int = 1
    last_reload_failed: bool = False
    reloads_succeeded: int = 0
    reloads_failed: int = 0

    def gauges(self) -> ConfigGauges:
        return ConfigGauges(self.generation, self.reloads_succeeded, self.reloads_failed)


def config_gauges(app: Application) -> ConfigGauges:
    """What an app built from a routes file tells /metrics about its reloads."""
    health = app.get(HEALTH_KEY)
    return health.gauges() if isinstance(health, Health) else ConfigGauges()


def _healthz(name: str) -> Handler:
    instance = socket.gethostname()  # in a container, its id: which replica answered

    async def healthz(request: Request) -> StreamResponse:
        health = request.app.get(HEALTH_KEY) or Health()
        return json_response(
            {
                "status": "ok",
                "service": name,
                "instance": instance,
                "generation": health.generation,
                "last_reload_failed": health.last_reload_failed,
            }
        )

    return healthz


async def _readyz(request: Request) -> StreamResponse:
    """Readiness (web/health.py): 200 when the server takes traffic, else 503; ``?verbose``
    adds each check."""
    readiness = request.app.readiness
    state = readiness.state if readiness is not None else "starting"
    body: dict[str, Any] = {"status": state}
    if "verbose" in request.query:
        health = request.app.get(HEALTH_KEY) or Health()
        body["checks"] = {
            "started": readiness is not None and readiness.started,
            "draining": readiness is not None and readiness.draining,
            "generation": health.generation,
            "last_reload_failed": health.last_reload_failed,
        }
    return json_response(body, status=200 if state == "ready" else 503)


async def _metrics(request: Request) -> StreamResponse:
    """The Prometheus text exposition of the server's counters (ops/metrics.py)."""
    metrics = request.app.metrics
    if metrics is None:  # served by something that does not count (a bare Application test)
        raise HTTPNotFound()
    return Response(body=metrics.render(config_gauges(request.app)), headers={"Content-Type": CONTENT_TYPE})


async def _openapi(request: Request) -> StreamResponse:
    """The OpenAPI document, rendered once when the app was built (openapi.py)."""
    return Response(body=request.app[OPENAPI_KEY], content_type="application/json")


def openapi_of(app: Application) -> bytes:
    """The OpenAPI document of an app built from a routes file (what GET /openapi.json sends)."""
    found = app.get(OPENAPI_KEY)
    if not isinstance(found, bytes):
        raise LookupError("this application was not built from a routes file")
    return found


@dataclass(slots=True)
class _Resolved:
    routes: list[RouteDef]
    described: list[DescribedRoute]
    middlewares: list[Any]
    hooks: dict[str, list[Any]]
    issues: list[Issue]


def _must(found: Any, test: Callable[[Any], bool], what: str) -> Any:
    if not test(found):
        raise ResolveError(what)
    return found


def _described(route: RouteSpec, handler: Any, models: dict[str, Any]) -> list[DescribedRoute]:
    """The route as the API description sees it: a view, as one operation per method it has."""
    if is_view(handler):
        methods = sorted(handler.allowed_methods() - {"HEAD", "OPTIONS"})
        return [
            _operation(dataclasses.replace(route, method=m), getattr(handler, m.lower()), models)
            for m in methods
        ]
    return [_operation(route, handler, models)]


def _operation(route: RouteSpec, handler: Any, models: dict[str, Any]) -> DescribedRoute:
    options = route.options
    response = options.response
    if isinstance(response, str):
        responses: tuple[tuple[int, Any], ...] = ((200, models.get("response")),)
    elif response is not None:
        responses = tuple(sorted((code, models.get(f"response.{code}")) for code in response))
    else:
        responses = ()
    return DescribedRoute(
        route.method,
        route.path,
        handler,
        options.summary,
        options.description,
        options.tags,
        options.operation_id,
        options.deprecated,
        models.get("body"),
        models.get("query"),
        responses,
        route.policy,
    )


def _resolve(spec: Spec, overrides: Mapping[str, Any] | None = None) -> _Resolved:
    """Import every name in ``spec`` (or take it from ``overrides``, by dotted name: a
    test's stand-in); the problems are collected, not raised."""
    add_to_path(spec.base_dir)
    issues: list[Issue] = []
    given = overrides or {}

    def imported(dotted: str, at: Location, where: str, check: Callable[[Any], Any]) -> Any:
        """``dotted`` imported and passed through ``check``; a ResolveError is collected."""
        try:
            return check(given[dotted] if dotted in given else import_dotted(dotted))
        except ResolveError as exc:
            issues.append(at.issue(where, str(exc)))
            return None

    def resolve(dotted: str, at: Location, where: str, args: tuple[str, ...]) -> Any:
        return imported(dotted, at, where, lambda found: check_async_callable(found, dotted, args))

    def model(dotted: str, at: Location, where: str) -> Any:
        what = "not a pydantic model (a class deriving from BaseModel)"
        return imported(
            dotted,
            at,
            where,
            lambda found: _must(found, is_model, f"{dotted} is {type(found).__name__}, {what}"),
        )

    def view(dotted: str, at: Location, where: str) -> Any:
        what = (
            f"{dotted} is not a web.View class: '/path: name' names a class-based view;"
            " for a function, write 'GET /path: name' or '/path: {GET: name}'"
        )
        return imported(dotted, at, where, lambda found: _must(found, is_view, what))

    routes: list[RouteDef] = []
    described: list[DescribedRoute] = []
    preflights: dict[str, dict[str, CorsRules]] = {}
    for route in spec.routes:
        if route.view:
            handler = view(route.handler, route.handler_at, route.where)
        else:
            handler = resolve(route.handler, route.handler_at, route.where, ("request",))
        models = {key: model(name, at, f"{route.where}.{key}") for key, name, at in route.model_names()}
        if handler is not None:
            described += _described(route, handler, models)
            # The route's pipeline, composed once, inside out: models (a 4xx needs no
            # handler time) inside the timeout that bounds the answer, inside the
            # policies that refuse before any of it (web/policies.py has the order).
            body, query = models.get("body"), models.get("query")
            if body is not None or query is not None:
                handler = with_models(handler, body, query)
            policy = route.policy
            if policy.timeout is not None:
                handler = with_timeout(handler, policy.timeout)
            if policy.concurrency is not None:
                handler = with_concurrency(handler, policy.concurrency.limit, policy.concurrency.queue)
            if policy.max_body is not None:
                handler = with_max_body(handler, policy.max_body)
            if policy.rate_limit is not None:
                rate = policy.rate_limit
                handler = with_rate_limit(handler, rate.count, rate.period, per_api_key=rate.per == "api_key")
            if policy.auth is not None:
                try:
                    handler = with_auth(handler, policy.auth, spec.base_dir)
                except ValueError as exc:
                    issues.append(route.value_at("auth").issue(f"{route.where}.auth", str(exc)))
            if policy.cors is not None:
                rules = cors_rules(policy.cors, route.method)
                handler = with_cors(handler, rules)
                preflights.setdefault(route.path, {})[route.method] = rules
            routes.append(RouteDef(route.method, route.path, handler, route.options.name, str(route.at)))
    # A path whose routes declare cors gets its preflights answered (cors.py), unless a
    # route of its own takes OPTIONS there.
    takes_options = {r.path for r in spec.routes if r.method in ("OPTIONS", ANY_METHOD)}
    routes += [
        RouteDef("OPTIONS", path, preflight(by_method), None, f"cors preflight of {path}")
        for path, by_method in preflights.items()
        if path not in takes_options
    ]
    middlewares = [resolve(m.dotted, m.at, m.where, ("request", "handler")) for m in spec.middlewares]
    hooks = {
        key: [resolve(h.dotted, h.at, h.where, ("app",)) for h in getattr(spec, key)]
        for key in ("on_startup", "on_shutdown", "on_cleanup")
    }
    return _Resolved(routes, described, middlewares, hooks, issues)


def with_import_problems(error: SpecError) -> ConfigError:
    """The file's problems and, for what of it validated, the import problems too."""
    return ConfigError(in_file_order([*error.issues, *_resolve(error.partial).issues]))


def build_app(spec: Spec, overrides: Mapping[str, Any] | None = None) -> Application:
    """Import every handler, middleware and hook of ``spec`` into an ``Application``
    (``overrides``: objects to use instead of some dotted names, a test's stand-ins)."""
    resolved = _resolve(spec, overrides)
    routes, middlewares, hooks, issues = (
        resolved.routes,
        resolved.middlewares,
        resolved.hooks,
        resolved.issues,
    )
    if issues:
        raise ConfigError(in_file_order(issues))
    settings = spec.settings
    description = render(settings.name, settings.version, resolved.described)

    app = Application(
        middlewares=middlewares,
        client_max_size=settings.client_max_size,
        trusted_proxies=[str(network) for network in settings.trusted_proxies],
        proxy_headers=settings.proxy_headers,
    )
    app[SPEC_KEY] = spec
    app[HEALTH_KEY] = Health()
    app[OPENAPI_KEY] = description
    for hook_list, hooks_for in (
        (app.on_startup, "on_startup"),
        (app.on_shutdown, "on_shutdown"),
        (app.on_cleanup, "on_cleanup"),
    ):
        hook_list.extend(hooks[hooks_for])
    taken = {(r.method, r.path) for r in routes}
    builtins = (
        ("livez", settings.livez, _healthz(settings.name)),
        ("healthz", settings.healthz, _healthz(settings.name)),
        ("readyz", settings.readyz, _readyz),
        ("metrics", settings.metrics, _metrics),
        ("openapi", settings.openapi, _openapi),
    )
    for key, path, handler in builtins:
        if path and ("GET", path) not in taken:
            routes.append(RouteDef("GET", path, handler, key, f"{spec.file}:service.{key}"))
    app.add_routes(routes)  # the loader checked this very table, health route included
    if settings.metrics:
        app.metrics = Metrics()
    if settings.tracing:
        from ..ops.tracing import install_tracing  # (imports opentelemetry: only when asked)

        install_tracing(app)
    app.freeze()
    return app


def load_app(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    handlers: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Application:
    """A routes file to a frozen ``Application``, ready to serve (``service.load_app``).

    ``env``: the variables ``${VAR}`` reads (default: the process's). ``handlers``:
    objects to use instead of some dotted names -- a handler, middleware, hook or
    model -- as ``{"handlers.users.get_user": fake}``. ``settings``: ``service:``
    keys to use instead of the file's, validated as in the file
    (``{"client_max_size": "10KiB"}``). A mistake raises ``ConfigError``, every
    issue with its ``FILE:LINE:COL``. The app also records its ``Sources``, each
    digest taken before its file is read.
    """
    routes = file_digest(path)
    try:
        spec = load(path, env=env)
    except SpecError as exc:
        raise with_import_problems(exc) from None
    if settings:
        merged = {**spec.settings.model_dump(), **settings}
        spec = dataclasses.replace(spec, settings=ServiceSettings.model_validate(merged))
    add_to_path(spec.base_dir)  # where the modules are found, to digest them
    modules = module_digests(module_names(spec))
    app = build_app(spec, handlers)
    app[SOURCES_KEY] = Sources(routes, tuple(sorted(modules.items())))
    return app


def module_names(spec: Spec) -> set[str]:
    """The modules the spec's dotted names live in."""
    refs = [r.handler for r in spec.routes]
    refs += [name for r in spec.routes for _, name, _ in r.model_names()]
    refs += [n.dotted for n in (*spec.middlewares, *spec.on_startup, *spec.on_shutdown, *spec.on_cleanup)]
    names = set()
    for ref in refs:
        try:
            names.add(split_dotted(ref)[0])
        except ResolveError:
            continue
    return names


def spec_of(app: Application) -> Spec:
    spec = app.get(SPEC_KEY)
    if not isinstance(spec, Spec):
        raise LookupError("this application was not built from a routes file")
    return spec


def cors_rules(cors: Cors, method: str) -> CorsRules:
    """A route's ``cors:`` as cors.py checks it; methods default to the route's own."""
    every = ("GET", "POST", "PUT", "PATCH", "DELETE")
    methods = cors.allow_methods or ((method,) if method != ANY_METHOD else every)
    return CorsRules(
        origins=cors.allow_origins,
        methods=tuple(m.upper() for m in methods),
        headers=tuple(h.lower() for h in cors.allow_headers),
        expose=cors.expose_headers,
        credentials=cors.allow_credentials,
        max_age=cors.max_age,
    )


def with_auth(handler: Handler, auth: Auth, base_dir: Path) -> Handler:
    """``handler`` behind a route's ``auth:`` (web/auth.py), its keys read now, at load:
    ValueError says what is missing (a variable, a file, the jwt extra)."""
    if auth.api_key is not None:
        spec = auth.api_key
        if spec.keys_env is not None:
            keys = ApiKeys(key.strip() for key in os.environ.get(spec.keys_env, "").split(","))
            source = f"the environment variable {spec.keys_env}"
        else:
            lines = (line.strip() for line in _read(base_dir, spec.keys_file or "", "keys_file").splitlines())
            keys = ApiKeys(line for line in lines if not line.startswith("#"))  # (blank ones: ApiKeys)
            source = f"the file {spec.keys_file}"
        if not keys:
            raise ValueError(f"no API keys in {source}: nobody could call this route")
        return with_api_key(handler, keys, header=spec.header, query=spec.query)
    jwt_spec = auth.bearer_jwt
    assert jwt_spec is not None  # (Auth checks that it names one scheme)
    jwks = key = None
    if jwt_spec.jwks_file is not None:
        try:
            jwks = json.loads(_read(base_dir, jwt_spec.jwks_file, "jwks_file"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"jwks_file {jwt_spec.jwks_file}: not JSON ({exc})") from None
    else:
        key = os.environ.get(jwt_spec.key_env or "")
        if not key:
            raise ValueError(f"the environment variable {jwt_spec.key_env} (key_env) is not set")
    try:
        verifier = JwtVerifier(
            issuer=jwt_spec.issuer,
            audience=jwt_spec.audience,
            algorithms=jwt_spec.algorithms,
            leeway=jwt_spec.leeway,
            scopes=jwt_spec.scopes,
            jwks=jwks,
            key=key,
        )
    except ImportError:
        raise ValueError(
            "bearer_jwt needs PyJWT: install the jwt extra (pip install 'service[jwt]')"
        ) from None
    except Exception as exc:  # PyJWT's word on a JWKS it cannot use
        raise ValueError(f"jwks_file {jwt_spec.jwks_file}: {exc}") from None
    return with_bearer_jwt(handler, verifier)


def _read(base_dir: Path, name: str, key: str) -> str:
    try:
        return (base_dir / name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{key} {name}: {exc.strerror or exc}") from None
