"""Route policies (issue 19): the grammar, what a route ends up with, and each policy on a
real server. So far: ``timeout`` (folded from the older route ``timeout`` and
``service.handler_timeout``), ``max_body`` and ``concurrency``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TIMEOUT, RawConnection

from service.config.loader import SpecError, load_text
from service.config.policies import describe
from service.testing import TestClient
from service.web import auth as auth_module
from service.web.policies import Gate
from service.web.ratelimit import TokenBuckets

HANDLERS = """
import asyncio
from service import Response

state = {"calls": 0, "release": None}

async def echo(request):
    state["calls"] += 1
    body = await request.read()
    return Response(text=str(len(body)))

async def wait(request):
    state["calls"] += 1
    if state["release"] is None:
        state["release"] = asyncio.Event()
    await state["release"].wait()
    return Response(text="done")

async def varied(request):
    return Response(text="v", headers={"Vary": request.query.get("vary", "Accept-Encoding")})

async def slow(request):
    await asyncio.sleep(float(request.query.get("s", "0.3")))
    return Response(text="slow")
"""


def project(tmp_path: Path, routes: str) -> Path:
    (tmp_path / "policyapp.py").write_text(HANDLERS)
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(routes))
    return path


GROUPS = """\
service:
  handler_timeout: 30s
  policies: {max_body: 1MiB}
policies:
  slow: {timeout: 60s, concurrency: {limit: 2, queue: 1}}
  small: {max_body: 1KiB}
routes:
  GET /a: {handler: m.a, use: [slow, small]}
  GET /b: {handler: m.b, use: [small, slow], timeout: 5s}
  GET /c: m.c
  GET /d: {handler: m.d, use: [small], max_body: 2KiB, concurrency: {limit: 1}, rate_limit: 5/second}
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a", "timeout=60s max_body=1KiB concurrency=2+1"),  # its groups, in order
        ("/b", "timeout=5s max_body=1KiB concurrency=2+1"),  # its own key first
        ("/c", "timeout=30s max_body=1MiB"),  # the service's defaults (handler_timeout too)
        ("/d", "timeout=30s max_body=2KiB concurrency=1+0 rate_limit=5/second"),
    ],
)
def test_the_nearest_setting_wins(path: str, expected: str) -> None:
    routes = {route.path: route for route in load_text(GROUPS).routes}
    assert describe(routes[path].policy) == expected


