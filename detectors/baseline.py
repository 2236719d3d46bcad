"""Learning a home's baselines from its past events.

The inactivity threshold (see docs/detectors.md):

1. Replay the history through the same activity rules the monitor uses
   (detectors/activity.py) and cut it into still periods: at home, from one
   sign of life to the next; away, from the entrance door to the return.
2. For every local day and 15-minute slot, the longest stillness reached in
   that slot (a still period that began at 21:40 and ended at 06:10 reaches
   8 h 30 min in the 06:00 slot).
3. Per slot, the usual longest stillness u = the largest of those values
   over the past days within +-`window_min` of the slot, weekdays and
   weekends apart (weekends fall back to all days while fewer than 3 of them).
4. threshold = u x (1 + margin / sensitivity) + slack / sensitivity,
   clamped to [floor, cap]. Before `min_days` full days of history, a fixed
   `default_min` (field practice: 12 hours).

Still periods longer than a day are gaps in the data (or a holiday), not
stillness: they and the days they cover are left out. Only full local days
before the last event count. The result is a few compact arrays (about
1 KB); the history itself is not kept.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median, quantiles
from typing import Iterable
from zoneinfo import ZoneInfo

from detectors.activity import ACT, AWAY, BACK, BED, DOOR, GROUPS, HOME, WET, Meter, Presence, classify, \
    room_group
from detectors.config import DetectorConfig
from detectors.events import Event

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


# A day the resident lived at home, for sensor_dead, has signs of life and at least this share
# of it at home (6 h): a short visit on a day away (a neighbour feeding the cat) does not show
# that a sensor should have fired, and a day out at work does.
LIVED_AT_HOME = 0.25


@dataclass
class Baseline:
    """What was learned about one home: compact, a few hundred bytes of arrays."""

    days: int = 0                                  # full days of history learned from
    learned: bool = False                          # thresholds learned (else the defaults)
    home_thr: array = field(default_factory=lambda: array("H"))   # minutes, 192 slots
    away_thr: array = field(default_factory=lambda: array("H"))
    # minutes, per room group (activity.GROUPS) x 96 slots of the day the stillness began;
    # 0 where there is too little to go on (the time-of-day threshold alone applies)
    room_thr: array = field(default_factory=lambda: array("H"))
    wake_mean: int = -1                            # minute of the day the resident is usually up
    wake_sd: int = 0
    # the night, minutes of the day: from the earliest bedtime seen to the latest getting-up
    # (-1: not known); stillness after activity in bed in this span is sleep
    sleep_from: int = -1
    sleep_to: int = -1
    daily_acts: int = -1                           # median activity events a day
    base_w: float = -1.0                           # base electrical load (W)
    high_load_min: int = -1                        # longest high load seen (minutes)
    water_min_l: float = -1.0                      # least water used in any `low_hours` window
    recent: list[int] = field(default_factory=list)   # activity counts of the last full days
    last_day: float = 0.0                          # local midnight starting the last full day



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


def _defaults(cfg: DetectorConfig) -> tuple[array, array]:
    d = cfg.inactivity.default_min
    return array("H", [d] * (2 * SLOTS)), array("H", [max(d, cfg.away.floor_min)] * (2 * SLOTS))


def learn(history: Iterable[Event], now: float, tz: str, cfg: DetectorConfig, pirs: int = 2
          ) -> tuple[Baseline, Tail]:
    """Baselines from `history` (events in time order, those after `now` ignored) and the
    state at its end; `pirs` is how many PIRs the home has (see activity.Presence)."""
    clock = LocalClock(tz)
    pres = Presence(cfg, pirs)
    meters: dict[str, Meter] = {}
    tail = Tail()
    intervals: list[tuple[int, float, float, int]] = []
    acts: list[float] = []
    power: list[tuple[float, float]] = []
    water: list[tuple[float, float]] = []
    last_t = None
    for ev in history:
        t = ev.ts
        if t > now:
            break
        kind = ev.kind
        if kind == "energy" or kind == "temperature":
            continue
        last_t = t
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
            (water if kind == "water" else power).append((t, ev.value))
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
            intervals.append((ctx0, ref0, t, room_group(room0)))
    tail.pres = pres
    base = Baseline()
    if last_t is None or tail.first_ts is None:
        base.home_thr, base.away_thr = _defaults(cfg)
        return base, tail
    # full local days from the first event: over by `now` and begun before the last event. The
    # day that has just ended counts although nothing has happened since its midnight (a
    # re-learning at midnight would otherwise run a day behind); days after the readings
    # stopped do not
    d0 = clock.day(tail.first_ts)
    if d0 < tail.first_ts:
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
    n = len(starts)
    if n > cfg.inactivity.learn_days:
        cut = n - cfg.inactivity.learn_days
        starts, weekend, n = starts[cut:], weekend[cut:], cfg.inactivity.learn_days
    if n == 0:
        base.home_thr, base.away_thr = _defaults(cfg)
        return base, tail
    index = {s: i for i, s in enumerate(starts)}
    lo_t, hi_t = starts[0], starts[-1] + DAY_S + 7200
    # signs of life at home a day
    counts = [0] * n
    for t in acts:
        i = index.get(clock.day(t)) if lo_t <= t < hi_t else None
        if i is not None:
            counts[i] += 1
    away = _away_seconds(intervals, clock, index, n, lo_t, hi_t)
    tail.life_days = [starts[i] for i in range(n)
                      if counts[i] and away[i] <= (1 - LIVED_AT_HOME) * DAY_S]
    v = [array("f", bytes(4 * n * SLOTS)), array("f", bytes(4 * n * SLOTS))]
    valid = [True] * n
    away_days = [False] * n
    for ctx, a, e, _ in intervals:
        if e <= lo_t or a >= hi_t:
            continue
        if e - a > DAY_S:
            # at home: a gap in the data, the days say nothing; away: a trip, the days say
            # nothing about stillness at home (they leave its maxima alone) but are not lost
            i0, i1 = index.get(clock.day(max(a, lo_t))), index.get(clock.day(min(e, starts[-1])))
            if i0 is not None and i1 is not None:
                for i in range(i0, i1 + 1):
                    if ctx == AWAY:
                        away_days[i] = True
                    else:
                        valid[i] = False
            continue
        arr = v[ctx]
        t = max(a, lo_t)
        while t < e:
            day = clock.day(t)
            i = index.get(day)
            if i is None:
                t = clock.hi
                if t >= hi_t:
                    break
                continue
            s = min(SLOTS - 1, int((t - day) // SLOT_S))
            end = min(e, day + (s + 1) * SLOT_S if s < SLOTS - 1 else clock.hi)
            k = i * SLOTS + s
            val = (end - a) / 60.0
            if val > arr[k]:
                arr[k] = val
            t = end
    good = [i for i in range(n) if valid[i]]
    base.days = len(good)
    md = cfg.inactivity.min_days
    if base.days < md - 2 or (base.days < md and n < md):
        base.home_thr, base.away_thr = _defaults(cfg)
        return base, tail
    # `min_days` of history of which one or two days were lost to gaps (installation, a
    # gateway down): learned, but with twice the margin and slack until they are made up
    sens = cfg.sensitivity if base.days >= md else cfg.sensitivity / 2
    w = cfg.inactivity.window_min // 15
    thr = []
    for ctx, floor, cap in ((HOME, cfg.inactivity.floor_min, cfg.inactivity.cap_min),
                            (AWAY, cfg.away.floor_min, cfg.away.cap_min)):
        arr = v[ctx]
        out = array("H", [0] * (2 * SLOTS))
        for we in (False, True):
            for s in range(SLOTS):
                # the days of this kind (weekdays or weekends); all days while fewer than 3
                # of them saw the resident at home at this time (one away at weekends has no
                # weekend stillness at home to learn from)
                u = u_all = 0.0
                seen = seen_all = days = 0
                for i in good:
                    k0 = max(0, i * SLOTS + s - w)
                    k1 = min(n * SLOTS, i * SLOTS + s + w + 1)
                    x = max(arr[k0:k1])
                    if x > 0:
                        seen_all += 1
                    if x > u_all:
                        u_all = x
                    if weekend[i] == we:
                        days += 1
                        if x > 0:
                            seen += 1
                        if x > u:
                            u = x
                se = sens
                if (seen if ctx == HOME else days) < 3:
                    u = u_all
                    if ctx == HOME and seen_all < 3:
                        # a time the resident was at home on one or two of the days (out at
                        # work, shopping): one short stillness says little about the next,
                        # so margin and slack are widened by 3 / seen
                        se = sens * max(1, seen_all) / 3
                t_min = u * (1 + cfg.inactivity.margin / se) + cfg.inactivity.slack_min / se
                out[s + (SLOTS if we else 0)] = int(min(cap, max(floor, t_min)))
        thr.append(out)
    base.home_thr, base.away_thr = thr
    base.room_thr = _room_thresholds(intervals, clock, index, valid, good, n, cfg, sens)
    base.learned = True
    # when the resident is usually up: end of the night's last long stillness (2 h: a restless
    # sleeper up to the toilet every few hours has no 3 h stretch, and an unlearned night
    # leaves their mornings to the time-of-day threshold alone)
    wakes = []
    for j, (ctx, a, e, _) in enumerate(intervals):
        if ctx == HOME and e - a >= 2 * 3600 and e - a <= DAY_S:
            day = clock.day(e)
            if day in index and valid[index[day]]:
                m = (e - day) / 60
                if 180 <= m < 780:
                    wakes.append((index[day], e - a, m, j))
    best: dict[int, tuple[float, float, int]] = {}
    for i, dur, m, j in wakes:
        # the last long stillness of the morning ends the night (not one cut short by the toilet)
        if i not in best or m > best[i][1]:
            best[i] = (dur, m, j)
    if len(best) >= 3:
        ms = [m for _, m, _ in best.values()]
        mean = sum(ms) / len(ms)
        base.wake_mean = int(mean)
        base.wake_sd = int(max(10.0, (sum((x - mean) ** 2 for x in ms) / len(ms)) ** 0.5))
        beds = [b for b in (_bedtime(intervals, j, clock) for _, _, j in best.values())
                if b is not None]
        if len(beds) >= 3:
            # minutes after noon, so that the night does not wrap; the widest night seen
            base.sleep_from = int((min(beds) + 720) % 1440)
            base.sleep_to = int(max(ms))
    # per day at home, as the monitor counts them: scaled to the hours at home, days mostly
    # out left out
    per_day = [round(counts[i] / (1 - away[i] / DAY_S)) if away[i] <= DAY_S / 2 else None
               for i in range(n)]
    ok = set(good)
    cs = [c for i, c in enumerate(per_day) if c is not None and i in ok]
    base.daily_acts = int(median(cs)) if cs else -1
    base.recent = [c for c in per_day if c is not None][-cfg.decline.days:]
    base.last_day = starts[-1]
    _learn_power(base, power, cfg)
    _learn_water(base, water, starts[good[0]], starts[good[-1]] + DAY_S, cfg)
    return base, tail


def _away_seconds(intervals: list[tuple[int, float, float, int]], clock: LocalClock,
                  index: dict[float, int], n: int, lo_t: float, hi_t: float) -> list[float]:
    """Seconds away from home on each learned day."""
    away = [0.0] * n
    for ctx, a, e, _ in intervals:
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


def _usual_max(xs: list[float], k: float) -> float:
    """The longest stillness usual after activity in a room at a time of day: the largest of
    the days' values, but no more than Q3 + k x IQR of them (k = 0: the largest). One day unlike
    the others (a night before the bed mat was fitted) then does not set the limit for every
    day; several such days do."""
    top = max(xs)
    if k <= 0 or len(xs) < 4:
        return top
    q1, _, q3 = quantiles(xs, n=4, method="inclusive")
    return min(top, q3 + k * (q3 - q1))


def _bedtime(intervals: list[tuple[int, float, float, int]], j: int, clock: LocalClock
             ) -> float | None:
    """When the night that ended with still period j began, in minutes after noon: the first
    sign of life in bed after the last one elsewhere in the home (the bathroom and toilet are
    part of the night). When the night's long stillness began elsewhere (a visit to the
    kitchen whose way back to bed no sensor saw), its start: no earlier than the real bedtime,
    so it never widens the night learned from the other days."""
    end = intervals[j][2]
    fallback = intervals[j][1] if intervals[j][0] == HOME else None
    first = None
    while j >= 0:
        ctx, a, e, g = intervals[j]
        if ctx != HOME or end - a > 16 * 3600 or (j < len(intervals) - 1 and
                                                  e < intervals[j + 1][1]):
            break
        if g != BED and g != WET:
            break
        if g == BED:
            first = a
        j -= 1
    if first is None:
        first = fallback
    if first is None:
        return None
    return ((first - clock.day(first)) / 60 - 720) % 1440


def _room_thresholds(intervals: list[tuple[int, float, float, int]], clock: LocalClock,
                     index: dict[float, int], valid: list[bool], good: list[int], n: int,
                     cfg: DetectorConfig, sens: float) -> array:
    """Per room group and slot of the day a stillness began: the longest stillness that followed
    a sign of life in that group within +-window of that time (the days' maxima, all days
    together), turned into a limit like the time-of-day one. 0 where fewer than `room_days`
    days saw such a stillness: the time-of-day threshold alone applies there."""
    ic = cfg.inactivity
    out = array("H", [0] * (len(GROUPS) * SLOTS))
    if ic.room_days <= 0:
        return out
    v = [array("f", bytes(4 * n * SLOTS)) for _ in GROUPS]
    for ctx, a, e, g in intervals:
        if ctx != HOME or e <= a or e - a > DAY_S:
            continue
        day = clock.day(a)
        i = index.get(day)
        if i is None or not valid[i]:
            continue
        k = i * SLOTS + min(SLOTS - 1, int((a - day) // SLOT_S))
        d = (e - a) / 60.0
        if d > v[g][k]:
            v[g][k] = d
    w = ic.window_min // 15
    for g, arr in enumerate(v):
        for s in range(SLOTS):
            xs = []
            for i in good:
                k0 = max(0, i * SLOTS + s - w)
                k1 = min(n * SLOTS, i * SLOTS + s + w + 1)
                x = max(arr[k0:k1])
                if x > 0:
                    xs.append(x)
            seen = len(xs)
            if seen >= ic.room_days:
                u = _usual_max(xs, ic.outlier_iqr)
                # a limit seen on few days is less sure (the sensor that usually catches the
                # way back to bed misses it one night in ten): wider until twice room_days saw it
                se = sens * min(1.0, seen / (2 * ic.room_days))
                t_min = u * (1 + ic.margin / se) + ic.slack_min / se
                out[g * SLOTS + s] = int(min(ic.cap_min, max(ic.floor_min, t_min)))
    return out


def _learn_power(base: Baseline, power: list[tuple[float, float]], cfg: DetectorConfig) -> None:
    if len(power) < 60:
        return
    vals = sorted(p for _, p in power)
    base.base_w = vals[len(vals) // 10]
    limit = base.base_w + cfg.power.high_w
    longest, start = 0.0, None
    for t, p in power:
        if p > limit:
            if start is None:
                start = t
        elif start is not None:
            longest = max(longest, t - start)
            start = None
    base.high_load_min = int(longest // 60)


def _learn_water(base: Baseline, water: list[tuple[float, float]], lo: float, hi: float,
                 cfg: DetectorConfig) -> None:
    window = cfg.water.low_hours * 3600
    pts = [(t, v) for t, v in water if lo <= t < hi]
    if len(pts) < 2 or pts[-1][0] - pts[0][0] < window:
        return
    least = float("inf")
    j = 0
    for i in range(len(pts)):
        t, v = pts[i]
        while pts[j][0] < t - window:
            j += 1
        if t - pts[0][0] >= window:
            least = min(least, v - pts[j][1])
    base.water_min_l = least if least != float("inf") else -1.0
