"""routes.yaml -> Spec: every error class is reported as the exact line a user reads.

Each row of the tables is the YAML text and the exact ``FILE:LINE:COL: where: what``
lines that ``python -m service check`` would print for it (``str(issue)`` for
each issue of the ``ConfigError``), in order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from service import Limits
from service.config.loader import Location, RouteSpec, Spec, load, load_text
from service.config.policies import NO_POLICIES, effective
from service.config.schema import RouteOptions, ServiceSettings
from service.errors import ConfigError

FILE = "routes.yaml"


def issues_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, FILE, env={} if env is None else env)
    return [str(issue) for issue in info.value.issues]


def ok(text: str, env: dict[str, str] | None = None) -> Spec:
    return load_text(text, FILE, env={} if env is None else env)


# -- one row per error class: (yaml text, exact issue lines) ----------------------------------
# YAML syntax errors, in plain words, are the rows of test_loader_mistakes.py.
ERROR_ROWS = [
    pytest.param(
        "",
        ["routes.yaml:1:1: (file): the file is empty: it needs at least a 'routes:' mapping"],
        id="empty",
    ),
    pytest.param(
        "  \n\n",
        ["routes.yaml:1:1: (file): the file is empty: it needs at least a 'routes:' mapping"],
        id="only-whitespace",
    ),
    pytest.param(
        "# nothing but a comment\n",
        ["routes.yaml:1:1: (file): the file holds no YAML document"],
        id="only-comment",
    ),
    pytest.param(
        "- GET /a\n- GET /b\n",
        ["routes.yaml:1:1: (top level): the top level must be a mapping with a 'routes:' key"],
        id="top-level-list",
    ),
    pytest.param(
        "hello\n",
        ["routes.yaml:1:1: (top level): the top level must be a mapping with a 'routes:' key"],
        id="top-level-scalar",
    ),
    pytest.param(
        "service:\n  name: x\n",
        ["routes.yaml:1:1: (top level): no 'routes:' mapping: the service would answer nothing"],
        id="no-routes-key",
    ),
    pytest.param(
        "routes:\n  GET /a: h.a\n  GET /a: h.b\n",
        ["routes.yaml:3:3: routes['GET /a']: duplicate key 'GET /a' (first defined at line 2)"],
        id="duplicate-route-key",
    ),
    pytest.param(
        "service:\n  name: x\nservice:\n  name: y\nroutes: {}\n",
        ["routes.yaml:3:1: service: duplicate key 'service' (first defined at line 1)"],
        id="duplicate-top-key",
    ),
    pytest.param(
        "service:\n  port: 1\n  port: 2\nroutes: {}\n",
        ["routes.yaml:3:3: service.port: duplicate key 'port' (first defined at line 2)"],
        id="duplicate-nested-key",
    ),
    pytest.param(
        "routes:\n  GET /a:\n    handelr: h.a\n",
        # one typo, one message: the missing key is the one suggested
        ["routes.yaml:3:5: routes['GET /a'].handelr: unknown key 'handelr' (did you mean 'handler'?)"],
        id="unknown-route-key-handelr",
    ),
    pytest.param(
        "service:\n  prot: 80\nroutes:\n  GET /a: h.a\n",
        ["routes.yaml:2:3: service.prot: unknown key 'prot' (did you mean 'port'?)"],
        id="unknown-service-key",
    ),
    pytest.param(
        "rutes:\n  GET /a: h.a\n",
        [
            "routes.yaml:1:1: rutes: unknown key 'rutes' (did you mean 'routes'?)",
            "routes.yaml:1:1: (top level): no 'routes:' mapping: the service would answer nothing",
        ],
        id="unknown-top-key",
    ),
    pytest.param(
        "colour: blue\nroutes: {}\n",
        [
            "routes.yaml:1:1: colour: unknown key 'colour'"
            " (known keys: service, policies, middlewares, on_startup, on_shutdown, on_cleanup, routes)"
        ],
        id="unknown-key-without-close-match",
    ),
    pytest.param(
        "routes:\n  GTE /a: h.a\n",
        ["routes.yaml:2:3: routes['GTE /a']: unknown method 'GTE' (did you mean GET?)"],
        id="bad-method-short-form",
    ),
    pytest.param(
        "routes:\n  /a:\n    PSOT: h.a\n",
        ["routes.yaml:3:5: routes['/a'].PSOT: unknown method 'PSOT' (did you mean POST?)"],
        id="bad-method-path-form",
    ),
    pytest.param(
        "routes:\n  FOO /a: h.a\n",
        [
            "routes.yaml:2:3: routes['FOO /a']: unknown method 'FOO'"
            " (use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or '*')"
        ],
        id="bad-method-no-close-match",
    ),
    pytest.param(
        "routes:\n  GET a: h.a\n",
        ["routes.yaml:2:3: routes['GET a']: path must start with '/': 'a'"],
        id="path-without-slash",
    ),
    pytest.param(
        "routes:\n  hello: h.a\n",
        [
            "routes.yaml:2:3: routes.hello: a route key is 'METHOD /path' (e.g. 'GET /hello') or a '/path'"
            " mapping",
        ],
        id="route-key-neither-form",
    ),
    pytest.param(
        "routes:\n  /a: h.a b\n",  # (h.a alone would be a class-based view)
        [
            "routes.yaml:2:7: routes['/a']: expected methods under the path, e.g."
            ' "/a: {GET: module.function}" (or a class-based view: "/a: module.SomeView"),'
            " found the text 'h.a b'"
        ],
        id="path-key-with-scalar",
    ),
    pytest.param(
        "routes:\n  GET /a: 42\n",
        [
            "routes.yaml:2:11: routes['GET /a']: expected a handler's dotted name (GET /a: module.function)"
            " or a mapping with 'handler:', found the number 42"
        ],
        id="route-target-not-name-or-mapping",
    ),
    pytest.param(
        "routes:\n  GET /a: not a name\n",
        [
            "routes.yaml:2:11: routes['GET /a'].handler: 'not a name' is not a dotted name"
            " (write e.g. handlers.users.get_user or handlers.users:get_user)"
        ],
        id="handler-not-dotted",
    ),
    pytest.param(
        "routes:\n  GET /a:\n    name: x\n",
        ["routes.yaml:3:5: routes['GET /a'].handler: missing required key 'handler'"],
        id="long-form-without-handler",
    ),
    pytest.param(
        "routes:\n  GET /u/{id: h.a\n",
        ["routes.yaml:2:3: routes['GET /u/{id']: unclosed '{' at offset 3 in '/u/{id'"],
        id="placeholder-unclosed-brace",
    ),
    pytest.param(
        "routes:\n  GET /u/id}: h.a\n",
        ["routes.yaml:2:3: routes['GET /u/id}']: unbalanced '}' at offset 5 in '/u/id}'"],
        id="placeholder-stray-closing-brace",
    ),
    pytest.param(
        "routes:\n  GET /u/{}: h.a\n",
        ["routes.yaml:2:3: routes['GET /u/{}']: placeholder name '' in '/u/{}' is not an identifier"],
        id="placeholder-empty",
    ),
    pytest.param(
        "routes:\n  GET /u/{a}/{a}: h.a\n",
        ["routes.yaml:2:3: routes['GET /u/{a}/{a}']: placeholder {a} appears twice in '/u/{a}/{a}'"],
        id="placeholder-twice",
    ),
    pytest.param(
        "routes:\n  GET /u/{id:integer}: h.a\n",
        [
            "routes.yaml:2:3: routes['GET /u/{id:integer}']: unknown converter 'integer' in {id:integer}"
            " (known: str, int, float, uuid, path)"
        ],
        id="unknown-converter",
    ),
    pytest.param(
        "routes:\n  GET /u/{id:[0-9}: h.a\n",
        [
            "routes.yaml:2:3: routes['GET /u/{id:[0-9}']: invalid regex '[0-9' in {id}:"
            " unterminated character set at position 3"
        ],
        id="invalid-regex",
    ),
    pytest.param(
        "routes:\n  'GET /u/{id:(a}': h.a\n",
        [
            "routes.yaml:2:3: routes['GET /u/{id:(a}']: invalid regex '(a' in {id}:"
            " missing ), unterminated subpattern at position 0"
        ],
        id="invalid-regex-quoted-key",
    ),
    pytest.param(
        "routes:\n  GET /x: h.a\n  /x:\n    GET: h.b\n",
        [
            "routes.yaml:4:5: routes['/x'].GET: duplicate route GET /x: same as GET /x (declared at"
            " routes.yaml:2:3)",
        ],
        id="duplicate-method-path-across-forms",
    ),
    pytest.param(
        "routes:\n  /x:\n    get: h.a\n  GET /x: h.b\n",
        [
            "routes.yaml:4:3: routes['GET /x']: duplicate route GET /x: same as GET /x (declared at"
            " routes.yaml:3:5)",
        ],
        id="duplicate-method-path-case-insensitive-method",
    ),
    pytest.param(
        "routes:\n  GET /u/{a}: h.a\n  GET /u/{b}: h.b\n",
        [
            "routes.yaml:3:3: routes['GET /u/{b}']: ambiguous route GET /u/{b}:"
            " same as GET /u/{a} (declared at routes.yaml:2:3)"
        ],
        id="ambiguous-dynamic-routes",
    ),
    pytest.param(
        "routes:\n  GET /a:\n    handler: h.a\n    name: n\n  GET /b:\n    handler: h.b\n    name: n\n",
        [
            "routes.yaml:5:3: routes['GET /b']: route name 'n' already used by GET /a (declared at"
            " routes.yaml:2:3)",
        ],
        id="duplicate-route-name",
    ),
    pytest.param(
        "service:\n  port: ${PORT}\nroutes:\n  GET /a: h.a\n",
        [
            "routes.yaml:2:9: service.port: environment variable PORT is not set (set it, or write"
            " ${PORT:-default})",
        ],
        id="undefined-env-var",
    ),
    pytest.param(
        "routes:\n  GET /a: ${HANDLER}\n",
        [
            "routes.yaml:2:11: routes['GET /a']: environment variable HANDLER is not set"
            " (set it, or write ${HANDLER:-default})"
        ],
        id="undefined-env-var-in-route",
    ),
    pytest.param(
        "service:\n  client_max_size: 1 parsec\nroutes:\n  GET /a: h.a\n",
        [
            "routes.yaml:2:20: service.client_max_size: '1 parsec' is not a size:"
            " use bytes or a unit B, KB, MB, GB, KiB, MiB, GiB"
        ],
        id="bad-size",
    ),
    pytest.param(
        "service:\n  proxy_headers: nginx\nroutes: {}\n",
        ["routes.yaml:2:18: service.proxy_headers: Input should be 'x-forwarded' or 'forwarded'"],
        id="bad-proxy-headers",
    ),
    pytest.param(
        "service:\n  drain_delay: soon\nroutes: {}\n",
        ["routes.yaml:2:16: service.drain_delay: 'soon' is not a duration: use a number with ms, s, m or h"],
        id="bad-drain-delay",
    ),
    pytest.param(
        "service:\n  tracing: maybe\nroutes: {}\n",
        ["routes.yaml:2:12: service.tracing: Input should be a valid boolean, unable to interpret input"],
        id="bad-tracing",
    ),
    pytest.param(
        "service:\n  access_log_format: xml\nroutes: {}\n",
        ["routes.yaml:2:22: service.access_log_format: Input should be 'json' or 'logfmt'"],
        id="bad-access-log-format",
    ),
    pytest.param(
        "service:\n  request_ids: sometimes\nroutes: {}\n",
        ["routes.yaml:2:16: service.request_ids: Input should be a valid boolean, unable to interpret input"],
        id="bad-request-ids",
    ),
    pytest.param(
        "service:\n  metrics: [/metrics]\nroutes: {}\n",
        ["routes.yaml:2:12: service.metrics: Input should be a valid string"],
        id="bad-metrics-path",
    ),
    pytest.param(
        "service:\n  metrics: /users/{id}\nroutes:\n  GET /users/{uid}: h.x\n",
        [
            "routes.yaml:2:12: service.metrics: ambiguous route GET /users/{id}:"
            " same as GET /users/{uid} (declared at routes.yaml:4:3)"
        ],
        id="metrics-path-clashes",
    ),
    pytest.param(
        'service:\n  trusted_proxies: [10.0.0.0/8, "nope"]\nroutes: {}\n',
        ["routes.yaml:2:33: service.trusted_proxies[1]: value is not a valid IPv4 or IPv6 network"],
        id="bad-trusted-proxy",
    ),
    pytest.param(
        "service:\n  client_max_size: -1\nroutes: {}\n",
        ["routes.yaml:2:20: service.client_max_size: a size cannot be negative"],
        id="negative-size",
    ),
    pytest.param(
        "service:\n  shutdown_timeout: soon\nroutes:\n  GET /a: h.a\n",
        [
            "routes.yaml:2:21: service.shutdown_timeout: 'soon' is not a duration: use a number with ms, s,"
            " m or h",
        ],
        id="bad-duration",
    ),
    pytest.param(
        "service:\n  keepalive_timeout: -1\nroutes: {}\n",
        ["routes.yaml:2:22: service.keepalive_timeout: a duration cannot be negative"],
        id="negative-duration",
    ),
    pytest.param(
        "service:\n  header_timeout: true\nroutes: {}\n",
        ["routes.yaml:2:19: service.header_timeout: expected a duration such as 10s or 500ms"],
        id="boolean-duration",
    ),
    pytest.param(
        "service:\n  max_target_size: 0\nroutes: {}\n",
        ["routes.yaml:2:20: service.max_target_size: Input should be greater than or equal to 1"],
        id="zero-target-size",
    ),
    pytest.param(
        "service:\n  max_header_size: lots\nroutes: {}\n",
        [
            "routes.yaml:2:20: service.max_header_size: 'lots' is not a size: use bytes or a unit B, KB,"
            " MB, GB, KiB, MiB, GiB"
        ],
        id="bad-header-size",
    ),
    pytest.param(
        "service:\n  max_header_count: 0\nroutes: {}\n",
        ["routes.yaml:2:21: service.max_header_count: Input should be greater than or equal to 1"],
        id="zero-header-count",
    ),
    pytest.param(
        "service:\n  body_timeout: -1\nroutes: {}\n",
        ["routes.yaml:2:17: service.body_timeout: a duration cannot be negative"],
        id="negative-body-timeout",
    ),
    pytest.param(
        "service:\n  send_timeout: soon\nroutes: {}\n",
        ["routes.yaml:2:17: service.send_timeout: 'soon' is not a duration: use a number with ms, s, m or h"],
        id="bad-send-timeout",
    ),
    pytest.param(
        "service:\n  linger_timeout: true\nroutes: {}\n",
        ["routes.yaml:2:19: service.linger_timeout: expected a duration such as 10s or 500ms"],
        id="boolean-linger-timeout",
    ),
    pytest.param(
        "routes:\n  GET /a:\n    handler: h.a\n    timeout: forever\n",
        [
            "routes.yaml:4:14: routes['GET /a'].timeout: 'forever' is not a duration: use a number with ms,"
            " s, m or h",
        ],
        id="bad-route-timeout",
    ),
    pytest.param(
        "service:\n  port: 70000\nroutes:\n  GET /a: h.a\n",
        ["routes.yaml:2:9: service.port: Input should be less than or equal to 65535"],
        id="port-too-high",
    ),
    pytest.param(
        "service:\n  port: -1\nroutes:\n  GET /a: h.a\n",
        ["routes.yaml:2:9: service.port: Input should be greater than or equal to 0"],
        id="port-negative",
    ),
    pytest.param(
        "service:\n  port: eighty\nroutes:\n  GET /a: h.a\n",
        [
            "routes.yaml:2:9: service.port: Input should be a valid integer, unable to parse string as an"
            " integer",
        ],
        id="port-not-a-number",
    ),
    pytest.param(
        "middlewares:\n  - h.ok\n  - 1 2\nroutes: {}\n",
        [
            "routes.yaml:3:5: middlewares[1]: '1 2' is not a dotted name"
            " (write e.g. handlers.users.get_user or handlers.users:get_user)"
        ],
        id="middleware-not-dotted",
    ),
    pytest.param(
        "? [a, b]\n: c\nroutes: {}\n",
        ["routes.yaml:1:3: (top level): keys must be plain strings"],
        id="non-scalar-key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_ROWS)
def test_error_lines(text: str, expected: list[str]) -> None:
    assert issues_of(text) == expected


def test_several_errors_in_one_file_are_reported_together_sorted_by_line() -> None:
    text = (
        "routes:\n"  # 1
        "  GTE /a: h.a\n"  # 2
        "  GET /b:\n"  # 3
        "    handelr: h.b\n"  # 4
        "  GET c: h.c\n"  # 5
        "  GET /u/{x:nope}: h.d\n"  # 6
        "service:\n"  # 7
        "  port: 99999\n"  # 8
        "  shutdown_timeout: soon\n"  # 9
        "  host: ${HOST}\n"  # 10
    )
    assert issues_of(text) == [
        "routes.yaml:2:3: routes['GTE /a']: unknown method 'GTE' (did you mean GET?)",
        "routes.yaml:4:5: routes['GET /b'].handelr: unknown key 'handelr' (did you mean 'handler'?)",
        "routes.yaml:5:3: routes['GET c']: path must start with '/': 'c'",
        "routes.yaml:6:3: routes['GET /u/{x:nope}']: unknown converter 'nope' in {x:nope}"
        " (known: str, int, float, uuid, path)",
        "routes.yaml:8:9: service.port: Input should be less than or equal to 65535",
        "routes.yaml:9:21: service.shutdown_timeout: 'soon' is not a duration: use a number with ms, s, m"
        " or h",
        "routes.yaml:10:9: service.host: environment variable HOST is not set (set it, or write"
        " ${HOST:-default})",
    ]


def test_config_error_message_is_every_issue_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("routes:\n  GTE /a: h.a\n  GET b: h.b\n", FILE, env={})
    assert str(info.value) == "\n".join(str(i) for i in info.value.issues)
    assert len(info.value.issues) == 2


def test_issue_fields() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("routes:\n  GTE /a: h.a\n", "conf/my.yaml", env={})
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.col, issue.where) == ("conf/my.yaml", 2, 3, "routes['GTE /a']")


# -- load(path): the file itself ----------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{path}:1:1: (file): file not found: there is no nope.yaml in {tmp_path}"
    ]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{tmp_path}:1:1: (file): is a directory, not a routes file"
    ]


def test_empty_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{path}:1:1: (file): the file is empty: it needs at least a 'routes:' mapping"
    ]


def test_load_names_the_file_in_every_issue(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  GET /a: h.a\n  GET /a: h.b\n")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{path}:3:3: routes['GET /a']: duplicate key 'GET /a' (first defined at line 2)"
    ]


def test_load_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes:\n  GET /a: h.a\n")
    spec = load(path, env={})
    assert spec.file == str(path)
    assert spec.base_dir == tmp_path.resolve()
    assert [(r.method, r.path, r.handler) for r in spec.routes] == [("GET", "/a", "h.a")]


def test_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_bytes(b"routes:\n  GET /a: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    (issue,) = info.value.issues
    assert str(issue).startswith(f"{path}:1:1: (file): cannot read: ")


# -- ${VAR} and ${VAR:-default} -----------------------------------------------------------------
ENV_ROWS = [
    pytest.param("port: ${PORT:-8080}", {}, "port", 8080, id="default-used-and-typed-int"),
    pytest.param("port: ${PORT:-8080}", {"PORT": "9000"}, "port", 9000, id="env-beats-default"),
    pytest.param("port: ${PORT}", {"PORT": "9001"}, "port", 9001, id="plain-var-typed-int"),
    pytest.param("port: ${PORT:-8080}", {"PORT": ""}, "port", 8080, id="empty-var-takes-default"),
    pytest.param("host: ${HOST:-0.0.0.0}", {"HOST": "127.0.0.1"}, "host", "127.0.0.1", id="string"),
    pytest.param("name: svc-${ENV:-dev}-1", {}, "name", "svc-dev-1", id="inside-text-default"),
    pytest.param("name: svc-${ENV:-dev}-1", {"ENV": "prod"}, "name", "svc-prod-1", id="inside-text-env"),
    pytest.param("name: ${A}${B:-b}", {"A": "a"}, "name", "ab", id="two-vars"),
    pytest.param("name: cost$$5", {}, "name", "cost$5", id="double-dollar-escapes"),
    pytest.param("name: $HOME", {}, "name", "$HOME", id="bare-dollar-left-alone"),
    pytest.param("access_log: ${LOG:-false}", {}, "access_log", False, id="typed-bool-default"),
    pytest.param("access_log: ${LOG:-false}", {"LOG": "true"}, "access_log", True, id="typed-bool-env"),
    pytest.param("client_max_size: ${MAX:-2KiB}", {}, "client_max_size", 2048, id="size-from-default"),
    pytest.param("shutdown_timeout: ${T}", {"T": "250ms"}, "shutdown_timeout", 0.25, id="duration-from-env"),
    pytest.param("healthz: ${HZ:-null}", {}, "healthz", None, id="typed-null"),
]


@pytest.mark.parametrize(("line", "env", "field", "value"), ENV_ROWS)
def test_env_substitution_in_settings(line: str, env: dict[str, str], field: str, value: object) -> None:
    spec = ok(f"service:\n  {line}\nroutes:\n  GET /a: h.a\n", env)
    assert getattr(spec.settings, field) == value


def test_env_substitution_in_handler_and_route_options() -> None:
    text = (
        "middlewares: ['${MW:-pkg.mw.default}']\n"
        "routes:\n"
        "  GET /a: ${HANDLER:-pkg.mod.fallback}\n"
        "  GET /b:\n"
        "    handler: pkg.mod.b\n"
        "    timeout: ${TIMEOUT}\n"
    )
    spec = ok(text, {"HANDLER": "pkg.mod.real", "TIMEOUT": "2s"})
    assert [(r.path, r.handler, r.options.timeout) for r in spec.routes] == [
        ("/a", "pkg.mod.real", None),
        ("/b", "pkg.mod.b", 2.0),
    ]
    assert [m.dotted for m in spec.middlewares] == ["pkg.mw.default"]


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_TEST_LOADER_PORT", "8123")
    spec = load_text("service:\n  port: ${SERVICE_TEST_LOADER_PORT}\nroutes: {}\n", FILE)
    assert spec.settings.port == 8123


def test_env_value_is_validated_like_text_in_the_file() -> None:
    assert issues_of("service:\n  port: ${PORT}\nroutes: {}\n", {"PORT": "99999"}) == [
        "routes.yaml:2:9: service.port: Input should be less than or equal to 65535"
    ]


def test_unset_variable_is_reported_once_without_knock_on_errors() -> None:
    # ``${PORT}`` stays literal text, which is no integer: only the cause is reported.
    text = "service:\n  port: ${PORT}\n  shutdown_timeout: ${GRACE}\nroutes: {}\n"
    assert issues_of(text) == [
        "routes.yaml:2:9: service.port: environment variable PORT is not set (set it, or write"
        " ${PORT:-default})",
        "routes.yaml:3:21: service.shutdown_timeout: environment variable GRACE is not set"
        " (set it, or write ${GRACE:-default})",
    ]


def test_quoted_interpolated_value_stays_a_string() -> None:
    # In YAML "007" in quotes is the string '007'; a value from the environment
    # should be typed like one written in the file (loader.py's own promise).
    spec = ok('service:\n  name: "${NAME:-007}"\nroutes: {}\n')
    assert spec.settings.name == "007"


# -- YAML that PyYAML cannot turn into values -----------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("!!int abc", id="int"),
        pytest.param("!!float abc", id="float"),
        pytest.param("!!bool maybe", id="bool"),
        pytest.param("!!timestamp nope", id="timestamp"),
    ],
)
def test_explicit_tag_with_a_bad_value_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(f"service:\n  port: {value}\nroutes: {{}}\n", FILE, env={})
    first = info.value.issues[0]
    assert (first.line, first.col, first.where) == (2, 9, "service.port")


def test_unknown_tag_is_a_config_error() -> None:
    lines = issues_of("service:\n  name: !!python/name:os.system x\nroutes: {}\n")
    assert lines[0] == (
        "routes.yaml:2:9: service.name: cannot read value: could not determine a constructor"
        " for the tag 'tag:yaml.org,2002:python/name:os.system'"
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("routes: &a {x: *a}\n", id="mapping"),
        pytest.param("middlewares: &a [*a]\nroutes: {}\n", id="sequence"),
    ],
)
def test_recursive_alias_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        load_text(text, FILE, env={})


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("routes: " + "[" * 1200 + "]" * 1200 + "\n", id="sequences"),
        pytest.param("routes: " + "{a: " * 1200 + "1" + "}" * 1200 + "\n", id="mappings"),
        pytest.param("routes: " + "[" * 1200 + "\n", id="unclosed"),
    ],
)
def test_deeply_nested_yaml_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        load_text(text, FILE, env={})


# -- the accepted forms ----------------------------------------------------------------------------
SPEC_TEXT = """\
service:
  name: demo
