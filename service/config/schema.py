"""The schema of routes.yaml as pydantic models -- the schema and nothing else.

Every model is frozen and forbids unknown keys. Sizes (``1MiB``) and durations
(``10s``) are parsed here so every consumer gets plain ints and floats. The
loader (loader.py) handles YAML, positions and the flexible ``routes:`` grammar;
it validates each fixed-shape piece with these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyNetwork, model_validator

from ..defaults import ACCESS_LOG, CLIENT_MAX_SIZE, DRAIN_DELAY, HOST, LIMITS, PORT, SHUTDOWN_TIMEOUT

__all__ = [
    "DOTTED_PATTERN",
    "DURATION_PATTERN",
    "GROUP_PATTERN",
    "SIZE_PATTERN",
    "ApiKey",
    "Auth",
    "BearerJwt",
    "Concurrency",
    "Cors",
    "Duration",
    "Policies",
    "RATE_PATTERN",
    "RATE_PERIODS",
    "Rate",
    "RouteOptions",
    "RoutesFile",
    "ServiceSettings",
    "Size",
    "parse_duration",
    "parse_size",
]

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]i?B|B)?\s*\Z", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}  # fmt: skip
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*\Z")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"^{_NAME}(\.{_NAME})*(:{_NAME}(\.{_NAME})*)?$"


def parse_size(value: object) -> int:
    """``1MiB``, ``512KB``, ``100B`` or a plain number of bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 1MiB or 65536")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    m = _SIZE.match(str(value))
    if m is None:
        raise ValueError(f"{value!r} is not a size: use bytes or a unit B, KB, MB, GB, KiB, MiB, GiB")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


