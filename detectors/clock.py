"""Local time for one home: its days and the 15-minute slots thresholds are kept in."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SLOT_S = 900
SLOTS = 96
DAY_S = 86400


class LocalClock:
    """Local day boundaries of a zone, cached for the current day."""

    __slots__ = ("tz", "lo", "hi", "weekday")

    def __init__(self, tz: str) -> None:
        self.tz = ZoneInfo(tz)
        self.lo = self.hi = 0.0
        self.weekday = 0

    def day(self, t: float) -> float:
        """Local midnight at or before t (and sets hi, weekday)."""
        if not self.lo <= t < self.hi:
            dt = datetime.fromtimestamp(t, self.tz)
            mid = datetime(dt.year, dt.month, dt.day, tzinfo=self.tz)
            nxt = mid.date() + timedelta(days=1)
            self.lo = mid.timestamp()
            self.hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.tz).timestamp()
            self.weekday = mid.weekday()
        return self.lo

    def slot(self, t: float) -> int:
        """Slot index 0..191: weekdays 0..95, weekends 96..191."""
        lo = self.day(t)
        s = min(SLOTS - 1, int((t - lo) // SLOT_S))
        return s + (SLOTS if self.weekday >= 5 else 0)

    def minute(self, t: float) -> int:
        return int((t - self.day(t)) // 60)

    def hhmm(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M")
