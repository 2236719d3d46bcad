"""Contacts: checking apprise URLs, choosing a message format, quiet hours, duty rotas.

Pure except for asking apprise whether it can parse a URL (no network).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import apprise

LANGS = ("zh-CN", "en")
FORMATS = ("sms", "email", "chat")
_EMAIL_SCHEMES = {"mailto", "mailtos", "email", "emails"}


class ContactError(ValueError):
    """A contact's details are refused; the message says which and why."""


def _plugin(url: str) -> tuple[object | None, str]:
    with apprise.LogCapture(level=logging.WARNING) as out:
        plugin = apprise.Apprise.instantiate(url)
    return plugin, out.getvalue() if plugin is None else ""


def check_url(url: str) -> str:
    """The URL if apprise can use it, else ContactError with apprise's reason."""
    url = url.strip()
    if "://" not in url:
        raise ContactError(f"{redact(url)!r}: not an apprise URL (expected scheme://..., "
                           "e.g. mailto://, json://, wecombot://, dingtalk://)")
    plugin, log = _plugin(url)
    if plugin is None:
        reasons = [re.sub(r"^\S+ \S+ - \w+ - ", "", line).strip()
                   for line in log.splitlines() if line.strip()]
        why = "; ".join(r for r in reasons if r) or "apprise does not know this URL"
        raise ContactError(f"{redact(url)}: apprise cannot use this URL: {why}")
    return url


def message_format(url: str) -> str:
    """sms, email or chat: what length and shape of message the channel takes."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in _EMAIL_SCHEMES:
        return "email"
    plugin, _ = _plugin(url)
    if plugin is not None:
        title_max = getattr(plugin, "title_maxlen", 250)
        body_max = getattr(plugin, "body_maxlen", 32768)
        if title_max == 0 and body_max <= 200:
            return "sms"
    return "chat"


def redact(url: str) -> str:
    """Scheme and host only: what may be shown and stored beside an attempt."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "invalid"
    if parts.scheme in ("json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"):
        return f"{parts.scheme}://{host}{port}"
    return f"{parts.scheme}://"


def parse_span(text: str) -> tuple[time, time]:
    """'22:00-07:00' -> (22:00, 07:00)."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise ContactError(f"{text!r}: expected HH:MM-HH:MM, e.g. 22:00-07:00")
    a, b, c, d = (int(g) for g in m.groups())
    if a > 23 or c > 23 or b > 59 or d > 59:
        raise ContactError(f"{text!r}: not a time of day")
    return time(a, b), time(c, d)


def _in_span(t: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_until(now: datetime, tz: str, start: time | None, end: time | None) -> datetime | None:
    """If `now` falls in the quiet hours (local to tz), when they end; else None."""
    if start is None or end is None:
        return None
    local = now.astimezone(ZoneInfo(tz))
    if not _in_span(local.timetz().replace(tzinfo=None), start, end):
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo)


@dataclass(frozen=True)
class Shift:
    weekday: int     # ISO, 1 = Monday
    starts: time
    ends: time       # <= starts: runs past midnight into the next day


def on_duty(shifts: Iterable[Shift], now: datetime, tz: str) -> bool:
    """Whether a shift of this weekly rota covers `now` in the home's local time."""
    local = now.astimezone(ZoneInfo(tz))
    t = local.time()
    today = local.isoweekday()
    yesterday = 7 if today == 1 else today - 1
    for s in shifts:
        overnight = s.ends <= s.starts
        if s.weekday == today and (s.starts <= t < s.ends if not overnight else t >= s.starts):
            return True
        if overnight and s.weekday == yesterday and t < s.ends:
            return True
    return False
