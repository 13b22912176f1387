"""Ordered multi-valued mappings for query strings and headers.

``MultiDict`` keeps every ``(key, value)`` pair in arrival order, as HTTP does:
``d[key]`` is the first value, ``d.getall(key)`` all of them, iteration yields
every key (duplicates included). ``CIMultiDict`` compares keys case-insensitively
and keeps the original spelling, which is what header names need.

Lookups are linear scans over a short list. Requests carry a dozen headers or
so; a scan over that beats building a dict that most handlers never consult.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Self, TypeVar, overload

__all__ = ["CIMultiDict", "MultiDict"]

_T = TypeVar("_T")
_MISSING = object()

Pairs = Iterable[tuple[str, str]] | Mapping[str, str]


class MultiDict(MutableMapping[str, str]):
    """A mutable, ordered mapping that may hold several values per key."""

    __slots__ = ("_items",)

    def __init__(self, pairs: Pairs | None = None) -> None:
        if type(pairs) is dict:  # PERF: the usual headers={...}: no ABC check, no add() per pair
            self._items: list[tuple[str, str]] = list(pairs.items())
            return
        self._items = []
        if pairs is not None:
            self.extend(pairs)

    @staticmethod
    def _norm(key: str) -> str:
        return key

    def extend(self, pairs: Pairs) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        for key, value in items:
            self.add(key, value)

    def add(self, key: str, value: str) -> None:
        """Append a value, keeping the ones already there."""
        self._items.append((key, value))

    @overload
    def getone(self, key: str) -> str: ...
    @overload
    def getone(self, key: str, default: _T) -> str | _T: ...
    def getone(self, key: str, default: object = _MISSING) -> object:
        normed = self._norm
        norm = normed(key)
        for k, v in self._items:
            if normed(k) == norm:
                return v
        if default is _MISSING:
            raise KeyError(key)
        return default

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: _T) -> str | _T: ...
    def get(self, key: str, default: object = None) -> object:
        """The first value of ``key``, or ``default`` (PERF: no KeyError raised and caught,
        as Mapping's own ``get`` does)."""
        return self.getone(key, default)

    def getall(self, key: str, default: list[str] | None = None) -> list[str]:
        norm = self._norm(key)
        found = [v for k, v in self._items if self._norm(k) == norm]
        if not found and default is None:
            raise KeyError(key)
        return found or (default if default is not None else [])

    def __getitem__(self, key: str) -> str:
        return self.getone(key)

    def __setitem__(self, key: str, value: str) -> None:
        """Replace every value of ``key`` with one value, keeping its position."""
        norm = self._norm(key)
        for i, (k, _) in enumerate(self._items):
            if self._norm(k) == norm:
                self._items[i] = (key, value)
                self._items[i + 1 :] = [p for p in self._items[i + 1 :] if self._norm(p[0]) != norm]
                return
        self._items.append((key, value))

    def __delitem__(self, key: str) -> None:
        norm = self._norm(key)
        kept = [p for p in self._items if self._norm(p[0]) != norm]
        if len(kept) == len(self._items):
            raise KeyError(key)
        self._items = kept

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        normed = self._norm
        norm = normed(key)
        for k, _ in self._items:  # noqa: SIM110  (PERF: any() over a generator costs twice as much)
            if normed(k) == norm:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self._items)  # PERF: without Mapping's way through __len__

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every pair in order, duplicates included."""
        return list(self._items)

    def values(self) -> list[str]:  # type: ignore[override]
        """Every value in order, duplicates included (lines up with ``items()``)."""
        return [v for _, v in self._items]

    @classmethod
    def adopt(cls, pairs: list[tuple[str, str]]) -> Self:
        """A multidict over ``pairs`` as given (PERF: no copy, no per-pair add)."""
        new = cls()
        new._items = pairs
        return new

    def copy(self) -> MultiDict:
        new = type(self)()
        new._items = list(self._items)
        return new

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other) and len(self) == len(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class CIMultiDict(MultiDict):
    """A ``MultiDict`` whose keys compare case-insensitively (header names)."""

    __slots__ = ()

    @staticmethod
    def _norm(key: str) -> str:
        return key.lower()
