"""Typed keys for the state mappings of applications, requests and responses (aiohttp's).

``DB = web.AppKey("db", Database)`` makes ``app[DB]`` typed ``Database``; ``RequestKey``
and ``ResponseKey`` do the same for ``request[...]`` and ``response[...]``. Keys
compare by identity, so two modules' keys of the same name never collide. Plain
``str`` keys work as well; unlike aiohttp we do not warn about them
(``NotAppKeyWarning`` exists for code that filters it).
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["AppKey", "NotAppKeyWarning", "RequestKey", "ResponseKey"]

_T = TypeVar("_T")


class _TypedKey(Generic[_T]):
    __slots__ = ("_name", "_type")

    def __init__(self, name: str, t: type[_T] | None = None) -> None:
        self._name = name
        self._type = t

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        kind = f", type={self._type.__qualname__}" if self._type is not None else ""
        return f"<{type(self).__name__}({self._name!r}{kind})>"


class AppKey(_TypedKey[_T]):
    """A typed key for application state: ``app[KEY]``."""

    __slots__ = ()


class RequestKey(_TypedKey[_T]):
    """A typed key for per-request state: ``request[KEY]``."""

    __slots__ = ()


class ResponseKey(_TypedKey[_T]):
    """A typed key for per-response state: ``response[KEY]``."""

    __slots__ = ()


class NotAppKeyWarning(UserWarning):
    """aiohttp's warning for a ``str`` key in app state; never issued here."""
