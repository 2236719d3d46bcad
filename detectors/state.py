"""One home's state as the detectors see it: typed values, shared by the rules.

`HomeState` is what a HomeMonitor knows of its home between calls: the
learned baseline, where the resident is (activity.Presence), each device's
last message, the meters, the explicit away period, today's tally and the
findings open now. Rules (detectors/rules/) read and change it; it does no
I/O and reads no clock. Opening and clearing a finding go through
`HomeState.raise_finding` and `HomeState.clear_finding`, which keep a kind
open once and cleared once.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any
from datetime import datetime, timezone

from detectors import texts
from detectors.activity import Meter, Presence
from detectors.baseline import Baseline, defaults
from detectors.clock import LocalClock
from detectors.config import DetectorConfig
from detectors.events import Finding, HomeInfo, Severity

MOMENTARY = frozenset({"button"})    # a finding of its own each time; nothing to clear
NEVER = float("inf")
_UTC = timezone.utc


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, _UTC).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class Device:
    """What the monitor knows of one device."""

    kind: str
    hb_s: int = 0               # heartbeat period; 0 until a heartbeat is seen (not watched)
    last_seen: float = 0.0
    last_trigger: float = 0.0   # PIRs: last detection
    battery: float = -1.0


@dataclass(frozen=True, slots=True)
class ExplicitAway:
    """An away period set by people (holiday, hospital): `end` None until cleared."""

    start: float
    end: float | None
    reason: str

    def covers(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(slots=True)
class StillCache:   # (not frozen: a frozen dataclass is slower to make, and this one is
                    # made for every new last activity)
    """The stillness (or absence) deadline worked out for one reference, kept until the
    reference, the context or the last room changes (detectors/stillness.py)."""

    ref: float          # when the stillness (home) or absence (away) began
    ctx: int            # activity.HOME or AWAY
    basis: int          # the room's own limit applied (minutes); -1: asleep; 0: time of day
    deadline: float
    room: str           # the last activity's room


@dataclass(slots=True)
class DayTally:
    """Today's signs of life and time away, and the closed days before it."""

    lo: float = 0.0             # local midnight starting the day being counted
    count: int = 0              # signs of life at home today
    recent: array = field(default_factory=lambda: array("H"))   # counts of the last days
    last_day: float = 0.0       # local midnight starting the last day closed
    away_s: float = 0.0         # seconds of today spent away (so far)
    away_mark: float | None = None    # away since (counted into away_s later)
    # local midnights of the last days with signs of life at home: a PIR silent for days is
    # dead only if the resident was at home and moving on them (not away on a trip)
    life: array = field(default_factory=lambda: array("d"))


@dataclass(slots=True)
class HomeState:
    home: HomeInfo
    cfg: DetectorConfig
    clock: LocalClock
    base: Baseline
    pres: Presence
    devs: dict[str, Device]
    meters: dict[str, Meter] = field(default_factory=dict)
    open: dict[str, Finding] = field(default_factory=dict)   # by kind, or "kind:device"
    explicit: ExplicitAway | None = None
    day: DayTally = field(default_factory=DayTally)
    last_ts: float = 0.0                 # the monitor's clock: the latest time seen
    started: float | None = None         # the first event seen
    silent_since: float | None = None    # every device silent since (home_silent open)
    still_cache: StillCache | None = None
    pre_at: float | None = None          # pre-alarm raised at (waiting for the button)
    left_home_at: float | None = None    # last time the resident was away
    door_open_since: float | None = None
    last_water: float | None = None      # last time water started to flow
    water_ring: array = field(default_factory=lambda: array("d"))  # (t, total), ~an hour apart
    last_power_edge: float | None = None
    routine: Any = None      # detectors.routine.RoutineMemory, made by the routine rule

    @classmethod
    def new(cls, home: HomeInfo, cfg: DetectorConfig) -> HomeState:
        base = Baseline()
        base.home_thr, base.away_thr = defaults(cfg)   # shared until learned
        pres = Presence(cfg, sum(1 for d in home.devices if d.kind == "motion"))
        return cls(home, cfg, LocalClock(home.tz), base, pres,
                   {d.uid: Device(d.kind) for d in home.devices})

    # -- devices -------------------------------------------------------------------------------
    def dev(self, uid: str) -> Device:
        d = self.devs.get(uid)
        if d is None:
            d = self.devs[uid] = Device("")
        return d

    def hb_period(self, uid: str) -> int:
        for d in self.home.devices:
            if d.uid == uid:
                return d.heartbeat_s
        return 900

    # -- time ----------------------------------------------------------------------------------
    def explicit_at(self, t: float) -> bool:
        e = self.explicit
        return e is not None and e.covers(t)

    def hm(self, t: float | None) -> str | None:
        return None if t is None else self.clock.hhmm(t)

    # -- findings ------------------------------------------------------------------------------
    def raise_finding(self, kind: str, at: float, severity: Severity, since: float | None = None,
                      device: str | None = None, **evidence: object) -> list[Finding]:
        """An "open" finding, unless the kind is switched off or already open."""
        if not self.cfg.on(kind) and kind != "prealarm":
            return []
        key = f"{kind}:{device}" if device else kind
        if key in self.open:
            return []
        ev = {k: v for k, v in evidence.items() if v is not None}
        f = Finding(kind, "open", at, severity, since, device, ev,
                    texts.render(kind, "open", ev))
        if kind not in MOMENTARY:
            self.open[key] = f
        return [f]

    def clear_finding(self, kind: str, at: float, reason: str, device: str | None = None,
                      **evidence: object) -> list[Finding]:
        """A "clear" finding for an open one (nothing if it is not open)."""
        key = f"{kind}:{device}" if device else kind
        f = self.open.pop(key, None)
        if f is None:
            return []
        ev = {"reason": reason, "at_time": self.clock.hhmm(at),
              **{k: v for k, v in evidence.items() if v is not None}}
        if at < f.at:
            # What ends the condition happened before the alert was raised and arrived only
            # now: the alert should not have opened. It is resolved as of now (the monitor's
            # clock, never moved back), saying when the late reading was stamped.
            ev["reason"], ev["seen_reason"] = "late_data", reason
            at = max(f.at, self.last_ts)
        return [Finding(kind, "clear", at, f.severity, f.since, device, ev,
                        texts.render(kind, "clear", ev))]

    def ended_by(self, kind: str, t: float, reason: str, room: str) -> list[Finding]:
        """A sign of life at t ends the stillness or absence `kind` stands for, unless it
        came before that began (a late reading from earlier says nothing against it)."""
        f = self.open.get(kind)
        if f is None or (f.since is not None and t <= f.since):
            return []
        return self.clear_finding(kind, t, reason, room=room)
