"""POST /echo: its body is a Message, validated before the handler runs (routes.yaml: body:)."""

from pydantic import BaseModel, Field

from service import web


class Message(BaseModel):
    text: str
    repeat: int = Field(1, ge=1, le=10)


async def echo(request: web.Request) -> web.Response:
    message = request.validated(Message)
    return web.json_response({"echo": " ".join([message.text] * message.repeat)})
