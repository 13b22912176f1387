"""A route's ``auth`` policy: who may call it, checked before its handler.

- ``api_key``: the request carries one of the service's keys in a header or a
  query parameter. Keys are held as SHA-256 digests and each presented key is
  compared with every one of them by ``hmac.compare_digest``, so neither the
  time taken nor an early exit tells how close a guess came.
- ``bearer_jwt``: ``Authorization: Bearer <token>``, a JWT verified by PyJWT (the
  ``jwt`` extra, imported only when a route declares it): the signature with a key
  from a JWKS file (chosen by the token's ``kid``) or from the environment, only by
  the algorithms listed (so never ``none``, and never an HS/RS mix), then issuer,
  audience, expiry and not-before with ``leeway``; then the required ``scopes``.

Missing or invalid credentials: 401 with ``WWW-Authenticate`` (RFC 9110 section
11.6.1; for bearer tokens RFC 6750's ``error=`` parameters). Valid but lacking a
required scope: 403. A verified caller is ``request[IDENTITY]`` (also
``request["identity"]``) for the handler.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .httpexc import HTTPForbidden, HTTPUnauthorized
from .keys import RequestKey
from .request import Request
from .response import StreamResponse
from .routedef import Handler

__all__ = ["IDENTITY", "ApiKeys", "Identity", "JwtVerifier", "Verified", "with_api_key", "with_bearer_jwt"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who called: ``scheme`` ``api_key`` or ``bearer``; ``subject`` (the token's ``sub``,
    or which key, by its position); a token's verified ``claims``."""

    scheme: str
    subject: str | None
    claims: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verified:
    """A bearer token that verified: who it names (its claims read-only: the same
    ``Identity`` serves every request with the token), and the required scopes it lacks."""

    identity: Identity
    missing: tuple[str, ...]


IDENTITY: RequestKey[Identity] = RequestKey("identity", Identity)
_NO_CLAIMS: Mapping[str, Any] = MappingProxyType({})
_REMEMBERED = 4096  # verified tokens kept (then forgotten all at once)


class ApiKeys:
    """The service's keys, as digests; ``match`` is constant-time in what it is given."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys if key]

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, presented: str) -> int | None:
        """The position of the key ``presented`` is, or None (every key is compared)."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        for index, known in enumerate(self._digests):
            if hmac.compare_digest(digest, known):
                found = index
        return found


def with_api_key(handler: Handler, keys: ApiKeys, *, header: str | None, query: str | None) -> Handler:
    """``handler`` for requests carrying one of ``keys`` in ``header`` or ``query``."""
    where = f'header="{header}"' if header is not None else f'query="{query}"'
    challenge = {"WWW-Authenticate": f'ApiKey realm="service", {where}'}
    # PERF: one Identity per key, made now (they are frozen, and have no claims to share)
    identities = [Identity("api_key", f"key {index + 1}", _NO_CLAIMS) for index in range(len(keys))]

    async def keyed(request: Request) -> StreamResponse:
        if header is not None:
            sent = request.fields(header)  # PERF: without building request.headers
            presented = sent[0] if sent else None
        else:
            presented = request.query.get(query or "")
        if not presented:
            raise HTTPUnauthorized(headers=challenge, text="401: this route needs an API key")
        index = keys.match(presented)
        if index is None:
            raise HTTPUnauthorized(headers=challenge, text="401: the API key is not valid")
        _identify(request, identities[index])
        return await handler(request)

    return keyed


class JwtVerifier:
    """A route's ``bearer_jwt``: PyJWT with its keys, issuer, audience and algorithms."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...],
        leeway: float,
        scopes: tuple[str, ...],
        jwks: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> None:
        import jwt  # the `jwt` extra: imported only when a route declares bearer_jwt

        self._jwt = jwt
        self.invalid = jwt.InvalidTokenError  # what verify() raises for a token that is not valid
        self.issuer, self.audience, self.algorithms = issuer, audience, list(algorithms)
        self.leeway, self.scopes = leeway, scopes
        self._keys = (
            {k.key_id: k for k in jwt.PyJWKSet.from_dict(dict(jwks)).keys} if jwks is not None else {}
        )
        self._key = key
        self._verified: dict[str, tuple[Verified, float, float]] = {}  # token -> it, nbf, exp

    def verify(self, token: str) -> Verified:
        """Who the token names, and the scopes it lacks; raises PyJWT's ``InvalidTokenError``
        when it is not valid.

        PERF: a signature check costs ~100 us (RS256), and a client sends the same token
        with every request; so a token that verified is remembered, by its exact text,
        with what follows from it, until it expires (its times are checked again on every
        use: a remembered token past ``exp`` is verified afresh, and refused).
        """
        known = self._verified.get(token)
        if known is not None:
            verified, not_before, expires = known
            now = time.time()
            if not_before - self.leeway <= now <= expires + self.leeway:
                return verified
            del self._verified[token]
        claims = self._verify(token)
        subject = claims.get("sub")
        caller = Identity(
            "bearer", str(subject) if subject is not None else None, MappingProxyType(dict(claims))
        )
        verified = Verified(caller, tuple(self.missing_scopes(claims)))
        if len(self._verified) >= _REMEMBERED:
            self._verified.clear()
        self._verified[token] = (verified, float(claims.get("nbf", 0)), float(claims["exp"]))
        return verified

    def _verify(self, token: str) -> Mapping[str, Any]:
        jwt = self._jwt
        key: Any = self._key
        if self._keys:
            kid = jwt.get_unverified_header(token).get("kid")
            found = self._keys.get(kid) if kid is not None else next(iter(self._keys.values()), None)
            if found is None or (kid is None and len(self._keys) > 1):
                raise jwt.InvalidTokenError(f"no key {kid!r} in the JWKS")
            key = found.key
        claims: Mapping[str, Any] = jwt.decode(
            token,
            key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": ["exp", "iss", "aud"]},
        )
        return claims

    def missing_scopes(self, claims: Mapping[str, Any]) -> list[str]:
        granted = claims.get("scope", claims.get("scp", ""))
        held = set(granted.split() if isinstance(granted, str) else granted or ())
        return [scope for scope in self.scopes if scope not in held]


def _identify(request: Request, identity: Identity) -> None:
    """Hand the verified caller to the handler, by the typed key and by its plain name."""
    request[IDENTITY] = identity
    request["identity"] = identity


def with_bearer_jwt(handler: Handler, verifier: JwtVerifier) -> Handler:
    """``handler`` for requests with a valid bearer token that has every required scope."""
    invalid_token = verifier.invalid

    async def verified(request: Request) -> StreamResponse:
        sent = request.fields("Authorization")  # PERF: without building request.headers
        scheme, _, token = (sent[0] if sent else "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            challenge = {"WWW-Authenticate": 'Bearer realm="service"'}
            raise HTTPUnauthorized(headers=challenge, text="401: this route needs a bearer token")
        try:
            verified = verifier.verify(token.strip())
        except invalid_token as exc:
            reason = str(exc).replace('"', "'")
            said = f'Bearer realm="service", error="invalid_token", error_description="{reason}"'
            text = f"401: the token is not valid: {reason}"
            raise HTTPUnauthorized(headers={"WWW-Authenticate": said}, text=text) from None
        missing = verified.missing
        if missing:
            wanted = " ".join(verifier.scopes)
            challenge = {
                "WWW-Authenticate": f'Bearer realm="service", error="insufficient_scope", scope="{wanted}"'
            }
            raise HTTPForbidden(
                headers=challenge, text=f"403: the token lacks the scope(s) {', '.join(missing)}"
            )
        _identify(request, verified.identity)
        return await handler(request)

    return verified