routes:
  GET /hello: pkg.hello.hello
  /items:
    GET: pkg.items.list_items
    POST: pkg.items:create_item
  /items/{id:int}:
    GET:
      handler: pkg.items.get_item
      name: item
      description: One item
      timeout: 500ms
  "* /any": pkg.any.handle
  delete /old: pkg.old.remove
"""


def _route(
    method: str, path: str, where: str, at: tuple[int, int], handler_at: tuple[int, int], **opts: object
) -> RouteSpec:
    options = RouteOptions(**opts)  # type: ignore[arg-type]
    return RouteSpec(
        method=method,
        path=path,
        options=options,
        where=where,
        at=Location(FILE, *at),
        handler_at=Location(FILE, *handler_at),
        policy=effective(options, (), NO_POLICIES),  # (no groups, no defaults in this file)
    )


def test_all_forms_mixed_load_into_route_specs() -> None:
    spec = ok(SPEC_TEXT)
    assert list(spec.routes) == [
        _route("GET", "/hello", "routes['GET /hello']", (4, 3), (4, 15), handler="pkg.hello.hello"),
        _route("GET", "/items", "routes['/items'].GET", (6, 5), (6, 10), handler="pkg.items.list_items"),
        _route("POST", "/items", "routes['/items'].POST", (7, 5), (7, 11), handler="pkg.items:create_item"),
        _route(
            "GET",
            "/items/{id:int}",
            "routes['/items/{id:int}'].GET",
            (9, 5),
            (10, 16),
            handler="pkg.items.get_item",
            name="item",
            description="One item",
            timeout=0.5,
        ),
        _route("*", "/any", "routes['* /any']", (14, 3), (14, 13), handler="pkg.any.handle"),
        _route("DELETE", "/old", "routes['delete /old']", (15, 3), (15, 16), handler="pkg.old.remove"),
    ]
    assert spec.settings.name == "demo"
    assert spec.routes[3].handler == "pkg.items.get_item"


def test_defaults_and_named_refs() -> None:
    text = (
        "middlewares:\n"
        "  - pkg.mw.timing\n"
        "on_startup: [pkg.db.connect]\n"
        "on_shutdown: [pkg.db.drain]\n"
        "on_cleanup: [pkg.db.close]\n"
        "routes: {}\n"
    )
    spec = ok(text)
    assert spec.routes == ()
    settings = spec.settings
    assert (settings.name, settings.host, settings.port) == ("service", "0.0.0.0", 8080)
    assert settings.client_max_size == 1024**2
    assert (settings.shutdown_timeout, settings.healthz) == (10.0, "/healthz")
    assert [(m.dotted, m.where, m.at) for m in spec.middlewares] == [
        ("pkg.mw.timing", "middlewares[0]", Location(FILE, 2, 5))
    ]
    assert [(h.dotted, h.where, h.at) for h in spec.on_startup] == [
        ("pkg.db.connect", "on_startup[0]", Location(FILE, 3, 14))
    ]
    assert [h.dotted for h in spec.on_shutdown] == ["pkg.db.drain"]
    assert [h.dotted for h in spec.on_cleanup] == ["pkg.db.close"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512KB", 512_000),
        ("512KiB", 512 * 1024),
        ("1MiB", 1024**2),
        ("2 mb", 2_000_000),
        ("100B", 100),
        ("65536", 65536),
        ("1.5GiB", int(1.5 * 1024**3)),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert ok(f"service:\n  client_max_size: {text}\nroutes: {{}}\n").settings.client_max_size == size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("10s", 10.0), ("2m", 120.0), ("1h", 3600.0), ("1.5", 1.5), ("3", 3.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert ok(f"service:\n  shutdown_timeout: {text}\nroutes: {{}}\n").settings.shutdown_timeout == seconds


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Limits)])
def test_every_limit_is_a_service_key_that_defaults_to_the_limit_itself(name: str) -> None:
    """routes.yaml can set each per-connection limit; left out, it is what ``Limits()`` has."""
    assert name in ServiceSettings.model_fields
    assert getattr(ok("routes: {}\n").settings, name) == getattr(Limits(), name)


def test_limit_sizes_take_units() -> None:
    text = "service:\n  max_target_size: 1KiB\n  max_header_size: 16KB\nroutes: {}\n"
    settings = ok(text).settings
    assert (settings.max_target_size, settings.max_header_size) == (1024, 16_000)


def test_same_path_different_methods_and_static_beside_dynamic_are_fine() -> None:
    text = "routes:\n  GET /u/{id}: h.a\n  POST /u/{id}: h.b\n  GET /u/me: h.c\n  GET /u/{id:int}/x: h.d\n"
    spec = ok(text)
    assert [(r.method, r.path) for r in spec.routes] == [
        ("GET", "/u/{id}"),
        ("POST", "/u/{id}"),
        ("GET", "/u/me"),
        ("GET", "/u/{id:int}/x"),
    ]


def test_repo_example_routes_file_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    spec = load(root / "routes.yaml", env={})
    assert spec.settings.name == "example"
    assert spec.settings.port == 8080
    assert spec.settings.host == "0.0.0.0"
    assert len(spec.routes) == 9
    assert [m.dotted for m in spec.middlewares] == ["handlers.middleware.timing"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "service:\n  healthz: nope\nroutes:\n  GET /a: h.a\n",
            ["routes.yaml:2:12: service.healthz: path must start with '/': 'nope'"],
            id="not-a-path",
        ),
        pytest.param(
            "routes:\n  GET /a:\n    handler: h.a\n    name: healthz\n",
            ["routes.yaml:1:1: service.healthz: route name 'healthz' already used by GET /a"
             " (declared at routes.yaml:2:3)"],
            id="name-taken",
        ),
    ],
)  # fmt: skip
def test_the_health_route_is_checked_with_the_table(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, "routes.yaml", env={})
    assert [str(issue) for issue in info.value.issues] == expected


def test_a_route_of_the_file_may_take_the_health_path() -> None:
    spec = load_text("routes:\n  GET /healthz: h.mine\n", "routes.yaml", env={})
    assert [(r.method, r.path, r.handler) for r in spec.routes] == [("GET", "/healthz", "h.mine")]