def test_a_route_without_policies_has_none() -> None:
    (route,) = load_text("routes:\n  GET /x: m.x\n").routes
    assert describe(route.policy) == "" and route.policy.timeout is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "policies:\n  small: {max_body: 1KiB}\nroutes:\n  GET /a: {handler: m.a, use: [smal]}\n",
            "routes.yaml:4:32: routes['GET /a'].use: no policy group 'smal' under the top-level"
            " 'policies:' (did you mean 'small'?)",
        ),
        (
            "routes:\n  GET /a: {handler: m.a, use: [x]}\n",
            "routes.yaml:2:32: routes['GET /a'].use: no policy group 'x' under the top-level"
            " 'policies:' (the groups: none)",
        ),
        (
            "policies:\n  small: {max_bdy: 1KiB}\nroutes: {}\n",
            "routes.yaml:2:11: policies.small.max_bdy: unknown key 'max_bdy' (did you mean 'max_body'?)",
        ),
        (
            "routes:\n  GET /a: {handler: m.a, max_body: big}\n",
            "routes.yaml:2:36: routes['GET /a'].max_body: 'big' is not a size:"
            " use bytes or a unit B, KB, MB, GB, KiB, MiB, GiB",
        ),
        (
            "routes:\n  GET /a: {handler: m.a, concurrency: {limit: 0}}\n",
            "routes.yaml:2:47: routes['GET /a'].concurrency.limit:"
            " Input should be greater than or equal to 1",
        ),
        (
            "service:\n  handler_timeout: 1s\n  policies: {timeout: 2s}\nroutes: {}\n",
            "routes.yaml:2:20: service.handler_timeout: set both here and as service.policies.timeout:"
            " keep one (this is its older name)",
        ),
        (
            "routes:\n  GET /a: {handler: m.a, rate_limit: 100 per minute}\n",
            "routes.yaml:2:38: routes['GET /a'].rate_limit: '100 per minute' is not a rate:"
            " write requests/period, e.g. 100/minute (second, hour, day)",
        ),
        (
            "routes:\n  GET /a: {handler: m.a, rate_limit: {rate: 5/second, per: api_key}}\n",
            "routes.yaml:2:3: routes['GET /a']: rate_limit counts per api_key, but this route's auth"
            " is not api_key: add one, or count per client",
        ),
        (
            "routes:\n  GET /a: {handler: m.a, rate_limit: {rate: 5/second, per: everyone}}\n",
            "routes.yaml:2:60: routes['GET /a'].rate_limit.per: Input should be 'client' or 'api_key'",
        ),
    ],
    ids=[
        "unknown-group",
        "no-groups",
        "unknown-key",
        "bad-size",
        "zero-limit",
        "two-timeouts",
        "bad-rate",
        "per-key-without-key",
        "per-whom",
    ],
)
def test_policy_mistakes_are_reported_at_their_line(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_text(text)
    assert [str(issue) for issue in caught.value.issues] == [expected]


async def test_max_body_refuses_a_longer_declared_body_before_the_handler(tmp_path: Path) -> None:
    routes = project(
        tmp_path,
        """\
        routes:
          POST /small: {handler: policyapp.echo, max_body: 1KiB}
          POST /any: policyapp.echo
        """,
    )
    served = TestClient(routes)
    async with served as client:
        from policyapp import state  # type: ignore[import-not-found]  # (next to routes.yaml)

        state["calls"] = 0
        assert (await client.post("/small", content=b"x" * 1024)).text == "1024"
        assert (await client.post("/any", content=b"x" * 4096)).text == "4096"  # client_max_size: 1MiB
        calls = state["calls"]
        # Only the head, with its length: the 413 comes at once, the body unsent.
        reader, writer = await asyncio.open_connection("127.0.0.1", served.server.port)
        connection = RawConnection(reader, writer)
        await connection.send(b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n")
        answer = await connection.read_response()
        assert answer.status == 413 and answer.header("Connection") == "close"
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # and the connection closes
        writer.close()
        assert state["calls"] == calls  # the handler never ran

        async def pieces() -> AsyncIterator[bytes]:  # no length: sent chunked
            for _ in range(2):
                yield b"x" * 1000

        chunked = await client.post("/small", content=pieces())
        assert chunked.status_code == 413


async def test_max_body_can_raise_the_limit_for_one_route(tmp_path: Path) -> None:
    routes = project(
        tmp_path,
        """\
        service: {client_max_size: 1KiB}
        routes:
          POST /big: {handler: policyapp.echo, max_body: 8KiB}
          POST /any: policyapp.echo
        """,
    )
    async with TestClient(routes) as client:
        assert (await client.post("/big", content=b"x" * 4096)).text == "4096"
        assert (await client.post("/any", content=b"x" * 4096)).status_code == 413


async def test_concurrency_runs_limit_queues_queue_and_refuses_the_rest(tmp_path: Path) -> None:
    routes = project(
        tmp_path,
        "routes:\n  GET /wait: {handler: policyapp.wait, concurrency: {limit: 2, queue: 1}}\n",
    )
    served = TestClient(routes)
    async with served:
        from policyapp import state

        state.update(calls=0, release=asyncio.Event())
        base = f"http://127.0.0.1:{served.server.port}"
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as burst:
            calls = [asyncio.create_task(burst.get("/wait")) for _ in range(5)]
            refused = []
            while len(refused) < 2:  # two come back at once, refused; three are held
                done, _ = await asyncio.wait(calls, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
                assert done, "nothing was refused"
                for task in done:
                    calls.remove(task)
                    refused.append(task.result())
            assert [(r.status_code, r.headers["Retry-After"]) for r in refused] == [(503, "1"), (503, "1")]
            assert state["calls"] == 2  # two run; the third waits its turn, not yet called
            state["release"].set()
            answers = await asyncio.gather(*calls)
    assert [a.text for a in answers] == ["done"] * 3 and state["calls"] == 3


async def test_a_gate_hands_places_over_in_order_and_survives_cancellation() -> None:
    gate = Gate(limit=1, queue=2)
    assert await gate.enter()
    second = asyncio.create_task(gate.enter())
    third = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    assert gate.waiting == 2
    assert not await gate.enter()  # full, and the queue too
    second.cancel()  # gives up waiting: its place in line goes
    await asyncio.sleep(0)
    assert gate.waiting == 1
    gate.leave()  # the first leaves: the third gets the place
    assert await asyncio.wait_for(third, TIMEOUT) and gate.active == 1
    fourth = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    gate.leave()  # handed to the fourth...
    fourth.cancel()  # ...which is cancelled before it runs: it passes the place on
    with pytest.raises(asyncio.CancelledError):
        await fourth
    assert gate.active == 0 and gate.waiting == 0


async def test_a_routes_timeout_wins_over_the_service_default(tmp_path: Path) -> None:
    routes = project(
        tmp_path,
        """\
        service: {handler_timeout: 100ms}
        routes:
          GET /slow: policyapp.slow
          GET /patient: {handler: policyapp.slow, timeout: 5s}
        """,
    )
    async with TestClient(routes) as client:
        assert (await client.get("/slow")).status_code == 503  # the default: 100 ms
        assert (await client.get("/patient")).text == "slow"  # its own 5 s, nearer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_buckets_refill_at_the_rate_and_per_client() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(3, 60.0, clock)  # 3 a minute: one token every 20 s
    assert [buckets.take("a")[0] for _ in range(4)] == [True, True, True, False]
    taken, left, wait = buckets.take("a")
    assert not taken and left == 0.0 and wait == pytest.approx(20.0)
    assert buckets.take("b")[0]  # another client has its own bucket
    clock.now += 19.9
    assert not buckets.take("a")[0]
    clock.now += 0.2  # 20.1 s on: one token back
    assert buckets.take("a")[0] and not buckets.take("a")[0]
    clock.now += 3600  # an hour idle: full again, never more than the count
    assert [buckets.take("a")[0] for _ in range(4)] == [True, True, True, False]


def test_full_buckets_are_dropped_when_the_table_grows() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(1, 1.0, clock)
    for n in range(10_000):
        buckets.take(f"10.0.{n // 256}.{n % 256}")
    clock.now += 2.0  # every bucket has refilled: nothing to remember
    buckets.take("another")
    assert len(buckets) == 1


async def test_rate_limit_answers_429_with_retry_after_and_ratelimit_fields(tmp_path: Path) -> None:
    routes = project(
        tmp_path,
        """\
        routes:
          GET /limited: {handler: policyapp.echo, rate_limit: 2/minute}
          GET /free: policyapp.echo
        """,
    )
    async with TestClient(routes) as client:
        for _ in range(2):
            passed = await client.get("/limited")
            assert passed.status_code == 200 and "RateLimit" not in passed.headers  # (cost: see ratelimit.py)
        refused = await client.get("/limited")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "30"
        assert refused.headers["RateLimit-Policy"] == '"default";q=2;w=60'
        assert refused.headers["RateLimit"] == '"default";r=0;t=60'
        for _ in range(5):  # other routes: no limit
            assert (await client.get("/free")).status_code == 200


CORS_ROUTES = """\
policies:
  public:
    cors:
      allow_origins: ["https://app.example.com", "https://*.example.org"]
      allow_methods: [GET, POST]
      allow_headers: [Content-Type, X-Trace]
      expose_headers: [X-Total]
      max_age: 600
routes:
  /items:
    GET: {handler: policyapp.echo, use: [public]}
    POST: {handler: policyapp.echo, use: [public], max_body: 8B}
  GET /anyone: {handler: policyapp.echo, cors: {allow_origins: ["*"]}}
  GET /varied: {handler: policyapp.varied, use: [public]}
  GET /private: policyapp.echo
"""
APP = "https://app.example.com"


def preflight_headers(origin: str, method: str, headers: str = "") -> dict[str, str]:
    """What a browser sends before a cross-origin request that is not 'simple'."""
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return sent


@pytest.mark.parametrize(
    ("origin", "method", "headers", "status"),
    [
        (APP, "POST", "content-type", 204),
        (APP, "POST", "content-type,x-trace", 204),
        ("https://shop.example.org", "GET", "", 204),  # a pattern's origin
        ("https://example.org", "GET", "", 403),  # the pattern needs a host part before it
        ("https://app.example.com.evil.net", "GET", "", 403),
        ("http://app.example.com", "GET", "", 403),  # another scheme is another origin
        (APP, "DELETE", "", 403),  # a method not allowed
        (APP, "POST", "content-type,x-secret", 403),  # a header not allowed
    ],
)
async def test_preflights_as_a_browser_sends_them(
    tmp_path: Path, origin: str, method: str, headers: str, status: int
) -> None:
    async with TestClient(project(tmp_path, CORS_ROUTES)) as client:
        answer = await client.options("/items", headers=preflight_headers(origin, method, headers))
    assert answer.status_code == status
    assert "Origin" in answer.headers["Vary"]
    if status == 204:
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        assert answer.headers["Access-Control-Allow-Methods"] == "GET, POST"
        assert answer.headers.get("Access-Control-Allow-Headers", "") == headers.replace(",", ", ")
        assert answer.headers["Access-Control-Max-Age"] == "600"
    else:
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]


async def test_a_handlers_vary_is_kept_and_origin_added_once(tmp_path: Path) -> None:
    async with TestClient(project(tmp_path, CORS_ROUTES)) as client:
        for vary, expected in (("Accept-Encoding", "Accept-Encoding, Origin"), ("origin", "origin")):
            answer = await client.get("/varied", params={"vary": vary}, headers={"Origin": APP})
            assert answer.headers.get_list("Vary") == [expected]
            assert answer.headers["Access-Control-Allow-Origin"] == APP


async def test_each_origin_a_pattern_admits_gets_its_own_answer(tmp_path: Path) -> None:
    async with TestClient(project(tmp_path, CORS_ROUTES)) as client:
        for n in range(300):  # past the 256 answers remembered
            origin = f"https://host{n}.example.org"
            answer = await client.get("/items", headers={"Origin": origin})
            assert answer.headers["Access-Control-Allow-Origin"] == origin
        refused = await client.get("/items", headers={"Origin": "https://example.org.evil.net"})
        assert "Access-Control-Allow-Origin" not in refused.headers


async def test_answers_are_marked_for_allowed_origins_only(tmp_path: Path) -> None:
    async with TestClient(project(tmp_path, CORS_ROUTES)) as client:
        allowed = await client.get("/items", headers={"Origin": APP})
        assert allowed.headers["Access-Control-Allow-Origin"] == APP
        assert allowed.headers["Access-Control-Expose-Headers"] == "X-Total"
        assert allowed.headers["Vary"] == "Origin"
        other = await client.get("/items", headers={"Origin": "https://evil.example.net"})
        assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
        assert other.headers["Vary"] == "Origin"  # a cache must not hand one origin's answer to another
        refused = await client.post("/items", headers={"Origin": APP}, content=b"x" * 100)
        assert refused.status_code == 413  # an error a script may read: marked too
        assert refused.headers["Access-Control-Allow-Origin"] == APP
        public = await client.get("/anyone", headers={"Origin": "https://wherever.net"})
        assert public.headers["Access-Control-Allow-Origin"] == "*" and "Vary" not in public.headers
        private = await client.get("/private", headers={"Origin": APP})
        assert not [name for name in private.headers if name.lower().startswith("access-control-")]
        plain = await client.options("/items")  # no preflight: the methods, as the router says
        assert (plain.status_code, plain.headers["Allow"]) == (204, "GET, HEAD, OPTIONS, POST")
        assert (await client.options("/private")).headers["Allow"] == "GET, HEAD, OPTIONS"


def test_credentials_need_listed_origins() -> None:
    text = "routes:\n  GET /a: {handler: m.a, cors: {allow_origins: ['*'], allow_credentials: true}}\n"
    with pytest.raises(SpecError) as caught:
        load_text(text)
    (issue,) = caught.value.issues
    assert str(issue).startswith("routes.yaml:2:")
    assert "allow_credentials needs the origins listed: '*' cannot go with credentials" in str(issue)


# -- auth --------------------------------------------------------------------------------

AUTH_HANDLERS = """
from service import Response
from service.web.auth import IDENTITY

async def whoami(request):
    identity = request[IDENTITY]
    return Response(text=f"{identity.scheme} {identity.subject}")
"""


def auth_project(tmp_path: Path, routes: str) -> Path:
    (tmp_path / "authapp.py").write_text(AUTH_HANDLERS)
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(routes))
    return path


async def test_api_keys_from_the_environment_in_a_header_or_the_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_API_KEYS", "first-key, second-key")  # (spaces after commas: not the key's)
    (tmp_path / "keys.txt").write_text("# the keys, one a line\n\n  file-key  \n")
    routes = auth_project(
        tmp_path,
        """\
        routes:
          GET /h: {handler: authapp.whoami, auth: {api_key: {header: X-API-Key, keys_env: TEST_API_KEYS}}}
          GET /q: {handler: authapp.whoami, auth: {api_key: {query: api_key, keys_file: keys.txt}}}
        """,
    )
    async with TestClient(routes) as client:
        assert (await client.get("/h", headers={"X-API-Key": "second-key"})).text == "api_key key 2"
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "first-ke"}, {"X-API-Key": "first-keyy"}):
            refused = await client.get("/h", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"] == 'ApiKey realm="service", header="X-API-Key"'
        assert (await client.get("/q?api_key=file-key")).text == "api_key key 1"
        assert (await client.get("/q?api_key=first-key")).status_code == 401
        assert (await client.get("/q", params={"api_key": "# the keys, one a line"})).status_code == 401


async def test_rate_limit_per_api_key_counts_each_key_not_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_API_KEYS", "first-key,second-key")
    routes = auth_project(
        tmp_path,
        """\
        policies:
          keyed:
            auth: {api_key: {header: X-API-Key, keys_env: TEST_API_KEYS}}
            rate_limit: {rate: 2/minute, per: api_key}
        routes:
          GET /h: {handler: authapp.whoami, use: [keyed]}
        """,
    )
    (route,) = load_text(routes.read_text()).routes
    assert describe(route.policy) == "rate_limit=2/minute(api_key) auth=api_key"
    async with TestClient(routes) as client:  # every request from 127.0.0.1
        first, second = {"X-API-Key": "first-key"}, {"X-API-Key": "second-key"}
        assert [(await client.get("/h", headers=first)).status_code for _ in range(3)] == [200, 200, 429]
        refused = await client.get("/h", headers=first)
        assert refused.text == "429: more than 2 requests in 60 s with this API key"
        assert (await client.get("/h", headers=second)).text == "api_key key 2"  # its own bucket
        assert (await client.get("/h")).status_code == 401  # no key: refused before it counts


def test_an_api_key_is_compared_with_every_key_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = auth_module.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", counting)
    keys = auth_module.ApiKeys(["k1", "k2", "k3"])
    for presented, expected in (("k1", 0), ("k3", 2), ("nope", None)):
        compared.clear()
        assert keys.match(presented) == expected
        assert len(compared) == 3  # every key, whether or not one matched early
        assert all(len(a) == len(b) == 32 for a, b in compared)  # digests: the length tells nothing


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            "{api_key: {header: X-Key, keys_env: SURELY_UNSET_KEYS}}",
            "no API keys in the environment variable",
        ),
        ("{api_key: {header: X-Key, keys_file: missing.txt}}", "keys_file missing.txt: No such file"),
        ("{api_key: {header: X-Key, query: k, keys_env: K}}", "name where the key comes: header: or query:"),
        ("{bearer_jwt: {issuer: i, audience: a, algorithms: [RS256, HS256], key_env: K}}", "mixes HS*"),
    ],
)
def test_auth_mistakes_are_reported_at_their_line(tmp_path: Path, auth: str, expected: str) -> None:
    routes = auth_project(tmp_path, f"routes:\n  GET /a: {{handler: authapp.whoami, auth: {auth}}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "service", "check", str(routes)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"{routes}:2:" in result.stdout + result.stderr and expected in result.stdout + result.stderr


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[Any, dict[str, Any], str]:
    """An RSA key pair: the private key, the public JWKS, the public key as PEM."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update(kid="k1", use="sig", alg="RS256")
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, {"keys": [public_jwk]}, pem.decode()


def token(private: Any, **changes: Any) -> str:
    import jwt

    now = int(time.time())
    claims = {"iss": "https://id.example.com", "aud": "service", "sub": "ada", "iat": now, "exp": now + 300}
    claims |= {k: v for k, v in changes.items() if not k.startswith("_")}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": changes.get("_kid", "k1")})


def forged(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join((part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)))


async def test_bearer_jwt_accepts_only_what_verifies(tmp_path: Path, rsa_keys: tuple[Any, Any, str]) -> None:
    import jwt

    private, jwks, pem = rsa_keys
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    routes = auth_project(
        tmp_path,
        """\
        policies:
          id:
            auth:
              bearer_jwt:
                issuer: https://id.example.com
                audience: service
                algorithms: [RS256]
                jwks_file: jwks.json
                leeway: 10s
        routes:
          GET /me: {handler: authapp.whoami, use: [id]}
          GET /admin:
            handler: authapp.whoami
            auth: {bearer_jwt: {issuer: https://id.example.com, audience: service, algorithms: [RS256],
                                jwks_file: jwks.json, scopes: [admin]}}
        """,
    )
    now = int(time.time())
    claims = {"iss": "https://id.example.com", "aud": "service", "sub": "ada", "exp": now + 300}
    bad = {
        "expired": token(private, exp=now - 60),
        "expired within leeway": None,  # (accepted: below)
        "not yet valid": token(private, nbf=now + 120),
        "wrong audience": token(private, aud="another"),
        "wrong issuer": token(private, iss="https://evil.example.com"),
        "no expiry": token(private, exp=None),
        "unknown kid": token(private, _kid="k9"),
        "alg none": forged({"alg": "none", "typ": "JWT"}, claims),
        "HS256 keyed with the public key": forged(
            {"alg": "HS256", "typ": "JWT", "kid": "k1"},
            claims,
            hmac.new(pem.encode(), b"x", hashlib.sha256).digest(),
        ),
        "tampered": token(private)[:-4] + "AAAA",
        "garbage": "not.a.token",
    }
    del bad["expired within leeway"]
    async with TestClient(routes) as client:
        ok = await client.get("/me", headers={"Authorization": f"Bearer {token(private)}"})
        assert ok.text == "bearer ada"
        late = token(private, exp=now - 5)  # 5 s past, within the 10 s leeway
        assert (await client.get("/me", headers={"Authorization": f"Bearer {late}"})).status_code == 200
        missing = await client.get("/me")
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="service"'
        for why, value in bad.items():
            answer = await client.get("/me", headers={"Authorization": f"Bearer {value}"})
            assert answer.status_code == 401, why
            assert answer.headers["WWW-Authenticate"].startswith(
                'Bearer realm="service", error="invalid_token"'
            )
        scoped = await client.get(
            "/admin", headers={"Authorization": f"Bearer {token(private, scope='admin read')}"}
        )
        assert scoped.status_code == 200
        unscoped = await client.get(
            "/admin", headers={"Authorization": f"Bearer {token(private, scope='read')}"}
        )
        assert unscoped.status_code == 403
        assert 'error="insufficient_scope"' in unscoped.headers["WWW-Authenticate"]
    assert (
        jwt.decode(token(private), pem, algorithms=["RS256"], audience="service")["sub"] == "ada"
    )  # (sane keys)


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jwt")
    verifier = auth_module.JwtVerifier(
        issuer="i", audience="a", algorithms=("HS256",), leeway=0.0, scopes=(), key="secret"
    )
    checked: list[str] = []
    now = 1_000_000.0

    def verify(token: str) -> dict[str, Any]:
        checked.append(token)
        return {"sub": "ada", "exp": now + 60}

    monkeypatch.setattr(verifier, "_verify", verify)
    monkeypatch.setattr(auth_module.time, "time", lambda: now)
    first, again = verifier.verify("t1"), verifier.verify("t1")
    assert first.identity.subject == "ada" and again is first
    with pytest.raises(TypeError):  # one Identity serves every request with the token: read-only
        first.identity.claims["sub"] = "eve"  # type: ignore[index]
    assert checked == ["t1"]  # the second use: remembered, no signature check
    now += 61  # past exp: verified afresh (and refused there, by PyJWT's own clock)
    verifier.verify("t1")
    assert checked == ["t1", "t1"]


async def test_each_call_has_its_own_deadline(tmp_path: Path) -> None:
    """One timer per route serves every call in flight: calls that start later, or finish
    sooner, keep their own deadlines (web/timeouts.py)."""
    routes = project(tmp_path, "routes:\n  GET /slow: {handler: policyapp.slow, timeout: 400ms}\n")
    async with TestClient(routes) as client:
        late = asyncio.create_task(client.get("/slow?s=2"))  # past its deadline: cancelled
        await asyncio.sleep(0.2)
        quick = asyncio.create_task(
            client.get("/slow?s=0.3")
        )  # starts later, ends after the first's deadline
        later = asyncio.create_task(client.get("/slow?s=2"))  # cancelled at its own deadline, not the first's
        many = [asyncio.create_task(client.get("/slow?s=0")) for _ in range(5)]  # done at once
        assert (await late).status_code == 503
        assert (await later).status_code == 503
        assert (await quick).text == "slow"
        assert [(await m).text for m in many] == ["slow"] * 5
        assert (await client.get("/slow?s=2")).status_code == 503  # and the timer re-arms for the next


def test_routes_shows_the_preflights_a_cors_policy_adds(tmp_path: Path) -> None:
    routes = project(tmp_path, CORS_ROUTES)
    result = subprocess.run(
        [sys.executable, "-m", "service", "routes", str(routes)], capture_output=True, text=True, timeout=60
    )
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["OPTIONS", "/items", "(cors", "preflight)"] in rows
    assert ["OPTIONS", "/anyone", "(cors", "preflight)"] in rows
    assert not any(row[:2] == ["OPTIONS", "/private"] for row in rows)  # no cors: the router's own OPTIONS
