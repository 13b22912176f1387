import time

from service import web


@web.middleware
async def timing(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Add X-Response-Time (milliseconds) to every response that is returned."""
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Response-Time"] = f"{(time.perf_counter() - started) * 1000:.3f}ms"
    return response
