from service import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, world!")


async def greet(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']}!")
