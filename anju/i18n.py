"""anju's words for people: one catalog, zh-CN by default, English complete.

The catalog is gettext PO files with key-based message ids, one per language
(anju/locale/<lang>/LC_MESSAGES/anju.po), read with Babel. Every text a person
reads — console, notifications, evidence, the acknowledgement page, validation
messages, the command line's messages — is looked up here, so one word
(卫生间, say) means the same room everywhere. tests/test_i18n_catalog.py fails
when a key used in code is missing from a language or left untranslated.

    text("zh-CN", "followup.acknowledged", who="李娜", at="09:14")
    label("en", "room", "bathroom")        # -> "bathroom"
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

LANGS = ("zh-CN", "en")
DEFAULT = "zh-CN"
DEFAULT_TZ = "Asia/Shanghai"
LOCALE_DIR = Path(__file__).with_name("locale")
_DIRS = {"zh-CN": "zh_CN", "en": "en"}


def lang_of(lang: str | None) -> str:
    """A supported language; zh-CN for anything else (anju's people read Chinese first)."""
    if lang in LANGS:
        return lang  # type: ignore[return-value]
    if lang and lang.lower().startswith("en"):
        return "en"
    return DEFAULT


def po_path(lang: str) -> Path:
    return LOCALE_DIR / _DIRS[lang_of(lang)] / "LC_MESSAGES" / "anju.po"


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """key → text for one language (read once per process)."""
    with po_path(lang).open("rb") as f:
        cat = read_po(f, locale=_DIRS[lang_of(lang)].replace("_", "-").split("-")[0])
    return {str(m.id): str(m.string) for m in cat if m.id and m.string}


def has(lang: str, key: str) -> bool:
    return key in catalog(lang_of(lang))


def text(lang: str | None, key: str, default: str | None = None, /, **fields: Any) -> str:
    """The text of `key` in `lang`, its {fields} filled in.

    A key missing from `lang` falls back to the other language, then to
    `default`, then to the key itself (the catalog test catches all three).
    """
    lang = lang_of(lang)
    s = catalog(lang).get(key)
    if s is None:
        other = "en" if lang == DEFAULT else DEFAULT
        s = catalog(other).get(key, default if default is not None else key)
    return s.format(**fields) if fields else s


def label(lang: str | None, group: str, value: str | None) -> str:
    """A code's name in words: label(lang, "kind", "water_running"); unknown codes read
    as themselves with spaces (a new device kind is still legible)."""
    if value is None or value == "":
        return ""
    key = f"{group}.{value}"
    if key in catalog(lang_of(lang)):
        return catalog(lang_of(lang))[key]
    return str(value).replace("_", " ")


def join(lang: str | None, items: Iterable[str]) -> str:
    """A list as one phrase: 家属、物业 / family, property."""
    return ("、" if lang_of(lang) == DEFAULT else ", ").join(items)


def sep(lang: str | None) -> str:
    """The colon between a label and its value."""
    return "：" if lang_of(lang) == DEFAULT else ": "


def local(dt: datetime, tz: str | None) -> datetime:
    return dt.astimezone(ZoneInfo(tz or DEFAULT_TZ))


def when(lang: str | None, dt: datetime | None, tz: str | None = DEFAULT_TZ, *,
         now: datetime | None = None, seconds: bool = False) -> str:
    """A moment as a person reads it in the home's zone: 09:14 today, 12-01 09:14 on
    another day this year, 2025-12-01 09:14 in another year."""
    if dt is None:
        return "—"
    here = local(dt, tz)
    today = (local(now, tz) if now else datetime.now(ZoneInfo(tz or DEFAULT_TZ))).date()
    clock = here.strftime("%H:%M:%S" if seconds else "%H:%M")
    if here.date() == today:
        return clock
    if here.year == today.year:
        return f"{here:%m-%d} {clock}"
    return f"{here:%Y-%m-%d} {clock}"


def duration(lang: str | None, seconds: float) -> str:
    """A span in words: 45 秒, 12 分钟, 2 小时 10 分钟, 3 天."""
    s = max(0, int(seconds))
    if s < 60:
        return text(lang, "dur.s", n=s)
    m = s // 60
    if m < 60:
        return text(lang, "dur.min", n=m)
    h, m = divmod(m, 60)
    if h < 48:
        return text(lang, "dur.h_min", h=h, m=m) if m else text(lang, "dur.h", h=h)
    return text(lang, "dur.days", n=h // 24)


def place(*parts: str | None) -> str:
    """An address from its parts, each said once: the community's name or the building
    is often already written into the address ("南岸区·南坪街道 1栋" + "1栋")."""
    kept: list[str] = []
    for p in (p.strip() for p in parts if p and p.strip()):
        if any(p in k for k in kept):
            continue
        kept = [k for k in kept if k not in p] + [p]
    return " ".join(kept)
