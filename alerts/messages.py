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

SEVERITY = {
    "zh-CN": {"critical": "紧急", "high": "重要", "medium": "注意", "low": "提示"},
    "en": {"critical": "URGENT", "high": "Important", "medium": "Attention", "low": "Note"},
}
KIND = {
    "zh-CN": {
        "button": "紧急按钮被按下", "smoke": "烟雾报警", "gas": "燃气报警", "leak": "漏水报警",
        "fall": "疑似跌倒", "collapse": "疑似跌倒", "inactivity": "长时间无活动",
        "water_running": "长时间用水", "no_water": "全天未用水", "door_left_open": "门未关好",
        "night_wandering": "夜间异常走动", "not_back": "外出未归", "home_silent": "家中无动静",
        "power_high": "电器长时间大功率", "power_flat": "用电异常", "stove_on": "灶具长时间通电",
        "activity_decline": "活动量下降", "device_offline": "设备离线", "sensor_dead": "传感器失灵",
        "battery_low": "设备电量低",
    },
    "en": {
        "button": "emergency button pressed", "smoke": "smoke alarm", "gas": "gas alarm",
        "leak": "water leak", "fall": "suspected fall", "collapse": "suspected fall",
        "inactivity": "no activity for a long time", "water_running": "water running for long",
        "no_water": "no water used all day", "door_left_open": "door left open",
        "night_wandering": "wandering at night", "not_back": "has not come back",
        "home_silent": "home silent", "power_high": "appliance on at high power",
        "power_flat": "unusual power use", "stove_on": "stove on for long",
        "activity_decline": "activity declining", "device_offline": "device offline",
        "sensor_dead": "sensor not working", "battery_low": "low battery",
    },
}
ROOM = {
    "zh-CN": {"bedroom": "卧室", "living_room": "客厅", "kitchen": "厨房", "bathroom": "浴室",
              "toilet": "卫生间", "entrance": "门口", "hallway": "走廊", "dining_room": "餐厅",
              "study": "书房", "balcony": "阳台", "other": "其他"},
    "en": {},
}
TEXT = {
    "zh-CN": {"brand": "【安居】", "since": "起始", "evidence": "依据", "ack": "确认处理",
              "link_note": "链接仅可使用一次，有效至", "ref": "编号", "step": "第{c}轮 第{s}步",
              "where": "地点", "what": "情况", "to": "致"},
    "en": {"brand": "[anju] ", "since": "Since", "evidence": "Evidence", "ack": "Acknowledge",
           "link_note": "single use, valid until", "ref": "Ref", "step": "round {c}, step {s}",
           "where": "Where", "what": "What", "to": "To"},
}


def lang_of(lang: str | None) -> str:
    return lang if lang in TEXT else "zh-CN"


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
    place = " ".join(p for p in (a.address, a.building) if p) or a.home_code
    if a.room:
        room = ROOM[lang].get(a.room, a.room.replace("_", " "))
        place += ("，" if lang == "zh-CN" else ", ") + room
    return place


def _what(a: AlertView, lang: str) -> str:
    summary = a.summary_zh if lang == "zh-CN" else a.summary_en
    return summary or KIND[lang].get(a.kind, a.kind.replace("_", " "))


def _evidence(ev: Mapping[str, Any], limit: int = 6) -> list[str]:
    lines = []
    for k, v in list(ev.items())[:limit]:
        if isinstance(v, float):
            v = round(v, 2)
        text = str(v) if not isinstance(v, (dict, list)) else str(v)[:60]
        lines.append(f"{k.replace('_', ' ')}: {text[:80]}")
    return lines


