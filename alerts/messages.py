"""What people read: alert messages and daily summaries in zh-CN or en; pure code.

Three shapes, chosen by the channel (alerts.contacts.message_format):
- sms: one short line, no title: who, what, since when, the link;
- chat: a title and a few lines (WeCom, DingTalk, Feishu, Telegram, webhooks);
- email: a title and the full text with the evidence.
Times are shown in the home's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from anju import i18n

class _Labels(dict):
    """{lang: {code: words}} for one catalog group, read from the catalog on use."""

    def __init__(self, group: str) -> None:
        super().__init__()
        self.group = group

    def __missing__(self, lang: str) -> dict[str, str]:
        prefix = self.group + "."
        words = {k[len(prefix):]: v for k, v in i18n.catalog(i18n.lang_of(lang)).items()
                 if k.startswith(prefix)}
        self[lang] = words
        return words


KIND = _Labels("kind")          # kept for readers of alerts.messages.KIND[lang][kind]


class _Group:
    """t["up"] -> the catalog's text of "<group>.up" in one language."""

    def __init__(self, lang: str, group: str) -> None:
        self.lang, self.group = lang, group

    def __getitem__(self, key: str) -> str:
        return i18n.text(self.lang, f"{self.group}.{key}")


def lang_of(lang: str | None) -> str:
    return i18n.lang_of(lang)


@dataclass(frozen=True)
class AlertView:
    """What a message says about an alert (read from alerts, homes, devices)."""

    alert_id: int
    kind: str
    severity: str
    resident: str
    home_code: str
    address: str
    building: str
    tz: str
    opened_at: datetime
    since: datetime | None
    summary_zh: str
    summary_en: str
    room: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


def _local(t: datetime, tz: str, with_date: bool = True) -> str:
    lt = t.astimezone(ZoneInfo(tz))
    return lt.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def _where(a: AlertView, lang: str) -> str:
    place = i18n.place(a.address, a.building) or a.home_code
    if a.room:
        place += ("，" if lang == "zh-CN" else ", ") + i18n.label(lang, "room", a.room)
    return place


def _what(a: AlertView, lang: str) -> str:
    summary = a.summary_zh if lang == "zh-CN" else a.summary_en
    return summary or i18n.label(lang, "kind", a.kind)


# Evidence a person can read beside the alert's sentence: key -> how its value reads.
_ROOM_KEYS = ("room", "last_room", "threshold_room")
_MINUTE_KEYS = ("still_min", "threshold_min", "running_min", "open_min", "away_min",
                "usual_max_min", "grace_min")


