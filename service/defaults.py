"""The server's defaults, each written once.

``run_app``, ``Server``, ``serve --workers`` and the ``service:`` block of
routes.yaml fall back to the same values, so they are named here and nowhere
else. The per-connection limits are ``Limits()``'s own (wire.py): ``LIMITS``
holds them, and ``LIMIT_NAMES`` names its fields, which are also the keyword
names in ``run_app`` and the keys in ``service:``.

No pydantic here: ``import service`` (server.py) reads this module as well as
the routes.yaml schema (config/schema.py) does, and should stay quick to import.
"""

from __future__ import annotations

import dataclasses

from .http.wire import Limits

__all__ = [
    "ACCESS_LOG",
    "BACKLOG",
    "BLOCK_WARNING",
    "CLIENT_MAX_SIZE",
    "DRAIN_DELAY",
    "HOST",
    "LIMITS",
    "LIMIT_NAMES",
    "PORT",
    "SHUTDOWN_TIMEOUT",
]

HOST = "0.0.0.0"
PORT = 8080
SHUTDOWN_TIMEOUT = 10.0  # seconds busy connections get to finish once shutdown starts
DRAIN_DELAY = 1.0  # seconds a SIGTERM'd server goes on answering (not ready) before it stops
ACCESS_LOG = False
BACKLOG = 1024  # connections the kernel queues before they are accepted
BLOCK_WARNING = 1.0  # seconds the event loop may be blocked before the watchdog says so
CLIENT_MAX_SIZE = 1024**2  # bytes of request body
LIMITS = Limits()
LIMIT_NAMES = tuple(field.name for field in dataclasses.fields(Limits))
