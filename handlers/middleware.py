import time

from service import web


@web.middleware
async def timing(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Add X-Response-Time (milliseconds) to every answer of a handler or of the router.

    A raised ``HTTPException`` (the router's 404 and 405 among them) passes through
    middlewares as an exception, as in aiohttp: it gets the header on its way out.
    """
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Response-Time"] = _elapsed(started)
        raise
    response.headers["X-Response-Time"] = _elapsed(started)
    return response


def _elapsed(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.3f}ms"
