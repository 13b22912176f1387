"""Prometheus metrics: plain counters per route, rendered as text when scraped.

Theory of operation
-------------------
Counting is the per-request part and must cost almost nothing, so it is not a
metrics library's call, takes no lock and formats nothing: ``Metrics.observe``
finds the route's ``Series`` (one dict lookup by route identity), adds one to a
status count and to one histogram bucket, and adds the duration to a sum. Every
other number is read when ``/metrics`` is scraped: open connections and
requests in flight from the server, the table's size, the reload counts. The
text (exposition format 0.0.4) is rendered only then, from label strings each
series formats once.

Labels stay few whatever clients send: ``route`` is the route's template as
declared (``/users/{id:int}``), never the path; every miss counts under
``__unmatched__``, and a method outside the known ones under ``_OTHER``. A
thousand random paths add at most one series per method.

Series are keyed by (method, template), not by route object, so a reload that
builds new routes continues the same counters; ``forget_routes`` drops the
lookup cache of the old table's objects.

With ``serve --workers N`` each worker counts its own requests, and a scrape
reaches one worker at random. So each worker writes a snapshot of its numbers
to a shared directory every second (``share``), and renders the others'
snapshots next to its own, every series labelled ``worker="N"``: any scrape
sees the whole service, the other workers' numbers at most a second old.
Labelling rather than summing keeps each series a true counter: a restarted
worker's counters start again from zero, which Prometheus' ``rate()`` reads as
a reset of that one series.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..web.patterns import METHODS

if TYPE_CHECKING:
    from ..web.request import Request
    from ..web.response import StreamResponse
    from ..web.router import Route

__all__ = ["BUCKETS", "CONTENT_TYPE", "UNMATCHED", "ConfigGauges", "Metrics", "ServerGauges", "escape_label"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "__unmatched__"  # the route label of every request no route matched
OTHER_METHOD = "_OTHER"  # the method label of every method outside METHODS (OpenTelemetry's name)
# Upper bounds of the duration histogram, in seconds: sub-millisecond steps for
# the handlers this server is built for, up to the slow ones a timeout would cut.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_KNOWN_METHODS = frozenset(METHODS)
_SHARE_EVERY = 1.0  # seconds between a worker's snapshots


def escape_label(value: str) -> str:
    """A label value as the text format writes it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Series:
    """The numbers of one (method, route): per status counts, the duration histogram."""

    __slots__ = ("method", "route", "statuses", "buckets", "sum")

    def __init__(self, method: str, route: str) -> None:
        self.method = method
        self.route = route
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf's
        self.sum = 0.0

    def snapshot(self) -> list[Any]:
        return [
            self.method,
            self.route,
            {str(k): v for k, v in self.statuses.items()},
            self.buckets,
            self.sum,
        ]


@dataclass(frozen=True, slots=True)
class ServerGauges:
    """What the server reports at scrape time."""

    connections_open: int
    in_flight: int
    routes: int


@dataclass(frozen=True, slots=True)
class ConfigGauges:
    """What the routes file's reloads report at scrape time (config/project.py's ``Health``)."""

    generation: int = 1
    reloads_succeeded: int = 0
    reloads_failed: int = 0


@dataclass(slots=True)
class _Numbers:
    """One process's numbers as rendered: its series, gauges and process figures."""

    worker: int
    series: list[list[Any]]  # Series.snapshot()s
    gauges: dict[str, float]
    process: dict[str, float] = field(default_factory=dict)


