"""A route's effective policies: its own keys, then its groups', then the service's defaults.

The nearest setting of each key wins, key by key and whole (a route's ``cors:``
replaces a group's, it is not merged into it): the route's long form first, then
the groups it names in ``use:``, in the order it names them, then ``service:
policies:``. ``service.handler_timeout``, the older spelling of the default
timeout, counts as ``service: policies: timeout:``. Computed once, at load
(loader.py); what a route ends up with is compiled into its pipeline
(web/policies.py) and shown by ``service routes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .schema import RATE_PERIODS, Policies, ServiceSettings

__all__ = ["NO_POLICIES", "POLICY_KEYS", "defaults_of", "describe", "effective", "unknown_groups"]

POLICY_KEYS = tuple(Policies.model_fields)
NO_POLICIES = Policies()
_PERIODS = {seconds: word for word, seconds in RATE_PERIODS.items()}  # (schema.py's, turned round)


def defaults_of(settings: ServiceSettings) -> Policies:
    """``service: policies:``, with ``handler_timeout`` as its timeout when it sets none."""
    defaults = settings.policies
    if defaults.timeout is None and settings.handler_timeout is not None:
        return defaults.model_copy(update={"timeout": settings.handler_timeout})
    return defaults


def effective(own: Policies, groups: Sequence[Policies], defaults: Policies) -> Policies:
    """Each key's nearest setting among ``own``, ``groups`` (in order) and ``defaults``."""
    layers = (own, *groups, defaults)
    chosen = {}
    for key in POLICY_KEYS:
        for layer in layers:
            value = getattr(layer, key)
            if value is not None:
                chosen[key] = value
                break
    return Policies.model_construct(**chosen) if chosen else NO_POLICIES  # (validated already)


def unknown_groups(use: Sequence[str], groups: Mapping[str, Policies]) -> list[tuple[int, str]]:
    """``(index, name)`` of each name in ``use`` that is not a group."""
    return [(i, name) for i, name in enumerate(use) if name not in groups]


def describe(policies: Policies) -> str:
    """One line for ``service routes``: ``timeout=30s max_body=64KiB concurrency=100+50``."""
    parts = []
    if policies.timeout is not None:
        parts.append(f"timeout={_duration(policies.timeout)}")
    if policies.max_body is not None:
        parts.append(f"max_body={_size(policies.max_body)}")
    if policies.concurrency is not None:
        parts.append(f"concurrency={policies.concurrency.limit}+{policies.concurrency.queue}")
    if policies.rate_limit is not None:
        rate = policies.rate_limit
        period = _PERIODS.get(rate.period, f"{rate.period:g}s")
        parts.append(f"rate_limit={rate.count}/{period}" + ("(api_key)" if rate.per == "api_key" else ""))
    if policies.auth is not None:
        parts.append("auth=api_key" if policies.auth.api_key is not None else "auth=bearer_jwt")
    if policies.cors is not None:
        origins = policies.cors.allow_origins
        parts.append(f"cors={origins[0]}" + (f"(+{len(origins) - 1})" if len(origins) > 1 else ""))
    return " ".join(parts)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def _size(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"
