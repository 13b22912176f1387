"""The pytest plugin of ``service`` (registered by the ``pytest11`` entry point).

It gives one fixture, ``service_client``: an ``httpx.AsyncClient`` bound to the
service of a routes file, started in-process by ``service.testing.TestClient``
for the test and stopped after it.

    async def test_hello(service_client):
        response = await service_client.get("/hello")
        assert response.text == "Hello, world!"

Which routes file: the ``service`` marker's ``routes=``, else the ini option
``service_routes``, else ``routes.yaml`` in pytest's root directory; a relative
path is taken from that root directory. The marker also takes ``handlers=`` and
``settings=`` for one test (see ``TestClient``):

    @pytest.mark.service(handlers={"handlers.users.get_user": fake_user})
    async def test_with_a_fake(service_client): ...

The fixture is async: it needs pytest-asyncio (in the ``test`` extra), in its
``auto`` mode or with the test marked ``asyncio``. Without httpx or pytest-asyncio
installed the plugin adds nothing, so installing ``service`` never breaks a
project's pytest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["service_client"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("service_routes", "the routes file of the service_client fixture", default="routes.yaml")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "service(routes=None, handlers=None, settings=None): the routes file and overrides of service_client",
    )


def _options(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    marker = request.node.get_closest_marker("service")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    routes = kwargs.pop("routes", None) or request.config.getini("service_routes")
    path = Path(routes)
    if not path.is_absolute():
        path = Path(request.config.rootpath) / path
    return path, kwargs


try:
    import httpx
    import pytest_asyncio
except ImportError:  # pragma: no cover - the test extra brings both
    pass
else:

    @pytest_asyncio.fixture
    async def service_client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
        """An ``httpx.AsyncClient`` bound to the service of the routes file, in-process."""
        from .testing import TestClient

        path, overrides = _options(request)
        async with TestClient(path, **overrides) as client:
            yield client
