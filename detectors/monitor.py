"""HomeMonitor: one home's detectors, fed events and time, answering with Findings.

Pure and deterministic: the same events and the same `now`s give the same
findings; nothing reads the wall clock. The live service and the evaluation
harness drive the same class.

- observe(ev): first lets time run up to ev.ts (deadlines that passed before
  the event fire, stamped with their own time), then applies the event.
- advance(now): fires every deadline <= now.
- next_deadline(): the earliest time advance() could return a finding.
- learn(history, now): re-learns the baselines (detectors/baseline.py) and
  merges the end state of the history (last activity, last door, devices'
  last messages), so that a new monitor after a restart knows a stillness
  that began long before the replayed day.

The monitor is a coordinator: the home's state is a `HomeState`
(detectors/state.py), and the detectors are the rules of detectors/rules/,
which it tells about each event (in the order of `RULES`) and asks for
deadlines. A finding kind is opened once and cleared once; `open_findings()`
lists what holds now. Device-level kinds are keyed by kind and device.
"""

from __future__ import annotations

from array import array
from dataclasses import replace
from typing import Callable, Iterable

from detectors import days
from detectors.activity import BACK, DOOR, Meter, Presence, classify
from detectors.baseline import Baseline, learn
from detectors.clock import DAY_S
from detectors.config import DetectorConfig
from detectors.events import Event, Finding, HomeInfo
from detectors.history import Tail
from detectors.rules import RULES, Deadline, Due, Rule
from detectors.rules.routine import learn_history
from detectors.state import MOMENTARY, NEVER, ExplicitAway, HomeState

__all__ = ["MOMENTARY", "HomeMonitor"]


def _hooks(name: str) -> tuple[Callable[..., list[Finding]], ...]:
    """The rules' `name` hooks, in RULES order; rules that do not define it are skipped."""
    default = getattr(Rule, name)
    return tuple(getattr(r, name) for r in RULES if getattr(type(r), name) is not default)


_HEARD = _hooks("heard")
_HEARTBEAT = _hooks("heartbeat")
_SIGN = _hooks("sign")
_MOVED = _hooks("moved")
_DOOR = _hooks("door")
_MIDNIGHT = _hooks("midnight")
_DEADLINES = _hooks("deadlines")
_READERS = {kind: tuple(r.reading for r in RULES if kind in r.reads)
            for kind in sorted({k for r in RULES for k in r.reads})}
_FIRE = {due: r.fire for r in RULES for due in r.dues}


