"""Learned stillness thresholds: per slot of the day, and per room group.

1. stillness_maxima(): for every learned day and 15-minute slot, the longest
   stillness reached in that slot (a still period that began at 21:40 and
   ended at 06:10 reaches 8 h 30 min in the 06:00 slot), at home and away.
2. time_of_day_thresholds(): per slot, the usual longest stillness u = the
   largest of those values over the days within +-`window_min` of the slot,
   weekdays and weekends apart (weekends fall back to all days while fewer
   than 3 of them); threshold = u x (1 + margin / sensitivity) + slack /
   sensitivity, clamped to [floor, cap].
3. room_thresholds(): the same per room group of the last sign of life and
   slot it happened in, where enough days saw it.
"""

from __future__ import annotations

from array import array
from statistics import quantiles

from detectors.activity import AWAY, GROUPS, HOME
from detectors.clock import DAY_S, SLOT_S, SLOTS, LocalClock
from detectors.config import DetectorConfig
from detectors.history import Days, Still


def stillness_maxima(stills: list[Still], clock: LocalClock, days: Days
                     ) -> tuple[list[array], list[bool]]:
    """The longest stillness (minutes) per day and slot, at home and away (indexed by
    context), and which days are valid. Still periods longer than a day are gaps in the
    data (at home: the days covered say nothing, they are left out) or trips (away: they
    leave the maxima alone)."""
    n = days.n
    starts, index, lo_t, hi_t = days.starts, days.index, days.lo_t, days.hi_t
    v = [array("f", bytes(4 * n * SLOTS)), array("f", bytes(4 * n * SLOTS))]
    valid = [True] * n
    for ctx, a, e, _ in stills:
        if e <= lo_t or a >= hi_t:
            continue
        if e - a > DAY_S:
            if ctx != AWAY:
                i0 = index.get(clock.day(max(a, lo_t)))
                i1 = index.get(clock.day(min(e, starts[-1])))
                if i0 is not None and i1 is not None:
                    for i in range(i0, i1 + 1):
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
    return v, valid


def time_of_day_thresholds(v: list[array], good: list[int], weekend: list[bool],
                           cfg: DetectorConfig, sens: float) -> tuple[array, array]:
    """Thresholds (minutes, weekday slots then weekend slots) at home and away."""
    n = len(weekend)
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
    return thr[0], thr[1]


def usual_max(xs: list[float], k: float) -> float:
    """The longest stillness usual after activity in a room at a time of day: the largest of
    the days' values, but no more than Q3 + k x IQR of them (k = 0: the largest). One day unlike
    the others (a night before the bed mat was fitted) then does not set the limit for every
    day; several such days do."""
    top = max(xs)
    if k <= 0 or len(xs) < 4:
        return top
    q1, _, q3 = quantiles(xs, n=4, method="inclusive")
    return min(top, q3 + k * (q3 - q1))


def room_thresholds(stills: list[Still], clock: LocalClock, index: dict[float, int],
                    valid: list[bool], good: list[int], n: int, cfg: DetectorConfig,
                    sens: float) -> array:
    """Per room group and slot of the day a stillness began: the longest stillness that followed
    a sign of life in that group within +-window of that time (the days' maxima, all days
    together), turned into a limit like the time-of-day one. 0 where fewer than `room_days`
    days saw such a stillness: the time-of-day threshold alone applies there."""
    ic = cfg.inactivity
    out = array("H", [0] * (len(GROUPS) * SLOTS))
    if ic.room_days <= 0:
        return out
    v = [array("f", bytes(4 * n * SLOTS)) for _ in GROUPS]
    for ctx, a, e, g in stills:
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
                u = usual_max(xs, ic.outlier_iqr)
                # a limit seen on few days is less sure (the sensor that usually catches the
                # way back to bed misses it one night in ten): wider until twice room_days saw it
                se = sens * min(1.0, seen / (2 * ic.room_days))
                t_min = u * (1 + ic.margin / se) + ic.slack_min / se
                out[g * SLOTS + s] = int(min(ic.cap_min, max(ic.floor_min, t_min)))
    return out
