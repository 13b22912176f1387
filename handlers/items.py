"""An in-memory CRUD resource: 201 + Location, 200, 204, 404, 409, 422."""

from pydantic import BaseModel, Field, ValidationError

from service import web


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(ge=0)


def _store(request: web.Request) -> dict[int, dict[str, object]]:
    return request.app["items"]  # created by handlers.db.connect at startup


async def _item_from_body(request: web.Request) -> Item:
    try:
        return Item.model_validate(await request.json())  # not JSON: json() answers 400
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "error": e["msg"]} for e in exc.errors()]
        raise web.HTTPUnprocessableEntity(
            text=web.json_response({"errors": errors}).text, content_type="application/json"
        ) from None


def _find(request: web.Request) -> dict[str, object]:
    item = _store(request).get(request.match_info["id"])
    if item is None:
        raise web.HTTPNotFound(text=f"no item {request.match_info['id']}")
    return item


async def list_items(request: web.Request) -> web.Response:
    return web.json_response(list(_store(request).values()))


async def create_item(request: web.Request) -> web.Response:
    item = await _item_from_body(request)
    store = _store(request)
    if any(existing["name"] == item.name for existing in store.values()):
        raise web.HTTPConflict(text=f"an item named {item.name!r} exists")
    item_id = max(store, default=0) + 1
    store[item_id] = {"id": item_id, **item.model_dump()}
    location = request.app.router.url_for("item", id=item_id)
    return web.json_response(store[item_id], status=201, headers={"Location": location})


async def get_item(request: web.Request) -> web.Response:
    return web.json_response(_find(request))


async def replace_item(request: web.Request) -> web.Response:
    current = _find(request)
    item = await _item_from_body(request)
    current.update(item.model_dump())
    return web.json_response(current)


async def delete_item(request: web.Request) -> web.Response:
    _find(request)
    del _store(request)[request.match_info["id"]]
    return web.Response(status=204)