class HomeMonitor:
    __slots__ = ("state", "_dl", "_day")

    def __init__(self, home: HomeInfo, config: DetectorConfig) -> None:
        self.state = HomeState.new(home, config)
        self._dl: float | None = None     # the rules' next deadline, until something changes
        self._day = NEVER                 # and the day's close, with it

    # what tools and tests look at
    @property
    def home(self) -> HomeInfo:
        return self.state.home

    @property
    def cfg(self) -> DetectorConfig:
        return self.state.cfg

    @property
    def pres(self) -> Presence:
        return self.state.pres

    @property
    def base(self) -> Baseline:
        return self.state.base

    @property
    def open(self) -> dict[str, Finding]:
        return self.state.open

    @property
    def last_ts(self) -> float:
        return self.state.last_ts

    # -- learning --------------------------------------------------------------------------
    def learn(self, history: Iterable[Event], now: float) -> None:
        s = self.state
        tap = learn_history(s, history, now)   # the routine rule's days, on the same pass
        base, tail = learn(tap if tap is not None else history, now, s.home.tz, s.cfg,
                           s.pres.pirs)
        if tap is not None:
            tap.finish()
        s.base = base
        self._merge(tail)
        day = s.day
        if base.last_day > day.last_day:
            day.recent = array("H", [min(65535, c) for c in base.recent])
            day.last_day = base.last_day
        if not day.lo:
            # a new monitor counts today's activity from what it observes (the replay)
            day.lo = s.clock.day(now)
            day.last_day = max(day.last_day, day.lo - DAY_S)
        s.still_cache = None
        self._dl = None

    def _merge(self, tail: Tail) -> None:
        s = self.state
        if tail.pres is not None and tail.pres.latest() > s.pres.latest():
            # the history knows of later signs of life (a new monitor after a restart)
            s.pres = tail.pres
        for uid, t in tail.last_seen.items():
            d = s.dev(uid)
            d.last_seen = max(d.last_seen, t)
            if uid in tail.heartbeats and not d.hb_s:
                d.hb_s = s.hb_period(uid)
        for uid, t in tail.last_trigger.items():
            d = s.dev(uid)
            d.last_trigger = max(d.last_trigger, t)
        if tail.first_ts is not None and (s.started is None or tail.first_ts < s.started):
            s.started = tail.first_ts
        if tail.life_days:
            s.day.life = array("d", sorted(set(s.day.life) | set(tail.life_days))[-days.LIFE_DAYS:])

    # -- away --------------------------------------------------------------------------------
    def set_away(self, start: float, end: float | None, reason: str) -> None:
        s = self.state
        s.explicit = ExplicitAway(start, end, reason)
        s.still_cache = None
        self._dl = None

    def clear_away(self, now: float) -> list[Finding]:
        s = self.state
        s.explicit = None
        s.still_cache = None
        self._dl = None
        return s.clear_finding("not_back", now, "away_cleared")

    # -- findings ----------------------------------------------------------------------------
    def open_findings(self) -> list[Finding]:
        return sorted(self.state.open.values(), key=lambda f: (f.at, f.kind, f.device or ""))

    # -- events --------------------------------------------------------------------------------
    def observe(self, ev: Event) -> list[Finding]:
        s = self.state
        device_ts = ev.ts
        if ev.arrived is not None and ev.ts > ev.arrived:
            # a device clock ahead of anju's: it cannot have happened after it was stored
            ev = replace(ev, ts=ev.arrived)
        t = ev.ts
        out = self._advance(t, strict=True) if t > s.last_ts else []
        if t > s.last_ts:
            s.last_ts = t
        if s.started is None:
            s.started = t
        self._dl = None
        kind = ev.kind
        d = s.dev(ev.device)
        if not d.kind:
            d.kind = kind if kind != "heartbeat" else ""
        d.last_seen = max(d.last_seen, t)
        for hook in _HEARD:
            out += hook(s, ev)
        if kind == "heartbeat":
            if not d.hb_s:
                d.hb_s = s.hb_period(ev.device)
            for hook in _HEARTBEAT:
                out += hook(s, ev, d)
            return out
        meter = None
        if kind == "water" or kind == "power":
            meter = s.meters.get(ev.device)
            if meter is None:
                meter = s.meters[ev.device] = Meter()
            elif t < meter.t:
                # a meter's late reading: its newer readings already told the story (totals
                # are cumulative), and taking it as the latest would count flow twice
                return out
        c = classify(kind, ev.value, t, meter, s.cfg)
        for hook in _READERS.get(kind, ()):
            out += hook(s, ev, meter, c, device_ts)
        if c == 0:
            return out
        if kind == "motion":
            d.last_trigger = t
        for hook in _SIGN:
            out += hook(s, ev)
        pres = s.pres
        ctx0 = pres.context()
        if c == DOOR:
            out += self._door(ev)
        elif pres.act(t, ev.room, ev.device, kind):
            if t >= s.day.lo:     # a sign of life in the day being counted
                s.day.count += 1
            out += self._moved(t, ev.room, ctx0)
        if pres.context() != ctx0:
            days.context_changed(s, t, ctx0)
        s.still_cache = None
        return out

    def _moved(self, t: float, room: str, ctx0: int) -> list[Finding]:
        out: list[Finding] = []
        for hook in _MOVED:
            out += hook(self.state, t, room, ctx0)
        return out

    def _door(self, ev: Event) -> list[Finding]:
        s = self.state
        t = ev.ts
        out: list[Finding] = []
        if s.pres.last_door is not None and t < s.pres.last_door:
            return out   # a late door event: the door's later events already said where it is
        ctx0 = s.pres.context()
        seen = s.pres.door(t, ev.value >= 1, ev.room, ev.device)
        if seen == BACK:
            if t >= s.day.lo:
                s.day.count += 1
            out += self._moved(t, ev.room, ctx0)
        for hook in _DOOR:
            out += hook(s, ev, seen)
        return out

    # -- time ----------------------------------------------------------------------------------
    def deadlines(self) -> list[Deadline]:
        """Every rule's deadlines, and local midnight (the day's close)."""
        s = self.state
        out: list[Deadline] = []
        for hook in _DEADLINES:
            out.extend(hook(s))
        if s.started is not None:
            s.clock.day(max(s.day.lo, s.started))
            out.append((s.clock.hi, Due.DAY))
        return out

    def next_deadline(self, day_late: float = 0.0) -> float | None:
        """The earliest of deadlines(). `day_late`: the day's close (local midnight) taken
        that many seconds later, every other deadline at its own time; advance() at a time
        past midnight closes the day first, so nothing is lost. The service spreads its homes'
        midnights with it: homes sharing a time zone would otherwise close their days in one
        burst, about a millisecond each, while emergencies wait behind them."""
        if self._dl is None:
            # without gathering deadlines(): this runs after every event
            s = self.state
            dl = NEVER
            for hook in _DEADLINES:
                for d, _ in hook(s):
                    if d < dl:
                        dl = d
            self._day = NEVER
            if s.started is not None:
                s.clock.day(max(s.day.lo, s.started))
                self._day = s.clock.hi
            self._dl = dl
        d = min(self._dl, self._day + day_late)
        return None if d == NEVER else d

    def advance(self, now: float) -> list[Finding]:
        return self._advance(now, strict=False)

    def _advance(self, now: float, strict: bool) -> list[Finding]:
        s = self.state
        out: list[Finding] = []
        if s.started is None and s.day.lo and now >= s.day.lo + DAY_S:
            # nothing seen yet, so no day to close: today is the one being counted (else the
            # first reading, if older than now, would find a past midnight still to handle)
            s.day.lo = s.clock.day(now)
        for _ in range(1000):
            dl = self.next_deadline()
            if dl is None or dl > now or (strict and dl == now):
                break
            # all that is due at once, in a fixed order (by kind); each fires even if an
            # earlier one changed what is due
            for t, due in sorted(x for x in self.deadlines() if x[0] == dl):
                if due is Due.DAY:
                    out += self._midnight(t)
                else:
                    out += _FIRE[due](s, t, due)
            self._dl = None
        if now > s.last_ts:
            s.last_ts = now
        return out

    def _midnight(self, t: float) -> list[Finding]:
        s = self.state
        days.close_day(s, t)
        out: list[Finding] = []
        for hook in _MIDNIGHT:
            out += hook(s, t)
        return out