def alert_messages(a: AlertView, lang: str, link: str, *, expires_at: datetime,
                   cycle: int = 0, step: int = 0) -> dict[str, dict[str, str]]:
    """{"sms"|"chat"|"email": {"title", "body"}} for one contact."""
    lang = lang_of(lang)
    t = TEXT[lang]
    sev = SEVERITY[lang].get(a.severity, a.severity)
    label = KIND[lang].get(a.kind, a.kind.replace("_", " "))
    since = a.since or a.opened_at
    since_s = _local(since, a.tz)
    what = _what(a, lang)
    where = _where(a, lang)
    if lang == "zh-CN":
        sms = f"{t['brand']}{sev}：{a.resident}（{where}）{what}，{since_s}起。确认：{link}"
        title = f"{t['brand'][:-1]}·{sev}】{a.resident}：{label}"
    else:
        sms = f"{t['brand']}{sev}: {a.resident} ({where}): {what}, since {since_s}. Ack: {link}"
        title = f"[anju {sev}] {a.resident}: {label}"
    ev = _evidence(a.evidence)
    sep = "：" if lang == "zh-CN" else ": "
    who_where = f"{a.resident}（{where}）" if lang == "zh-CN" else f"{a.resident} ({where})"
    chat_lines = [who_where, f"{t['what']}{sep}{what}", f"{t['since']}{sep}{since_s}"]
    if ev:
        chat_lines.append(f"{t['evidence']}{sep}" + "; ".join(ev[:3]))
    chat_lines.append(f"{t['ack']}{sep}{link}")
    email_lines = [f"{a.resident} — {where}", "",
                   f"{t['what']}{sep}{what}",
                   f"{t['since']}{sep}{_local(since, a.tz)} ({a.tz})", ""]
    if ev:
        email_lines += [f"{t['evidence']}{sep}"] + [f"  · {line}" for line in ev] + [""]
    email_lines += [f"{t['ack']} ({t['link_note']} {_local(expires_at, a.tz)}){sep}", link, "",
                    f"{t['ref']} #{a.alert_id} · " + t["step"].format(c=cycle + 1, s=step + 1)]
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


SUMMARY_TEXT = {
    "zh-CN": {"title": "【安居】{who}今日概况（{day}）", "up": "起床：约 {t}", "no_up": "起床：今天早上未见活动",
              "out": "外出：{n} 次，共约 {m} 分钟", "no_out": "外出：未外出",
              "meals": "做饭/用餐：{n} 次（早中晚共 3 段）", "water": "用水：约 {l} 升",
              "no_water": "用水：今天未见用水", "active": "活动：{h} 个小时有活动",
              "unusual": "需要留意：", "fine": "今天一切平稳。"},
    "en": {"title": "[anju] {who}'s day ({day})", "up": "Up at about {t}",
           "no_up": "No morning activity seen", "out": "Went out: {n} (about {m} min away)",
           "no_out": "Did not go out", "meals": "Meals (kitchen activity): {n} of 3",
           "water": "Water: about {l} L", "no_water": "No water used today",
           "active": "Active in {h} hours of the day", "unusual": "Worth a look:",
           "fine": "Nothing unusual today."},
}


def summary_messages(s: DaySummary, who: str, lang: str, tz: str) -> dict[str, dict[str, str]]:
    lang = lang_of(lang)
    t = SUMMARY_TEXT[lang]
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
    """Operators' text (both languages: operators may be either)."""
    lines = []
    for service, last in stale:
        if service == "pipeline" and last is not None:
            at = last.astimezone(ZoneInfo(tz)).strftime("%H:%M")
            lines.append(f"数据通道中断，自 {at} 起：读数未到达，对家属的无活动类警报暂缓发送 / "
                         f"data pipeline interrupted since {at}: readings are not arriving; "
                         "absence alerts to families are held")
            continue
        ago = f"{int((now - last).total_seconds() // 60)} min" if last else "never"
        lines.append(f"{service}: 停止工作 / not making progress (last heartbeat {ago} ago)")
    for service in recovered:
        if service == "pipeline":
            lines.append("数据通道已恢复，暂缓的检查将按补到的数据重新判断 / data pipeline "
                         "working again; held checks are judged again on the data that arrives")
            continue
        lines.append(f"{service}: 已恢复 / working again")
    if stale and all(s == "pipeline" for s, _ in stale):
        title = "【安居·运维】数据通道中断 / anju data pipeline interrupted"
    else:
        title = ("【安居·运维】服务停止 / anju service stopped" if stale
                 else "【安居·运维】服务恢复 / anju service recovered")
    return title, "\n".join(lines)
