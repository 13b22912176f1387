"""Prometheus metrics at /metrics: what a scrape sees, parsed by Prometheus' own parser and
checked for what that parser does not check (ops/metrics.py)."""

from __future__ import annotations

import math
import random
import string
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving import ChildProcess

from service.ops.metrics import BUCKETS, CONTENT_TYPE, UNMATCHED, Metrics, escape_label
from service.testing import TestClient

TIMEOUT = 10.0  # bound on every wait; never a timing assertion
HANDLERS = """\
from service import Response, StreamResponse

async def user(request):
    return Response(text=str(dict(request.match_info)))

async def boom(request):
    raise RuntimeError("boom")

async def stream(request):
    response = StreamResponse()
    await response.prepare(request)
    await response.write(b"streamed")
    return response
"""
ROUTES = """\
service:
  name: demo
routes:
  GET /users/{id:int}: metricsapp.user
  GET /boom: metricsapp.boom
  GET /stream: metricsapp.stream
  GET /re/{code:\\d+}: metricsapp.user
"""


def project(tmp_path: Path, routes: str = ROUTES) -> Path:
    (tmp_path / "metricsapp.py").write_text(HANDLERS)
    path = tmp_path / "routes.yaml"
    path.write_text(routes)
    return path


Sample = tuple[str, tuple[tuple[str, str], ...], float]


def samples(text: str) -> list[Sample]:
    """Every sample of an exposition, as Prometheus' parser reads it (it raises on bad syntax)."""
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.append((sample.name, tuple(sorted(sample.labels.items())), sample.value))
    return found


def check_invariants(text: str) -> None:
    """What the parser lets pass: one TYPE per family, no duplicate series, and histograms
    whose buckets ascend, end at +Inf, and whose +Inf bucket equals _count."""
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), types
    found = samples(text)
    keys = [(name, labels) for name, labels, _ in found]
    duplicates = [key for key, count in Counter(keys).items() if count > 1]
    assert duplicates == []
    histograms: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    counts: dict[tuple[tuple[str, str], ...], float] = {}
    for name, labels, value in found:
        if name == "http_request_duration_seconds_bucket":
            rest = tuple(item for item in labels if item[0] != "le")
            histograms.setdefault(rest, []).append((float(dict(labels)["le"]), value))
        elif name == "http_request_duration_seconds_count":
            counts[labels] = value
    assert histograms.keys() == counts.keys()
    for labels, buckets in histograms.items():
        bounds = [bound for bound, _ in buckets]
        assert bounds == sorted(bounds) and bounds[-1] == math.inf, bounds
        values = [value for _, value in buckets]
        assert values == sorted(values), values  # cumulative: never decreasing
        assert values[-1] == counts[labels]


def requests_total(text: str) -> dict[tuple[str, str, str], float]:
    return {
        (labels["method"], labels["route"], labels["status"]): value
        for name, items, value in samples(text)
        if name == "http_requests_total" and (labels := dict(items))
    }


async def scrape(client: httpx.AsyncClient) -> str:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == CONTENT_TYPE
    text = answer.text
    check_invariants(text)
    return text


async def test_k_requests_to_k_paths_are_one_series_of_count_k(tmp_path: Path) -> None:
    async with TestClient(project(tmp_path)) as client:
        k = 25
        for number in range(1, k + 1):
            assert (await client.get(f"/users/{number}")).status_code == 200
        totals = requests_total(await scrape(client))
    users = {key: value for key, value in totals.items() if "users" in key[1]}
    assert users == {("GET", "/users/{id:int}", "200"): k}


async def test_random_unmatched_paths_add_one_series(tmp_path: Path) -> None:
    rng = random.Random(17)
    async with TestClient(project(tmp_path)) as client:
        before = len(samples(await scrape(client)))
        for _ in range(1000):
            path = "/" + "".join(rng.choices(string.ascii_letters + string.digits + "-._~", k=12))
            assert (await client.get(path)).status_code == 404
        text = await scrape(client)
    totals = requests_total(text)
    assert totals[("GET", UNMATCHED, "404")] == 1000
    # One new series (plus its histogram's lines), and /metrics' own: nothing per path.
    histogram_lines = len(BUCKETS) + 3  # buckets, +Inf, _sum, _count
    assert len(samples(text)) - before <= 2 * (1 + histogram_lines)
    assert not any(route.startswith("/") and route not in ("/metrics",) for _, route, _ in totals)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/boom", ("GET", "/boom", "500")),  # a handler's failure counts as its 500
        ("HEAD", "/users/3", ("HEAD", "/users/{id:int}", "200")),  # HEAD on a GET route: its own method
        ("POST", "/users/3", ("POST", UNMATCHED, "405")),  # a 405 is a miss too
        ("PROPFIND", "/users/3", ("_OTHER", UNMATCHED, "405")),  # a method outside the known ones
        ("GET", "/stream", ("GET", "/stream", "200")),  # a streamed answer counts when it ends
        ("GET", "/re/42", ("GET", "/re/{code:\\d+}", "200")),  # a regex template, backslash and all
    ],
)
async def test_labels_of_one_request(
    tmp_path: Path, method: str, path: str, expected: tuple[str, ...]
) -> None:
    async with TestClient(project(tmp_path)) as client:
        await client.request(method, path)
        totals = requests_total(await scrape(client))
    assert totals[expected] == 1


