"""A small aiohttp application -- a notes board with log-in, uploads and an admin area.

Written for aiohttp.web; it runs on service with the one import below changed
(``from aiohttp import web`` -> ``from service import web``). It uses what everyday
aiohttp code does: forms and cookies (log in / log out), redirects, file uploads
(whole, with ``post()``, and streamed, with ``multipart()``), ``FileResponse``,
a class-based view, a sub-application with its own middleware, typed app keys and
a cleanup context.

    python examples/aiohttp_app/app.py            # serves on 127.0.0.1:8080
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from service import web  # the one line that differs from the aiohttp original

NOTES = web.AppKey("notes", dict)
UPLOADS = web.AppKey("uploads", Path)
ADMIN_TOKEN = "let-me-in"  # an example: read it from the environment in real code

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    name = request.cookies.get("name")
    return web.Response(text=f"Hello, {name or 'stranger'}! {len(request.app[NOTES])} notes.")


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name", "")).strip()
    if not name:
        raise web.HTTPBadRequest(text="a name is required")
    response = web.Response(status=303, headers={"Location": "/"})  # see other: GET / after a POST
    response.set_cookie("name", name, httponly=True, samesite="Lax")
    return response


@routes.get("/logout")
async def logout(request: web.Request) -> web.Response:
    response = web.Response(status=302, headers={"Location": "/"})
    response.del_cookie("name")
    return response


@routes.get("/home")
async def old_home(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/")


@routes.post("/upload")
async def upload(request: web.Request) -> web.Response:
    """A form with a file: ``post()`` spools the file; we copy it into the uploads folder."""
    form = await request.post()
    field = form.get("file")
    if not isinstance(field, web.FileField):
        raise web.HTTPBadRequest(text="send a file in the 'file' field")
    target = request.app[UPLOADS] / Path(field.filename).name
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while chunk := field.file.read(64 * 1024):
            digest.update(chunk)
            out.write(chunk)
    return web.json_response(
        {"name": target.name, "size": target.stat().st_size, "sha256": digest.hexdigest()}
    )


@routes.post("/upload/stream")
async def upload_stream(request: web.Request) -> web.Response:
    """The same, part by part: nothing of the file is held but the chunk in hand."""
    reader = await request.multipart()
    saved = []
    async for part in reader:
        if part.filename is None:
            continue
        target = request.app[UPLOADS] / Path(part.filename).name
        size = 0
        with target.open("wb") as out:
            while chunk := await part.read_chunk():
                size += len(chunk)
                out.write(chunk)
        saved.append({"name": target.name, "size": size})
    return web.json_response(saved, status=201)


@routes.get("/files/{name}")
async def download(request: web.Request) -> web.FileResponse:
    path = request.app[UPLOADS] / Path(request.match_info["name"]).name
    if not path.is_file():
        raise web.HTTPNotFound(text="no such file")
    return web.FileResponse(path)


@routes.view("/notes/{id}")
class NoteView(web.View):
    async def get(self) -> web.Response:
        notes = self.request.app[NOTES]
        key = self.request.match_info["id"]
        if key not in notes:
            raise web.HTTPNotFound(text=f"no note {key}")
        return web.json_response({"id": key, "text": notes[key]})

    async def put(self) -> web.Response:
        data = await self.request.json()
        self.request.app[NOTES][self.request.match_info["id"]] = str(data["text"])
        return web.json_response({"id": self.request.match_info["id"]}, status=201)

    async def delete(self) -> web.Response:
        self.request.app[NOTES].pop(self.request.match_info["id"], None)
        raise web.HTTPNoContent()


# -- the admin area: a sub-application with its own middleware ---------------------------------
@web.middleware
async def require_token(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.headers.get("X-Admin-Token") != ADMIN_TOKEN:
        raise web.HTTPUnauthorized(text="admin token required", headers={"WWW-Authenticate": "Token"})
    return await handler(request)


async def stats(request: web.Request) -> web.Response:
    notes = request.config_dict[NOTES]  # the parent's state, seen from the sub-application
    return web.json_response({"notes": len(notes), "url": str(request.url.with_query(None))})


def create_admin() -> web.Application:
    admin = web.Application(middlewares=[require_token])
    admin.router.add_get("/stats", stats)
    return admin


async def uploads_folder(app: web.Application) -> AsyncIterator[None]:
    with tempfile.TemporaryDirectory(prefix="notes-uploads-") as folder:
        app[UPLOADS] = Path(folder)
        yield


def create_app() -> web.Application:
    app = web.Application()
    app[NOTES] = {}
    app.cleanup_ctx.append(uploads_folder)
    app.add_routes(routes)
    app.add_subapp("/admin", create_admin())
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
