"""Rendering a response's head: the status line and header lines, as bytes.

A head is the status line, the header fields and a blank line (RFC 9112 sections
4 and 6). Most heads repeat: the same status, the same ``Content-Type``, the same
small ``Content-Length``. So the lines are made once and kept in module-level
dicts, bounded in size; ``Response._render`` (response.py) binds the functions and
``LENGTH_LINES`` as its own globals (PERF: one global lookup each). The ``Date``
and ``Server`` lines come from ``date_cache``, re-rendered at most once a second.
``render_head`` writes a head in full: for a ``StreamResponse``, and for a
``Response`` with headers of its own or a reason phrase.

Every piece of text a handler gives -- a reason phrase, a content type, a header
name or value -- is checked here before it is written, so no handler can split a
response with a CR or LF (RFC 9110 section 5.5).
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .multidict import CIMultiDict

__all__ = [
    "LENGTH_LINES",
    "SERVER_HEADER",
    "check_header_text",
    "check_status",
    "ct_line",
    "date_cache",
    "declared_length",
    "full_content_type",
    "length_line",
    "reason_phrase",
    "render_head",
    "status_line",
]

SERVER_HEADER = b"Server: service\r\n"

# PERF: status lines are built once per status code, not per response.
_REASONS: dict[int, str] = {s.value: s.phrase for s in HTTPStatus}
_STATUS_LINES: dict[int, bytes] = {
    code: f"HTTP/1.1 {code} {phrase}\r\n".encode("latin-1") for code, phrase in _REASONS.items()
}
_CT_LINES: dict[str, bytes] = {}
LENGTH_LINES: dict[int, bytes] = {}
# RFC 9110 section 5.1 and 5.5: a field name is a token; a value (and a reason
# phrase) is visible characters, spaces and tabs -- no CR, LF, NUL or other control.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# The message's framing is the server's to write (RFC 9112 section 6): a handler's
# own Transfer-Encoding could contradict it, and so could a Content-Length, which is
# taken as the declared length instead of being sent as written.
_FRAMING = frozenset(("content-length", "transfer-encoding"))
_FRAMING_AND_TYPE = _FRAMING | {"content-type"}  # what a 204 or 304 never sends


# PERF: header fields rendered before, by (name, value): many repeat exactly (Vary:
# Origin, Cache-Control, a CORS origin). Only checked pairs get in, and only so many.
_FIELDS: dict[tuple[str, str], tuple[bytes, str]] = {}  # -> (the line, the name lowercased)


def _field(name: str, value: str) -> tuple[bytes, str]:
    """The header line ``name: value``, and the name lowercased, once both are checked."""
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(f"invalid header name {name!r}")
    check_header_text(value)
    found = (f"{name}: {value}\r\n".encode("latin-1"), name.lower())
    if len(_FIELDS) < 1024:  # bounded: values like ETags never repeat, and stop coming in
        _FIELDS[(name, value)] = found
    return found


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "")


def check_status(status: int) -> None:
    """A status is three digits (RFC 9110 section 15); what else it may be, the renderer says."""
    if not 100 <= status <= 999:
        raise ValueError(f"status must be a three-digit code, not {status!r}")


def status_line(status: int, reason: str | None) -> bytes:
    if status < 200:
        # An interim answer (RFC 9110 section 15.2) cannot end an exchange: the client
        # would wait for the final one, and every later answer would be out of step.
        raise ValueError(f"a {status} response is interim, not an answer (use a status of 200 or more)")
    if reason is None:
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
        reason = _REASONS.get(status, "")
    check_header_text(reason)
    return f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")


def ct_line(value: str) -> bytes:
    line = _CT_LINES.get(value)
    if line is None:
        check_header_text(value)
        line = f"Content-Type: {value}\r\n".encode("latin-1")
        if len(_CT_LINES) < 256:  # bounded: content types are a small set
            _CT_LINES[value] = line
    return line


def length_line(size: int) -> bytes:
    line = b"Content-Length: %d\r\n" % size
    if size < 65536 and len(LENGTH_LINES) < 4096:  # bounded: small bodies repeat sizes
        LENGTH_LINES[size] = line
    return line


def check_header_text(text: str) -> None:
    """Refuse CR, LF, NUL and other controls so no handler can split a response."""
    if _FIELD_TEXT.fullmatch(text) is None:
        raise ValueError(f"header text may not contain CR, LF or NUL, nor any other control: {text!r}")


def declared_length(value: str) -> int:
    """A ``Content-Length`` a handler set: digits only (RFC 9110 section 8.6)."""
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"Content-Length must be a number of bytes, not {value!r}")
    return int(value)


def full_content_type(content_type: str | None, charset: str | None) -> str | None:
    """The ``Content-Type`` value: the type, with ``; charset=`` unless it names one."""
    if content_type is not None and charset is not None and "charset=" not in content_type:
        return f"{content_type}; charset={charset}"
    return content_type


class _DateCache:
    """``Date`` and ``Server`` header lines, re-rendered at most once a second."""

    __slots__ = ("_next", "_line")

    def __init__(self) -> None:
        self._next = 0.0  # when the current second ends
        self._line = b""

    def lines(self) -> bytes:
        now = time.time()
        if now >= self._next:  # PERF: one float comparison per response otherwise
            second = int(now)
            self._next = second + 1.0
            date = formatdate(second, usegmt=True)
            self._line = b"Date: " + date.encode("ascii") + b"\r\n" + SERVER_HEADER
        return self._line


date_cache = _DateCache()


def render_head(
    status: int,
    reason: str | None,
    headers: CIMultiDict | None,
    content_type: str | None,
    charset: str | None,
    chunked: bool,
    keep_alive: bool,
    http10: bool,
    length: int | None,
) -> bytes:
    """The status line and header block, ending with the blank line.

    ``length`` is the ``Content-Length`` to send (``None``: none, and chunks when
    ``chunked``); one in ``headers`` is the caller's to check, and is not copied.
    """
    parts = [status_line(status, reason)]
    # A 204 or 304 has no content, so no type either (RFC 9110 sections 8.3, 15.4.5).
    bodyless = status == 204 or status == 304
    ct = None if bodyless else full_content_type(content_type, charset)
    if ct is not None:
        parts.append(b"")  # the Content-Type line's place, unless a header says it (below)
    if headers is not None:
        skipped = _FRAMING_AND_TYPE if bodyless else _FRAMING
        fields = _FIELDS
        for pair in headers.items():  # (one pass: see _FIELDS)
            found = fields.get(pair)
            line, lowered = found if found is not None else _field(*pair)
            if lowered in _FRAMING_AND_TYPE:  # (framing, or a Content-Type of the handler's)
                if lowered in skipped:
                    if lowered == "transfer-encoding":
                        raise ValueError("Transfer-Encoding is the server's to set (StreamResponse chunks)")
                    continue  # Content-Length: checked against the body by the caller, written below
                ct = None  # a Content-Type of the handler's own, as written, in place of ours
            parts.append(line)
    if ct is not None:
        parts[1] = ct_line(ct)
    if length is not None:
        parts.append(b"Content-Length: %d\r\n" % length)
    elif chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    parts.append(date_cache.lines())
    if not keep_alive:
        parts.append(b"Connection: close\r\n")
    elif http10:
        parts.append(b"Connection: keep-alive\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
