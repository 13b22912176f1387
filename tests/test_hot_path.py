"""The per-request path stays free of logging calls and metrics libraries (issue 17).

Metrics are plain counters (ops/metrics.py) and the access log formats its own line
(ops/accesslog.py): a ``logging`` record or a metrics library's call per request
would cost more than either. This reads the code that runs for every request and
fails on a logging call there, unless it is where an error is handled (an
``except`` block, or a branch listed below with its reason).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "service"

# (module, function) run for every request, or every answered one.
HOT = [
    ("http/protocol.py", "data_received"),
    ("http/protocol.py", "_start"),
    ("http/protocol.py", "_answer"),
    ("http/protocol.py", "_write_whole"),
    ("http/protocol.py", "_keep_alive"),
    ("http/reader.py", "feed"),
    ("http/reader.py", "on_url"),
    ("http/reader.py", "on_header"),
    ("http/reader.py", "on_headers_complete"),
    ("http/reader.py", "on_message_complete"),
    ("http/sender.py", "defer"),
    ("http/sender.py", "flush"),
    ("web/app.py", "handle"),
    ("web/router.py", "resolve"),
    ("web/response.py", "_render"),
    ("ops/metrics.py", "observe"),
    ("ops/accesslog.py", "observe"),
    ("ops/accesslog.py", "write"),
    ("ops/accesslog.py", "_json_line"),
    ("ops/accesslog.py", "_logfmt_line"),
    ("web/request.py", "log_fields"),
    ("web/request.py", "request_id"),
    ("web/requestid.py", "settle"),
    ("web/requestid.py", "new_id"),
    ("web/requestid.py", "id_line"),
    ("http/server.py", "both"),
]
# Logging calls on the hot functions' lines that only an error reaches, and why.
ALLOWED = {
    ("web/app.py", "handle", "error"): "a handler returned something that is not a response (a 500)",
}
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
METRICS_LIBRARIES = ("prometheus_client", "opentelemetry", "statsd", "datadog")


def functions(tree: ast.Module, name: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    ]


def logging_calls(function: ast.AST) -> list[tuple[int, str]]:
    """Calls like ``log.info(...)``/``logging.warning(...)`` outside ``except`` blocks."""
    handled: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.ExceptHandler):
            handled.update(id(inner) for inner in ast.walk(node))
    found = []
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and id(node) not in handled
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id == "logging" or node.func.value.id.endswith(("log", "logger")))
        ):
            found.append((node.lineno, node.func.attr))
    return found


@pytest.mark.parametrize(("module", "name"), HOT, ids=[f"{m}:{n}" for m, n in HOT])
def test_no_logging_call_on_the_per_request_path(module: str, name: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    found = functions(tree, name)
    assert found, f"{module} has no function {name}: update HOT"
    calls = [
        (line, method)
        for function in found
        for line, method in logging_calls(function)
        if (module, name, method) not in ALLOWED
    ]
    assert calls == []


def test_the_scan_sees_a_logging_call() -> None:
    tree = ast.parse(
        "def f():\n    log.info('x')\n    try:\n        pass\n    except E:\n        log.error('y')\n"
        "    logging.warning('z')\n"
    )
    assert logging_calls(tree.body[0]) == [(2, "info"), (7, "warning")]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_metrics_library_at_import(path: Path) -> None:
    """Only tracing (an optional extra, imported when enabled) may name OpenTelemetry."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top_level if isinstance(n, ast.ImportFrom)]
    if path.name == "tracing.py":
        return
    assert [n for n in names if n.startswith(METRICS_LIBRARIES)] == []
