"""Request ids: the client's ``X-Request-ID`` when it is safe to repeat, else a new one.

An id travels into log lines, response headers and other services' logs, so
one from the client is taken only when it is 1 to 128 characters of a small
safe set (letters, digits and ``-_.:/+=@~``: UUIDs, ULIDs, base64 and hex ids
all fit) that needs no escaping anywhere; anything else is replaced, never
repaired. A new id is 32 hex digits of ``os.urandom`` -- taken from a pool
refilled 4 KiB at a time, as a syscall per request would cost more than the
rest of the id (``uuid4`` costs more still). The W3C ``traceparent`` field
(Trace Context, section 3.2) is read only for the access log's ``trace_id``.
"""

from __future__ import annotations

import os
import re

__all__ = ["HEADER", "id_line", "new_id", "settle", "trace_id"]

HEADER = "X-Request-ID"

_SAFE_ID = re.compile(rb"[A-Za-z0-9\-_.:/+=@~]{1,128}\Z")
_TRACEPARENT = re.compile(rb"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE = b"0" * 32
_POOL_SIZE = 4096
_pool = b""
_taken = _POOL_SIZE


def new_id() -> str:
    """A fresh random id: 32 lowercase hex digits."""
    global _pool, _taken
    if _taken >= _POOL_SIZE:
        _pool, _taken = os.urandom(_POOL_SIZE), 0
    start = _taken
    _taken = start + 16
    return _pool[start : start + 16].hex()


def _forget_pool() -> None:
    """A forked child must not hand out its parent's ids."""
    global _taken
    _taken = _POOL_SIZE


os.register_at_fork(after_in_child=_forget_pool)


def settle(sent: bytes | None) -> str:
    """A request's id: ``sent`` (its first ``X-Request-ID``) when that is safe, else a new one."""
    if sent is not None and _SAFE_ID.match(sent):
        return sent.decode("ascii")
    return new_id()


def id_line(request_id: str) -> bytes:
    """The ``X-Request-ID`` header line that a rendered response head gains (response.py)."""
    return b"X-Request-ID: %s\r\n" % request_id.encode("ascii")


def trace_id(traceparent: bytes) -> str | None:
    """The trace id of a valid version-00-shaped ``traceparent`` value (not all zeros)."""
    found = _TRACEPARENT.fullmatch(traceparent.strip())
    if found is None or found[1] == _ZERO_TRACE or traceparent.startswith(b"ff"):
        return None
    return found[1].decode("ascii")
