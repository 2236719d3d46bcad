"""A home's days: today's signs of life and time away, closed at local midnight.

The closed days feed the activity decline (`DayTally.recent`: signs of life per
day at home) and the dead-sensor rule (`DayTally.life`: days the resident lived
at home and moved).
"""

from __future__ import annotations

from detectors.activity import HOME
from detectors.baseline import LIVED_AT_HOME
from detectors.clock import DAY_S
from detectors.state import HomeState

LIFE_DAYS = 31          # days with signs of life kept (devices.dead_days is at most 30)


def context_changed(s: HomeState, t: float, ctx0: int) -> None:
    """The resident left (ctx0 HOME) or came back at t: time away is counted."""
    day = s.day
    if ctx0 == HOME:
        day.away_mark = t
    elif day.away_mark is not None:
        day.away_s += t - max(day.away_mark, day.lo)
        day.away_mark = None


def close_day(s: HomeState, t: float) -> None:
    """Local midnight at t: the day before is closed and a new one counted."""
    day = s.day
    clock = s.clock
    d0 = clock.day(t - 1)
    if day.away_mark is not None:
        day.away_s += max(0.0, t - max(day.away_mark, day.lo))
        day.away_mark = t
    home = 1.0 - day.away_s / DAY_S
    day.away_s = 0.0
    if d0 > day.last_day:
        # activity per day at home: a day mostly out, or under an explicit away, says
        # nothing about how active the resident is
        if day.lo == d0 and home >= 0.5 and not s.explicit_at(t - 1) and \
                not s.explicit_at(d0):
            day.recent.append(min(65535, round(day.count / home)))
            n = s.cfg.decline.days
            if len(day.recent) > n:
                del day.recent[:len(day.recent) - n]
        if day.lo == d0 and day.count and home >= LIVED_AT_HOME and \
                (not day.life or day.life[-1] < d0):
            day.life.append(d0)
            if len(day.life) > LIFE_DAYS:
                del day.life[0]
        day.last_day = d0
    day.lo = clock.day(t)
    day.count = 0
