"""The command line -- the composition root, and the only place with exit codes.

    service serve   [ROUTES] [--host H] [--port P] [--workers N|auto] [--no-reload]
                    [--access-log] [--access-log-format json|logfmt]
                    [--log-level L] [--log-config FILE] [--dev]
    service check   [ROUTES] [--stubs] [--format text|json]
    service routes  [ROUTES] [--match 'METHOD /path']
    service openapi [ROUTES] [-o FILE]
    service new     DIR [--no-wheel]
    service schema

(``python -m service`` is the same command.)

Exit codes: 0 ok, 2 configuration error (every issue printed as
``FILE:LINE:COL: where: what``), 1 runtime failure (e.g. the port is taken).
Settings come from defaults, then the ``service:`` block, then flags.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from . import __version__
from .config.explain import explain
from .config.jsonschema import render as routes_schema_json
from .config.loader import SpecError
from .config.loader import load as load_spec
from .config.policies import describe
from .config.project import config_gauges, load_app, openapi_of, spec_of
from .config.report import as_json, render
from .config.schema import ServiceSettings
from .config.stubs import write_stubs
from .errors import ConfigError, ListenError, MissingFileError
from .http.server import Server, configure_logging, run, serve_until_signal
from .http.wire import Limits
from .ops.accesslog import AccessLog
from .ops.reload import Reloader, limits_of
from .ops.workers import Supervisor, bind, watch_parent
from .scaffold import ScaffoldError, new_project
from .web.app import Application

__all__ = ["main"]

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
log = logging.getLogger("service.server")


def _default_routes() -> str:
    return os.environ.get("SERVICE_ROUTES", "routes.yaml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="service",
        description="Run a web service described by a routes.yaml file. (Also: python -m service.)",
    )
    parser.add_argument("--version", action="version", version=f"service {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    routes_help = "the routes file (default: $SERVICE_ROUTES or ./routes.yaml)"

    serve = sub.add_parser(
        "serve", help="serve the routes file", description="Serve the routes file until SIGINT/SIGTERM."
    )
    serve.add_argument("routes", nargs="?", default=None, help=routes_help)
    serve.add_argument("--host", help="interface to listen on (default: service.host, else 0.0.0.0)")
    serve.add_argument(
        "--port", type=int, help="port to listen on, 0 for any free one (default: service.port, else 8080)"
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log every request on stdout (default: service.access_log, else off)",
    )
    serve.add_argument(
        "--access-log-format",
        choices=["json", "logfmt"],
        default=None,
        help="JSON lines or logfmt (default: service.access_log_format, else json)",
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development mode, as SERVICE_ENV=development: 404 bodies list the nearest routes, 500 bodies"
        " carry the traceback, the host is 127.0.0.1 unless --host says otherwise (default: production)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="worker processes sharing the port: a number, or 'auto' for one per CPU (default: 1)",
    )
    # Internal: how the parent of --workers hands its socket to a worker.
    serve.add_argument("--inherit-fd", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    serve.add_argument("--metrics-dir", default=None, help=argparse.SUPPRESS)  # the workers' snapshots
    serve.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="do not watch the routes file and handlers for changes; SIGHUP still reloads (default: watch)",
    )
    serve.add_argument(
        "--log-level",
        default=os.environ.get("SERVICE_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="log level (default: $SERVICE_LOG_LEVEL or info)",
    )
    serve.add_argument(
        "--log-config",
        metavar="FILE",
        default=None,
        help="configure logging with this file instead: a logging.config dictionary as .json or"
        " .yaml, else an INI file for logging.config.fileConfig (default: lines on stderr)",
    )

    check = sub.add_parser(
        "check",
        help="validate the routes file and import every handler",
        description="Validate the routes file and import every handler; exit 2 on any problem.",
    )
    check.add_argument("routes", nargs="?", default=None, help=routes_help)
    check.add_argument(
        "--stubs",
        action="store_true",
        help="first write an async def answering 501 for every route whose handler module or function"
        " does not exist yet; existing code is never changed (default: write nothing)",
    )
    check.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="json: the problems as a JSON array on standard output, for editors and CI (default: text)",
    )

    show = sub.add_parser(
        "routes",
        help="print the routing table, or which route answers a request",
        description="Print the routing table; with --match, which route answers a request and why.",
    )
    show.add_argument("routes", nargs="?", default=None, help=routes_help)
    show.add_argument(
        "--match",
        metavar="'METHOD /path'",
        help="say which route answers this request, its handler and parameters, or why none does;"
        " exit 0 when one does, 1 when none (default: print the table)",
    )

    api = sub.add_parser(
        "openapi",
        help="print the OpenAPI document",
        description="Print the OpenAPI 3.1 document of the routes file: the bytes GET /openapi.json sends.",
    )
    api.add_argument("routes", nargs="?", default=None, help=routes_help)
    api.add_argument(
        "-o", "--output", metavar="FILE", help="write it to FILE instead (default: standard output)"
    )

    new = sub.add_parser(
        "new",
        help="write a new project into a directory",
        description="Write a working project: routes.yaml, handlers, tests, Dockerfile, docker-compose.yml.",
    )
    new.add_argument(
        "directory", help="where to write it: a new or empty directory (its name names the service)"
    )
    new.add_argument(
        "--no-wheel",
        dest="wheel",
        action="store_false",
        help="do not build the framework's wheel into wheels/ for the Dockerfile (default: build it"
        " when the framework was installed from a local directory)",
    )

    sub.add_parser(
        "schema",
        help="print the JSON Schema of routes.yaml",
        description="Print the JSON Schema (draft-07) of the routes.yaml format, for editors.",
    )
    return parser


def _workers(text: str) -> int:
    if text == "auto":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'auto'") from None
    if count < 1:
        raise argparse.ArgumentTypeError("needs at least 1 worker")
    return count


# The last line of a failed load, worded for the command: only serve would have started anything.
_FAILED = {
    "serve": "{problems}; nothing was started",
    "check": "{problems} found",
    "routes": "{problems}; no routing table to print",
    "openapi": "{problems}; no document to print",
}


def _load(path: str, command: str = "serve", output: str = "text") -> Application | None:
    try:
        return load_app(path)
    except ConfigError as exc:
        if output == "json":  # (check --format json: the issues alone, on stdout, for tools)
            print(as_json(exc.issues))
            return None
        hint = f" ({_name_another_file(path, command)})" if isinstance(exc, MissingFileError) else ""
        render(exc.issues, sys.stderr, hint)  # on a terminal, with the line of the file under each
        count = len(exc.issues)
        problems = f"{count} problem{'s' if count != 1 else ''}"
        print(f"{path}: {_FAILED[command].format(problems=problems)}", file=sys.stderr)
        return None


def _name_another_file(path: str, command: str) -> str:
    """How to point the command at another routes file, from where this path came."""
    argument = f"python -m service {command} path/to/routes.yaml"
    if os.environ.get("SERVICE_ROUTES") == path:
        return (
            "the environment variable SERVICE_ROUTES names this file: set it to another,"
            f" or name one as the argument: {argument}"
        )
    return f"name another file as the argument: {argument}, or in the environment variable SERVICE_ROUTES"


def _new(directory: Path, wheel: bool) -> int:
    try:
        written = new_project(directory, wheel=wheel)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    for relative in written:
        print(f"  {directory / relative}")
    print(f"\nNext: cd {directory} && python3 -m venv .venv && .venv/bin/pip install -r requirements.txt")
    print("      .venv/bin/service serve   |   .venv/bin/pytest   |   docker compose up")
    return EXIT_OK


def _write_stubs(path: str) -> None:
    """``check --stubs``: the missing handlers written (stubs.py), each change said on stderr."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        spec = exc.partial  # what of the file validated; check reports the rest
    except ConfigError:
        return  # no file to read: check says so
    for line in write_stubs(spec):
        print(f"stubs: {line}", file=sys.stderr)


