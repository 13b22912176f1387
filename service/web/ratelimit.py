"""A route's ``rate_limit``: a token bucket per client, in memory, in this process.

Each client (its address, as ``request.remote`` reports it: behind trusted proxies,
the client's) -- or, with ``per: api_key``, each API key the route's ``auth``
verified (so callers sharing an address, or one caller on many, count as
themselves; requests without a valid key are refused by auth before they count)
-- has a bucket of ``count`` tokens that refills at ``count`` per
``period``; a request takes one, and finds none: 429 with ``Retry-After`` (when
the next token comes) and the fields of the IETF draft "RateLimit header fields
for HTTP" (-10): ``RateLimit-Policy: "default";q=100;w=60`` and ``RateLimit:
"default";r=0;t=35`` (tokens left, and seconds until the bucket is full again).
Answers that pass do not carry them: adding fields to every answer would send it
down the general rendering path, which measured several times the cost of the
bucket itself (the bench's policies rows).

The buckets are this process's: with N replicas (or ``--workers N``) a client
gets up to N times the rate. Buckets that have refilled completely carry no
information and are dropped when the table grows large, so a scan of many
addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .auth import IDENTITY
from .httpexc import HTTPTooManyRequests
from .request import Request
from .response import StreamResponse
from .routedef import Handler

__all__ = ["TokenBuckets", "with_rate_limit"]

_PRUNE_AT = 10_000  # buckets kept before full ones are dropped


class TokenBuckets:
    """``count`` tokens per ``period`` seconds for each key; ``clock`` is injectable for tests."""

    def __init__(self, count: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.period = period
        self.rate = count / period  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)

    def take(self, key: str) -> tuple[bool, float, float]:
        """Take a token for ``key``: (taken, tokens left, seconds until the next token)."""
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.count, now))
        tokens = min(self.count, tokens + (now - then) * self.rate)
        taken = tokens >= 1.0
        if taken:
            tokens -= 1.0
        if len(self._buckets) >= _PRUNE_AT and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens, now)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
        return taken, tokens, wait

    def until_full(self, tokens: float) -> float:
        return (self.count - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            k
            for k, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate >= self.count
        ]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def with_rate_limit(
    handler: Handler,
    count: int,
    period: float,
    *,
    per_api_key: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Handler:
    """``handler`` behind ``count`` requests per ``period`` seconds for each client address,
    or for each API key (``per_api_key``: inside ``with_api_key``, which names the key)."""
    buckets = TokenBuckets(count, period, clock)
    policy = f'"default";q={count};w={math.ceil(period)}'
    whom = "with this API key" if per_api_key else "from this client"

    async def limited(request: Request) -> StreamResponse:
        key = (request[IDENTITY].subject or "") if per_api_key else (request.remote or "")
        taken, left, wait = buckets.take(key)
        if not taken:
            state = f'"default";r={int(left)};t={math.ceil(buckets.until_full(left))}'
            raise HTTPTooManyRequests(
                headers={
                    "Retry-After": str(max(1, math.ceil(wait))),
                    "RateLimit-Policy": policy,
                    "RateLimit": state,
                },
                text=f"429: more than {count} requests in {period:g} s {whom}",
            )
        return await handler(request)

    return limited
