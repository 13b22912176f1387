"""Where a request came from: scheme, host and client address, and which proxies to believe.

By default a request's scheme is the connection's (``http``: TLS ends in front of
us), its host is its ``Host`` field and its client is the socket's peer. An
absolute-form target (``GET https://x/ HTTP/1.1``) changes none of them: a client
cannot make a plain connection look secure by writing ``https://``.

``Forwarded`` (RFC 7239) or ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` are believed
only when the peer is one of the proxies the user declared trusted (``service:
trusted_proxies``, or ``Application(trusted_proxies=)``): anyone else can write them.
And only the kind the user says those proxies write (``proxy_headers``:
``x-forwarded``, the default, or ``forwarded``): a proxy passes on the fields it
does not write itself, so the other kind is the client's own and is ignored.
The hops are read from the right, the nearest first: each hop a trusted proxy
added is skipped, and the first that names an untrusted address is the client;
``Forwarded``'s element for that hop also gives the scheme and host the client used.
Of the ``X-Forwarded-*`` fields, which do not tie their values to hops, the scheme
and host are the last ones (set by the nearest proxy).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["PROXY_HEADERS", "Origin", "TrustedProxies", "origin_of", "parse_forwarded"]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PAIR = re.compile(rf'\s*({_TOKEN})\s*=\s*({_TOKEN}|"(?:[^"\\]|\\.)*")\s*')
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]*)?")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str | None
    remote: str | None


class TrustedProxies:
    """Addresses and networks (``10.0.0.0/8``, ``127.0.0.1``) whose forwarding fields we believe."""

    __slots__ = ("networks",)

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(e, strict=False) for e in entries)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # "unknown", an obfuscated "_hidden", a Unix socket
            return False
        return any(ip in network for network in self.networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r})"


def parse_forwarded(fields: Iterable[str]) -> tuple[Mapping[str, str], ...]:
    """``Forwarded`` fields as one mapping per element, names lowercased (RFC 7239 section 4).

    A malformed pair ends its element's parse; what was read of it is kept.
    """
    elements: list[Mapping[str, str]] = []
    for field in fields:
        for element in _split(field, ","):
            pairs: dict[str, str] = {}
            for pair in _split(element, ";"):
                match = _PAIR.fullmatch(pair)
                if match is None:
                    break
                value = match.group(2)
                if value.startswith('"'):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                pairs.setdefault(match.group(1).lower(), value)
            elements.append(MappingProxyType(pairs))
    return tuple(elements)


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _address(node: str) -> str:
    """The address of a ``for=`` node or an ``X-Forwarded-For`` entry, without its port."""
    node = node.strip()
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    if node.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has several colons)
        return node.split(":", 1)[0]
    return node


def _scheme(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value if value in ("http", "https") else None


def _host(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and _HOST.fullmatch(value) else None


PROXY_HEADERS = ("x-forwarded", "forwarded")  # what trusted proxies write: proxy_headers


def origin_of(
    peer: str | None,
    host: str | None,
    fields: Mapping[str, list[str]],
    trusted: TrustedProxies,
    proxy_headers: str = "x-forwarded",
) -> Origin:
    """The request's scheme, host and client (see the module docstring).

    ``fields`` maps lowercased names (forwarded, x-forwarded-for, -proto, -host) to values.
    """
    direct = Origin("http", host, peer)
    if not trusted or peer not in trusted:
        return direct
    if proxy_headers == "forwarded":
        if not fields.get("forwarded"):
            return direct
        elements = parse_forwarded(fields["forwarded"])
        chosen = None
        for element in reversed(elements):
            chosen = element
            if _address(element.get("for", "")) not in trusted:
                break
        if chosen is None:
            return direct
        remote = _address(chosen["for"]) if "for" in chosen else peer
        return Origin(_scheme(chosen.get("proto")) or "http", _host(chosen.get("host")) or host, remote)
    hops = [_address(h) for value in fields.get("x-forwarded-for", []) for h in value.split(",") if h.strip()]
    remote = peer
    for hop in reversed(hops):
        remote = hop
        if hop not in trusted:
            break
    protos = [p for value in fields.get("x-forwarded-proto", []) for p in value.split(",") if p.strip()]
    hosts = [h for value in fields.get("x-forwarded-host", []) for h in value.split(",") if h.strip()]
    scheme = _scheme(protos[-1]) if protos else None
    return Origin(scheme or "http", (_host(hosts[-1]) if hosts else None) or host, remote)
