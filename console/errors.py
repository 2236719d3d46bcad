"""Validation messages as data: a catalog key and its fields, worded when someone reads them.

`Msg("invalid.range", lo=1, hi=366)` is what a validator says. `str(msg)` is English (logs,
and the JSON API, which also gives the key as `code`); `msg.text("zh-CN")` — or
`Words.error(msg)` — is the reader's language, for pages. A field may itself be worded:
`Choices(codes, group)` lists the choices by their names in the reader's language
(e.g. outcomes, roles, severities), `Label(group, code)` names one code, a nested Msg is
worded in the same language.

`Sent` is a failed form's state for its template: what was typed, each error beside its
field, and `autofocus` on the first invalid field, so the page opens at the form.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from markupsafe import Markup, escape

from anju import i18n as catalog

# Groups whose codes have names in the catalog, tried in this order when a Choices
# does not say its group (the first one that names every choice wins).
GROUPS = ("visit_outcome", "outcome", "severity", "role", "schedule_kind", "room", "device",
          "state", "kind", "channel")


class Choices:
    """A list of codes, worded as their names (`、`-joined in Chinese). `group` is the
    catalog's group ("outcome": outcome.false_alarm), or a prefix ending in "_"
    ("away_": away_set); none: the first of GROUPS that names them all."""

    def __init__(self, codes: Iterable[Any], group: str | None = None) -> None:
        self.codes = tuple(str(c) for c in codes)
        self.group = group

    def _group(self, lang: str) -> str | None:
        if self.group is not None:
            return self.group
        for g in GROUPS:
            if self.codes and all(catalog.has(lang, f"{g}.{c}") for c in self.codes):
                return g
        return None

    def text(self, lang: str) -> str:
        g = self._group(lang)
        if g and g.endswith("_"):
            names = (catalog.text(lang, g + c) if catalog.has(lang, g + c) else c
                     for c in self.codes)
        else:
            names = (catalog.label(lang, g, c) if g and catalog.has(lang, f"{g}.{c}") else c
                     for c in self.codes)
        return catalog.join(lang, names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choices) and (self.codes, self.group) == (other.codes,
                                                                           other.group)

    def __repr__(self) -> str:
        return f"Choices({self.codes!r}, {self.group!r})"


class Label:
    """One code by its name: Label("visit_outcome", "concern") → 发现问题."""

    def __init__(self, group: str, code: str) -> None:
        self.group, self.code = group, code

    def text(self, lang: str) -> str:
        return catalog.label(lang, self.group, self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Label) and (self.group, self.code) == (other.group, other.code)

    def __repr__(self) -> str:
        return f"Label({self.group!r}, {self.code!r})"


class Msg:
    """A validation message: its key under `invalid.*` in the catalog and its fields."""

    __slots__ = ("key", "fields")

    def __init__(self, key: str, /, **fields: Any) -> None:
        self.key = key
        self.fields = fields

    def text(self, lang: str | None) -> str:
        lang = catalog.lang_of(lang)
        worded = {k: v.text(lang) if hasattr(v, "text") else v for k, v in self.fields.items()}
        return catalog.text(lang, self.key, **worded)

    def __str__(self) -> str:
        return self.text("en")

    def __repr__(self) -> str:
        fields = "".join(f", {k}={v!r}" for k, v in self.fields.items())
        return f"Msg({self.key!r}{fields})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and (self.key, self.fields) == (other.key, other.fields)

    __hash__ = None  # type: ignore[assignment]


Message = Msg | str


def code(m: Message) -> str:
    """The key the API gives beside the English message ("invalid" for a bare text)."""
    return m.key if isinstance(m, Msg) else "invalid"


def text(m: Message, lang: str | None) -> str:
    """The message in `lang` (a bare text, from before messages were keys, as it is)."""
    return m.text(lang) if isinstance(m, Msg) else str(m)


def worded(errors: Mapping[str, Message], lang: str | None) -> dict[str, str]:
    """field → message in the reader's language, for templates ({{ errors.x }})."""
    return {k: text(v, lang) for k, v in errors.items()}


