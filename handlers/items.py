"""An in-memory CRUD resource: 201 + Location, 200, 204, 404, 409; bodies and the
list's query are validated before these handlers run (routes.yaml: body:, query:)."""

from pydantic import BaseModel, Field, RootModel

from service import web


class Item(BaseModel):
    """What a client sends to create or replace an item."""

    name: str = Field(min_length=1, max_length=100)
    price: float = Field(ge=0)


class StoredItem(Item):
    """An item as the service answers it."""

    id: int


class ItemList(RootModel[list[StoredItem]]):
    """Items, in the order they were created."""


class ListQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)  # at most this many items


def _store(request: web.Request) -> dict[int, dict[str, object]]:
    store: dict[int, dict[str, object]] = request.app["items"]  # made by handlers.db.connect at startup
    return store


def _find(request: web.Request) -> dict[str, object]:
    item = _store(request).get(request.match_info["id"])
    if item is None:
        raise web.HTTPNotFound(text=f"no item {request.match_info['id']}")
    return item


async def list_items(request: web.Request) -> web.Response:
    limit = request.validated(ListQuery).limit
    return web.json_response(list(_store(request).values())[:limit])


async def create_item(request: web.Request) -> web.Response:
    item = request.validated(Item)
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
    current.update(request.validated(Item).model_dump())
    return web.json_response(current)


async def delete_item(request: web.Request) -> web.Response:
    _find(request)
    del _store(request)[request.match_info["id"]]
    return web.Response(status=204)
