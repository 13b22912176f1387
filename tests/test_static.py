"""Static files (``add_static``, ``web.static``), through a real server.

The targets are sent as raw bytes: an HTTP client would normalise ``..`` away
before a traversal attempt ever reached the server. Everything outside the
directory -- by ``..`` (plain or percent-encoded), an absolute name, or a symlink
pointing out (unless ``follow_symlinks``) -- is a 404, like a missing file; a
directory is a 403 unless ``show_index``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RawConnection, RawResponse

from service import Application, Server, web
from service.web.routedef import static as web_static
from service.web.staticfiles import StaticResource

MakeServer = Callable[..., Awaitable[Server]]
RawConnect = Callable[[int], Awaitable[RawConnection]]

HELLO = b"hello, static\n"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """www/ (served) with files, a subdirectory and links in and out; outside/ beside it."""
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_bytes(HELLO)
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    (root / "space name.txt").write_bytes(b"spaced")
    (root / "<b>&'\".txt").write_bytes(b"odd")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (root / "link_out").symlink_to(outside / "secret.txt")
    (root / "dir_out").symlink_to(outside)
    (root / "link_in").symlink_to(root / "hello.txt")
    return root


async def fetch(server: Server, raw_connect: RawConnect, target: str, method: str = "GET") -> RawResponse:
    conn = await raw_connect(server.port)
    await conn.send(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
    return await conn.read_response(head_only=method == "HEAD")


async def serve(make_server: MakeServer, files: Path, **options: Any) -> Server:
    app = Application()
    app.router.add_static("/static", files, name="static", **options)
    return await make_server(app)


TRAVERSALS = [
    "/static/../outside/secret.txt",
    "/static/%2e%2e/outside/secret.txt",
    "/static/%2E%2E/outside/secret.txt",
    "/static/..%2Foutside%2Fsecret.txt",
    "/static/sub/../../outside/secret.txt",
    "/static/sub/%2e%2e/%2e%2e/outside/secret.txt",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/static/hello.txt%00",  # a NUL the filesystem refuses
]


@pytest.mark.parametrize(
    ("target", "status", "body"),
    [
        ("/static/hello.txt", 200, HELLO),
        ("/static/sub/inner.txt", 200, b"inner"),
        ("/static/space%20name.txt", 200, b"spaced"),
        ("/static/sub/../hello.txt", 200, HELLO),  # '..' that stays inside is fine
        ("/static/link_in", 200, HELLO),  # a link to a file inside
        ("/static/missing.txt", 404, None),
        ("/static/sub/missing/deeper.txt", 404, None),
        ("/static/", 403, None),
        ("/static/sub", 403, None),
        ("/static/sub/", 403, None),
        ("/static/link_out", 404, None),  # a link pointing out
        ("/static/dir_out/secret.txt", 404, None),
        *[(target, 404, None) for target in TRAVERSALS],
    ],
)
async def test_files_inside_are_served_and_nothing_else(
    make_server: MakeServer,
    raw_connect: RawConnect,
    files: Path,
    target: str,
    status: int,
    body: bytes | None,
) -> None:
    server = await serve(make_server, files)
    response = await fetch(server, raw_connect, target)
    assert response.status == status, response.body
    if body is not None:
        assert response.body == body
    assert b"secret" not in response.body


@pytest.mark.parametrize(
    ("target", "status", "body"),
    [
        ("/static/link_out", 200, b"secret"),  # links may point anywhere
        ("/static/dir_out/secret.txt", 200, b"secret"),
        *[(target, 404, None) for target in TRAVERSALS],  # '..' still cannot climb out
    ],
)
async def test_follow_symlinks_follows_links_but_not_dot_dot(
    make_server: MakeServer,
    raw_connect: RawConnect,
    files: Path,
    target: str,
    status: int,
    body: bytes | None,
) -> None:
    server = await serve(make_server, files, follow_symlinks=True)
    response = await fetch(server, raw_connect, target)
    assert response.status == status
    if body is not None:
        assert response.body == body


async def test_show_index_lists_a_directory_with_names_escaped(
    make_server: MakeServer, raw_connect: RawConnect, files: Path
) -> None:
    server = await serve(make_server, files, show_index=True)
    response = await fetch(server, raw_connect, "/static/")
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith("text/html")
    page = response.body.decode()
    assert "<title>Index of /</title>" in page
    assert '<a href="/static/hello.txt">hello.txt</a>' in page
    assert '<a href="/static/sub">sub/</a>' in page
    assert '<a href="/static/space%20name.txt">space name.txt</a>' in page
    assert '<a href="/static/%3Cb%3E%26%27%22.txt">&lt;b&gt;&amp;&#x27;&quot;.txt</a>' in page
    assert "<b>" not in page
    sub = await fetch(server, raw_connect, "/static/sub/")
    assert "<h1>Index of /sub</h1>" in sub.body.decode()
    assert '<a href="/static/sub/inner.txt">inner.txt</a>' in sub.body.decode()


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", 200), ("POST", 405), ("DELETE", 405)],
)
async def test_static_methods(
    make_server: MakeServer, raw_connect: RawConnect, files: Path, method: str, status: int
) -> None:
    server = await serve(make_server, files)
    response = await fetch(server, raw_connect, "/static/hello.txt", method)
    assert response.status == status
    if method == "HEAD":
        assert response.header("Content-Length") == str(len(HELLO))
    else:
        assert response.header("Allow") == "GET, HEAD, OPTIONS"


async def test_files_get_ranges_and_validators_from_file_response(
    make_server: MakeServer, raw_connect: RawConnect, files: Path
) -> None:
    server = await serve(make_server, files)
    conn = await raw_connect(server.port)
    await conn.send(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n")
    response = await conn.read_response()
    assert (response.status, response.body) == (206, b"hello")
    assert response.header("ETag") is not None


def test_url_for_quotes_the_name_and_can_append_the_version(files: Path) -> None:
    app = Application()
    resource = app.router.add_static("/static/", files, name="static")
    assert isinstance(resource, StaticResource)
    assert resource.canonical == "/static"
    assert resource.url_for(filename="space name.txt") == "/static/space%20name.txt"
    assert app.router.url_for("static", filename="/sub/inner.txt") == "/static/sub/inner.txt"
    digest = base64.urlsafe_b64encode(hashlib.sha256(HELLO).digest()).decode()
    versioned = resource.url_for(filename="hello.txt", append_version=True)
    assert versioned.path == "/static/hello.txt"
    assert versioned.query["v"] == digest
    # nothing to hash: no version (a missing file, a directory, a link out)
    for name in ("missing.txt", "sub", "link_out"):
        assert resource.url_for(filename=name, append_version=True).query_string == ""


def test_append_version_by_default(files: Path) -> None:
    resource = Application().router.add_static("/s", files, append_version=True)
    assert "?v=" in resource.url_for(filename="hello.txt")
    assert "?v=" not in resource.url_for(filename="hello.txt", append_version=False)


def test_get_info_and_listing(files: Path) -> None:
    app = Application()
    resource = app.router.add_static("/static", files)
    info = resource.get_info()
    assert info["directory"] == files.resolve()
    assert info["prefix"] == "/static"
    assert sorted(info["routes"]) == ["GET"]
    assert [r.path for r in app.router.routes()] == ["/static/{filename:path}"]


@pytest.mark.parametrize(
    ("prefix", "directory", "message"),
    [
        ("/s", "missing-dir", "no directory"),
        ("/s", "www/hello.txt", "not a directory"),
        ("s", "www", "starting with '/'"),
    ],
)
def test_add_static_refuses_what_cannot_be_served(
    files: Path, prefix: str, directory: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Application().router.add_static(prefix, files.parent / directory)


async def test_web_static_and_route_table_def_static(
    make_server: MakeServer, raw_connect: RawConnect, files: Path
) -> None:
    table = web.RouteTableDef()
    table.static("/t", files)
    app = Application()
    app.add_routes([web_static("/w", os.fspath(files), show_index=True), *table])
    server = await make_server(app)
    assert (await fetch(server, raw_connect, "/w/hello.txt")).body == HELLO
    assert (await fetch(server, raw_connect, "/w/")).status == 200  # show_index passed on
    assert (await fetch(server, raw_connect, "/t/hello.txt")).body == HELLO
    assert (await fetch(server, raw_connect, "/t/")).status == 403


async def test_static_in_a_sub_app_is_under_its_prefix(
    make_server: MakeServer, raw_connect: RawConnect, files: Path
) -> None:
    root, sub = Application(), Application()
    resource = sub.router.add_static("/files", files, show_index=True)
    root.add_subapp("/admin", sub)
    assert resource.url_for(filename="hello.txt") == "/admin/files/hello.txt"
    server = await make_server(root)
    assert (await fetch(server, raw_connect, "/admin/files/hello.txt")).body == HELLO
    index = (await fetch(server, raw_connect, "/admin/files/")).body.decode()
    assert '<a href="/admin/files/hello.txt">hello.txt</a>' in index
    assert (await fetch(server, raw_connect, "/admin/files/../../outside/secret.txt")).status == 404
