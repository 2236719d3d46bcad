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

Who reads a refusal: `str(refused)` is English, for logs and the command line; operators
running `anju` read `refused.text(cli_lang())`, the same sentence from the catalog
(anju.i18n: config.*) in ANJU_LANG or else LANG (zh_CN.UTF-8 → zh-CN). The command line
defaults to English: operators' terminals and the logs they paste vary, and a Chinese
sentence is opt-in with ANJU_LANG=zh-CN. The console words a refusal in its reader's
language with `refused.allowed_words().text(lang)`. Every sentence names the setting and
what it may be: the fix.
"""

from __future__ import annotations

import enum
import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from anju import i18n

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
                 item: Any, unknown: tuple[str, ...] = (), known: tuple[str, ...] = (),
                 words: Allowed | None = None) -> None:
        self.reason, self.key, self.value, self.allowed = reason, key, value, allowed
        self.at, self.item, self.unknown, self.known = at, item, unknown, known
        self.words = words
        shown = "" if value is MISSING else f"={value!r}"
        super().__init__(f"{key}{shown}: expected {allowed}")

    def allowed_words(self) -> Allowed | _Text:
        """What is allowed, to be worded in a reader's language (`.text(lang)`)."""
        return self.words if self.words is not None else _Text(self.allowed)

    def text(self, lang: str | None) -> str:
        """The refusal in `lang`: the setting, the value given, what it may be."""
        if self.reason is Reason.UNKNOWN:
            return i18n.text(lang, "config.unknown", key=self.key,
                             known=", ".join(self.known) or "—")
        allowed = self.allowed_words().text(lang)
        if self.value is MISSING:
            return i18n.text(lang, "config.missing", key=self.key, allowed=allowed)
        return i18n.text(lang, "config.refused", key=self.key, value=repr(self.value),
                         allowed=allowed)


def cli_lang(environ: Mapping[str, str] | None = None) -> str:
    """The command line's language: ANJU_LANG, else LANG (zh_CN.UTF-8 → zh-CN); English
    when neither names Chinese (see the module's docstring for why)."""
    env = os.environ if environ is None else environ
    for name in ("ANJU_LANG", "LANG"):
        raw = (env.get(name) or "").strip()
        if not raw:
            continue
        tag = raw.split(".")[0].replace("_", "-").lower()
        return "zh-CN" if tag.startswith("zh") else "en"
    return "en"


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
            words = Allowed(field, extra, Reason.TYPE)
            return Refused(Reason.MISSING, name, MISSING, words.text("en"),
                           at=name, item=MISSING, words=words)
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
    words = Allowed(key_node, key_extra, reason, key_value)
    return Refused(reason, key, key_value, words.text("en"), at=at, item=value, words=words)


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


class _Text:
    """What is allowed, as given (no words of the catalog for it)."""

    def __init__(self, text: str) -> None:
        self.value = text

    def text(self, lang: str | None) -> str:
        return self.value


# Units and phrases that fields' Meta write in English, and their words in the catalog.
_UNITS = {"minutes": "minutes", "days": "days", "hours": "hours", "seconds": "seconds",
          "hour of the day": "hour_of_day", "minutes (0 = off)": "minutes_or_off",
          "days (0 = off)": "days_or_off", "litres per minute": "litres_per_minute",
          "litres": "litres", "per cent": "per_cent", "heartbeats": "heartbeats",
          "(days)": "days_paren", "W": "watts"}
_PHRASES = {"whole seconds, {ge}..{le}": "config.allowed.whole_seconds",
            "whole seconds, {ge} (never) ..{le}": "config.allowed.whole_seconds_never",
            "0 (until acknowledged) or more": "config.allowed.cycles",
            "a whole number": "config.allowed.whole_number"}
_DETECTOR_LIST = "a list of detectors from: "


class Allowed:
    """What a field allows, worded from its type and constraints in a language;
    text("en") is the English every refusal has always said."""

    def __init__(self, node: Any, extra: dict[str, Any], reason: Reason,
                 value: Any = MISSING) -> None:
        self.node, self.extra, self.reason, self.value = node, extra, reason, value

    def text(self, lang: str | None) -> str:
        return _allowed(self.node, self.extra, self.reason, self.value, lang)


def _phrase(given: str, lang: str | None, **fields: Any) -> str:
    """A Meta's own English phrase in `lang` when the catalog has it, else as written."""
    if given in _PHRASES:
        return i18n.text(lang, _PHRASES[given], **fields)
    if given.startswith(_DETECTOR_LIST):
        return i18n.text(lang, "config.allowed.detectors",
                         items=given[len(_DETECTOR_LIST):])
    return given.format(**fields)


def _unit(unit: str, lang: str | None) -> str:
    return i18n.text(lang, f"config.unit.{_UNITS[unit]}") if unit in _UNITS else unit


def _allowed(node: Any, extra: dict[str, Any], reason: Reason, value: Any = MISSING,
             lang: str | None = "en") -> str:
    """What the field allows, in words, from its type and constraints."""
    ge, le = getattr(node, "ge", None), getattr(node, "le", None)
    t = functools.partial(i18n.text, lang)
    if "expected" in extra:
        return _phrase(str(extra["expected"]), lang, ge=ge, le=le)
    if reason is Reason.TYPE and "wrong_type" in extra:
        return _phrase(str(extra["wrong_type"]), lang)
    if isinstance(node, mi.BoolType):
        return t("config.allowed.bool", yes="true", no="false")
    if isinstance(node, (mi.IntType, mi.FloatType)):
        lo, hi = _number(ge), _number(le)
        limits = (t("config.allowed.range", lo=lo, hi=hi) if lo and hi else
                  t("config.allowed.at_least", lo=lo) if lo else
                  t("config.allowed.at_most", hi=hi) if hi else "")
        limits = " ".join(filter(None, (limits, _unit(extra.get("unit", ""), lang))))
        if reason is Reason.LIMIT:
            return limits
        # a number with a fraction where a whole one is wanted is told so
        whole = (isinstance(node, mi.IntType) and isinstance(value, (int, float))
                 and not isinstance(value, bool))
        return " ".join(filter(None, (t("config.allowed.whole_number") if whole
                                      else t("config.allowed.number"), limits)))
    if isinstance(node, mi.LiteralType):
        return t("config.allowed.one_of", items=", ".join(map(str, node.values)))
    if isinstance(node, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        items, _ = _unwrap(node.item_type)
        if isinstance(items, mi.LiteralType):
            return t("config.allowed.list_from", items=", ".join(map(str, items.values)))
        return t("config.allowed.texts") if isinstance(items, mi.StrType) else t(
            "config.allowed.list")
    if isinstance(node, mi.StrType):
        return t("config.allowed.text")
    if isinstance(node, mi.StructType):
        return t("config.allowed.table")
    return getattr(getattr(node, "cls", None), "__name__", None) or t("config.allowed.valid")


def _number(x: float | None) -> str:
    """10000000 as written, 4.0 as 4, 0.25 as 0.25."""
    return "" if x is None else str(x) if isinstance(x, int) else f"{x:g}"