def _check(path: str, output: str = "text") -> int:
    app = _load(path, "check", output)
    if app is None:
        return EXIT_CONFIG
    if output == "json":
        print(as_json([]))
        return EXIT_OK
    spec = spec_of(app)
    print(
        f"{path}: OK: {len(spec.routes)} route{'s' if len(spec.routes) != 1 else ''}, "
        f"{len(spec.middlewares)} middleware, "
        f"{len(spec.on_startup) + len(spec.on_shutdown) + len(spec.on_cleanup)} hook(s)"
    )
    return EXIT_OK


def _routes(path: str, match: str | None = None) -> int:
    app = _load(path, "routes")
    if app is None:
        return EXIT_CONFIG
    specs = {(r.method, r.path): r for r in spec_of(app).routes}
    if match is not None:
        answer = explain(app, match, {key: spec.handler for key, spec in specs.items()})
        print("\n".join(answer.lines))
        return EXIT_OK if answer.matched else EXIT_RUNTIME
    rows = [("METHOD", "PATH", "HANDLER", "NAME", "MODELS", "POLICIES", "SUMMARY")]
    for r in app.router.routes():
        spec = specs.get((r.method, r.path))
        if spec is None:
            preflight = r.method == "OPTIONS" and any(
                other.path == r.path and other.policy.cors is not None for other in specs.values()
            )
            kind = "(cors preflight)" if preflight else "(built-in)"
            rows.append((r.method, r.path, kind, r.name or "", "", "", ""))
            continue
        models = ", ".join(f"{key}: {name.rpartition('.')[2]}" for key, name, _ in spec.model_names())
        options = spec.options
        summary = options.summary or (options.description or "").strip().partition("\n")[0]
        rows.append((r.method, r.path, spec.handler, r.name or "", models, describe(spec.policy), summary))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _configure_logging(args: argparse.Namespace) -> None:
    """``--log-config`` when given (its levels rule), else our default lines at ``--log-level``."""
    if args.log_config is None:
        configure_logging(args.worker)
        logging.getLogger("service").setLevel(args.log_level.upper())
        return
    from logging import config as logging_config

    text = Path(args.log_config).read_text(encoding="utf-8")
    if args.log_config.endswith((".json", ".yaml", ".yml")):
        import yaml  # (JSON is YAML)

        config = yaml.safe_load(text)
        if isinstance(config, dict):  # our loggers exist already: keep them, as fileConfig below does
            config.setdefault("disable_existing_loggers", False)
        logging_config.dictConfig(config)
    else:
        logging_config.fileConfig(args.log_config, disable_existing_loggers=False)


