"""The homes the detector service watches, and how a home's monitor is rebuilt.

A rebuilt monitor (at start, or after a home's devices, settings or away
periods changed) learns from the stored history, replays the recent past as
the service would have lived it (re-learning at each local noon) and is
advanced to now: a countdown killed mid-way fires on time after a restart.
Pure: the service reads the history and writes the findings.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from detectors.events import DeviceInfo, Event, Finding
from detectors.monitor import HomeMonitor
from detectors.state import ExplicitAway


# per zone, the last few answers of next_noon() as (the noon before, the next noon): every t
# in between has that answer. Homes rebuilt together ask about the same few days, and working
# a noon out takes microseconds that 100,000 homes at start-up turn into seconds.
_NOONS: dict[str, list[tuple[float, float]]] = {}


def next_noon(t: float, tz: str) -> float:
    """The first local noon after t: homes re-learn then, when their residents are up
    (re-learning in the middle of someone's night would cut the night in two)."""
    known = _NOONS.setdefault(tz, [])
    for before, noon in known:
        if before <= t < noon:
            return noon
    noon = _next_noon(t, tz)
    known.insert(0, (_next_noon(noon - 30 * 3600, tz), noon))
    del known[4:]
    return noon


def _next_noon(t: float, tz: str) -> float:
    local = datetime.fromtimestamp(t, ZoneInfo(tz))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon.timestamp() <= t:
        noon = (local + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon.timestamp()


@dataclass
class Home:
    id: int
    code: str
    tz: str
    community_id: int
    monitor: HomeMonitor
    devices: dict[int, DeviceInfo] = field(default_factory=dict)
    relearn_at: float = 0.0       # when to learn again: the next local noon, at most a day on

    def learned(self, at: float, relearn_s: float) -> None:
        # worked out once here rather than for every home at every refresh (100,000 homes'
        # local noons take about a second to work out)
        self.relearn_at = min(next_noon(at, self.tz), at + relearn_s)


def replay(home: Home, history: list[Event], now: float, *, replay_s: float, learn_days: int,
           relearn_s: float, away: Iterable[ExplicitAway] = ()) -> list[Finding]:
    """Bring a new monitor (home.monitor) to `now`: learn from the history before the last
    `replay_s`, set the away periods, replay that span re-learning at each day's turn (so
    the baselines are the ones the service would have had) and advance to now. `history`
    is in time order."""
    monitor = home.monitor
    replay_from = now - replay_s
    times = [e.ts for e in history]
    span = learn_days * 86400

    def learn(at: float) -> None:
        lo, hi = bisect.bisect_left(times, at - span), bisect.bisect_left(times, at)
        monitor.learn(history[lo:hi], at)
        home.learned(at, relearn_s)

    learn(replay_from)
    for a in away:
        monitor.set_away(a.start, a.end, a.reason)
    findings = []
    boundary = next_noon(replay_from, home.tz)
    for e in history[bisect.bisect_left(times, replay_from):]:
        while e.ts >= boundary:
            findings.extend(monitor.advance(boundary))
            learn(boundary)
            boundary = next_noon(boundary, home.tz)
        findings.extend(monitor.observe(e))
    while boundary <= now:
        findings.extend(monitor.advance(boundary))
        learn(boundary)
        boundary = next_noon(boundary, home.tz)
    findings.extend(monitor.advance(now))
    return findings
