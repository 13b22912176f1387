"""Resources: aiohttp's view of a route table as paths, each with its routes and a name.

A ``Resource`` is one path pattern and the routes for it (one per method); a
route name names the resource, so ``router["user"].url_for(id=7)`` builds its
path. ``add_resource(path, name=...)`` returns one to add routes to
(``resource.add_route("GET", handler)``); ``add_route`` finds or makes it by
itself. Other kinds list in ``router.resources()`` beside these: a static
directory (staticfiles.py) and a mounted sub-application (subapps.py).

Resources are bookkeeping for building, naming and listing: the compiled table
(router.py) matches requests without looking at them.

``url_for`` returns a ``URL``: a ``str`` holding the path, percent-encoded, and a
query if one was added. aiohttp returns a ``yarl.URL``; this one is a ``str`` so
that it compares equal to its text (as ``url_for`` here always has) and goes
wherever a path string goes, with the parts handlers use of a yarl URL
(``path``, ``raw_path``, ``query_string``, ``query``, ``with_query``).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from .multidict import MultiDict
from .patterns import Pattern

if TYPE_CHECKING:
    from .routedef import ExpectHandler, Handler
    from .router import Route, Router

__all__ = ["URL", "AbstractResource", "DynamicResource", "PlainResource", "Resource", "make_resource"]


class URL(str):
    """A path (percent-encoded) and maybe a query; see the module docstring."""

    __slots__ = ()

    @property
    def raw_path(self) -> str:
        return self.partition("?")[0]

    @property
    def path(self) -> str:
        return unquote(self.raw_path)

    @property
    def query_string(self) -> str:
        return self.partition("?")[2]

    @property
    def query(self) -> MultiDict:
        return MultiDict(parse_qsl(self.query_string, keep_blank_values=True))

    def with_query(self, query: Mapping[str, Any] | str | None = None, **kwargs: Any) -> URL:
        """This path with the query replaced (as yarl's): a mapping, keywords, a string, or None."""
        if isinstance(query, str):
            text = query.lstrip("?")
        else:
            text = urlencode({**(query or {}), **kwargs}, doseq=True)
        return URL(f"{self.raw_path}?{text}" if text else self.raw_path)


class AbstractResource(abc.ABC):
    """What ``router.resources()`` lists: something with routes, a canonical path and maybe a name."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    @property
    @abc.abstractmethod
    def canonical(self) -> str:
        """The path (or prefix, or rule) it stands for, placeholders as ``{name}``."""

    @abc.abstractmethod
    def url_for(self, **parts: Any) -> URL:
        """Its path with ``parts`` filled in."""

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """What it is made of, for introspection (aiohttp's keys)."""

    @abc.abstractmethod
    def add_prefix(self, prefix: str) -> None:
        """Move it under ``prefix`` (its app was mounted there)."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Route]:
        """Its routes."""

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def raw_match(self, path: str) -> bool:
        """Whether it was declared with exactly ``path``."""
        return False

    def describe(self) -> str:
        """For messages: its first route as declared, else its kind and path."""
        first = next(iter(self), None)
        return first.describe() if first is not None else f"{type(self).__name__} {self.canonical}"


class Resource(AbstractResource):
    """One path pattern and its routes (one per method), owned by one router."""

    def __init__(self, router: Router, pattern: Pattern, name: str | None = None) -> None:
        super().__init__(name)
        self._router = router
        self.pattern = pattern

    @property
    def canonical(self) -> str:
        return self.pattern.canonical

    def add_route(
        self, method: str, handler: Handler, *, expect_handler: ExpectHandler | None = None
    ) -> Route:
        """A route for ``method`` at this resource's path (in its router)."""
        return self._router.add_route(
            method, self.pattern.path, handler, name=self.name, expect_handler=expect_handler
        )

    def url_for(self, **parts: Any) -> URL:
        """The path, each placeholder filled in with its value, quoted (``ValueError`` if
        the values are not exactly the placeholders, or one would not match its own)."""
        what = f"route {self.name!r}" if self.name is not None else f"resource {self.canonical}"
        return URL(self.pattern.fill(parts, what))

    def get_info(self) -> dict[str, Any]:
        return {"formatter": self.canonical, "pattern": re.compile(self.pattern.regex())}

    def add_prefix(self, prefix: str) -> None:
        self.pattern = self.pattern.with_prefix(prefix)

    def raw_match(self, path: str) -> bool:
        return path == self.pattern.path

    def __iter__(self) -> Iterator[Route]:
        return (route for route in self._router if route.resource is self)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name is not None else ""
        return f"<{type(self).__name__}{name} {self.canonical}>"


class PlainResource(Resource):
    """A path without placeholders."""

    def get_info(self) -> dict[str, Any]:
        return {"path": self.pattern.path}


class DynamicResource(Resource):
    """A path with placeholders."""


def make_resource(router: Router, pattern: Pattern, name: str | None) -> Resource:
    return (
        PlainResource(router, pattern, name) if pattern.is_static else DynamicResource(router, pattern, name)
    )
