"""Static files: ``router.add_static(prefix, directory)`` and ``web.static``, as aiohttp's.

Theory of operation
-------------------
``add_static`` resolves the directory once (it must exist) and adds one GET route,
``<prefix>/{filename:path}`` -- which answers HEAD too -- whose handler is the
``StaticResource``'s ``handle``. Per request, the file name (the rest of the
path, percent-decoded by the connection, so ``%2e%2e`` is ``..`` by now) is
checked before anything is opened:

1. An absolute name (``/static//etc/passwd``) is 404: joined to the directory it
   would replace it.
2. The name is joined to the directory and must stay inside it. Without
   ``follow_symlinks`` the path is resolved -- ``..`` and every symlink followed --
   and the result must lie under the (resolved) directory: ``../``, encoded or not,
   and a link that points out are 404. With ``follow_symlinks`` only the text is
   normalised and checked, so ``..`` still cannot climb out but a link inside may
   point anywhere (aiohttp's meaning). A name the filesystem refuses (a NUL, a loop
   of links) is 404 too.
3. A directory is 403, or its index with ``show_index``: a small HTML page whose
   names are escaped and whose links are quoted.
4. Anything else is a ``FileResponse`` (fileresponse.py): 404 when missing, 403
   when unreadable or not a regular file, validators, conditional requests, ranges
   and sendfile.

The filesystem is looked at on the event loop, as ``FileResponse`` does: for
local files that is quick, and it keeps threads out of the server (aiohttp uses an
executor).

``url_for(filename=...)`` builds a file's URL; ``append_version`` adds ``?v=`` and
the urlsafe base64 SHA-256 of the file's bytes (aiohttp's), for caching forever.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .fileresponse import FileResponse
from .httpexc import HTTPForbidden, HTTPNotFound
from .patterns import parse_pattern
from .resources import URL, Resource
from .response import Response, StreamResponse

if TYPE_CHECKING:
    from .request import Request
    from .router import Router

__all__ = ["StaticResource", "serve_file"]

# A name the filesystem refuses (ValueError: a NUL; RuntimeError: a loop of links
# before Python 3.13; OSError: the same since, or a name too long).
_BAD_NAME = (ValueError, RuntimeError, OSError)


def serve_file(path: Path, chunk_size: int) -> StreamResponse:
    """The answer for a file inside the directory (the one place a file is turned into one)."""
    return FileResponse(path, chunk_size=chunk_size)


class StaticResource(Resource):
    """A directory served under a prefix (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        prefix: str,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> None:
        if not isinstance(prefix, str) or not prefix.startswith("/") or "{" in prefix or "}" in prefix:
            raise ValueError(f"a static prefix is a path starting with '/', without braces: {prefix!r}")
        prefix = prefix.rstrip("/")
        super().__init__(router, parse_pattern(prefix + "/{filename:path}"), name)
        try:
            root = Path(directory).expanduser().resolve(strict=True)
        except FileNotFoundError:
            raise ValueError(f"no directory {str(directory)!r} to serve at {prefix or '/'}") from None
        if not root.is_dir():
            raise ValueError(f"{str(directory)!r} is not a directory (to serve at {prefix or '/'})")
        self._prefix = prefix
        self._directory = root
        self._chunk_size = chunk_size
        self._show_index = show_index
        self._follow_symlinks = follow_symlinks
        self._append_version = append_version

    @property
    def canonical(self) -> str:
        return self._prefix

    @property
    def directory(self) -> Path:
        return self._directory

    def add_prefix(self, prefix: str) -> None:
        super().add_prefix(prefix)
        self._prefix = prefix + self._prefix

    def get_info(self) -> dict[str, Any]:
        return {"directory": self._directory, "prefix": self._prefix, "routes": {r.method: r for r in self}}

    # -- serving ----------------------------------------------------------------------
    async def handle(self, request: Request) -> StreamResponse:
        """The route's handler: the file, the index, or 403/404 (module docstring)."""
        path = self._inside(str(request.match_info["filename"]))
        try:
            is_dir = path.is_dir()
        except PermissionError:  # a directory on the way may not be entered
            raise HTTPForbidden() from None
        if not is_dir:
            return serve_file(path, self._chunk_size)
        if not self._show_index:
            raise HTTPForbidden()
        try:
            return Response(text=self._index(path), content_type="text/html")
        except PermissionError:
            raise HTTPForbidden() from None

    def _inside(self, filename: str) -> Path:
        """The path ``filename`` names inside the directory; 404 if it would be outside."""
        if Path(filename).is_absolute():
            raise HTTPNotFound()
        joined = self._directory / filename
        try:
            if self._follow_symlinks:
                path = Path(os.path.normpath(joined))
                path.relative_to(self._directory)  # (ValueError when '..' climbed out)
                return path
            path = joined.resolve()
            path.relative_to(self._directory)
            return path
        except _BAD_NAME:
            raise HTTPNotFound() from None

    def _index(self, directory: Path) -> str:
        """The listing of ``directory``: names escaped, links quoted, subdirectories with '/'."""
        here = directory.relative_to(self._directory).as_posix()
        title = html.escape("Index of /" + ("" if here == "." else here))
        items = []
        for entry in sorted(directory.iterdir()):
            relative = entry.relative_to(self._directory).as_posix()
            href = html.escape(quote(f"{self._prefix}/{relative}", safe="/"), quote=True)
            shown = entry.name + ("/" if entry.is_dir() else "")
            items.append(f'<li><a href="{href}">{html.escape(shown)}</a></li>')
        listing = "\n".join(items)
        return (
            f"<html>\n<head>\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f"<ul>\n{listing}\n</ul>\n</body>\n</html>\n"
        )

    # -- reverse ----------------------------------------------------------------------
    def url_for(self, *, filename: str | os.PathLike[str], append_version: bool | None = None) -> URL:  # type: ignore[override]
        """The URL of ``filename`` under the prefix (quoted); with ``append_version``,
        ``?v=`` and its content hash when it is a file inside the directory."""
        name = str(filename).lstrip("/")
        url = URL(quote(f"{self._prefix}/{name}", safe="/"))
        if append_version is None:
            append_version = self._append_version
        if not append_version:
            return url
        try:
            path = self._inside(name)
            if not path.is_file():
                return url
            digest = hashlib.sha256(path.read_bytes()).digest()
        except (HTTPNotFound, *_BAD_NAME):
            return url  # (no version for what is not a readable file inside)
        return url.with_query({"v": base64.urlsafe_b64encode(digest).decode("ascii")})

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name is not None else ""
        return f"<StaticResource{name} {self._prefix} -> {self._directory}>"
