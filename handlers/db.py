"""Lifecycle hooks: a stand-in for opening and closing a database pool."""

import logging

from service import web

log = logging.getLogger(__name__)


async def connect(app: web.Application) -> None:
    app["items"] = {}
    log.info("item store ready")


async def close(app: web.Application) -> None:
    log.info("item store closed with %d item(s)", len(app["items"]))