def _serve(args: argparse.Namespace, path: str) -> int:
    try:
        _configure_logging(args)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
        print(f"error: --log-config {args.log_config}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.dev:
        os.environ["SERVICE_ENV"] = "development"  # every app, reloaded ones and workers' too
    dev = os.environ.get("SERVICE_ENV") == "development"
    if dev and args.host is None:
        args.host = "127.0.0.1"  # a development server is not for the network
    app = _load(path)
    gc.enable()  # off while starting up (__main__.py); a server runs for long
    if app is None:
        return EXIT_CONFIG
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = spec_of(app).settings.model_copy(update=overrides)
    if args.workers > 1 and args.inherit_fd is None:
        return _supervise(args, path, settings)
    access_log = settings.access_log if args.access_log is None else args.access_log
    access = AccessLog(fmt=args.access_log_format or settings.access_log_format, worker=args.worker)
    metrics = app.metrics
    if metrics is not None:
        metrics.worker = args.worker
        if args.metrics_dir is not None:
            metrics.share(args.metrics_dir)
    sock = socket.socket(fileno=args.inherit_fd) if args.inherit_fd is not None else None
    server = Server(
        app,
        host=settings.host,
        port=settings.port,
        sock=sock,
        limits=limits_of(settings),
        shutdown_timeout=settings.shutdown_timeout,
        access_log=access if access_log else False,
        request_ids=settings.request_ids,
    )

    def swap(new: Application, limits: Limits, file_access_log: bool) -> None:
        on = args.access_log or (args.access_log is None and file_access_log)
        server.swap_app(new, limits=limits, access_log=access if on else False)

    async def serve() -> None:
        # Created inside the loop: the watcher's event belongs to it.
        reloader = Reloader(path, current=lambda: server.current_app, swap=swap)
        background: list[Callable[[], Awaitable[None]]] = [lambda: reloader.run(poll=args.reload)]
        if args.inherit_fd is not None:
            background.append(_stop_when_orphaned)
        if metrics is not None and args.metrics_dir is not None:
            background.append(lambda: metrics.share_forever(lambda: config_gauges(server.current_app)))
        drain = 0.0 if dev else settings.drain_delay  # (a development server stops at once)
        await serve_until_signal(server, on_hup=reloader.request, background=background, drain_delay=drain)

    try:
        run(serve)
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except Exception as exc:  # a startup hook failed, for example
        log.exception("Service stopped by an error")
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


def _supervise(args: argparse.Namespace, path: str, settings: ServiceSettings) -> int:
    """The parent of ``--workers N``: bind once, run N servers on the socket."""
    try:
        sock = bind(settings.host, settings.port)
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    host, port = sock.getsockname()[:2]
    log.info("Serving on http://%s:%d with %d workers", host, port, args.workers)
    routes = os.path.abspath(path)

    # Each worker's metrics snapshot goes here, for the others' scrapes (ops/metrics.py);
    # in memory (/dev/shm) where there is one: a snapshot a second is no disk's business.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    metrics_dir = tempfile.mkdtemp(prefix="service-metrics-", dir=shm) if settings.metrics else None

    def command(number: int, fd: int) -> list[str]:
        argv = [sys.executable, "-m", "service", "serve", routes, "--inherit-fd", str(fd)]
        argv += ["--worker", str(number), "--log-level", args.log_level]
        argv += [] if args.reload else ["--no-reload"]
        argv += [] if args.access_log is None else ["--access-log"] if args.access_log else []
        argv += ["--access-log-format", args.access_log_format] if args.access_log_format else []
        argv += ["--log-config", args.log_config] if args.log_config else []
        argv += ["--metrics-dir", metrics_dir] if metrics_dir else []
        return argv

    supervisor = Supervisor(sock, args.workers, command, shutdown_timeout=settings.shutdown_timeout)
    try:
        return supervisor.run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _openapi(path: str, output: str | None) -> int:
    app = _load(path, "openapi")
    if app is None:
        return EXIT_CONFIG
    if output is None:
        sys.stdout.buffer.write(openapi_of(app))
        sys.stdout.flush()
    else:
        Path(output).write_bytes(openapi_of(app))
    return EXIT_OK


async def _stop_when_orphaned() -> None:
    """A worker whose supervisor is gone stops gracefully rather than serve unsupervised."""
    orphaned = watch_parent(os.getppid())
    while not orphaned():
        await asyncio.sleep(1.0)
    log.warning("The supervisor is gone; stopping")
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        sys.stdout.write(routes_schema_json())
        return EXIT_OK
    if args.command == "new":
        return _new(Path(args.directory), args.wheel)
    path = args.routes or _default_routes()
    if args.command == "check":
        if args.stubs:
            _write_stubs(path)
        return _check(path, args.format)
    if args.command == "routes":
        return _routes(path, args.match)
    if args.command == "openapi":
        return _openapi(path, args.output)
    return _serve(args, path)
