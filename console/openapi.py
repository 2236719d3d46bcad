"""The OpenAPI 3.1 document of /api/v1, generated from the actions (console.action): each
API route's summary, roles, path ids, query parameters, body and answer, with the JSON
Schema msgspec gives for their Structs."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from console import fields
from console.action import API_PREFIX, Op


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    status: int
    title: str
    errors: list[FieldError] | None = None


def _ref(cls: type) -> dict[str, str]:
    return {"$ref": fields.REF.format(name=cls.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_ids(path: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1}}
            for name in re.findall(r"{(\w+)}", path)]


def _operation(op: Op, schemas: dict[str, Any]) -> dict[str, Any]:
    action, api = op.action, op.api
    assert api is not None
    problem = _ref(Problem)
    summary = action.summary
    params = _path_ids(api.path)
    if action.query is not None:
        params += fields.query_parameters(action.query)
    answer = _ref(api.response) if api.response else {"type": "object"}
    doc: dict[str, Any] = {
        "summary": summary, "parameters": params,
        "responses": {
            str(api.status): _json(answer, "OK"),
            "401": _json(problem, "Not signed in"),
            "404": _json(problem, "Not found, or outside your scope"),
            "422": _json(problem, "Invalid input, with field-level errors"),
        },
        "security": [{"session": []}],
    }
    if action.roles is not None:
        doc["description"] = "For " + ", ".join(action.roles) + "."
        doc["responses"]["403"] = _json(problem, "Not for your role")
    if api.method == "POST":
        # The body's schema in place, so that a reader sees the fields where they are asked.
        body = schemas[action.body.__name__] if action.body else {"type": "object"}
        doc["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": body}}}
        doc["parameters"] = params + [{"name": "X-CSRF-Token", "in": "header",
                                       "required": True, "schema": {"type": "string"}}]
        doc["responses"]["403"] = _json(problem, "Missing or wrong CSRF token"
                                        + (", or not for your role" if action.roles else ""))
    return doc


def document(ops: list[Op]) -> dict[str, Any]:
    api_ops = [op for op in ops if op.api is not None]
    answers = [op.api.response for op in api_ops if op.api and op.api.response]
    bodies = [op.action.body for op in api_ops if op.action.body]
    schemas = fields.schemas(list(dict.fromkeys([Problem, *answers, *bodies])))
    paths: dict[str, Any] = {}
    for op in api_ops:
        assert op.api is not None
        paths.setdefault(API_PREFIX + op.api.path, {})[op.api.method.lower()] = (
            _operation(op, schemas))
    # Not an action: the device contract, public (vendors read it before they have an account).
    paths[API_PREFIX + "/device-contract"] = {"get": {
        "summary": "The device contract as an AsyncAPI 2.6.0 document (public, cacheable)",
        "parameters": [], "security": [],
        "responses": {"200": _json({"type": "object"}, "The AsyncAPI document")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "anju console API", "version": "1",
                 "description": "Sign in through /login; the session cookie authenticates."},
        "paths": paths,
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie",
                                            "name": "anju_session"}},
            "schemas": {k: v for k, v in schemas.items() if k not in
                        {b.__name__ for b in bodies}},
        },
    }
