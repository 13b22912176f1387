"""OpenTelemetry server spans (the ``otel`` extra): one per request when tracing is on,
nothing at all when it is off, and ``import service`` never imports opentelemetry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from service import Application, Request, Response, Server, load_app
from service.ops.tracing import install_tracing

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every request; never a timing assertion
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def get_user(request: Request) -> Response:
    return Response(text=f"user {request.match_info['id']}")


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


async def test_a_server_span_per_request(make_server: MakeServer) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = Application()
    app.router.add_get("/users/{id:int}", get_user)
    app.router.add_get("/broken", broken)
    install_tracing(app, tracer_provider=provider)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
        await client.get("/users/42", headers={"traceparent": PARENT})
        await client.get("/nowhere")
        await client.get("/broken")
    user, miss, failed = exporter.get_finished_spans()
    assert (user.name, user.kind) == ("GET /users/{id:int}", SpanKind.SERVER)
    assert dict(user.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/users/42",
        "http.route": "/users/{id:int}",
        "http.response.status_code": 200,
    }
    assert format(user.context.trace_id, "032x") == TRACE_ID  # the caller's trace, continued
    assert user.parent is not None and format(user.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert (miss.name, (miss.attributes or {}).get("http.route")) == ("GET", None)  # a miss: no template
    assert (miss.attributes or {})["http.response.status_code"] == 404
    assert failed.status.status_code is StatusCode.ERROR


def test_off_by_default_on_from_routes_yaml(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text("routes: {}\n")
    assert "handle" not in vars(load_app(tmp_path / "routes.yaml"))  # off: no step at all
    (tmp_path / "routes.yaml").write_text("service:\n  tracing: true\nroutes: {}\n")
    assert "handle" in vars(load_app(tmp_path / "routes.yaml"))


def test_import_service_never_imports_opentelemetry() -> None:
    code = "import sys, service, service.web; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
