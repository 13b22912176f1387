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
2. drop changed handler modules from ``sys.modules`` so they import afresh --
   only those whose source differs from the one they were imported from (or is
   gone), so unchanged modules keep their module-level state (stores, pools);
3. resolve every name and build the app; any failure logs every issue and
   leaves the running app untouched -- the last good table keeps serving, and a
   changed module that failed to import is put back as it was, so the next
   reload compares against what is really loaded, however many failed before;
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType

from ..config.loader import Spec, SpecError, load
from ..config.project import (
    HEALTH_KEY,
    SOURCES_KEY,
    SPEC_KEY,
    Health,
    Sources,
    build_app,
    file_digest,
    module_digests,
    module_names,
    spec_of,
    with_import_problems,
)
from ..config.report import excerpt, wants_colour
from ..config.schema import ServiceSettings
from ..defaults import LIMIT_NAMES
from ..errors import ConfigError
from ..http.wire import Limits
from ..web.app import Application

__all__ = ["Reloader", "limits_of"]

log = logging.getLogger("service.reload")

# Settings a running server cannot take without a restart.
RESTART_ONLY = ("host", "port", "access_log_format", "request_ids")


def limits_of(settings: ServiceSettings) -> Limits:
    """The per-connection limits the ``service:`` block sets: its keys named as ``Limits``' fields."""
    return Limits(**{name: getattr(settings, name) for name in LIMIT_NAMES})


def describe_changes(old: Spec, new: Spec, reimported: Iterable[str] = ()) -> str:
    """``1 added (GET /x); 0 removed; 1 changed (POST /y); 1 module re-imported (h.items)``.

    Routes by what the file says; modules by which changed on disk and were imported afresh.
    """
    before = {(r.method, r.path): r.options for r in old.routes}
    after = {(r.method, r.path): r.options for r in new.routes}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])

    def fmt(label: str, names: list[str]) -> str:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"{len(names)} {label}" + (f" ({shown})" if names else "")

    def routes(keys: list[tuple[str, str]]) -> list[str]:
        return [f"{method} {path}" for method, path in keys]

    modules = sorted(reimported)
    return "; ".join(
        [
            fmt("added", routes(added)),
            fmt("removed", routes(removed)),
            fmt("changed", routes(changed)),
            fmt("module re-imported" if len(modules) == 1 else "modules re-imported", modules),
        ]
    )


class _Imports:
    """The named handler modules as this process imported them; each build's changes to them.

    ``digests`` maps a module to the digest of the source it was imported from. It is
    what a build compares against, not what the previous reload saw: a failed
    reload does not import everything it names, nor leave ``sys.modules`` as it found
    it, so taking its view would make the next good reload re-import unchanged
    modules (wiping their state) or keep serving a deleted one.
    """

    def __init__(self, digests: Mapping[str, str | None]) -> None:
        self.digests = dict(digests)

    def _stale(self, name: str, now: Mapping[str, str | None]) -> bool:
        if name not in self.digests:  # imported by another module, not by a build:
            return False  # no source to compare with; it is not ours to re-import
        return now.get(name) != self.digests[name]  # None now: the file is gone

    @contextlib.contextmanager
    def build(self, names: Iterable[str], now: Mapping[str, str | None]) -> Iterator[list[str]]:
        """Around one build: yields the stale modules, already out of ``sys.modules``.

        ``now`` holds the digests taken before the build imports anything.
        """
        importlib.invalidate_caches()
        names = set(names)
        loaded = {name: module for name in names if (module := sys.modules.get(name)) is not None}
        stale = sorted(name for name in loaded if self._stale(name, now))
        for name in stale:
            _drop_bytecode(loaded[name])
            del sys.modules[name]
        try:
            yield stale
        finally:  # the build succeeded or not
            for name in names:
                module = sys.modules.get(name)
                if module is None and name in loaded:
                    # Its new source failed to import (or is gone): the old module, which
                    # the serving table still uses, stays the one its source is compared with.
                    sys.modules[name] = loaded[name]
                elif module is not None and (module is not loaded.get(name) or name not in self.digests):
                    # Imported by this build; or found imported by another module, and
                    # from now on its changes are seen.
                    self.digests[name] = now.get(name)


def _drop_bytecode(module: ModuleType) -> None:
    """A stale .pyc can look fresh when a file changes twice within its mtime's resolution
    with the same size; remove it so the source is compiled anew."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        with contextlib.suppress(OSError, NotImplementedError, ValueError):
            os.remove(importlib.util.cache_from_source(file))


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
            self._imports = _Imports(dict(sources.modules))
            self._fingerprint = (sources.routes, sources.modules)
        else:
            self._imports = _Imports(module_digests(self._modules))
            self._fingerprint = self._take_fingerprint()
        # The watched modules' digests as the latest reload saw them (the fingerprint's part).
        self._seen = dict(self._fingerprint[1])

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
            self._fingerprint = (routes_digest, tuple(sorted(self._seen.items())))

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
            self._seen = module_digests(self._modules)
            with self._imports.build(self._modules, self._seen) as reimported:
                if invalid is not None:
                    raise with_import_problems(invalid)
                new = build_app(spec)
        except ConfigError as exc:
            shown = sys.stderr.isatty()  # on a terminal, each with the line of the file under it
            for issue in exc.issues:
                log.error(
                    "%s",
                    "\n".join([str(issue), *excerpt(issue, wants_colour(sys.stderr))]) if shown else issue,
                )
            log.error(
                "Reload of %s failed (%d problem%s); still serving generation %d",
                self.path,
                len(exc.issues),
                "s" if len(exc.issues) != 1 else "",
                health.generation if isinstance(health, Health) else 1,
            )
            if isinstance(health, Health):
                health.last_reload_failed = True
                health.reloads_failed += 1
            return False
        self._warn_restart_only(spec)
        for key, value in old.items():  # hooks' work (pools, stores) lives on
            if key not in (SPEC_KEY, SOURCES_KEY):
                new[key] = value
        if isinstance(health, Health):
            health.generation += 1
            health.last_reload_failed = False
            health.reloads_succeeded += 1
        self._swap(new, limits_of(spec.settings), spec.settings.access_log)
        log.info(
            "Reloaded %s: generation %d: %s",
            self.path,
            health.generation if isinstance(health, Health) else 0,
            describe_changes(spec_of(old), spec, reimported),
        )
        return True

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
