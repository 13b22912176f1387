"""Property: whatever text ``load_text`` is given, it returns a Spec or raises ConfigError.

Nothing else may escape -- no ValueError, KeyError or RecursionError from PyYAML
or pydantic -- because the CLI turns ConfigError, and only ConfigError, into
readable messages and exit code 2. Four kinds of input: arbitrary text;
arbitrary YAML structures (biased towards the schema's own keys) rendered with
``yaml.safe_dump``; "YAML-ish" text glued from YAML tokens; and lines of
``key: &anchor !!tag value``. The ``@example`` rows are inputs once found to
escape as something other than ConfigError, so they fail on every run.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.config.loader import Spec, load_text
from service.errors import ConfigError

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is a finding, not a flake
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ENV = st.dictionaries(
    st.sampled_from(["PORT", "HOST", "NAME", "H", "X"]),
    st.one_of(
        st.sampled_from(["8080", "0", "-1", "abc", "", "1MiB", "10s", "pkg.mod.fn", "true"]),
        st.text(max_size=8),
    ),
    max_size=3,
)


def check(text: str, env: dict[str, str]) -> None:
    try:
        spec = load_text(text, "routes.yaml", env=env)
    except ConfigError as exc:
        assert exc.issues, "a ConfigError must carry at least one issue"
        for issue in exc.issues:
            assert issue.file == "routes.yaml"
            assert issue.line >= 1 and issue.col >= 1, issue
            assert issue.where and issue.what, issue
        positions = [(i.line, i.col) for i in exc.issues]
        assert positions == sorted(positions), "issues are sorted by position"
    else:
        assert isinstance(spec, Spec)
        for route in spec.routes:
            assert route.path.startswith("/")
            assert route.handler


# -- arbitrary text -------------------------------------------------------------------------------
@SETTINGS
@given(text=st.text(max_size=300), env=ENV)
@example(text="", env={})
@example(text="routes: &a {x: *a}\n", env={})
@example(text="service:\n  port: !!int abc\nroutes: {}\n", env={})
@example(text="routes: " + "[" * 1200, env={})
def test_arbitrary_text(text: str, env: dict[str, str]) -> None:
    check(text, env)


# -- YAML structures, biased towards the schema -------------------------------------------------------
KEYS = st.one_of(
    st.sampled_from(
        [
            "service",
            "routes",
            "middlewares",
            "on_startup",
            "on_shutdown",
            "on_cleanup",
            "name",
            "host",
            "port",
            "client_max_size",
            "shutdown_timeout",
            "keepalive_timeout",
            "header_timeout",
            "max_target_size",
            "max_header_size",
            "max_header_count",
            "body_timeout",
            "send_timeout",
            "linger_timeout",
            "max_connections",
            "access_log",
            "healthz",
            "handler",
            "description",
            "timeout",
            "GET /a",
            "POST /a",
            "GET /u/{id:int}",
            "GET /u/{id}",
            "* /any",
            "GTE /x",
            "GET x",
            "/a",
            "/u/{id}",
            "/u/{x:[0-9}",
            "/b/{",
            "GET",
            "POST",
            "DELETE",
            "get",
            "PSOT",
        ]
    ),
    st.text(max_size=12),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "pkg.mod.fn",
            "pkg.mod:fn",
            "pkg.mod:obj.fn",
            "fn",
            "not a name",
            "1MiB",
            "10s",
            "500ms",
            "${PORT}",
            "${PORT:-8080}",
            "${H:-pkg.mod.fn}",
            "$$",
            "/healthz",
            "0.0.0.0",
        ]
    ),
    st.text(max_size=20),
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=5),
    ),
    max_leaves=25,
)


def top_level() -> st.SearchStrategy[Any]:
    """Mostly a mapping with a 'routes' key, sometimes anything at all."""
    routes = st.dictionaries(KEYS, STRUCTURES, max_size=6)
    mapping = st.fixed_dictionaries(
        {"routes": st.one_of(routes, STRUCTURES)},
        optional={
            "service": st.one_of(st.dictionaries(KEYS, SCALARS, max_size=6), STRUCTURES),
            "middlewares": st.one_of(st.lists(SCALARS, max_size=3), STRUCTURES),
            "on_startup": st.lists(SCALARS, max_size=3),
        },
    )
    return st.one_of(mapping, st.dictionaries(KEYS, STRUCTURES, max_size=6), STRUCTURES)


@SETTINGS
@given(data=top_level(), env=ENV)
@example(data={"routes": {"GET /a": "pkg.m.f", "/a": {"GET": {"handler": "pkg.m.f", "name": "n"}}}}, env={})
def test_yaml_structures(data: Any, env: dict[str, str]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    check(text, env)


# -- YAML-ish token soup -------------------------------------------------------------------------------------
TOKENS = st.sampled_from(
    [
        "routes:",
        "service:",
        "middlewares:",
        "handler:",
        "port:",
        "name:",
        "timeout:",
        "GET /a:",
        "/a:",
        "POST:",
        "GET /u/{id:int}:",
        "'* /x':",
        " ",
        "  ",
        "\n",
        "\n  ",
        "\n    ",
        "\t",
        "- ",
        ": ",
        ":",
        ",",
        "?",
        "#",
        "{",
        "}",
        "[",
        "]",
        "'",
        '"',
        "|",
        ">",
        "---",
        "...",
        "%YAML 1.1",
        "\\",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "<<: *a",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!str ",
        "!!timestamp ",
        "!!binary ",
        "!!null ",
        "!!map ",
        "!!seq ",
        "!!set ",
        "!!omap ",
        "!!python/name:os.system ",
        "!custom ",
        "${PORT}",
        "${PORT:-80}",
        "${X:-}",
        "$$",
        "$",
        "pkg.mod.fn",
        "abc",
        "1",
        "-1",
        "0x1F",
        "1e400",
        "~",
        "null",
        "true",
        "maybe",
        "2001-12-14",
        "nope",
        "1MiB",
        "10s",
        "\u00e9",
        "\x00",
        "\ufeff",
    ]
)


@SETTINGS
@given(tokens=st.lists(TOKENS, max_size=40), env=ENV)
def test_yamlish_token_soup(tokens: list[str], env: dict[str, str]) -> None:
    check("".join(tokens), env)


# -- YAML-ish lines: "key: &anchor !!tag value", indented, sometimes in a list -------------------------------
LINE_KEYS = st.sampled_from(
    [
        "routes",
        "service",
        "middlewares",
        "port",
        "name",
        "host",
        "handler",
        "timeout",
        "access_log",
        "client_max_size",
        "GET /a",
        "/a",
        "POST",
        "'* /x'",
        "GET /u/{id:int}",
        "x",
    ]
)
TAGS = st.sampled_from(
    [
        "",
        "",
        "",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!str ",
        "!!timestamp ",
        "!!binary ",
        "!!null ",
        "!!map ",
        "!!seq ",
        "!!set ",
        "!custom ",
        "!!python/name:os.system ",
    ]
)
ANCHORS = st.sampled_from(["", "", "", "&a ", "&b "])
VALUES = st.sampled_from(
    [
        "",
        "abc",
        "1",
        "-1",
        "maybe",
        "nope",
        "2001-12-14",
        "pkg.mod.fn",
        "${PORT}",
        "${PORT:-80}",
        "*a",
        "*b",
        "[*a]",
        "{x: *a}",
        "[]",
        "{}",
        "'q'",
        "1MiB",
        "10s",
        "~",
        "%%%",
    ]
)
LINES = st.tuples(st.sampled_from([0, 2, 4]), st.booleans(), LINE_KEYS, ANCHORS, TAGS, VALUES).map(
    lambda t: " " * t[0] + ("- " if t[1] else "") + f"{t[2]}: {t[3]}{t[4]}{t[5]}".rstrip()
)


@SETTINGS
@given(lines=st.lists(LINES, min_size=1, max_size=8), env=ENV)
@example(lines=["service:", "  port: !!int abc", "routes: {}"], env={})
@example(lines=["service:", "  port: !!float abc", "routes: {}"], env={})
@example(lines=["service:", "  access_log: !!bool maybe", "routes: {}"], env={})
@example(lines=["service:", "  name: !!timestamp nope", "routes: {}"], env={})
@example(lines=["routes: !!float"], env={})
@example(lines=["middlewares: &a [*a]", "routes: {}"], env={})
def test_yamlish_lines(lines: list[str], env: dict[str, str]) -> None:
    check("\n".join(lines) + "\n", env)
