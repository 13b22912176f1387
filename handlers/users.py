from service import web


async def get_user(request: web.Request) -> web.Response:
    user_id: int = request.match_info["id"]  # already an int: the route says {id:int}
    return web.json_response({"id": user_id, "name": f"user-{user_id}"})
