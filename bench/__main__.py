"""``python -m bench``: this project vs aiohttp vs a bare floor, in one run.

Each server is its own process, pinned to CPU 0 when there are two or more CPUs;
wrk is pinned to CPU 1. Every scenario runs a warm-up, then ``--rounds`` rounds
of ``--duration`` seconds per server, interleaved so drift hits all alike; the
median round is reported. Results go to stdout as a table and to ``--out`` as
JSON. Needs wrk (Debian/Ubuntu: ``apt-get install wrk``) and the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .apps import POLICY_ROUTES, last_dynamic_path, write_policies_project, write_service_project

ROOT = Path(__file__).resolve().parent.parent
ECHO_BODY = json.dumps({"data": "x" * (1024 - len(json.dumps({"data": ""})))})  # exactly 1 KiB of JSON
LARGE_FILLER = 1000
TABLE_SIZE = "table size"
BODY_MODEL = "POST /echo, body model (1 KiB JSON)"
OPERATIONS = "operations: GET /users/{id:int}"
POLICIES = "policies: GET /p/{policy}/7, one server"
SMALL_FILLER = 2


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@dataclass
class Result:
    scenario: str
    server: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # the server process's CPU time (user + system) per request, in microseconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(cpu: int) -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def start(name: str, cmd: list[str], port: int, cwd: Path, code: Path = ROOT) -> Server:
    env = {**os.environ, "PYTHONPATH": str(code), "SERVICE_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env, preexec_fn=lambda: pin(0), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Server(name, port, process)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{name} did not start (command: {' '.join(cmd)})")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: Server, path: str, duration: int, connections: int, script: Path | None) -> Round:
    """One wrk round against ``server``, with the server's CPU time per request."""
    before = cpu_seconds(server.process.pid)
    rps, p50, p99, errors, count = wrk(f"http://127.0.0.1:{server.port}{path}", duration, connections, script)
    used = cpu_seconds(server.process.pid) - before
    return Round(rps, p50, p99, errors, used / max(count, 1) * 1e6)


@dataclass
class Round:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float


def wrk(
    url: str, duration: int, connections: int, script: Path | None
) -> tuple[float, float, float, int, int]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, preexec_fn=lambda: pin(1), timeout=duration + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    count = sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, count + (int(errors.group(1)) if errors and "nope" not in url else 0), total


def rss_with_idle_connections(server: Server, count: int) -> tuple[int, int]:
    """(RSS kB before, RSS kB with ``count`` idle keep-alive connections open)."""

    def rss() -> int:
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    before = rss()
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n")
            socks.append(sock)
        for sock in socks:
            data = b""
            while b"Hello, world!" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        time.sleep(0.5)
        return before, rss()
    finally:
        for sock in socks:
            sock.close()


def metrics_render_time(series: int = 100) -> float:
    """Seconds one /metrics text of ``series`` routes takes to render (in this process)."""
    sys.path.insert(0, str(ROOT))
    from service.ops.metrics import Metrics  # (this checkout's)

    metrics = Metrics()
    for number in range(series):
        metrics.count("GET", f"/route{number}/{{id:int}}", 200, 0.002)
    metrics.render()  # (label text is formatted once, on the first scrape)
    started = time.perf_counter()
    for _ in range(100):
        metrics.render()
    return (time.perf_counter() - started) / 100


