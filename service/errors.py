"""The project's error families, each caught at exactly one boundary.

- ``ConfigError``: a routes file (or a code-built table) is wrong. Carries every
  ``Issue`` found in one pass; the CLI turns it into messages and exit code 2.
  ``MissingFileError`` is the one whose file is not there at all (the CLI then
  says how to name another).
- ``ProtocolError``: a client sent bytes that are not acceptable HTTP/1.1. Carries
  the status to answer with; the connection protocol answers it and closes.
- ``RouteError``: a route declaration is invalid (bad pattern, duplicate,
  ambiguous). Raised when the route is added; the loader turns it into an ``Issue``.

Handler failures are not here: ``Application`` is their boundary (see app.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "Issue",
    "ListenError",
    "Location",
    "MissingFileError",
    "ProtocolError",
    "RouteError",
    "ServiceError",
    "in_file_order",
]


class ServiceError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a configuration file, pointing at the offending node."""

    file: str
    line: int  # 1-based
    col: int  # 1-based
    where: str  # e.g. "routes['GET /hello']"
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.where}: {self.what}"


def in_file_order(issues: Iterable[Issue]) -> list[Issue]:
    """``issues`` as a reader meets them in the file; those at one place keep the order found."""
    return sorted(issues, key=lambda i: (i.line, i.col))


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a configuration file, ``file:line:col`` (1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def issue(self, where: str, what: str) -> Issue:
        return Issue(self.file, self.line, self.col, where, what)


class ConfigError(ServiceError):
    """A configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class MissingFileError(ConfigError):
    """The routes file does not exist: the CLI adds how to name another one."""


class RouteError(ServiceError, ValueError):
    """A route cannot be added: bad pattern, duplicate or ambiguous."""


class ListenError(ServiceError, OSError):
    """The server cannot listen on its address (taken, not allowed, unknown)."""

    @classmethod
    def wrap(cls, host: str, port: int, exc: OSError) -> ListenError:
        return cls.at(f"{host}:{port}", exc)

    @classmethod
    def at(cls, address: str, exc: OSError) -> ListenError:
        """The failure to listen on ``address`` (``host:port``, ``unix:PATH``), with the OS's reason."""
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return cls(f"cannot serve on {address}: {reason}")


class ProtocolError(ServiceError):
    """The peer broke HTTP/1.1; answer ``status`` and close the connection."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")
