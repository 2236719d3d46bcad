"""Local time for one home: its days and the 15-minute slots thresholds are kept in."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SLOT_S = 900
SLOTS = 96
DAY_S = 86400


# Per zone, the local days worked out so far, shared by every clock of the zone: their
# midnights in order, and (midnight, next midnight, weekday). A new home's clock, and each
# learning's, would otherwise work out the same few days again (microseconds each, which
# 100,000 homes at start-up and every learned day of their histories turn into seconds).
# Days do not overlap, so the one holding t is found by bisection; a year is 365 entries.
_DAYS: dict[str, tuple[list[float], list[tuple[float, float, int]]]] = {}


class LocalClock:
    """Local day boundaries of a zone, cached for the current day."""

    __slots__ = ("tz", "lo", "hi", "weekday", "_known")

    def __init__(self, tz: str) -> None:
        self.tz = ZoneInfo(tz)
        self.lo = self.hi = 0.0
        self.weekday = 0
        self._known = _DAYS.setdefault(tz, ([], []))

    def day(self, t: float) -> float:
        """Local midnight at or before t (and sets hi, weekday)."""
        if not self.lo <= t < self.hi:
            los, spans = self._known
            i = bisect_right(los, t) - 1
            if i >= 0 and t < spans[i][1]:
                self.lo, self.hi, self.weekday = spans[i]
                return self.lo
            dt = datetime.fromtimestamp(t, self.tz)
            mid = datetime(dt.year, dt.month, dt.day, tzinfo=self.tz)
            nxt = mid.date() + timedelta(days=1)
            self.lo = mid.timestamp()
            self.hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.tz).timestamp()
            self.weekday = mid.weekday()
            if len(los) > 20000:          # decades of days: start again rather than grow
                los.clear()
                spans.clear()
            j = bisect_right(los, self.lo)
            los.insert(j, self.lo)
            spans.insert(j, (self.lo, self.hi, self.weekday))
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
