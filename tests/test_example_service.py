"""The example service's own tests: its handlers through ``service_client``.

This is how a project tests its handlers (README, "Testing your handlers"): the
``service_client`` fixture of service's pytest plugin starts the service of
``routes.yaml`` -- here the example's, at the repository's root -- in-process for
each test, real server and all, and gives an httpx client bound to it.
"""

from __future__ import annotations

import httpx
import pytest

from service import Request, Response, json_response


async def test_hello(service_client: httpx.AsyncClient) -> None:
    response = await service_client.get("/hello")
    assert (response.status_code, response.text) == (200, "Hello, world!")


async def test_a_typed_path_parameter(service_client: httpx.AsyncClient) -> None:
    assert (await service_client.get("/users/42")).json() == {"id": 42, "name": "user-42"}
    assert (await service_client.get("/users/abc")).status_code == 404


async def test_items_are_created_and_listed(service_client: httpx.AsyncClient) -> None:
    created = await service_client.post("/items", json={"name": "pen", "price": 1.5})
    assert created.status_code == 201, created.text
    listing = (await service_client.get("/items")).json()
    assert [item["name"] for item in listing] == ["pen"]


async def test_a_body_that_breaks_the_model_is_422(service_client: httpx.AsyncClient) -> None:
    response = await service_client.post("/echo", json={"repeat": "x"})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"


async def fake_user(request: Request) -> Response:
    return json_response({"id": request.match_info["id"], "name": "stand-in"})


@pytest.mark.service(handlers={"handlers.users.get_user": fake_user})
async def test_a_handler_replaced_for_one_test(service_client: httpx.AsyncClient) -> None:
    assert (await service_client.get("/users/7")).json() == {"id": 7, "name": "stand-in"}


@pytest.mark.service(settings={"client_max_size": "16B"})
async def test_a_setting_replaced_for_one_test(service_client: httpx.AsyncClient) -> None:
    response = await service_client.post("/echo", json={"text": "far more than sixteen bytes"})
    assert response.status_code == 413