def check_time(routes: Path) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "service", "check", str(routes)],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario and server (default 3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json", help="JSON results file")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of this project (e.g. `git worktree add /tmp/base HEAD~1`): its server"
        " runs as 'service@base' in the same interleaved rounds, for a before/after measurement",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed: on Debian/Ubuntu run `apt-get install wrk`, then try again.",
            file=sys.stderr,
        )
        return 2
    try:
        import aiohttp  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        print("the bench needs its extra: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    work = Path(tempfile.mkdtemp(prefix="service-bench-"))
    small = write_service_project(work / "small", SMALL_FILLER)
    large = write_service_project(work / "large", LARGE_FILLER)
    model = write_service_project(work / "model", SMALL_FILLER, body_model=True)
    # The operations features on and off (issue 17): metrics are on by default.
    bare = write_service_project(work / "bare", SMALL_FILLER, service=("metrics: null",))
    logged = write_service_project(work / "logged", SMALL_FILLER, service=("access_log: true",))
    # The access log's own cost, apart from echoing X-Request-ID (which access_log turns on)
    quiet = write_service_project(
        work / "quiet", SMALL_FILLER, service=("access_log: true", "request_ids: false")
    )
    policed = write_policies_project(work / "policies")
    headers = policy_headers()  # (sets the keys the policy routes read from the environment)
    py = sys.executable

    def served(routes: Path) -> tuple[list[str], Path]:
        return [py, "-m", "service", "serve", str(routes), "--host", "127.0.0.1"], routes.parent

    specs = {
        "service": served(small),
        "service-1000": served(large),
        "service-model": served(model),
        "service-no-metrics": served(bare),
        # Second processes of the same two builds: two processes of one build differ by a few
        # percent (hash seeds, memory layout), as much as metrics cost; each side is the mean of two.
        "service-metrics-2": served(small),
        "service-no-metrics-2": served(bare),
        "service-access-log": served(logged),
        "service-access-log-no-ids": served(quiet),
        "service-policies": served(policed),
        "aiohttp": ([py, "-m", "bench.apps", "aiohttp", str(SMALL_FILLER)], ROOT),
        "aiohttp-1000": ([py, "-m", "bench.apps", "aiohttp", str(LARGE_FILLER)], ROOT),
        "floor": ([py, "-m", "bench.apps", "floor"], ROOT),
    }
    if args.baseline is not None:
        specs["service@base"] = specs["service"]
    servers: dict[str, Server] = {}
    try:
        for name, (cmd, cwd) in specs.items():
            port = free_port()
            full = [*cmd, "--port", str(port)] if name.startswith("service") else [*cmd, str(port)]
            code = args.baseline.resolve() if name == "service@base" else ROOT
            servers[name] = start(name, full, port, cwd, code)
        for name in POLICY_ROUTES:  # one process: each policy's route measured in turn
            servers[f"policy-{name}"] = servers["service-policies"]
        policy_script = work / "policies.lua"
        policy_script.write_text("".join(f"wrk.headers[{k!r}] = {v!r}\n" for k, v in headers.items()))
        post = work / "post.lua"
        post.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(ECHO_BODY)}\n"
        )
        last = last_dynamic_path(LARGE_FILLER)
        # (title, {server: path}, wrk script); the servers of a scenario run interleaved.
        scenarios: list[tuple[str, dict[str, str], Path | None]] = [
            ("GET /hello", {"service": "/hello", "aiohttp": "/hello", "floor": "/hello"}, None),
            ("GET /users/{id:int}", {"service": "/users/7", "aiohttp": "/users/7"}, None),
            ("POST /echo (1 KiB JSON)", {"service": "/echo", "aiohttp": "/echo"}, post),
            # A declared body model (service) against the same check written by hand (aiohttp),
            # and against the same route without one, in the same rounds: what a model costs.
            (BODY_MODEL, {"service-model": "/echo", "aiohttp": "/echo-model", "service": "/echo"}, post),
            ("1,000 routes: last dynamic", {"service-1000": last, "aiohttp-1000": last}, None),
            ("404", {"service": "/nope", "aiohttp": "/nope"}, None),
            # Cost against table size, measured in the same rounds: the same kind of route
            # (dynamic, JSON) in the 3-route table and last in the 1,000-route one.
            (TABLE_SIZE, {"service": "/users/7", "service-1000": last}, None),
            # What metrics (on by default) and the access log cost, in server CPU per request;
            # with --baseline, also both off against a build without them.
            # Each policy's cost: its route against the same route with none, one process,
            # every request carrying every policy's header (so only the policy differs).
            (POLICIES, {f"policy-{name}": f"/p/{name}/7" for name in POLICY_ROUTES}, policy_script),
            (
                OPERATIONS,
                {
                    name: "/users/7"
                    for name in (
                        "service",
                        "service-no-metrics",
                        "service-metrics-2",
                        "service-no-metrics-2",
                        "service-access-log",
                        "service-access-log-no-ids",
                    )
                },
                None,
            ),
        ]
        if args.baseline is not None:  # the same paths as this checkout's, in the small-table rows
            for _, paths, _ in scenarios:
                if "service" in paths and "service-1000" not in paths and "service-model" not in paths:
                    paths["service@base"] = paths["service"]
        results: list[Result] = []
        for title, paths, script in scenarios:
            for name, path in paths.items():  # warm-up
                wrk(f"http://127.0.0.1:{servers[name].port}{path}", 1, args.connections, script)
            rounds: dict[str, list[Round]] = {n: [] for n in paths}
            for _ in range(args.rounds):
                for name, path in paths.items():
                    rounds[name].append(
                        measured(servers[name], path, args.duration, args.connections, script)
                    )
            for name in paths:
                ordered = sorted(rounds[name], key=lambda r: r.rps)
                median = ordered[len(ordered) // 2]
                # CPU per request: the median of the rounds on its own (each round's is noisy alike).
                cpu = statistics.median(r.cpu_us for r in rounds[name])
                named = title in (TABLE_SIZE, BODY_MODEL, OPERATIONS, POLICIES)
                label = name if named else name.removesuffix("-1000")
                results.append(
                    Result(title, label, median.rps, median.p50_ms, median.p99_ms, median.errors, cpu)
                )
                print(f"  {title:28} {name:18} {median.rps:10.0f} req/s {cpu:6.2f} µs CPU", file=sys.stderr)
        memory = {
            name: rss_with_idle_connections(servers[name], 1000) for name in ("service", "aiohttp", "floor")
        }
        check_seconds = check_time(large)
        render_seconds = metrics_render_time()
    finally:
        for server in servers.values():
            server.process.terminate()
        for server in servers.values():
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
        shutil.rmtree(work, ignore_errors=True)

    report(results, memory, check_seconds, render_seconds, args)
    return 0


def policy_headers() -> dict[str, str]:
    """The headers every request of the policies scenario carries: an Origin, an API key and
    a bearer token (RS256, PyJWT); the matching keys go into this process's environment,
    which the server inherits."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    os.environ["BENCH_API_KEYS"] = "bench-key"
    os.environ["BENCH_JWT_KEY"] = public.decode()
    claims = {"iss": "bench", "aud": "service", "sub": "bench", "exp": int(time.time()) + 86400}
    token = jwt.encode(claims, private, algorithm="RS256")
    return {"Origin": "http://bench.test", "X-API-Key": "bench-key", "Authorization": f"Bearer {token}"}


def policies_lines(by: dict[tuple[str, str], Result]) -> list[str]:
    """Each policy's cost on its route, against the route without one (same process, rounds)."""
    none = by.get((POLICIES, "policy-none"))
    if none is None:
        return []
    lines = []
    for name in POLICY_ROUTES:
        found = by.get((POLICIES, f"policy-{name}"))
        if found is not None and name != "none":
            extra = found.cpu_us - none.cpu_us
            lines.append(
                f"policy {name} ({POLICIES}): {found.cpu_us:.2f} vs {none.cpu_us:.2f} µs per request"
                f" = {extra:+.2f} µs ({found.cpu_us / none.cpu_us - 1:+.1%})"
            )
    return lines


def operations_lines(by: dict[tuple[str, str], Result]) -> list[str]:
    """The costs of metrics and the access log, as server CPU per request (same rounds)."""

    def mean(*names: str) -> Result | None:
        found = [r for n in names if (r := by.get((OPERATIONS, n))) is not None]
        if not found:
            return None
        rps, cpu = statistics.mean(r.rps for r in found), statistics.mean(r.cpu_us for r in found)
        return Result(OPERATIONS, "+".join(names), rps, 0.0, 0.0, 0, cpu)

    on, off = mean("service", "service-metrics-2"), mean("service-no-metrics", "service-no-metrics-2")
    logged, base = by.get((OPERATIONS, "service-access-log")), by.get((OPERATIONS, "service@base"))
    quiet = by.get((OPERATIONS, "service-access-log-no-ids"))
    pairs = [
        ("metrics on vs off", on, off),
        ("access log on (and metrics) vs off (metrics on)", logged, on),
        ("access log on, X-Request-ID not echoed, vs off", quiet, on),
        ("echoing X-Request-ID (access log on)", logged, quiet),
        ("metrics and access log off vs the baseline build", off, base),
    ]
    return [
        f"{label} ({OPERATIONS}, server CPU per request): {a.cpu_us:.2f} vs {b.cpu_us:.2f} µs"
        f" = {a.cpu_us / b.cpu_us - 1:+.1%} (req/s {a.rps:,.0f} vs {b.rps:,.0f})"
        for label, a, b in pairs
        if a is not None and b is not None
    ]


def report(
    results: list[Result],
    memory: dict[str, tuple[int, int]],
    check_seconds: float,
    render_seconds: float,
    args: argparse.Namespace,
) -> None:
    by = {(r.scenario, r.server): r for r in results}
    floor = by.get(("GET /hello", "floor"))
    machine = ", ".join(
        (
            platform.machine(),
            f"{os.cpu_count()} CPUs",
            f"Python {platform.python_version()}",
            platform.system(),
        )
    )
    lines = [
        f"python -m bench --duration {args.duration} --rounds {args.rounds} --connections {args.connections}",
        f"machine: {machine}",
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | CPU µs/req | × aiohttp | share of floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.scenario in (TABLE_SIZE, OPERATIONS) or (r.scenario == BODY_MODEL and r.server == "service"):
            continue
        base = by.get((r.scenario, "aiohttp"))
        ratio = f"{r.rps / base.rps:.2f}" if base else ""
        share = f"{r.rps / floor.rps:.0%}" if floor else ""
        cpu = f"{r.cpu_us:.2f}"
        cells = [
            r.scenario,
            r.server,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            cpu,
            ratio,
            share,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    small = by.get((TABLE_SIZE, "service"))
    large = by.get((TABLE_SIZE, "service-1000"))
    lines.append("")
    if small and large:
        lines.append(
            f"1,000-route table vs 3-route table (service, a dynamic JSON route, same rounds):"
            f" {large.rps:,.0f} vs {small.rps:,.0f} req/s = {large.rps / small.rps:.0%}"
        )
    declared, bare = by.get((BODY_MODEL, "service-model")), by.get((BODY_MODEL, "service"))
    if declared and bare:
        lines.append(
            f"POST /echo with a body model vs without (service, same rounds):"
            f" {declared.rps:,.0f} vs {bare.rps:,.0f} req/s = {declared.rps / bare.rps:.0%}"
        )
    lines += operations_lines(by)
    lines += policies_lines(by)
    lines.append(
        f"/metrics text of 100 route series (each a histogram): {render_seconds * 1e6:,.0f} µs to render"
    )
    for name, (before, after) in memory.items():
        lines.append(
            f"RSS {name}: {before / 1024:.1f} MiB idle, "
            f"{after / 1024:.1f} MiB with 1,000 idle keep-alive connections"
        )
    lines.append(f"python -m service check on the 1,000-route file: {check_seconds:.2f} s (whole process)")
    errors = sum(r.errors for r in results)
    lines.append(f"errors (socket errors and unexpected non-2xx): {errors}")
    print("\n".join(lines))
    args.out.write_text(
        json.dumps(
            {
                "command": lines[0],
                "machine": machine,
                "results": [asdict(r) for r in results],
                "rss_kib": {k: {"idle": v[0], "with_1000_connections": v[1]} for k, v in memory.items()},
                "check_seconds": check_seconds,
                "metrics_render_seconds": render_seconds,
            },
            indent=2,
        )
    )
    print(f"(JSON: {args.out})")


if __name__ == "__main__":
    raise SystemExit(main())
