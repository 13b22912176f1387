"""``service check --stubs``: the handlers routes.yaml names but nobody wrote yet, as 501 stubs.

(The packages have names of their own, ``shop`` and ``shop_api``: this test imports
them in-process too, where the example's ``handlers`` may be imported already.)"""

from __future__ import annotations

from pathlib import Path

from serving import run_service

from service.testing import TestClient

HELLO = 'from service import web\n\n\nasync def hello(request):\n    return web.Response(text="hi")\n'
ROUTES = """\
routes:
  GET /hello: shop.hello.hello
  GET /bye: shop.hello.bye
  GET /users/{id:int}: shop.users.get_user
  POST /orders: shop_api.orders.create
"""


async def test_stubs_are_written_once_and_answer_501(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "hello.py").write_text(HELLO)
    (tmp_path / "routes.yaml").write_text(ROUTES)
    assert run_service(tmp_path, "check").returncode == 2  # three handlers missing

    result = run_service(tmp_path, "check", "--stubs")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "stubs: added bye to shop/hello.py",
        "stubs: created shop/users.py with get_user",
        "stubs: created shop_api/__init__.py",
        "stubs: created shop_api/orders.py with create",
    ]
    assert (tmp_path / "shop" / "hello.py").read_text().startswith(HELLO)  # existing code kept as it was
    again = run_service(tmp_path, "check", "--stubs")
    assert (again.returncode, again.stderr) == (0, "")  # nothing more to write

    async with TestClient(tmp_path / "routes.yaml") as client:
        assert (await client.get("/hello")).text == "hi"
        stub = await client.get("/users/7")
        assert stub.status_code == 501
        assert stub.text == "501: GET /users/{id:int} is not written yet (shop.users.get_user)"
        assert (await client.post("/orders")).status_code == 501