def evidence_facts(evidence: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) pairs for the evidence keys the catalog names (`evidence.<key>`), in
    the evidence's order; internal keys (ids, flags) are left out, as the sentence says
    what they mean."""
    lang = lang_of(lang)
    facts = []
    for k, v in evidence.items():
        key = f"evidence.{k}"
        if not i18n.has(lang, key) or v is None or isinstance(v, (dict, list, bool)):
            continue
        if k in _ROOM_KEYS:
            value = i18n.label(lang, "room", str(v))
        elif k in _MINUTE_KEYS and isinstance(v, (int, float)):
            value = i18n.duration(lang, float(v) * 60)
        elif k == "late_s" and isinstance(v, (int, float)):
            value = i18n.duration(lang, float(v))
        elif isinstance(v, float):
            value = f"{v:.1f}".rstrip("0").rstrip(".")
        else:
            value = str(v)[:80]
        facts.append((i18n.text(lang, key), value))
    return facts


def alert_messages(a: AlertView, lang: str, link: str, *, expires_at: datetime,
                   cycle: int = 0, step: int = 0) -> dict[str, dict[str, str]]:
    """{"sms"|"chat"|"email": {"title", "body"}} for one contact."""
    lang = lang_of(lang)

    def t(key: str, **fields: Any) -> str:
        return i18n.text(lang, f"msg.{key}", **fields)

    sev = i18n.label(lang, "severity", a.severity)
    label = i18n.label(lang, "kind", a.kind)
    since_s = _local(a.since or a.opened_at, a.tz)
    what = _what(a, lang)
    where = _where(a, lang)
    sep = i18n.sep(lang)
    sms = t("sms", brand=t("brand"), sev=sev, who=a.resident, where=where, what=what,
            since=since_s, link=link)
    title = t("title", sev=sev, who=a.resident, what=label)
    facts = [f"{k}{sep}{v}" for k, v in evidence_facts(a.evidence, lang)]
    chat_lines = [t("who_where", who=a.resident, where=where), f"{t('what')}{sep}{what}",
                  f"{t('since')}{sep}{since_s}", f"{t('ack')}{sep}{link}"]
    email_lines = [f"{a.resident} — {where}", "",
                   f"{t('what')}{sep}{what}",
                   f"{t('since')}{sep}{since_s} ({a.tz})", ""]
    if facts:
        email_lines += [f"{t('evidence')}{sep}"] + [f"  · {line}" for line in facts] + [""]
    email_lines += [f"{t('ack')} ({t('link_note')} {_local(expires_at, a.tz)}){sep}", link, "",
                    f"{t('ref')} #{a.alert_id} · " + t("step", c=cycle + 1, s=step + 1)]
    return {"sms": {"title": "", "body": sms},
            "chat": {"title": title, "body": "\n".join(chat_lines)},
            "email": {"title": title, "body": "\n".join(email_lines)}}


# -- daily summary ------------------------------------------------------------
@dataclass(frozen=True)
class DaySummary:
    day: str                        # local date, YYYY-MM-DD
    up_at: datetime | None          # first activity of the morning
    outings: int
    away_minutes: int
    meals: int                      # meal windows with kitchen activity (of 3)
    water_l: float | None
    active_hours: int               # hours of the day with any activity so far
    unusual: tuple[str, ...] = ()   # alerts and device problems, already in the reader's words


def summary_messages(s: DaySummary, who: str, lang: str, tz: str) -> dict[str, dict[str, str]]:
    lang = lang_of(lang)
    t = _Group(lang, "summary")
    lines = [t["up"].format(t=_local(s.up_at, tz, with_date=False)) if s.up_at else t["no_up"],
             t["out"].format(n=s.outings, m=s.away_minutes) if s.outings else t["no_out"],
             t["meals"].format(n=s.meals),
             t["water"].format(l=round(s.water_l)) if s.water_l else t["no_water"],
             t["active"].format(h=s.active_hours)]
    if s.unusual:
        lines += [t["unusual"]] + [f"  · {u}" for u in s.unusual]
    else:
        lines.append(t["fine"])
    title = t["title"].format(who=who, day=s.day)
    sms = title + " " + ("；" if lang == "zh-CN" else "; ").join(
        line.strip(" ·") for line in lines if line != t["unusual"])
    return {"sms": {"title": "", "body": sms[:300]},
            "chat": {"title": title, "body": "\n".join(lines)},
            "email": {"title": title, "body": "\n".join(lines)}}


def watchdog_message(stale: list[tuple[str, datetime | None]], recovered: list[str],
                     now: datetime, tz: str = "Asia/Shanghai") -> tuple[str, str]:
    """Operators' text, in both languages (operators may read either)."""

    def both(key: str, **fields: Any) -> str:
        return " / ".join(i18n.text(lang, key, **fields) for lang in i18n.LANGS)

    lines = []
    for service, last in stale:
        if service == "pipeline" and last is not None:
            at = last.astimezone(ZoneInfo(tz)).strftime("%H:%M")
            lines.append(both("watchdog.pipeline_down", at=at))
            continue
        if last is None:
            lines.append(both("watchdog.stopped_never", service=service))
        else:
            lines.append(both("watchdog.stopped", service=service,
                              ago=int((now - last).total_seconds() // 60)))
    for service in recovered:
        lines.append(both("watchdog.pipeline_back") if service == "pipeline"
                     else both("watchdog.recovered", service=service))
    if stale and all(s == "pipeline" for s, _ in stale):
        title = both("watchdog.title_pipeline")
    else:
        title = both("watchdog.title_stopped" if stale else "watchdog.title_recovered")
    return title, "\n".join(lines)
