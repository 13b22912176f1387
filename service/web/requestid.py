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

__all__ = ["HEADER", "new_id", "safe_id", "trace_id", "with_id"]

HEADER = "X-Request-ID"

_SAFE_ID = re.compile(r"[A-Za-z0-9\-_.:/+=@~]{1,128}\Z")
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


def safe_id(value: str) -> str | None:
    """``value`` (a client's ``X-Request-ID``) if it is a safe id, else None."""
    return value if _SAFE_ID.match(value) else None


def with_id(message: bytes, request_id: str) -> bytes:
    """A rendered response (head, maybe body) with an ``X-Request-ID`` line after its status
    line. PERF: splicing the bytes keeps the response's fast rendering path; setting the
    header would send every answer down the general one."""
    cut = message.index(b"\r\n") + 2
    return b"".join((message[:cut], b"X-Request-ID: ", request_id.encode("ascii"), b"\r\n", message[cut:]))


def trace_id(traceparent: bytes) -> str | None:
    """The trace id of a valid version-00-shaped ``traceparent`` value (not all zeros)."""
    found = _TRACEPARENT.fullmatch(traceparent.strip())
    if found is None or found[1] == _ZERO_TRACE or traceparent.startswith(b"ff"):
        return None
    return found[1].decode("ascii")
