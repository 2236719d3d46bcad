"""Inputs declared once, as msgspec Structs: read from a query string, a form or a JSON body
with the console's own messages, and described to the OpenAPI document by msgspec.

A field's type says how it is read:

- `int` with `Meta(ge=, le=)`: a whole number in that range (web.int_param);
- a `Literal[...]`: one of its values, in the order written (web.choice_param);
- `str` with `Meta(max_length=)`: text, stripped, blank as absent (web.text_param);
- anything marked `Meta(extra=UNCHECKED)`: passed on as given, for the action to read
  (a home's local time, a list of URLs, a settings object: what only the action can judge).

A field without a default is required (invalid.required when absent; an unchecked one is
the action's to require, with its own words). Errors (console.errors.Msg) are collected in
the caller's dict, field by field, in the order the Struct declares them. A Literal's
message names its choices from the catalog group given as `Meta(extra={"words": group})`,
or the first group that names them all.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Mapping, TypeVar

import msgspec

from console import web
from console.errors import Msg

UNCHECKED = {"unchecked": True}
# int_param's bounds when a field declares none.
INT_LO, INT_HI = 0, 2**31 - 1
TEXT_MAX = 200

S = TypeVar("S", bound=msgspec.Struct)


def _unwrap(tp: Any) -> tuple[Any, list[msgspec.Meta]]:
    """The type without Optional and Annotated, and the Meta found on the way."""
    metas: list[msgspec.Meta] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp, *extra = typing.get_args(tp)
            metas += [m for m in extra if isinstance(m, msgspec.Meta)]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, metas
            tp = args[0]
        else:
            return tp, metas


def _meta(metas: list[msgspec.Meta], name: str) -> Any:
    for m in metas:
        if getattr(m, name, None) is not None:
            return getattr(m, name)
    return None


def read(cls: type[S], params: Mapping[str, Any], errors: web.Errors) -> S:
    """cls from params; a field that is wrong gets its message in errors and its default."""
    values: dict[str, Any] = {}
    for f in msgspec.structs.fields(cls):
        tp, metas = _unwrap(f.type)
        required = f.required
        default = None if required else f.default
        name = f.encode_name
        extra = _meta(metas, "extra") or {}
        if extra.get("unchecked"):
            v = params.get(name, default)
        elif tp is int:
            lo, hi = _meta(metas, "ge"), _meta(metas, "le")
            v = web.int_param(params, name, errors, default=default,
                              lo=INT_LO if lo is None else lo, hi=INT_HI if hi is None else hi)
        elif typing.get_origin(tp) is typing.Literal:
            v = web.choice_param(params, name, tuple(typing.get_args(tp)), errors, default,
                                 group=extra.get("words"))
        elif tp is str:
            v = web.text_param(params, name, errors, max_len=_meta(metas, "max_length") or TEXT_MAX,
                               required=required)
            if v is None:
                v = default
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no reader for {tp!r}")
        if required and v is None and name not in errors and not extra.get("unchecked"):
            errors[name] = Msg("invalid.required")
        values[f.name] = v
    return cls(**values)


def read_or_raise(cls: type[S], params: Mapping[str, Any]) -> S:
    errors: web.Errors = {}
    out = read(cls, params, errors)
    if errors:
        raise web.Invalid(errors)
    return out


# -- OpenAPI ------------------------------------------------------------------------------

REF = "#/components/schemas/{name}"


def schemas(classes: list[type]) -> dict[str, Any]:
    """The JSON Schema of each class (and what they refer to), for components/schemas."""
    _, components = msgspec.json.schema_components(classes, ref_template=REF)
    return components


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: its schema without the null branch."""
    alts = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    if len(alts) == 1 and "anyOf" in schema:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        return {**alts[0], **rest}
    return {k: v for k, v in schema.items() if not (k == "default" and v is None)}


def query_parameters(cls: type) -> list[dict[str, Any]]:
    """OpenAPI query parameters, one per field of cls."""
    schema = schemas([cls])[cls.__name__]
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "schema": _without_null(prop)} for name, prop in schema["properties"].items()]
