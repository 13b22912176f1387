"""OpenTelemetry server spans around each request (the ``otel`` extra), only when enabled.

``install_tracing(app)`` -- or ``service: tracing: true`` in routes.yaml -- wraps the
application's dispatch (``Application.handle``) in one step that opens a server
span per request, following the HTTP semantic conventions: named ``METHOD
/route/{template}``, with ``http.request.method``, ``http.route`` (the template,
never the raw path), ``url.path``, ``http.response.status_code``, and an error
status for a 5xx. The parent comes from the request's ``traceparent`` (W3C trace
context, through OpenTelemetry's configured propagator). Spans go to whatever
``TracerProvider`` the program configured (or the one given).

``import service`` never imports opentelemetry: this module does, and only an
application that turns tracing on imports it. An application that does not has
no step at all on its request path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..web.app import Application
    from ..web.request import Request
    from ..web.streamresponse import StreamResponse

__all__ = ["TracingStep", "install_tracing"]

Handle = Callable[["Request"], Awaitable["StreamResponse"]]


def install_tracing(app: Application, tracer_provider: Any = None) -> None:
    """Open a server span around every request ``app`` answers (needs the ``otel`` extra)."""
    try:
        from opentelemetry import trace
    except ImportError:
        raise RuntimeError(
            "tracing needs OpenTelemetry: install the otel extra (pip install 'service[otel]')"
        ) from None
    tracer = trace.get_tracer("service", tracer_provider=tracer_provider)
    app.handle = TracingStep(app.handle, tracer)  # type: ignore[method-assign]


class TracingStep:
    """``Application.handle`` inside a server span."""

    __slots__ = ("_handle", "_tracer", "_kind", "_extract", "_error")

    def __init__(self, handle: Handle, tracer: Any) -> None:
        from opentelemetry import propagate, trace
        from opentelemetry.trace import Status, StatusCode

        self._handle = handle
        self._tracer = tracer
        self._kind = trace.SpanKind.SERVER
        self._extract = propagate.extract
        self._error = Status(StatusCode.ERROR)

    async def __call__(self, request: Request) -> StreamResponse:
        carrier: dict[str, str] = {}
        for name in ("traceparent", "tracestate"):  # W3C trace context: what the propagator reads
            values = request.fields(name)
            if values:
                carrier[name] = values[0]
        attributes = {"http.request.method": request.method, "url.path": request.path}
        with self._tracer.start_as_current_span(
            request.method, context=self._extract(carrier), kind=self._kind, attributes=attributes
        ) as span:
            response = await self._handle(request)
            route = request.route
            if route is not None:  # (a miss has no route: the span keeps the method alone)
                span.set_attribute("http.route", route.path)
                span.update_name(f"{request.method} {route.path}")
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(self._error)
            return response
