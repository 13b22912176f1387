"""routes.yaml as a new user first types it: each message says what to write instead.

Every row is a routes.yaml text and the exact
``FILE:LINE:COL: where: what`` lines ``python -m service check`` prints for it:
the line is the one the mistake is on, and the *what* names the expected shape,
the shape found, and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.config.loader import load, load_text
from service.errors import ConfigError

FILE = "routes.yaml"
GRAMMAR = (
    'expected routes as "GET /path: module.function" lines (or the long form "/path: {GET: module.function}")'
)


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, FILE, env={})
    return [str(issue) for issue in info.value.issues]


# -- routes: that is not a mapping of routes -------------------------------------------------------
ROUTES_SHAPE_ROWS = [
    pytest.param(
        "routes:\n  GET /hello handlers.hello.hello\n",
        [
            f"routes.yaml:2:3: routes: {GRAMMAR}, found the text 'GET /hello handlers.hello.hello':"
            " write 'GET /hello: handlers.hello.hello'"
        ],
        id="route-line-without-colon",
    ),
    pytest.param(
        "routes: GET /hello handlers.hello.hello\n",
        [
            f"routes.yaml:1:9: routes: {GRAMMAR}, found the text 'GET /hello handlers.hello.hello':"
            " write '  GET /hello: handlers.hello.hello' on a line of its own under 'routes:'"
        ],
        id="route-without-colon-on-the-routes-line",
    ),
    pytest.param(
        "routes:\n  GET /a h.a\n  GET /b h.b\n",
        [
            f"routes.yaml:2:3: routes: {GRAMMAR}, found the text 'GET /a h.a GET /b h.b':"
            " put ': ' between each route's path and its handler"
        ],
        id="several-route-lines-without-colon",
    ),
    pytest.param(
        "routes:\n  - GET /hello: handlers.hello.hello\n  - GET /bye: handlers.hello.bye\n",
        [f"routes.yaml:2:3: routes: {GRAMMAR}, found a list: remove the '- ' before each route"],
        id="routes-as-a-list",
    ),
    pytest.param(
        "routes:\n",
        [
            f"routes.yaml:1:1: routes: {GRAMMAR}, found nothing: write the routes under 'routes:',"
            " indented (or 'routes: {}' for none)"
        ],
        id="routes-empty",
    ),
    pytest.param(
        "routes: 8080\n",
        [f"routes.yaml:1:9: routes: {GRAMMAR}, found the number 8080"],
        id="routes-a-number",
    ),
    pytest.param(
        "routes:\nGET /hello: handlers.hello.hello\n",
        [
            f"routes.yaml:1:1: routes: {GRAMMAR}, found nothing: write the routes under 'routes:',"
            " indented (or 'routes: {}' for none)",
            "routes.yaml:2:1: ['GET /hello']: unknown key 'GET /hello' (a route: indent it under 'routes:')",
        ],
        id="route-not-indented-under-routes",
    ),
    pytest.param(
        "routes: {GET /a h.a}\n",
        [
            "routes.yaml:1:10: routes['GET /a h.a']: no ': ' between the path and the handler:"
            " write 'GET /a: h.a'"
        ],
        id="flow-route-without-colon",
    ),
    pytest.param(
        "routes:\n  /hello: GET handlers.hello.hello\n",
        [
            "routes.yaml:2:11: routes['/hello']: expected methods under the path, e.g."
            ' "/hello: {GET: module.function}" (or a class-based view: "/hello: module.SomeView"),'
            " found the text 'GET handlers.hello.hello':"
            " write '/hello: {GET: handlers.hello.hello}'"
        ],
        id="path-form-with-text",
    ),
    pytest.param(
        "routes:\n  /hello:\n    - GET: handlers.hello.hello\n",
        [
            "routes.yaml:3:5: routes['/hello']: expected methods under the path, e.g."
            ' "/hello: {GET: module.function}" (or a class-based view: "/hello: module.SomeView"),'
            " found a list: remove the '- '"
        ],
        id="path-form-with-list",
    ),
    pytest.param(
        "routes:\n  GET /a: [h.a, h.b]\n",
        [
            "routes.yaml:2:11: routes['GET /a']: expected a handler's dotted name (GET /a: module.function)"
            " or a mapping with 'handler:', found a list"
        ],
        id="route-target-a-list",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ROUTES_SHAPE_ROWS)
def test_routes_of_the_wrong_shape(text: str, expected: list[str]) -> None:
    assert issues_of(text) == expected


# -- YAML the parser refuses: plain words, at the line with the mistake -------------------------------
YAML_ROWS = [
    pytest.param(
        "routes:\n  GET /hello: handlers.hello.hello\n  GET /bye handlers.hello.bye\n",
        [
            "routes.yaml:3:3: (yaml): no ': ' after the key in 'GET /bye handlers.hello.bye':"
            " a route is \"GET /path: module.function\", so write 'GET /bye: handlers.hello.bye'"
        ],
        id="missing-colon-last-line",
    ),
    pytest.param(
        "routes:\n  GET /a: h.a\n  GET /b h.b\n  GET /c: h.c\n",
        [
            "routes.yaml:3:3: (yaml): no ': ' after the key in 'GET /b h.b':"
            " a route is \"GET /path: module.function\", so write 'GET /b: h.b'"
        ],
        id="missing-colon-middle-line",
    ),
    pytest.param(
        "routes:\n  GET /a: h.a\n  GET /u/{id:int}:h.u\n",
        [
            "routes.yaml:3:3: (yaml): no ': ' after the key in 'GET /u/{id:int}:h.u':"
            " a route is \"GET /path: module.function\", so write 'GET /u/{id:int}: h.u'"
        ],
        id="colon-without-space",
    ),
    pytest.param(
        "service:\n  name demo\n  port: 8080\nroutes: {}\n",
        [
            "routes.yaml:2:3: (yaml): no ': ' after the key in 'name demo':"
            " each line of a mapping is 'key: value'"
        ],
        id="missing-colon-not-a-route",
    ),
    pytest.param(
        "routes:\n  GET /a: h.a\n    GET /b: h.b\n",
        [
            "routes.yaml:3:5: (yaml): this line is indented more than line 2 ('GET /a: h.a'), whose key"
            " already has its value, so nothing can nest under it: indent it by 2 spaces, like line 2"
        ],
        id="indented-too-far",
    ),
    pytest.param(
        "routes:\n  GET /a:\n    handler: h.a\n      name: a\n",
        [
            "routes.yaml:4:7: (yaml): this line is indented more than line 3 ('handler: h.a'), whose key"
            " already has its value, so nothing can nest under it: indent it by 4 spaces, like line 3"
        ],
        id="indented-too-far-long-form",
    ),
    pytest.param(
        "routes:\n  GET /hello: h.x: y\n",
        [
            "routes.yaml:2:18: (yaml): a second ': ' on one line: a key or value that contains ': ' must be"
            ' quoted, e.g. key: "a: b"'
        ],
        id="second-colon-on-a-line",
    ),
    pytest.param(
        "routes:\n  GET /u/{id: int}: h.u\n",
        [
            "routes.yaml:2:13: (yaml): ': ' inside a '{...}' placeholder ends the key there: write the"
            " placeholder without the space, e.g. {id:int}"
        ],
        id="space-inside-placeholder",
    ),
    pytest.param(
        "routes:\n  GET /a: h.a\n GET /b: h.b\n",
        [
            "routes.yaml:3:2: (yaml): this line is indented by 1 space, which lines up with no key above it"
            " (line 2 is indented by 2): the keys of one mapping start in the same column"
        ],
        id="indented-too-little",
    ),
    pytest.param(
        "routes:\n  GET /a: h.a\n  - x\n",
        [
            "routes.yaml:3:3: (yaml): a '- ' list item among 'key: value' lines (the mapping begins at"
            " line 2): write it as 'key: value', without '- '"
        ],
        id="list-item-among-keys",
    ),
    pytest.param(
        "routes:\n  - GET /a: h.a\n  GET /b: h.b\n",
        [
            "routes.yaml:3:3: (yaml): a 'key: value' line among '- ' list items (the list begins at line 2):"
            " start every line with '- ', or none of them"
        ],
        id="key-among-list-items",
    ),
    pytest.param(
        "routes:\n\tGET /a: h.a\n",
        [
            "routes.yaml:2:1: (yaml): a tab character: YAML indents with spaces only;"
            " replace the tab with spaces"
        ],
        id="tab",
    ),
    pytest.param(
        'routes:\n  GET /a: "h.a\n  GET /b: h.b\n',
        ["routes.yaml:2:11: (yaml): the quote '\"' opened here is never closed: add the closing '\"'"],
        id="unclosed-double-quote",
    ),
    pytest.param(
        "routes:\n  GET /a: 'h.a\n",
        ['routes.yaml:2:11: (yaml): the quote "\'" opened here is never closed: add the closing "\'"'],
        id="unclosed-single-quote",
    ),
    pytest.param(
        "routes:\n  GET /a: [h.a\n  GET /b: h.b\n",
        ["routes.yaml:2:11: (yaml): the '[' opened here is never closed: add the closing ']'"],
        id="unclosed-bracket",
    ),
    pytest.param(
        "routes: {GET /a: h.a\n",
        ["routes.yaml:1:9: (yaml): the '{' opened here is never closed: add the closing '}'"],
        id="unclosed-brace",
    ),
    pytest.param(
        "routes:\n  * /any: h.a\n",
        [
            "routes.yaml:2:3: (yaml): '* /any' starts with '*', which YAML reads as an alias:"
            ' put it in quotes, "* /any"'
        ],
        id="star-route-unquoted",
    ),
    pytest.param(
        "routes:\n  GET /a: *h\n",
        [
            "routes.yaml:2:11: (yaml): '*h' reads as a YAML alias, but no anchor '&h' is defined:"
            " put the text in quotes if it is meant as text"
        ],
        id="undefined-alias",
    ),
    pytest.param(
        "routes:\n  GET /a: @h.a\n",
        ["routes.yaml:2:11: (yaml): a key or value cannot start with '@' in YAML: put it in quotes"],
        id="reserved-character",
    ),
    pytest.param(
        'routes:\n  "GET /u/{id:\\d+}": h.a\n',
        [
            "routes.yaml:2:15: (yaml): '\\d' is not a YAML escape (in double quotes a backslash starts one):"
            " use single quotes for text with backslashes, such as a regex"
        ],
        id="backslash-in-double-quotes",
    ),
    pytest.param(
        "routes: {}\n---\nroutes: {}\n",
        [
            "routes.yaml:2:1: (yaml): a second YAML document starts here ('---'): a routes file is one"
            " document; remove the '---' and merge what follows into the first"
        ],
        id="two-documents",
    ),
    pytest.param(
        'routes:\n  GET /a: "h.a" x\n',
        [
            "routes.yaml:2:17: (yaml): text after a closing quote: put all of the key or value inside"
            " the quotes"
        ],
        id="text-after-quote",
    ),
]


def syntax_errors(lines: list[str]) -> list[str]:
    """The rows leave out the words every YAML syntax error starts with."""
    return [line.replace(": (yaml): ", ": (yaml): YAML syntax error: ", 1) for line in lines]


@pytest.mark.parametrize(("text", "expected"), YAML_ROWS)
def test_yaml_mistakes(text: str, expected: list[str]) -> None:
    assert issues_of(text) == syntax_errors(expected)


def test_yaml_message_lines_count_crlf_and_cr_line_breaks_as_pyyaml_does() -> None:
    text = "routes:\r\n  GET /a: h.a\r  GET /b h.b\r\n"
    assert issues_of(text) == syntax_errors(
        [
            "routes.yaml:3:3: (yaml): no ': ' after the key in 'GET /b h.b':"
            " a route is \"GET /path: module.function\", so write 'GET /b: h.b'"
        ]
    )


# -- unknown keys: a suggestion only when it is likely, the valid keys otherwise ----------------------------
SERVICE_KEYS = (
    "name, host, port, client_max_size, trusted_proxies, proxy_headers, max_target_size, max_header_size,"
    " max_header_count,"
    " shutdown_timeout, keepalive_timeout, header_timeout, body_timeout, send_timeout, linger_timeout,"
    " handler_timeout, policies, max_connections, access_log, access_log_format, request_ids, metrics,"
    " tracing,"
    " drain_delay, livez, healthz, readyz, openapi, version"
)

UNKNOWN_KEY_ROWS = [
    pytest.param(
        "timeout: 5s",
        "routes.yaml:2:3: service.timeout: unknown key 'timeout' (did you mean one of shutdown_timeout,"
        " keepalive_timeout, header_timeout, body_timeout, send_timeout, linger_timeout, handler_timeout?)",
        id="word-of-several-keys",
    ),
    pytest.param(
        "keepalive: 5s",
        "routes.yaml:2:3: service.keepalive: unknown key 'keepalive' (did you mean 'keepalive_timeout'?)",
        id="word-of-one-key",
    ),
    pytest.param(
        "healthcheck: /hc",
        "routes.yaml:2:3: service.healthcheck: unknown key 'healthcheck'"
        f" (did you mean 'healthz'? known keys: {SERVICE_KEYS})",
        id="far-fetched-suggestion-lists-the-keys",
    ),
    pytest.param(
        "prot: 80",
        "routes.yaml:2:3: service.prot: unknown key 'prot' (did you mean 'port'?)",
        id="typo",
    ),
    pytest.param(
        "colour: blue",
        f"routes.yaml:2:3: service.colour: unknown key 'colour' (known keys: {SERVICE_KEYS})",
        id="no-suggestion",
    ),
]


@pytest.mark.parametrize(("line", "expected"), UNKNOWN_KEY_ROWS)
def test_unknown_service_keys(line: str, expected: str) -> None:
    assert issues_of(f"service:\n  {line}\nroutes: {{}}\n") == [expected]


# -- a missing file: where it was looked for --------------------------------------------------------------
def test_missing_file_names_the_directory_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load("routes.yaml", env={})
    assert [str(i) for i in info.value.issues] == [
        f"routes.yaml:1:1: (file): file not found: there is no routes.yaml in {os.getcwd()}"
    ]


def test_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "routes.yaml"
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{path}:1:1: (file): file not found: there is no directory {tmp_path / 'conf'}"
    ]
