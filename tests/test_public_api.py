"""The public API the core issue names: in ``service`` and, the same objects, in ``service.web``."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import service
from service import web

NAMED = [
    "Application", "RouteTableDef", "RouteDef", "Request", "Response", "StreamResponse", "json_response",
    "run_app", "middleware", "HTTPException", "HTTPBadRequest", "HTTPForbidden", "HTTPNotFound",
    "HTTPMethodNotAllowed", "HTTPConflict", "HTTPRequestEntityTooLarge", "HTTPUnsupportedMediaType",
    "HTTPUnprocessableEntity", "HTTPInternalServerError", "HTTPServiceUnavailable",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMED)
def test_named_in_both_namespaces(name: str) -> None:
    assert name in service.__all__
    assert getattr(web, name) is getattr(service, name)


def test_the_namespaces_export_the_same_names() -> None:
    # ...and service alone has load_app: the web layer knows nothing of routes.yaml.
    assert sorted(web.__all__) == sorted(set(service.__all__) - {"load_app"})
    assert all(hasattr(service, name) for name in service.__all__)


def test_the_version_is_written_once() -> None:
    import tomllib

    from serving import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == service.__version__


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (web.HTTPBadRequest, 400), (web.HTTPForbidden, 403), (web.HTTPNotFound, 404), (web.HTTPConflict, 409),
        (web.HTTPUnsupportedMediaType, 415), (web.HTTPUnprocessableEntity, 422),
        (web.HTTPInternalServerError, 500), (web.HTTPServiceUnavailable, 503),
    ],
)  # fmt: skip
def test_http_exception_statuses(cls: type[web.HTTPException], status: int) -> None:
    assert cls().status == status
    assert isinstance(cls(), web.HTTPException)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(web.Limits)])
def test_every_limit_is_a_run_app_keyword_with_the_same_default(field: str) -> None:
    """run_app takes every setting as an explicit keyword; none may drift from Limits."""
    parameter = inspect.signature(web.run_app).parameters[field]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default == getattr(web.Limits(), field)
