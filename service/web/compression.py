"""Response compression: ``response.enable_compression()`` and ``web.ContentCoding``.

A handler asks for it; the coding is chosen when the response is prepared, from the
request's ``Accept-Encoding`` parsed by RFC 9110 section 12.5.3 -- quality values
honoured, ``q=0`` refusing a coding, ``*`` standing for the codings not named --
gzip preferred to deflate at equal quality; or it is the one ``force`` names. A
compressed response says ``Content-Encoding``, gets ``Vary: Accept-Encoding`` (its
bytes depend on that field, section 12.5.5), loses any ``Content-Length`` (the
compressed size is not known ahead) and is sent in chunks, each write compressed
as it goes (zlib, level 6 unless a ``strategy``/level is given), so memory stays
flat for a large body. 204, 304 and HEAD answers are never compressed: they have
no body.

Differences from aiohttp: aiohttp finds a coding by substring (``gzip;q=0`` would
still get gzip); a whole ``Response`` is sent in chunks here rather than with the
compressed length; ``br`` and ``zstd`` are not offered.
"""

from __future__ import annotations

import enum
import zlib

__all__ = ["ContentCoding", "Compressor", "choose_coding"]


class ContentCoding(enum.Enum):
    """The codings ``enable_compression(force=...)`` takes (aiohttp's names)."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"


_OFFERED = (ContentCoding.gzip, ContentCoding.deflate)  # in order of preference


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value <= 1.0 else 0.0


def choose_coding(accept_encoding: str | None) -> ContentCoding | None:
    """The coding to send, or None: no ``Accept-Encoding``, or nothing offered acceptable."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for member in accept_encoding.split(","):
        name, *params = (part.strip() for part in member.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                q = _quality(value.strip())
        weights.setdefault(name.lower(), q)
    best: ContentCoding | None = None
    best_q = 0.0
    for coding in _OFFERED:
        q = weights.get(coding.value, weights.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


class Compressor:
    """One body's zlib stream in the chosen coding."""

    __slots__ = ("_obj",)

    def __init__(self, coding: ContentCoding, level: int = 6) -> None:
        wbits = 16 + zlib.MAX_WBITS if coding is ContentCoding.gzip else zlib.MAX_WBITS
        self._obj = zlib.compressobj(level, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        return self._obj.compress(data)

    def flush(self) -> bytes:
        return self._obj.flush()
