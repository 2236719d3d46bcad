"""The console's binding of anju's one catalog (anju.i18n) to a reader's language.

Templates call `w("board")`, `w.kind("inactivity")`, `w.time(dt, tz)`; every word
comes from anju/locale, the same words the notifications and evidence use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anju import i18n as catalog
from anju.i18n import LANGS

__all__ = ["LANGS", "PERSON_OUTCOMES", "Words", "pick_lang"]

# Outcomes a person records on resolving; "condition_cleared" is the detector's own.
PERSON_OUTCOMES = ("visited_all_well", "visited_help_called", "reached_by_phone",
                   "false_alarm", "device_fault")


def pick_lang(cookie: str | None, accept: str | None = None) -> str:
    """The cookie decides; zh-CN otherwise (the console's users read Chinese first)."""
    return cookie if cookie in LANGS else "zh-CN"


class Words:
    """Bound to one language: `w("board")`, `w.severity("critical")`, `w.time(dt, tz)`."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "zh-CN"

    def __call__(self, key: str, /, **fields: Any) -> str:
        return catalog.text(self.lang, key, **fields)

    def error(self, msg: Any) -> str:
        """A validation message (console.errors.Msg) in this language; a bare text as is."""
        return msg.text(self.lang) if hasattr(msg, "text") else str(msg)

    def errors(self, errors: Any) -> dict[str, str]:
        """field → message in this language (what templates show as {{ errors.x }})."""
        return {k: self.error(v) for k, v in errors.items()}

    def label(self, group: str, code: str | None) -> str:
        return catalog.label(self.lang, group, code)

    def has(self, key: str) -> bool:
        return catalog.has(self.lang, key)

    def unreached(self, reason: str | None, detail: str | None) -> str:
        """Why an alert reached nobody (alerts.unreached's words, as operators are told)."""
        from alerts.unreached import reason_text
        return reason_text(reason or "", detail, self.lang)

    def severity(self, k: str) -> str:
        return self.label("severity", k)

    def state(self, k: str) -> str:
        return self.label("state", k)

    def outcome(self, k: str | None) -> str:
        return self.label("outcome", k)

    def kind(self, k: str) -> str:
        return self.label("kind", k)

    def role(self, k: str) -> str:
        return self.label("role", k)

    def room(self, k: str) -> str:
        return self.label("room", k)

    def device(self, k: str) -> str:
        """A kind of device (door, motion, water …)."""
        return self.label("device", k)

    def delivery(self, k: str) -> str:
        """A notification's state (pending, delivered …)."""
        return self.label("delivery", k)

    def event(self, k: str) -> str:
        """A timeline entry's verb (open, escalate, acknowledge …)."""
        return self.label("event", k)

    def channel(self, k: str | None) -> str:
        return self.label("channel", k)

    def audit(self, k: str) -> str:
        return self.label("audit", k)

    def weekday(self, d: int) -> str:
        """ISO weekday (1 = Monday)."""
        return self(f"weekday.{d}")

    def schedule_kind(self, k: str | None) -> str:
        return self.label("schedule_kind", k)

    def visit_outcome(self, k: str | None) -> str:
        return self.label("visit_outcome", k)

    def join(self, items: Any) -> str:
        return catalog.join(self.lang, items)

    def time(self, dt: datetime | None, tz: str = "Asia/Shanghai", *, seconds: bool = False) -> str:
        """A moment in the home's time zone; the date only when it is not today there."""
        return catalog.when(self.lang, dt, tz, seconds=seconds)

    def duration(self, seconds: float) -> str:
        return catalog.duration(self.lang, seconds)

    def repeat(self, seconds: int) -> str:
        """How an unacknowledged alert repeats: 每 15 分钟重复一轮，直到有人接手."""
        if not seconds:
            return self("policy.no_repeat")
        return self("policy.repeat", every=catalog.duration(self.lang, seconds))

    def escalation(self, policy: Any) -> str:
        """A whole policy (alerts.policy.Policy or its JSON): its steps, then how it repeats."""
        if isinstance(policy, dict):
            steps, repeat_s = policy.get("steps", ()), int(policy.get("repeat_s", 0))
        else:
            steps, repeat_s = policy.steps, policy.repeat_s
        sep = "；" if self.lang == "zh-CN" else "; "
        return f"{self.policy(steps)}{sep}{self.repeat(repeat_s)}"

    def ago(self, dt: datetime | None, now: datetime) -> str:
        if dt is None:
            return "—"
        return catalog.duration(self.lang, (now - dt).total_seconds())

    def policy(self, steps: Any) -> str:
        """An escalation policy as a sentence: 立即：家属、社区工作人员；10 分钟后：物业."""
        parts = []
        for step in steps:
            if isinstance(step, dict):
                after, roles = int(step.get("after_s", 0)), step.get("notify", step.get("roles", ()))
            elif hasattr(step, "after_s"):             # alerts.policy.Step
                after, roles = int(step.after_s), step.notify
            else:
                after, roles = int(step[0]), step[1]
            who = self.join(self.role(r) for r in roles)
            when = self("policy.at_once") if after == 0 else self(
                "policy.after", after=catalog.duration(self.lang, after))
            parts.append(f"{when}{catalog.sep(self.lang)}{who}")
        return ("；" if self.lang == "zh-CN" else "; ").join(parts)
