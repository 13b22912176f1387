"""Live edits: watch routes.yaml and its handler modules; swap in a new app when valid.

Theory of operation
-------------------
Every ``interval`` seconds (or at once on SIGHUP) the watcher takes a
*fingerprint*: a hash of the routes file's bytes and of each handler module's
source file. Reading the bytes, rather than trusting inode or mtime, sees every
way a file can change: saved in place, replaced by an atomic rename, swapped
through a symlink (Kubernetes ConfigMaps), or edited through a container bind
mount. A routes file is a few kilobytes; hashing it twice a second is nothing.

When the fingerprint changes, ``reload()`` builds a whole new ``Application``
between requests, on the event loop (loading and importing take milliseconds):

1. load and validate the file (``FILE:LINE:COL`` issues, as ``check`` prints);
2. drop changed handler modules from ``sys.modules`` so they import afresh;
3. resolve every name and build the app; any failure logs every issue and
   leaves the running app untouched -- the last good table keeps serving;
4. carry the app state over (what ``on_startup`` hooks made: pools, stores), so
   hooks are not re-run; settings that cannot change live are reported;
5. swap: requests parsed from now on use the new table; requests in flight
   finish on the one they started with; connections stay open.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterable

from .app import Application
from .config import ServiceSettings
from .errors import ConfigError
from .loader import Spec, SpecError, load
from .project import (
    HEALTH_KEY,
    SOURCES_KEY,
    SPEC_KEY,
    Health,
    Sources,
    build_app,
    file_digest,
    module_digests,
    module_file,
    module_names,
    spec_of,
    with_import_problems,
)
from .wire import Limits

__all__ = ["Reloader", "limits_of"]

log = logging.getLogger("service.reload")

# Settings a running server cannot take without a restart.
RESTART_ONLY = ("host", "port")


def limits_of(settings: ServiceSettings) -> Limits:
    return Limits(
        header_timeout=settings.header_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        max_connections=settings.max_connections,
    )


def describe_changes(old: Spec, new: Spec, reimported: Iterable[str] = ()) -> str:
    """``1 added (GET /x); 0 removed; 1 changed (POST /y)`` -- by what the file says."""
    before = {(r.method, r.path): r.options for r in old.routes}
    after = {(r.method, r.path): r.options for r in new.routes}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])

    def fmt(label: str, keys: list[tuple[str, str]]) -> str:
        shown = ", ".join(f"{m} {p}" for m, p in keys[:5]) + (", ..." if len(keys) > 5 else "")
        return f"{len(keys)} {label}" + (f" ({shown})" if keys else "")

    parts = [fmt("added", added), fmt("removed", removed), fmt("changed", changed)]
    modules = sorted(reimported)
    if modules:
        parts.append(f"re-imported {', '.join(modules)}")
    return "; ".join(parts)


class Reloader:
    """Watches one routes file for the server that serves it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        current: Callable[[], Application],
        swap: Callable[[Application, Limits, bool], None],
        interval: float = 0.5,
    ) -> None:
        self.path = os.fspath(path)
        self._current = current
        self._swap = swap
        self.interval = interval
        self._wake = asyncio.Event()
        spec = spec_of(current())
        self._running_settings = spec.settings
        self._hooks = self._hook_names(spec)
        self._modules = module_names(spec)  # named by the latest readable file, imported or not
        sources = current().get(SOURCES_KEY)
        if isinstance(sources, Sources):  # taken before the files were read: nothing is missed
            self._module_digests = dict(sources.modules)  # as last imported
            self._fingerprint = (sources.routes, sources.modules)
        else:
            self._module_digests = module_digests(self._modules)
            self._fingerprint = self._take_fingerprint()

    # -- watching ------------------------------------------------------------------------
    def request(self) -> None:
        """Reload now (SIGHUP)."""
        self._wake.set()

    async def run(self, *, poll: bool = True) -> None:
        """Poll until cancelled; with ``poll=False`` reload only when asked (SIGHUP)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval if poll else None)
            forced = self._wake.is_set()
            self._wake.clear()
            try:
                if forced or self._take_fingerprint() != self._fingerprint:
                    self.reload()
            except Exception:  # a bug of ours must not end live reloading for good
                log.exception("Reloading %s failed unexpectedly; still watching", self.path)

    def _take_fingerprint(self) -> tuple[str | None, tuple[tuple[str, str | None], ...]]:
        return file_digest(self.path), tuple(sorted(module_digests(self._modules).items()))

    # -- reloading -----------------------------------------------------------------------------
    def reload(self) -> bool:
        """Build a new app from the file; swap it in if valid. True when swapped."""
        routes_digest = file_digest(self.path)  # before load() reads it: a save during the reload differs
        try:
            return self._reload()
        finally:
            self._fingerprint = (routes_digest, tuple(sorted(self._module_digests.items())))

    def _reload(self) -> bool:
        old = self._current()
        health = old.get(HEALTH_KEY)
        try:
            invalid: SpecError | None = None
            try:
                spec = load(self.path)
            except SpecError as exc:  # import what did validate too: report as check does
                spec, invalid = exc.partial, exc
            self._modules = module_names(spec)
            # Digests taken *before* importing: a handler saved during the build
            # differs from them, so the next poll sees it.
            before = module_digests(self._modules)
            reimported = self._forget_changed_modules(self._modules)
            try:
                if invalid is not None:
                    raise with_import_problems(invalid)
                new = build_app(spec)
            finally:  # sys.modules holds what this build imported, good or not
                self._module_digests = before
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("%s", issue)
            log.error(
                "Reload of %s failed (%d problem%s); still serving generation %d",
                self.path,
                len(exc.issues),
                "s" if len(exc.issues) != 1 else "",
                health.generation if isinstance(health, Health) else 1,
            )
            if isinstance(health, Health):
                health.last_reload_failed = True
            return False
        self._warn_restart_only(spec)
        for key, value in old.items():  # hooks' work (pools, stores) lives on
            if key not in (SPEC_KEY, SOURCES_KEY):
                new[key] = value
        if isinstance(health, Health):
            health.generation += 1
            health.last_reload_failed = False
        self._swap(new, limits_of(spec.settings), spec.settings.access_log)
        log.info(
            "Reloaded %s: generation %d: %s",
            self.path,
            health.generation if isinstance(health, Health) else 0,
            describe_changes(spec_of(old), spec, reimported),
        )
        return True

    def _forget_changed_modules(self, modules: set[str]) -> list[str]:
        """Make changed handler modules import afresh in ``build_app``; returns their names."""
        importlib.invalidate_caches()
        forgotten = []
        for name in modules:
            file = module_file(name)
            if file is None or name not in sys.modules:
                continue  # not imported (or failed to): the build imports it
            if name in self._module_digests and file_digest(file) == self._module_digests[name]:
                continue
            # A stale .pyc can look fresh when a file changes twice within its mtime's
            # resolution with the same size; remove it so the source is compiled anew.
            try:
                cached = importlib.util.cache_from_source(file)
                os.remove(cached)
            except (OSError, NotImplementedError, ValueError):
                pass
            sys.modules.pop(name, None)
            forgotten.append(name)
        return forgotten

    @staticmethod
    def _hook_names(spec: Spec) -> tuple[tuple[str, ...], ...]:
        return tuple(
            tuple(ref.dotted for ref in refs) for refs in (spec.on_startup, spec.on_shutdown, spec.on_cleanup)
        )

    def _warn_restart_only(self, spec: Spec) -> None:
        started = self._running_settings  # as the file said at start (flags may override it)
        for key in RESTART_ONLY:
            if getattr(spec.settings, key) != getattr(started, key):
                log.warning(
                    "service.%s changed in the file (%r -> %r): it needs a restart to take effect",
                    key,
                    getattr(started, key),
                    getattr(spec.settings, key),
                )
        if self._hook_names(spec) != self._hooks:
            log.warning("on_startup/on_shutdown/on_cleanup changed: they take effect at the next restart")
