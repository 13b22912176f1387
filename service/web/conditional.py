"""Validators, conditional requests and byte ranges: the rules, with no I/O.

Theory of operation
-------------------
A response can carry two validators (RFC 9110 section 8.8): ``Last-Modified``, an
HTTP-date (section 5.6.7), and ``ETag``, an opaque quoted string, weak when prefixed
``W/`` (section 8.8.3). ``ETag`` is the value object the ``etag`` property of a
response reads and writes, as aiohttp's; ``http_date`` and ``parse_http_date``
convert dates both ways.

A client sends them back to make its request conditional (section 13).
``precondition`` evaluates the four precondition fields in the order section
13.2.2 fixes -- ``If-Match``, else ``If-Unmodified-Since`` (412 when false), then
``If-None-Match``, else ``If-Modified-Since`` (304 for GET and HEAD when false;
412 for other methods) -- and returns the status to answer with instead, if any.
``If-Match`` compares entity tags strongly, ``If-None-Match`` weakly (section
8.8.3.2).

A ``Range`` field (section 14.2) asks for part of the representation. Only GET has
ranges, and only ``bytes`` ranges exist here; ``byte_range`` reads one range --
``a-b``, ``a-`` or ``-n`` (section 14.1.2) -- as a Python ``range`` over the file,
raises ``RangeNotSatisfiable`` (answered 416) when none of it lies in the file, and
returns ``None`` for a field to ignore: another unit, a malformed one, or several
ranges (a server may always answer a range request with the whole representation,
section 14.2, and this one does rather than build ``multipart/byteranges``).
``if_range_holds`` says whether an ``If-Range`` field lets the range apply (section
13.1.5): an entity tag that matches strongly, or a date equal to the modification
time (a ``Last-Modified`` sent before that second was over does not match: it was
a weak validator, section 8.8.2.2).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_tz

__all__ = [
    "ETAG_ANY",
    "ETag",
    "RangeNotSatisfiable",
    "byte_range",
    "etag_field",
    "http_date",
    "if_range_holds",
    "parse_etag",
    "parse_http_date",
    "precondition",
]

ETAG_ANY = "*"  # If-Match / If-None-Match: any current representation
# RFC 9110 section 8.8.3: etagc = %x21 / %x23-7E / obs-text (no DQUOTE, no space).
_ETAGC = r"[!\x23-\x7e\x80-\xff]"
_ETAG_VALUE = re.compile(rf"{_ETAGC}+")
_QUOTED_ETAG = re.compile(rf'(W/)?"({_ETAGC}*)"')
_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ETag:
    """An entity tag (RFC 9110 section 8.8.3): its opaque ``value``, and whether it is weak."""

    value: str
    is_weak: bool = False


class RangeNotSatisfiable(ValueError):
    """No byte of the range asked for is in the representation (answered 416)."""


# -- validators --------------------------------------------------------------------------
def etag_field(value: ETag | str) -> str:
    """The ``ETag`` field value for ``value`` (a bare str is a strong tag); checks its characters."""
    if isinstance(value, str):
        value = ETag(value)
    if not isinstance(value, ETag) or not isinstance(value.value, str):
        raise ValueError(f"etag must be a str, an ETag or None, not {type(value).__name__}")
    if value.value == ETAG_ANY:
        return ETAG_ANY
    if _ETAG_VALUE.fullmatch(value.value) is None:
        raise ValueError(f"{value.value!r} is not a valid entity tag (a quote, a space or a control?)")
    return f'W/"{value.value}"' if value.is_weak else f'"{value.value}"'


def parse_etag(field: str | None) -> ETag | None:
    """The entity tag an ``ETag`` field holds, or ``None`` when absent or malformed."""
    if not field:
        return None
    if field == ETAG_ANY:
        return ETag(ETAG_ANY)
    match = _QUOTED_ETAG.fullmatch(field)
    return ETag(match[2], is_weak=bool(match[1])) if match else None


def etag_list(fields: Iterable[str]) -> list[ETag]:
    """The entity tags of ``If-Match`` / ``If-None-Match`` fields (``*`` as ``ETag("*")``).

    A malformed member is skipped: it can match nothing.
    """
    tags = []
    for field in fields:
        for member in field.split(","):
            member = member.strip()
            tag = parse_etag(member) if member else None
            if tag is not None:
                tags.append(tag)
    return tags


def _matches(tags: list[ETag], current: str, *, weak: bool) -> bool:
    """Whether ``current`` (a strong tag's value) is among ``tags`` (section 8.8.3.2)."""
    return any(t.value == ETAG_ANY or (t.value == current and (weak or not t.is_weak)) for t in tags)


def http_date(value: int | float | datetime | str) -> str:
    """An HTTP-date (IMF-fixdate, RFC 9110 section 5.6.7); a str is taken as written.

    Fractions of a second round up, as aiohttp's do: a date is never earlier than
    the change it stands for.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        # A naive datetime is taken as UTC (aiohttp's utctimetuple() does the same).
        seconds = calendar.timegm(value.utctimetuple()) + (1 if value.microsecond else 0)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = math.ceil(value)
    else:
        raise TypeError(f"Unsupported type for last_modified: {type(value).__name__}")
    return formatdate(seconds, usegmt=True)


def parse_http_date(field: str | None) -> datetime | None:
    """The UTC datetime of an HTTP-date in any of its three forms, or ``None`` if it is not one."""
    if not field:
        return None
    parts = parsedate_tz(field)
    if parts is None:
        return None
    try:  # (datetime, not calendar.timegm: it refuses a 31st of November rather than roll over)
        return datetime(*parts[:6], tzinfo=UTC) - timedelta(seconds=parts[9] or 0)
    except (ValueError, OverflowError):
        return None


def _one_date(fields: list[str]) -> float | None:
    """The seconds of a date field sent once and valid; else ``None``: it is ignored (13.1.3, 13.1.4)."""
    date = parse_http_date(fields[0]) if len(fields) == 1 else None
    return date.timestamp() if date is not None else None


# -- conditional requests ----------------------------------------------------------------
def precondition(fields: dict[str, list[str]], method: str, etag: str, modified: float) -> int | None:
    """The status to answer instead (304 or 412), or ``None`` to go on (RFC 9110 section 13.2.2).

    ``fields`` maps the lower-cased names of the four precondition fields to their
    values as sent; ``etag`` is the representation's strong tag value, ``modified``
    its ``Last-Modified`` in whole seconds.
    """
    if (if_match := fields.get("if-match")) is not None:
        if not _matches(etag_list(if_match), etag, weak=False):
            return 412
    elif (since := _one_date(fields.get("if-unmodified-since", []))) is not None and modified > since:
        return 412
    safe = method in ("GET", "HEAD")
    if (if_none_match := fields.get("if-none-match")) is not None:
        if _matches(etag_list(if_none_match), etag, weak=True):
            return 304 if safe else 412
    elif safe and (since := _one_date(fields.get("if-modified-since", []))) is not None and modified <= since:
        return 304
    return None


def if_range_holds(field: str | None, etag: str, modified: float) -> bool:
    """Whether a ``Range`` applies given the request's ``If-Range`` (section 13.1.5).

    An entity tag must match strongly (a weak one never does); a date must be the
    modification time, ``modified`` (in whole seconds), exactly. No ``If-Range``
    at all: the range applies.
    """
    if field is None:
        return True
    field = field.strip()
    if field.startswith(('"', "W/")):
        tag = parse_etag(field)
        return tag is not None and not tag.is_weak and tag.value == etag
    date = parse_http_date(field)
    return date is not None and date.timestamp() == modified


def byte_range(field: str, size: int) -> range | None:
    """The bytes of a file of ``size`` that one ``Range`` field asks for (section 14.1.2).

    ``None``: the field is to be ignored (another unit, malformed, several ranges,
    or a suffix of an empty file) and the whole file sent. Raises
    ``RangeNotSatisfiable`` when the range starts past the end, or is an empty suffix.
    """
    match = _BYTE_RANGE.fullmatch(field.strip())
    if match is None:
        return None
    first, last = match[1], match[2]
    if first:
        start = _position(first)
        if last and _position(last) < start:
            return None  # an invalid range-spec: the field is ignored (section 14.1.1)
        if start >= size:
            raise RangeNotSatisfiable(f"bytes */{size}")
        stop = min(_position(last) + 1, size) if last else size
        return range(start, stop)
    if not last:
        return None  # "bytes=-": neither end
    suffix = _position(last)
    if suffix == 0:
        raise RangeNotSatisfiable(f"bytes */{size}")
    if size == 0:
        return None  # the last n bytes of nothing: the (empty) whole
    return range(max(size - suffix, 0), size)


def _position(digits: str) -> int:
    """A byte position as sent; past 18 digits, larger than any file (and no slow int())."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 1 << 62
