"""A home's past events, replayed into what the learner works from.

- replay(): the events through the same activity rules the monitor uses
  (detectors/activity.py), cut into still periods: at home, from one sign of
  life to the next; away, from the entrance door to the return. Also the
  signs of life, the meters' readings and the state at the end (Tail).
- full_days(): the full local days to learn from.
- signs_per_day(), away_seconds(): per learned day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from detectors.activity import ACT, AWAY, BACK, DOOR, Meter, Presence, classify, room_group
from detectors.clock import DAY_S, LocalClock
from detectors.config import DetectorConfig
from detectors.events import Event


# One still period: at home from a sign of life to the next, or away: (context (activity.HOME
# or AWAY), start, end, room group (activity.GROUPS) of the sign of life it followed). A plain
# tuple: a month of a busy home has tens of thousands, and a NamedTuple takes 10 % longer to learn.
Still = tuple[int, float, float, int]


@dataclass
class Tail:
    """The state at the end of the history, merged into a running monitor."""

    pres: Presence | None = None                 # where the resident was at the end
    last_seen: dict[str, float] = field(default_factory=dict)
    heartbeats: set[str] = field(default_factory=set)
    last_trigger: dict[str, float] = field(default_factory=dict)
    first_ts: float | None = None
    life_days: list[float] = field(default_factory=list)   # local midnights of the full days
                                                            # with signs of life at home


@dataclass(slots=True)
class Replayed:
    tail: Tail
    stills: list[Still] = field(default_factory=list)
    acts: list[float] = field(default_factory=list)            # signs of life at home
    power: list[tuple[float, float]] = field(default_factory=list)
    water: list[tuple[float, float]] = field(default_factory=list)
    last_t: float | None = None                                # the last event used


@dataclass(slots=True)
class Days:
    """The full local days learned from, oldest first."""

    starts: list[float]            # their local midnights
    weekend: list[bool]
    index: dict[float, int] = field(default_factory=dict)   # midnight -> position
    lo_t: float = 0.0              # from the first one's midnight ...
    hi_t: float = 0.0              # ... to two hours into the day after the last

    def __post_init__(self) -> None:
        self.index = {s: i for i, s in enumerate(self.starts)}
        if self.starts:
            self.lo_t, self.hi_t = self.starts[0], self.starts[-1] + DAY_S + 7200

    @property
    def n(self) -> int:
        return len(self.starts)


def replay(history: Iterable[Event], now: float, cfg: DetectorConfig, pirs: int) -> Replayed:
    """Events in time order (those after `now` ignored) replayed as the monitor sees them."""
    pres = Presence(cfg, pirs)
    meters: dict[str, Meter] = {}
    r = Replayed(Tail())
    tail, stills, acts = r.tail, r.stills, r.acts
    for ev in history:
        t = ev.ts
        if t > now:
            break
        kind = ev.kind
        if kind == "energy" or kind == "temperature":
            continue
        r.last_t = t
        if tail.first_ts is None:
            tail.first_ts = t
        tail.last_seen[ev.device] = t
        if kind == "heartbeat":
            tail.heartbeats.add(ev.device)
            continue
        if kind in ("water", "power"):
            m = meters.get(ev.device)
            if m is None:
                m = meters[ev.device] = Meter()
            (r.water if kind == "water" else r.power).append((t, ev.value))
        else:
            m = None
        c = classify(kind, ev.value, t, m, cfg)
        if c == 0:
            continue
        if kind == "motion":
            tail.last_trigger[ev.device] = t
        ctx0, ref0, room0 = pres.context(), pres.reference(), pres.last_room
        if c == ACT:
            if pres.act(t, ev.room, ev.device, kind):
                acts.append(t)
        elif c == DOOR:
            if pres.door(t, ev.value >= 1, ev.room, ev.device) == BACK:
                acts.append(t)
        ref1 = pres.reference()
        if ref0 is not None and (pres.context() != ctx0 or ref1 != ref0):
            stills.append((ctx0, ref0, t, room_group(room0)))
    tail.pres = pres
    return r


def full_days(clock: LocalClock, first_ts: float, last_t: float, now: float,
              learn_days: int) -> Days:
    """Full local days from the first event: over by `now` and begun before the last event
    (the last `learn_days` of them). The day that has just ended counts although nothing has
    happened since its midnight (a re-learning at midnight would otherwise run a day
    behind); days after the readings stopped do not."""
    d0 = clock.day(first_ts)
    if d0 < first_ts:
        d0 = clock.hi
    starts: list[float] = []
    weekend: list[bool] = []
    d = d0
    while True:
        clock.day(d)
        if clock.hi > now or d > last_t:
            break
        starts.append(d)
        weekend.append(clock.weekday >= 5)
        d = clock.hi
    if len(starts) > learn_days:
        cut = len(starts) - learn_days
        starts, weekend = starts[cut:], weekend[cut:]
    return Days(starts, weekend)


def signs_per_day(acts: list[float], clock: LocalClock, days: Days) -> list[int]:
    """Signs of life at home on each learned day."""
    counts = [0] * days.n
    lo_t, hi_t, index = days.lo_t, days.hi_t, days.index
    for t in acts:
        i = index.get(clock.day(t)) if lo_t <= t < hi_t else None
        if i is not None:
            counts[i] += 1
    return counts


def away_seconds(stills: list[Still], clock: LocalClock, days: Days) -> list[float]:
    """Seconds away from home on each learned day."""
    away = [0.0] * days.n
    lo_t, hi_t, index = days.lo_t, days.hi_t, days.index
    for ctx, a, e, _ in stills:
        if ctx != AWAY or e <= lo_t or a >= hi_t:
            continue
        t = max(a, lo_t)
        while t < e:
            day = clock.day(t)
            end = min(e, clock.hi)
            i = index.get(day)
            if i is not None:
                away[i] += end - t
            t = end
    return away