def parse_duration(value: object) -> float:
    """``10s``, ``500ms``, ``2m``, ``1h`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s or 500ms")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _DURATION.match(str(value))
    if m is None:
        raise ValueError(f"{value!r} is not a duration: use a number with ms, s, m or h")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"]


# The same shapes as ECMA-262 regexes, for the editor's JSON Schema (jsonschema.py).
SIZE_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*([KkMmGg][Ii]?[Bb]|[Bb])?\s*$"
DURATION_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*(ms|s|m|h)?\s*$"
DOTTED_PATTERN = _DOTTED

Size = Annotated[int, BeforeValidator(parse_size), Field(json_schema_extra={"x-unit": "size"})]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(json_schema_extra={"x-unit": "duration"})]
DottedName = Annotated[str, Field(pattern=_DOTTED)]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
GROUP_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"  # a policy group's name (top-level ``policies:``)


RATE_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_PERIOD_WORDS = "|".join(RATE_PERIODS)  # (the words are written once, in RATE_PERIODS)
_RATE = re.compile(rf"\s*([0-9]+)\s*/\s*({_PERIOD_WORDS})\s*\Z")
RATE_PATTERN = rf"^\s*[0-9]+\s*/\s*({_PERIOD_WORDS})\s*$"  # (for the editor's JSON Schema)


class Rate(BaseModel):
    """``100/minute``: so many requests per period, per client address; or the long form
    ``{rate: 100/minute, per: api_key}``: per API key (the route's ``auth: api_key``)."""

    model_config = _FROZEN

    count: int = Field(ge=1)
    period: float = Field(gt=0)  # seconds
    per: Literal["client", "api_key"] = "client"  # whose bucket: the client address's, or the key's


def parse_rate(value: object) -> object:
    """``100/minute`` (or second, hour, day), or ``{rate: 100/minute, per: ...}``, as a
    ``Rate``'s fields."""
    if isinstance(value, dict) and "rate" in value:
        rest = {k: v for k, v in value.items() if k != "rate"}
        return {**_rate_fields(value["rate"]), **rest}
    if isinstance(value, (dict, Rate)):
        return value
    return _rate_fields(value)


def _rate_fields(value: object) -> dict[str, Any]:
    m = _RATE.match(str(value))
    if m is None:
        raise ValueError(
            f"{value!r} is not a rate: write requests/period, e.g. 100/minute (second, hour, day)"
        )
    return {"count": int(m.group(1)), "period": RATE_PERIODS[m.group(2)]}


RateLimit = Annotated[Rate, BeforeValidator(parse_rate), Field(json_schema_extra={"x-unit": "rate"})]


_ORIGIN = r"^(\*|[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.*-]+(:[0-9]+)?)$"
_TOKEN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"


class Cors(BaseModel):
    """Cross-origin requests from browsers (the Fetch standard's CORS protocol)."""

    model_config = _FROZEN

    # Exact origins (scheme://host[:port]), "*" for any, or patterns: https://*.example.com
    allow_origins: tuple[Annotated[str, Field(pattern=_ORIGIN)], ...] = Field(min_length=1)
    allow_methods: tuple[Annotated[str, Field(pattern=_TOKEN)], ...] = ()  # default: the route's method
    allow_headers: tuple[Annotated[str, Field(pattern=_TOKEN)], ...] = ()  # request headers ("*": any)
    expose_headers: tuple[
        Annotated[str, Field(pattern=_TOKEN)], ...
    ] = ()  # response headers scripts may read
    allow_credentials: bool = False  # cookies and Authorization: needs listed origins, not "*"
    max_age: int | None = Field(None, ge=0)  # seconds a browser may cache the preflight's answer

    @model_validator(mode="after")
    def _credentials_need_origins(self) -> Cors:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("allow_credentials needs the origins listed: '*' cannot go with credentials")
        return self


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_SYMMETRIC = ("HS256", "HS384", "HS512")


class ApiKey(BaseModel):
    """Requests carry one of the service's keys, in a header or a query parameter. The keys
    come from an environment variable (comma-separated) or a file (one a line), never
    from routes.yaml itself."""

    model_config = _FROZEN

    header: Annotated[str, Field(pattern=_TOKEN)] | None = None  # e.g. X-API-Key
    query: str | None = None  # a query parameter's name, e.g. api_key
    keys_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    keys_file: str | None = None  # relative to routes.yaml

    @model_validator(mode="after")
    def _one_of_each(self) -> ApiKey:
        if (self.header is None) == (self.query is None):
            raise ValueError("name where the key comes: header: or query: (one of them)")
        if (self.keys_env is None) == (self.keys_file is None):
            raise ValueError("name where the keys are: keys_env: or keys_file: (one of them)")
        return self


class BearerJwt(BaseModel):
    """``Authorization: Bearer <JWT>``, verified (signature, issuer, audience, expiry and
    not-before with ``leeway``) against a JWKS file or a key from the environment.
    Needs the ``jwt`` extra (PyJWT)."""

    model_config = _FROZEN

    issuer: str
    audience: str
    algorithms: tuple[Literal[_ASYMMETRIC + _SYMMETRIC], ...] = Field(min_length=1)  # type: ignore[valid-type]
    jwks_file: str | None = None  # public keys, as a JWKS document (relative to routes.yaml)
    key_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None  # a PEM public key, or an HS secret
    leeway: Duration = 30.0  # clock skew allowed on exp and nbf
    scopes: tuple[str, ...] = ()  # all required in the token's scope (else 403)

    @model_validator(mode="after")
    def _one_key_source_one_family(self) -> BearerJwt:
        if (self.jwks_file is None) == (self.key_env is None):
            raise ValueError("name where the keys are: jwks_file: or key_env: (one of them)")
        if {a in _SYMMETRIC for a in self.algorithms} == {True, False}:
            raise ValueError("algorithms mixes HS* with public-key algorithms: a key confusion waits there")
        return self


class Auth(BaseModel):
    """Who may call the route: 401 (with WWW-Authenticate) without valid credentials."""

    model_config = _FROZEN

    api_key: ApiKey | None = None
    bearer_jwt: BearerJwt | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> Auth:
        if (self.api_key is None) == (self.bearer_jwt is None):
            raise ValueError("name one scheme: api_key: or bearer_jwt:")
        return self


class Concurrency(BaseModel):
    """At most ``limit`` handler calls at once for the route; up to ``queue`` more wait
    their turn; past that, an immediate 503 with Retry-After."""

    model_config = _FROZEN

    limit: int = Field(ge=1)
    queue: int = Field(0, ge=0)


class Policies(BaseModel):
    """What a route enforces around its handler (docs/policies.md). Set on a route's long
    form, in a named group under the top-level ``policies:`` (picked with ``use:``), or
    as defaults for every route in ``service: policies:``; the nearest wins."""

    # (The docstring above is what editors show.) Each key is compiled at load into
    # the route's pipeline (web/policies.py); a key left unset costs nothing.

    model_config = _FROZEN

    timeout: Duration | None = None  # answer 503 when the handler takes longer
    max_body: Size | None = None  # the body limit for this route (413 past it), instead of client_max_size
    concurrency: Concurrency | None = None  # {limit: N, queue: M}: handler calls at once, and waiting
    rate_limit: RateLimit | None = None  # 100/minute per client address: 429 past it (per replica)
    cors: Cors | None = None  # browsers on other origins: preflights answered, answers marked
    auth: Auth | None = None  # api_key or bearer_jwt: 401 without valid credentials


class ServiceSettings(BaseModel):
    """How the service runs: its address, limits and timeouts. Every key has a default."""

    # (The docstring above is what editors show.) Each default is written once, in
    # defaults.py. The per-connection limits are named exactly as ``Limits``' fields,
    # so ``limits_of`` (reload.py) carries every one of them over by name.

    model_config = _FROZEN

    name: str = "service"
    host: str = HOST
    port: int = Field(PORT, ge=0, le=65535)
    client_max_size: Size = CLIENT_MAX_SIZE
    # Addresses or networks (10.0.0.0/8) of the proxies in front whose Forwarded and
    # X-Forwarded-* fields are believed for request.scheme, host and remote.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    proxy_headers: Literal["x-forwarded", "forwarded"] = "x-forwarded"  # what those proxies write
    max_target_size: Size = Field(LIMITS.max_target_size, ge=1)  # past it, 414
    max_header_size: Size = Field(LIMITS.max_header_size, ge=1)  # past it, 431
    max_header_count: int = Field(LIMITS.max_header_count, ge=1)  # past it, 431
    shutdown_timeout: Duration = SHUTDOWN_TIMEOUT
    keepalive_timeout: Duration = LIMITS.keepalive_timeout
    header_timeout: Duration = LIMITS.header_timeout
    body_timeout: Duration = LIMITS.body_timeout
    send_timeout: Duration = LIMITS.send_timeout
    linger_timeout: Duration = LIMITS.linger_timeout
    # Every route's timeout unless it sets its own (policies: timeout: is the same, newer spelling)
    handler_timeout: Duration | None = None
    policies: Policies = Policies()  # defaults for every route: the nearest setting wins
    max_connections: int = Field(LIMITS.max_connections, ge=1)  # past it, new connections get 503
    access_log: bool = ACCESS_LOG  # one line per request on stdout (docs/operating.md)
    access_log_format: Literal["json", "logfmt"] = "json"
    # X-Request-ID on every answer (the client's, when safe, else a new one); null: when access_log is on
    request_ids: bool | None = None
    metrics: str | None = "/metrics"  # Prometheus metrics at this path; null turns counting off
    tracing: bool = False  # OpenTelemetry server spans per request (the otel extra); off: nothing at all
    drain_delay: Duration = DRAIN_DELAY  # after SIGTERM: answering, not ready, before stopping
    livez: str | None = "/livez"  # liveness: 200 while the process answers (null turns it off)
    healthz: str | None = "/healthz"  # liveness too, under its older name; null turns it off
    readyz: str | None = "/readyz"  # readiness: 503 while starting and from SIGTERM on; null: off
    openapi: str | None = "/openapi.json"  # path of the OpenAPI document; null turns it off
    version: str = "0.1.0"  # the API's version, in the OpenAPI document


class RouteOptions(Policies):
    """One route, long form: its handler, what it accepts, answers and is called, and
    its policies (its own keys, and the groups it ``use``s)."""

    # (The docstring above is what editors show.) ``body``, ``query`` and ``response``
    # name pydantic models, checked to be models when they are imported (project.py).

    model_config = _FROZEN

    handler: DottedName
    name: str | None = None
    use: tuple[Annotated[str, Field(pattern=GROUP_PATTERN)], ...] = ()  # policy groups, nearest first
    body: DottedName | None = None  # the JSON body, validated before the handler runs
    query: DottedName | None = None  # the query parameters, validated before the handler runs
    # A model (the 200 answer's), or status -> model; null for a status answered without a body.
    response: DottedName | dict[Annotated[int, Field(ge=100, le=599)], DottedName | None] | None = None
    summary: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    operation_id: str | None = None
    deprecated: bool = False


class RoutesFile(BaseModel):
    """A service: its settings, middlewares, lifecycle hooks and routes."""

    # ``routes`` arrives normalised by the loader, not raw (its grammar is the loader's).

    model_config = _FROZEN

    service: ServiceSettings = ServiceSettings()
    policies: dict[Annotated[str, Field(pattern=GROUP_PATTERN)], Policies] = Field(default_factory=dict)
    middlewares: tuple[DottedName, ...] = ()
    on_startup: tuple[DottedName, ...] = ()
    on_shutdown: tuple[DottedName, ...] = ()
    on_cleanup: tuple[DottedName, ...] = ()
    routes: dict[str, object] = Field(default_factory=dict)
