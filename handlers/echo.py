"""POST /echo: a JSON body validated with a pydantic model (422 with field errors)."""

from pydantic import BaseModel, ValidationError

from service import web


class Message(BaseModel):
    text: str
    repeat: int = 1


async def echo(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send Content-Type: application/json")
    try:
        message = Message.model_validate(await request.json())  # not JSON: json() answers 400
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "error": e["msg"]} for e in exc.errors()]
        return web.json_response({"errors": errors}, status=422)
    return web.json_response({"echo": " ".join([message.text] * message.repeat)})