async def test_server_gauges(tmp_path: Path) -> None:
    async with TestClient(project(tmp_path)) as client:
        text = await scrape(client)
    values = {name: value for name, labels, value in samples(text) if not labels}
    assert values["http_requests_in_flight"] == 1  # the scrape itself
    assert values["service_connections_open"] >= 1
    assert values["service_routes"] == 4 + 5  # the file's, and /livez /healthz /readyz /metrics /openapi.json
    assert values["service_config_generation"] == 1
    assert values["process_start_time_seconds"] > 1_600_000_000
    assert "process_cpu_seconds_total" in values
    reloads = {dict(labels)["result"]: v for n, labels, v in samples(text) if n == "service_reload_total"}
    assert reloads == {"success": 0, "failure": 0}


async def test_metrics_null_turns_counting_off(tmp_path: Path) -> None:
    routes = project(tmp_path, ROUTES.replace("  name: demo\n", "  name: demo\n  metrics: null\n"))
    client_of = TestClient(routes)
    async with client_of as client:
        assert (await client.get("/metrics")).status_code == 404
        assert client_of.server.metrics is None


async def test_a_path_of_its_own(tmp_path: Path) -> None:
    routes = project(tmp_path, ROUTES.replace("  name: demo\n", "  name: demo\n  metrics: /internal/prom\n"))
    async with TestClient(routes) as client:
        assert (await client.get("/metrics")).status_code == 404
        answer = await client.get("/internal/prom")
    assert answer.status_code == 200 and "http_requests_total" in answer.text


async def test_counts_go_on_through_a_reload(tmp_path: Path) -> None:
    from service.ops.reload import Reloader

    routes = project(tmp_path)
    client_of = TestClient(routes)
    async with client_of as client:
        server = client_of.server
        await client.get("/users/1")
        reloader = Reloader(
            routes, current=lambda: server.current_app, swap=lambda new, limits, _: server.swap_app(new)
        )
        routes.write_text(ROUTES + "  GET /more/{id:int}: metricsapp.user\n")
        assert reloader.reload()
        routes.write_text("routes: {GET /x: nowhere.to.be.found}\n")
        assert not reloader.reload()
        await client.get("/users/2")
        await client.get("/more/1")
        text = await scrape(client)
    totals = requests_total(text)
    assert totals[("GET", "/users/{id:int}", "200")] == 2
    assert totals[("GET", "/more/{id:int}", "200")] == 1
    values = {(name, labels): value for name, labels, value in samples(text)}
    assert values[("service_config_generation", ())] == 2
    assert values[("service_reload_total", (("result", "success"),))] == 1
    assert values[("service_reload_total", (("result", "failure"),))] == 1


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("/plain", "/plain"),
        ('/q"uote', '/q\\"uote'),
        ("/back\\slash", "/back\\\\slash"),
        ("/new\nline", "/new\\nline"),
    ],
)
def test_label_values_are_escaped(value: str, written: str) -> None:
    assert escape_label(value) == written
    metrics = Metrics()
    metrics.count("GET", value, 200, 0.001)
    text = metrics.render().decode()
    assert f'route="{written}"' in text
    assert requests_total(text) == {("GET", value, "200"): 1}  # and the parser reads it back


def test_durations_fall_in_their_bucket() -> None:
    metrics = Metrics()
    for seconds in (0.0001, 0.0005, 0.003, 0.003, 20.0):  # on a bound: in that bound's bucket
        metrics.count("GET", "/x", 200, seconds)
    text = metrics.render().decode()
    check_invariants(text)
    buckets = {dict(labels)["le"]: value for name, labels, value in samples(text) if name.endswith("_bucket")}
    assert (buckets["0.0005"], buckets["0.001"], buckets["0.005"], buckets["10.0"], buckets["+Inf"]) == (
        2, 2, 4, 4, 5,
    )  # fmt: skip


def test_workers_each_scrape_sees_every_worker(tmp_path: Path) -> None:
    """With --workers 2 a scrape reaches one worker; it still reports both, each labelled,
    and the counts add up to what was sent (the other worker's at most a second late)."""
    routes = project(tmp_path)
    argv = [sys.executable, "-m", "service", "serve", str(routes), "--host", "127.0.0.1", "--port", "0"]
    env = {"PYTHONPATH": str(tmp_path)}
    process = ChildProcess([*argv, "--workers", "2", "--no-reload"], cwd=tmp_path, env=env)
    try:
        port = process.wait_serving()
        process.wait_log(r"\[worker 2\].*Serving on", timeout=TIMEOUT)
        process.wait_log(r"\[worker 1\].*Serving on", timeout=TIMEOUT)
        sent = 40
        for _ in range(sent):  # each on a new connection: the kernel hands it to either worker
            assert httpx.get(f"http://127.0.0.1:{port}/users/1", timeout=TIMEOUT).status_code == 200
        for _ in range(50):  # bounded: until the snapshots have caught up (each written once a second)
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT).text
            check_invariants(text)
            workers = {dict(labels).get("worker") for _, labels, _ in samples(text)}
            counted = sum(
                value
                for name, labels, value in samples(text)
                if name == "http_requests_total" and dict(labels)["route"] == "/users/{id:int}"
            )
            if workers == {"1", "2"} and counted == sent:
                break
            time.sleep(0.1)
        assert workers == {"1", "2"}
        assert counted == sent
        assert process.terminate() == 0
    finally:
        process.kill()
