"""Body and query models: a route's declared models, checked before its handler runs.

A route that names ``body:`` or ``query:`` in routes.yaml gets its handler wrapped
once, at load (``with_models``), in a step that validates the request and answers
the client's mistakes itself:

- a body whose ``Content-Type`` is not JSON (``application/json`` or ``+json``),
  or missing: 415;
- a body that is not JSON at all: 400;
- a body over ``client_max_size``: 413 (the limit every body has);
- a body or query that is JSON but not what the model says: 422.

Each is an ``application/problem+json`` document (RFC 9457) whose ``errors`` list
``{loc, type, msg}`` and never the input itself (it may hold secrets, and echoing
it back is how reflected content gets in). Bodies are validated in pydantic's
strict mode (``model_validate_json(raw, strict=True)``: lax mode takes
``{"age": false}`` for an int) -- except that, as in JSON Schema, a number with no
fractional part is an integer (``_validate_json``); query strings are text, so
they are validated in lax mode (``?limit=5`` is the int 5). The handler reads what was validated with
``request.validated(Model)``, typed as ``Model`` for mypy.

A route that names no model gets its bare handler: nothing here runs for it.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from .request import Request
from .response import Response, StreamResponse, reason_phrase
from .routedef import Handler

__all__ = ["PROBLEM_JSON", "is_model", "problem", "with_models"]

PROBLEM_JSON = "application/problem+json"
_INTEGRAL_BOUND = 2**63  # 1e999999 stays a float: its int would cost a megabyte of digits


def is_model(value: object) -> bool:
    """A pydantic model class (what ``body:``, ``query:`` and ``response:`` must name)."""
    return isinstance(value, type) and issubclass(value, BaseModel)


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> Response:
    """An RFC 9457 problem document."""
    doc: dict[str, Any] = {
        "type": "about:blank",
        "title": reason_phrase(status),  # "about:blank": the status's phrase (RFC 9457 4.2.1)
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        doc["errors"] = errors
    # Bytes, not text: a JSON media type takes no charset parameter (RFC 8259 section 11).
    return Response(status=status, body=json.dumps(doc).encode(), content_type=PROBLEM_JSON)


def _errors(where: str, exc: ValidationError) -> list[dict[str, Any]]:
    # include_input=False and no ctx or url: what the client sent is never echoed back.
    return [
        {"loc": [where, *error["loc"]], "type": error["type"], "msg": error["msg"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _query_data(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The query as the model's fields want it: a list for a field that takes several."""
    query = request.query
    data: dict[str, Any] = {}
    for key in query:
        values = query.getall(key)
        field = model.model_fields.get(key)
        many = field is not None and _takes_many(field.annotation)
        data[key] = values if many or len(values) > 1 else values[0]
    return data


def _takes_many(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", None)
    return annotation in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset)


def _validate_json(model: type[BaseModel], raw: bytes) -> BaseModel:
    """``model_validate_json(raw, strict=True)``, with JSON's own rule for integers.

    JSON has one kind of number, and JSON Schema (so the OpenAPI document) counts a
    number without a fractional part as an integer: ``1.0`` is a valid ``integer``.
    pydantic's strict mode refuses it for an ``int`` field. So when strict
    validation says a value is not an int, the body is read again with every
    integral number written as an integer and validated once more, still strictly
    (``true`` and ``"1"`` stay refused). Only a failing body pays for this.
    """
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if not any(error["type"] == "int_type" for error in exc.errors(include_url=False)):
            raise
        again = json.dumps(json.loads(raw, parse_float=_integral_as_int)).encode()
        if again == raw:
            raise
        return model.model_validate_json(again, strict=True)


def _integral_as_int(text: str) -> int | float:
    value = Decimal(text)
    if value == value.to_integral_value() and abs(value) < _INTEGRAL_BOUND:
        return int(value)
    return float(text)


def with_models(handler: Handler, body: type[BaseModel] | None, query: type[BaseModel] | None) -> Handler:
    """``handler``, run only once its request's body and query validate."""

    async def validated(request: Request) -> StreamResponse:
        if query is not None:
            try:
                request.set_validated(query.model_validate(_query_data(request, query)))
            except ValidationError as exc:
                return problem(
                    422, "the query string does not match the route's query model", _errors("query", exc)
                )
        if body is not None:
            if not _is_json(request.content_type):
                return problem(415, "the body must be JSON: send Content-Type: application/json")
            raw = await request.read()  # over client_max_size: 413, raised as for any body
            try:
                request.set_validated(_validate_json(body, raw))
            except ValidationError as exc:
                errors = _errors("body", exc)
                if any(e["type"] == "json_invalid" for e in errors):
                    return problem(400, "the body is not valid JSON", errors)
                return problem(422, "the body does not match the route's body model", errors)
        return await handler(request)

    return functools.update_wrapper(validated, handler)  # it says whose it is (names, docstring)