class Metrics:
    """The counters of one process and their text exposition.

    ``worker``: this process's number under ``serve --workers N`` (0: the only one).
    """

    def __init__(self, worker: int = 0) -> None:
        self.worker = worker
        self._by_route: dict[Route | None, Series] = {}  # PERF: the lookup observe() makes
        self._series: dict[tuple[str, str], Series] = {}
        self._gauges: Callable[[], ServerGauges] | None = None
        self._share: Path | None = None

    # -- counting (the per-request part) ------------------------------------------------
    def observe(self, request: Request, response: StreamResponse, started: float) -> None:
        """Count ``request``, answered with ``response``, begun at ``started`` (``monotonic()``)."""
        # PERF: every line counts here (it runs for every request); the bench measures it.
        elapsed = monotonic() - started
        series = self._by_route.get(request.route)
        if series is None or series.method is not request.method:  # (interned: HEAD on GET; misses)
            series = self._series_of(request)
        statuses = series.statuses
        status = response.status
        try:
            statuses[status] += 1
        except KeyError:
            statuses[status] = 1
        if elapsed <= 0.0005:  # BUCKETS[0]: most answers, without a bisect
            series.buckets[0] += 1
        else:
            series.buckets[bisect_left(BUCKETS, elapsed)] += 1
        series.sum += elapsed

    def count(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request by its labels (``observe`` without a request: tests, the bench)."""
        key = (method, route)
        series = self._series.get(key) or self._series.setdefault(key, Series(method, route))
        series.statuses[status] = series.statuses.get(status, 0) + 1
        series.buckets[bisect_left(BUCKETS, seconds)] += 1
        series.sum += seconds

    def _series_of(self, request: Request) -> Series:
        """The series of ``request`` found by its labels; remembered by route when it can be."""
        method = sys.intern(request.method if request.method in _KNOWN_METHODS else OTHER_METHOD)
        route = request.route
        key = (method, route.path if route is not None else UNMATCHED)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series(*key)
        if route is None or route.method == method:  # (misses: the last miss's method, found fast)
            self._by_route[route] = series
        return series

    def forget_routes(self) -> None:
        """A new table is served: drop the lookups by the old one's route objects."""
        self._by_route.clear()

    # -- scraping ---------------------------------------------------------------------
    def watch(self, gauges: Callable[[], ServerGauges]) -> None:
        """Read the server's gauges from ``gauges`` when scraped."""
        self._gauges = gauges

    def _numbers(self, config: ConfigGauges | None = None) -> _Numbers:
        values: dict[str, float] = {}
        if self._gauges is not None:
            gauges = self._gauges()
            values["http_requests_in_flight"] = gauges.in_flight
            values["service_connections_open"] = gauges.connections_open
            values["service_routes"] = gauges.routes
        if config is not None:
            values["service_config_generation"] = config.generation
            values["service_reload_total:success"] = config.reloads_succeeded
            values["service_reload_total:failure"] = config.reloads_failed
        return _Numbers(self.worker, [s.snapshot() for s in self._series.values()], values, process_numbers())

    def render(self, config: ConfigGauges | None = None) -> bytes:
        """The exposition text of this process, and of the other workers when shared."""
        everyone = [self._numbers(config), *self._others()]
        return "".join(render_text(everyone, labelled=self.worker > 0)).encode()

    # -- sharing between workers ---------------------------------------------------------
    def share(self, directory: str | os.PathLike[str]) -> None:
        """Exchange snapshots with the other workers through ``directory`` (see the module docstring)."""
        self._share = Path(directory)

    async def share_forever(self, config: Callable[[], ConfigGauges | None]) -> None:
        """Write this worker's snapshot every second until cancelled."""
        while self._share is not None:
            self.write_snapshot(config())
            await asyncio.sleep(_SHARE_EVERY)

    def write_snapshot(self, config: ConfigGauges | None = None) -> None:
        if self._share is None:
            return
        numbers = self._numbers(config)
        data = {"worker": numbers.worker, "series": numbers.series, "gauges": numbers.gauges}
        data["process"] = numbers.process
        target = self._share / f"worker-{self.worker}.json"
        temporary = target.with_suffix(".tmp")
        with contextlib.suppress(OSError):  # a full or vanished directory: the scrape misses one worker
            temporary.write_text(json.dumps(data), encoding="utf-8")
            temporary.replace(target)  # whole or not at all for a reader

    def _others(self) -> Iterator[_Numbers]:
        if self._share is None:
            return
        for path in sorted(self._share.glob("worker-*.json")):
            if path.name == f"worker-{self.worker}.json":
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                yield _Numbers(int(data["worker"]), data["series"], data["gauges"], data["process"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being replaced, or from a worker that died writing it


def process_numbers() -> dict[str, float]:
    """The process_* figures Prometheus' own clients give: start time, CPU, resident memory."""
    times = os.times()
    numbers = {
        "process_cpu_seconds_total": times.user + times.system,
        "process_start_time_seconds": _process_start_time(),
    }
    with contextlib.suppress(OSError, ValueError, IndexError):
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        numbers["process_resident_memory_bytes"] = pages * os.sysconf("SC_PAGE_SIZE")
    return numbers


@functools.cache  # (read when first scraped: importing the server reads no /proc files)
def _process_start_time() -> float:
    """When this process started, in Unix time (Linux's /proc; else when this module was imported)."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        ticks = int(fields[19])  # starttime: field 22, counted after the command name
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


_IMPORTED = time.time()  # the fallback: when this module was imported, close to the start

# (family, type, help) in the order they are rendered.
_FAMILIES = (
    ("http_requests_total", "counter", "Requests answered, by method, route template and status."),
    (
        "http_request_duration_seconds",
        "histogram",
        "Time from taking a request up to handing its answer to the socket.",
    ),
    ("http_requests_in_flight", "gauge", "Requests being answered now (this scrape included)."),
    ("service_connections_open", "gauge", "Client connections open."),
    ("service_routes", "gauge", "Routes in the table being served."),
    (
        "service_config_generation",
        "gauge",
        "Generation of routes.yaml served: 1 at start, one more per reload.",
    ),
    ("service_reload_total", "counter", "Reloads of routes.yaml, by result."),
    ("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds."),
    ("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds."),
    ("process_resident_memory_bytes", "gauge", "Resident memory size, in bytes."),
)
_LE = [*(repr(bound) for bound in BUCKETS), "+Inf"]


def render_text(everyone: Iterable[_Numbers], *, labelled: bool) -> Iterator[str]:
    """The exposition text of the numbers of ``everyone`` (one entry per process)."""
    everyone = sorted(everyone, key=lambda numbers: numbers.worker)
    for name, kind, text in _FAMILIES:
        lines = list(_samples(name, everyone, labelled))
        if lines:
            yield f"# HELP {name} {text}\n# TYPE {name} {kind}\n"
            yield from lines


def _samples(name: str, everyone: list[_Numbers], labelled: bool) -> Iterator[str]:
    for numbers in everyone:
        worker = f'worker="{numbers.worker}"' if labelled else ""
        if name == "http_requests_total":
            for method, route, statuses, _, _ in sorted(numbers.series, key=_by_labels):
                labels = _labels(worker, method, route)
                for status, count in sorted(statuses.items(), key=lambda item: int(item[0])):
                    yield f'{name}{{{labels},status="{status}"}} {count}\n'
        elif name == "http_request_duration_seconds":
            for method, route, _, buckets, total in sorted(numbers.series, key=_by_labels):
                counts = list(accumulate(buckets))
                yield _histogram_text(worker, method, route) % (*counts, repr(total), counts[-1])
        elif name == "service_reload_total":
            for result in ("success", "failure"):
                value = numbers.gauges.get(f"{name}:{result}")
                if value is not None:
                    both = f"{worker}," if worker else ""
                    yield f'{name}{{{both}result="{result}"}} {_number(value)}\n'
        else:
            value = numbers.gauges.get(name, numbers.process.get(name))
            if value is not None:
                yield f"{name}{{{worker}}} {_number(value)}\n" if worker else f"{name} {_number(value)}\n"


@functools.lru_cache(maxsize=4096)
def _histogram_text(worker: str, method: str, route: str) -> str:
    """The lines of one histogram with a ``%`` slot for each value (PERF: formatted once
    per series; a scrape is then one ``%`` per series, the fastest of Python's formats)."""
    labels = _labels(worker, method, route).replace("%", "%%")
    name = "http_request_duration_seconds"
    lines = [f'{name}_bucket{{{labels},le="{le}"}} %d\n' for le in _LE]
    lines += [f"{name}_sum{{{labels}}} %s\n", f"{name}_count{{{labels}}} %d\n"]
    return "".join(lines)


def _by_labels(series: list[Any]) -> tuple[str, str]:
    return series[1], series[0]


@functools.lru_cache(maxsize=4096)
def _labels(worker: str, method: str, route: str) -> str:
    both = f"{worker}," if worker else ""
    return f'{both}method="{escape_label(method)}",route="{escape_label(route)}"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))