class Sent:
    """A failed form, for its template: `sent.value('visit', 'note')`,
    `sent.error('visit', 'note')`, `sent.attrs('visit', 'note')` (autofocus on the first
    invalid field), `sent.selected('visit', 'outcome', o)`, `sent.others('visit')` (errors
    not shown beside a field). Another form on the same page keeps its defaults."""

    def __init__(self, name: str = "", values: Mapping[str, Any] | None = None,
                 errors: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.values = dict(values or {})
        self.errors = dict(errors or {})
        self.shown: set[str] = set()
        self.focused = False

    def failed(self, form: str) -> bool:
        return bool(self.name) and form == self.name

    def _keys(self, field: str) -> list[str]:
        return [k for k in self.errors if k == field or k.startswith(field + ".")]

    def value(self, form: str, field: str, default: Any = "") -> str:
        if not self.failed(form):
            return "" if default is None else str(default)
        v = self.values.get(field)
        return "" if v is None else str(v)

    def selected(self, form: str, field: str, option: Any, default: bool = False) -> Markup:
        chosen = (str(self.values.get(field, "")) == str(option)) if self.failed(form) else default
        return Markup(" selected") if chosen else Markup("")

    def checked(self, form: str, field: str, default: bool = False) -> Markup:
        on = (str(self.values.get(field, "")).lower() in ("1", "true", "on", "yes")
              if self.failed(form) else default)
        return Markup(" checked") if on else Markup("")

    def attrs(self, form: str, field: str) -> Markup:
        """aria-invalid (and autofocus for the first invalid field, so the page opens there)."""
        if not self.failed(form) or not self._keys(field):
            return Markup("")
        out = f' aria-invalid="true" aria-describedby="{escape(form)}-{escape(field)}-error"'
        if not self.focused:
            self.focused = True
            out += " autofocus"
        return Markup(out)

    def error(self, form: str, field: str) -> Markup:
        """The field's error, right beside it."""
        keys = self._keys(field) if self.failed(form) else []
        if not keys:
            return Markup("")
        self.shown.update(keys)
        msgs = "; ".join(self.errors[k] for k in keys)
        return Markup('<span class="error field-error" id="{}-{}-error" data-field="{}">{}</span>'
                      ).format(form, field, field, msgs)

    def others(self, form: str) -> list[tuple[str, str]]:
        """Errors not shown beside a field (the form as a whole, a setting's key)."""
        if not self.failed(form):
            return []
        return [(k, v) for k, v in self.errors.items() if k not in self.shown]


# -- lower layers' refusals, in the catalog's words ----------------------------------------
# alerts, detectors and anju.registry raise English text for the command line; the console
# words the ones a form can meet, and keeps the rest as a detail of invalid.refused.


def provisioning_msg(e: Exception, field: str = "home") -> tuple[str, Msg]:
    """anju.registry's ProvisioningError as (field, message)."""
    msg = str(e)
    if m := re.match(r"home '(.*)' already exists", msg):
        return "code", Msg("invalid.home_exists", code=m[1])
    if msg.startswith("tz="):
        return "tz", Msg("invalid.time_zone")
    for prefix, name in (("resident", "resident"), ("home code", "code"),
                         ("community", "community")):
        if msg.startswith(prefix + ":"):
            return name, Msg("invalid.required")
    return field, Msg("invalid.refused", detail=msg)


def config_msg(e: Exception) -> Msg:
    """detectors.config's ConfigError: the setting, the value and what it may be, worded
    from the typed refusal (anju.typed_config.Refused) it came from when there is one."""
    from anju.typed_config import Reason, Refused
    key, value, allowed = getattr(e, "key", ""), getattr(e, "value", None), getattr(
        e, "allowed", str(e))
    cause = e.__context__
    if isinstance(cause, Refused):
        if cause.reason is Reason.UNKNOWN:
            return Msg("invalid.setting_unknown", key=key)
        return Msg("invalid.setting", key=key, value=repr(value), allowed=cause.allowed_words())
    if m := re.match(r"at most (\S+) \((\S+)\) (\w+)$", str(allowed)):
        return Msg("invalid.setting_at_most", key=key, value=repr(value), other=m[1], limit=m[2],
                   unit=Msg("config.unit.minutes") if m[3] == "minutes" else m[3])
    if m := re.match(r"an hour other than (\S+) \((\S+)\)$", str(allowed)):
        return Msg("invalid.setting_differs", key=key, value=repr(value), other=m[1],
                   limit=m[2])
    return Msg("invalid.setting_raw", key=key, value=repr(value), allowed=str(allowed))


def contact_msg(e: Exception) -> tuple[str, Msg]:
    """alerts.contacts / alerts.manage ContactError as (field, message)."""
    msg = str(e)
    if m := re.match(r"'?(.*?)'?: not an apprise URL", msg):
        return "urls", Msg("invalid.url_scheme", url=m[1])
    if m := re.match(r"(.*?): apprise cannot use this URL: (.*)$", msg, re.S):
        return "urls", Msg("invalid.url_unusable", url=m[1], why=m[2])
    if msg.startswith("name:"):
        return "name", Msg("invalid.required")
    return "contact", Msg("invalid.refused", detail=msg)


def policy_msg(e: Exception) -> Msg:
    """alerts.policy's PolicyError (or a ContactError on saving one) as a message."""
    from alerts.policy import ROLES
    from anju.typed_config import Reason, Refused
    msg = str(e)
    if m := re.match(r"step '(.*)': expected SECONDS", msg):
        return Msg("invalid.policy_step", step=m[1])
    if m := re.match(r"step '(.*)': '(.*)' is not whole seconds", msg):
        return Msg("invalid.policy_seconds", step=m[1], after=m[2])
    if m := re.match(r"repeat_s=(-?\d+): repeating faster", msg):
        return Msg("invalid.policy_repeat", repeat=m[1])
    cause = e.__context__
    if isinstance(cause, Refused) and cause.key.endswith(".notify") and cause.at != cause.key:
        return Msg("invalid.policy_role", role=str(cause.item), roles=Choices(ROLES, "role"))
    if isinstance(cause, Refused) and cause.reason is not Reason.UNKNOWN and cause.key != "steps":
        return Msg("invalid.setting", key=cause.key, value=repr(cause.value),
                   allowed=cause.allowed_words())
    return Msg("invalid.policy", detail=msg)
