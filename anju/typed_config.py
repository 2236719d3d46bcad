"""Typed configuration: msgspec Structs with their limits beside their defaults, and
msgspec's refusals told the way anju tells them.

`convert(data, Type)` decodes plain data (TOML, JSON, the environment) into a Struct. A
refusal raises `Refused`, naming the setting ("ingest.batch_size", "steps[0].notify"),
the value given and what is allowed. What is allowed is written from the field's own
constraints: `Annotated[int, Meta(ge=30, le=720, extra={"unit": "minutes"})]` allows
"30..720 minutes". A field's Meta `extra` may say more:

- "unit": said after the range;
- "expected": the whole of what is allowed, formatted with {ge} and {le};
- "wrong_type": what is allowed, when the value is not even of the field's type.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


class Reason(enum.Enum):
    TYPE = "type"          # not of the field's type (or not one of its values)
    LIMIT = "limit"        # of the type, beyond the field's limits
    UNKNOWN = "unknown"    # a key the object does not have
    MISSING = "missing"    # a required key not given


class Refused(ValueError):
    """A value refused while decoding into a typed config.

    `key` is the setting (a struct field's path, list positions of enclosing lists
    included: "steps[0].after_s"), `value` what was given for it (a number as it was
    read, when it is beyond a limit), `allowed` what it may be. When msgspec stopped
    inside the value, `at` is that path and `item` the part refused ("steps[0].notify[1]",
    "cousin"); else they are `key` and `value`. For an unknown key, `unknown` holds every
    unknown key of that object and `known` the keys it has.
    """

    def __init__(self, reason: Reason, key: str, value: Any, allowed: str, *, at: str,
                 item: Any, unknown: tuple[str, ...] = (), known: tuple[str, ...] = ()) -> None:
        self.reason, self.key, self.value, self.allowed = reason, key, value, allowed
        self.at, self.item, self.unknown, self.known = at, item, unknown, known
        shown = "" if value is MISSING else f"={value!r}"
        super().__init__(f"{key}{shown}: expected {allowed}")


def convert(data: Any, type_: type[T], *, strict: bool = True) -> T:
    """`data` as a `type_`, or Refused. strict=False reads numbers and booleans from text."""
    try:
        return msgspec.convert(data, type_, strict=strict, dec_hook=_dec_hook)
    except msgspec.ValidationError as e:
        raise refusal(e, data, type_) from None


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Path and isinstance(obj, str):
        return Path(obj)
    raise NotImplementedError


_WHERE = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`")
_REQUIRED = re.compile(r"Object missing required field `(.*)`")


def refusal(error: msgspec.ValidationError, data: Any, type_: Any) -> Refused:
    """msgspec's error ("Expected `int` >= 1 - at `$.ingest.batch_size`") as a Refused."""
    m = _WHERE.match(str(error))
    assert m is not None  # the pattern matches any text
    what = m["what"]
    path: list[str | int] = [name or int(i) for name, i in _STEP.findall(m["path"] or "")]
    node, value = mi.type_info(type_), data
    key_len, key_node, key_value = 0, node, value
    for n, step in enumerate(path):
        node, _ = _unwrap(node)
        if isinstance(step, str):
            node = _field(node, step)
            value = value.get(step, MISSING) if isinstance(value, Mapping) else MISSING
            key_len, key_node, key_value = n + 1, node, value
        else:
            node = getattr(node, "item_type", mi.AnyType())
            listed = isinstance(value, list | tuple) and step < len(value)
            value = value[step] if listed else MISSING
    key, at = _render(path[:key_len]), _render(path)
    if found := _UNKNOWN.match(what) or _REQUIRED.match(what):
        obj, _ = _unwrap(node)
        known = tuple(f.encode_name for f in getattr(obj, "fields", ()))
        name = _render([*path, found[1]])
        if found.re is _REQUIRED:
            field, extra = _unwrap(_field(obj, found[1]))
            return Refused(Reason.MISSING, name, MISSING, _allowed(field, extra, Reason.TYPE),
                           at=name, item=MISSING)
        unknown = tuple(sorted(k for k in value if k not in known))
        given = value.get(found[1])
        return Refused(Reason.UNKNOWN, name, given, "", at=name, item=given, unknown=unknown,
                       known=known)
    key_node, key_extra = _unwrap(key_node)
    reason = Reason.TYPE if ", got `" in what or not what.startswith("Expected") else Reason.LIMIT
    if (reason is Reason.LIMIT and isinstance(key_value, str)
            and isinstance(key_node, (mi.IntType, mi.FloatType))):
        # the number the limit judged, not the text it was read from (strict=False)
        key_value = msgspec.convert(key_value, int if isinstance(key_node, mi.IntType) else float,
                                    strict=False)
    return Refused(reason, key, key_value, _allowed(key_node, key_extra, reason, key_value),
                   at=at, item=value)


def _field(struct: Any, name: str) -> Any:
    return next((f.type for f in getattr(struct, "fields", ()) if f.encode_name == name),
                mi.AnyType())


def _unwrap(node: Any) -> tuple[Any, dict[str, Any]]:
    """The type under its Metadata and its Optional, with the Metadata's extra."""
    extra: dict[str, Any] = {}
    while True:
        if isinstance(node, mi.Metadata):
            extra = {**(node.extra or {}), **extra}
            node = node.type
        elif isinstance(node, mi.UnionType):
            kinds = [t for t in node.types if not isinstance(t, mi.NoneType)]
            if len(kinds) != 1:
                return node, extra
            node = kinds[0]
        else:
            return node, extra


def _render(path: Sequence[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def _allowed(node: Any, extra: dict[str, Any], reason: Reason, value: Any = MISSING) -> str:
    """What the field allows, in words, from its type and constraints."""
    ge, le = getattr(node, "ge", None), getattr(node, "le", None)
    if "expected" in extra:
        return str(extra["expected"]).format(ge=ge, le=le)
    if reason is Reason.TYPE and "wrong_type" in extra:
        return str(extra["wrong_type"])
    if isinstance(node, mi.BoolType):
        return "true or false"
    if isinstance(node, (mi.IntType, mi.FloatType)):
        lo, hi = _number(ge), _number(le)
        limits = (f"{lo}..{hi}" if lo and hi else f"at least {lo}" if lo else
                  f"at most {hi}" if hi else "")
        limits = " ".join(filter(None, (limits, extra.get("unit", ""))))
        if reason is Reason.LIMIT:
            return limits
        # a number with a fraction where a whole one is wanted is told so
        whole = (isinstance(node, mi.IntType) and isinstance(value, (int, float))
                 and not isinstance(value, bool))
        return " ".join(filter(None, ("a whole number" if whole else "a number", limits)))
    if isinstance(node, mi.LiteralType):
        return f"one of {', '.join(map(str, node.values))}"
    if isinstance(node, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        items, _ = _unwrap(node.item_type)
        if isinstance(items, mi.LiteralType):
            return f"a list from: {', '.join(map(str, items.values))}"
        return "a list of text values" if isinstance(items, mi.StrType) else "a list"
    if isinstance(node, mi.StrType):
        return "text"
    if isinstance(node, mi.StructType):
        return "a table of settings"
    return getattr(getattr(node, "cls", None), "__name__", "a valid value")


def _number(x: float | None) -> str:
    """10000000 as written, 4.0 as 4, 0.25 as 0.25."""
    return "" if x is None else str(x) if isinstance(x, int) else f"{x:g}"
