"""Follow-ups to the people already told about an alert: who took it, then the outcome.

Pure code, like alerts.messages: the router reads the alert and its recipients,
these functions decide who hears what and in which words.

- acknowledged: "已由 李娜 接手（09:14）" and, short, what the alert was;
- resolved by a person: "已处理：电话联系上 — 备注：…";
- cleared by itself (the detector's condition_cleared): "情况已自行解除：已恢复活动".

Each in the contact's language, times in the home's time zone (with the date when
not today there), in the three shapes of alert_messages (sms, chat, email).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Literal

from alerts.messages import AlertView, lang_of
from anju import i18n

Kind = Literal["ack", "res"]

# store.supersede's reason (detectors/writer.py): a button pressed again after someone took
# the earlier press; the new alert is told anew, so "cleared by itself" would mislead.
SUPERSEDED_PREFIX = "pressed again"
# an actor as the console and links write it: "李娜 (lina)", "张伟 (张伟)"
_ACTOR = re.compile(r"^(?P<name>.+?) \((?P<inner>[^()]*)\)$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def followup_key(alert_id: int, kind: Kind, contact_id: int) -> str:
    """The idempotency key of one contact's follow-up: at most one of each kind."""
    return f"a{alert_id}-{kind}-c{contact_id}"


def person(actor: str | None) -> str:
    """The name a person reads for an actor: the console writes "李娜 (lina)" (name and
    user name), a link "张伟 (张伟)" (the contact and the name typed); both read 李娜 / 张伟.
    A typed name that differs from the contact's is kept: "张伟 (张小明)"."""
    if not actor:
        return ""
    m = _ACTOR.match(actor.strip())
    if m is None:
        return actor.strip()
    name, inner = m.group("name").strip(), m.group("inner").strip()
    if not inner or inner == name or _USERNAME.match(inner):
        return name
    return actor.strip()


@dataclass(frozen=True, kw_only=True)
class Recipient:
    id: int
    name: str
    lang: str
    urls: tuple[str, ...]


def recipients(told: Iterable[Recipient], *, acted_contact: int | None,
               actor: str | None) -> list[Recipient]:
    """Everyone already told, except the person who acted, when identifiable: the contact
    whose link acknowledged, or a contact bearing the acting person's name."""
    who = person(actor)
    return [r for r in told if r.id != acted_contact and not (who and r.name.strip() == who)]


@dataclass(frozen=True, kw_only=True)
class Followup:
    """What happened to an alert, for the people told about it."""

    kind: Kind
    view: AlertView
    at: datetime                  # acknowledged_at or resolved_at
    actor: str | None = None      # acknowledged_by or resolved_by
    outcome: str | None = None    # resolution only (lifecycle.OUTCOMES)
    note: str | None = None       # the resolution's note (a cleared condition: its reason)

    @property
    def cleared(self) -> bool:
        return self.kind == "res" and self.outcome == "condition_cleared"


def superseded(outcome: str | None, note: str | None) -> bool:
    """Resolved because the same button was pressed again: the new alert speaks for it."""
    return outcome == "condition_cleared" and (note or "").startswith(SUPERSEDED_PREFIX)


def why_cleared(reason: str | None, lang: str) -> str:
    """A cleared condition's reason in the reader's language.

    The detector keeps its English sentence ("Cleared: moved again (bathroom)."); the
    catalog's `cleared.*` words are looked for in it (the longest that fits) and given in
    `lang`. An English reader gets the sentence's reason when no word fits; a Chinese
    reader then gets nothing rather than English."""
    if not reason:
        return ""
    en = i18n.catalog("en")
    found = [(len(v), k[len("cleared."):]) for k, v in en.items()
             if k.startswith("cleared.") and v and v.lower() in reason.lower()]
    code = reason.strip() if i18n.has("en", f"cleared.{reason.strip()}") else None
    if code is None and found:
        code = max(found)[1]
    if code is not None:
        return i18n.label(lang, "cleared", code)
    if lang_of(lang) == "en":
        return re.sub(r"^cleared:\s*", "", reason.strip(), flags=re.I).rstrip(".")
    return ""


def headline(f: Followup, lang: str, now: datetime | None = None) -> str:
    """The one line that says what happened: 已由 李娜 接手（09:14） / 已处理：电话联系上 —
    备注：… / 情况已自行解除：已恢复活动."""
    lang = lang_of(lang)
    at = i18n.when(lang, f.at, f.view.tz, now=now)
    if f.kind == "ack":
        return i18n.text(lang, "followup.acknowledged", who=person(f.actor), at=at)
    if f.cleared:
        why = why_cleared(f.note, lang)
        return (i18n.text(lang, "followup.cleared", why=why) if why
                else i18n.text(lang, "followup.cleared_plain"))
    line = i18n.text(lang, "followup.resolved",
                     outcome=i18n.label(lang, "outcome", f.outcome))
    if f.note and f.note.strip():
        line += " — " + i18n.text(lang, "followup.note", note=_short(f.note, 120))
    return line


def about(v: AlertView, lang: str, now: datetime | None = None) -> str:
    """What the alert was, short: 王秀英：紧急按钮被按下（09:10起）."""
    lang = lang_of(lang)
    what = (v.summary_zh if lang == "zh-CN" else v.summary_en) or i18n.label(lang, "kind",
                                                                             v.kind)
    since = i18n.when(lang, v.since or v.opened_at, v.tz, now=now)
    return i18n.text(lang, "followup.about", who=v.resident, what=_short(what, 60).rstrip("。."),
                     since=since)


def _short(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n - 1] + "…"


def followup_messages(f: Followup, lang: str,
                      now: datetime | None = None) -> dict[str, dict[str, str]]:
    """{"sms"|"chat"|"email": {"title", "body"}} for one contact, as alert_messages."""
    lang = lang_of(lang)
    v = f.view

    def t(key: str, **fields: Any) -> str:
        return i18n.text(lang, f"followup.{key}", **fields)

    line, what = headline(f, lang, now), about(v, lang, now)
    title = t("title_cleared" if f.cleared else "title_" + f.kind, who=v.resident)
    sms = t("sms", brand=i18n.text(lang, "msg.brand"), line=line, about=what)
    email = [line]
    if f.kind == "res" and not f.cleared and f.actor:
        email.append(t("by", who=person(f.actor), at=i18n.when(lang, f.at, v.tz, now=now)))
    place = i18n.place(v.address, v.building) or v.home_code
    email += ["", f"{v.resident} — {place}", what, "",
              f"{i18n.text(lang, 'msg.ref')} #{v.alert_id}"]
    return {"sms": {"title": "", "body": sms},
            "chat": {"title": title, "body": f"{line}\n{what}"},
            "email": {"title": title, "body": "\n".join(email)}}
