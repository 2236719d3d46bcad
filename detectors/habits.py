"""The resident's habits learned from the history: the night (when they are usually up,
when the night begins and ends), signs of life a day, the electrical base load and the
longest high load, the least water used."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from detectors.activity import BED, HOME, WET
from detectors.clock import DAY_S, LocalClock
from detectors.config import DetectorConfig
from detectors.history import Still


@dataclass(frozen=True, slots=True)
class Night:
    wake_mean: int = -1      # minute of the day the resident is usually up (-1: not known)
    wake_sd: int = 0
    sleep_from: int = -1     # the night, minutes of the day: earliest bedtime seen ...
    sleep_to: int = -1       # ... to the latest getting-up (-1: not known)


def night(stills: list[Still], clock: LocalClock, index: dict[float, int],
          valid: list[bool]) -> Night:
    """When the resident is usually up: the end of the night's last long stillness (2 h: a
    restless sleeper up to the toilet every few hours has no 3 h stretch, and an unlearned
    night leaves their mornings to the time-of-day threshold alone); and the widest night
    seen, from the earliest bedtime to the latest getting-up."""
    wakes = []
    for j, (ctx, a, e, _) in enumerate(stills):
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
    if len(best) < 3:
        return Night()
    ms = [m for _, m, _ in best.values()]
    mean = sum(ms) / len(ms)
    wake_mean = int(mean)
    wake_sd = int(max(10.0, (sum((x - mean) ** 2 for x in ms) / len(ms)) ** 0.5))
    beds = [b for b in (bedtime(stills, j, clock) for _, _, j in best.values()) if b is not None]
    if len(beds) < 3:
        return Night(wake_mean, wake_sd)
    # minutes after noon, so that the night does not wrap; the widest night seen
    return Night(wake_mean, wake_sd, int((min(beds) + 720) % 1440), int(max(ms)))


def bedtime(stills: list[Still], j: int, clock: LocalClock) -> float | None:
    """When the night that ended with still period j began, in minutes after noon: the first
    sign of life in bed after the last one elsewhere in the home (the bathroom and toilet are
    part of the night). When the night's long stillness began elsewhere (a visit to the
    kitchen whose way back to bed no sensor saw), its start: no earlier than the real bedtime,
    so it never widens the night learned from the other days."""
    end = stills[j][2]
    fallback = stills[j][1] if stills[j][0] == HOME else None
    first = None
    while j >= 0:
        ctx, a, e, g = stills[j]
        if ctx != HOME or end - a > 16 * 3600 or (j < len(stills) - 1 and
                                                  e < stills[j + 1][1]):
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


def daily_activity(counts: list[int], away: list[float], good: list[int], decline_days: int
                   ) -> tuple[int, list[int]]:
    """Signs of life per day at home, as the monitor counts them (scaled to the hours at
    home; days mostly out left out): the median over the valid days (-1: none), and the
    last `decline_days` days' counts."""
    per_day = [round(counts[i] / (1 - away[i] / DAY_S)) if away[i] <= DAY_S / 2 else None
               for i in range(len(counts))]
    ok = set(good)
    cs = [c for i, c in enumerate(per_day) if c is not None and i in ok]
    return (int(median(cs)) if cs else -1), [c for c in per_day if c is not None][-decline_days:]


def power_load(power: list[tuple[float, float]], cfg: DetectorConfig) -> tuple[float, int]:
    """The base load (W: the 10th percentile of readings) and the longest high load seen
    (minutes); (-1, -1) with fewer than 60 readings."""
    if len(power) < 60:
        return -1.0, -1
    vals = sorted(p for _, p in power)
    base_w = vals[len(vals) // 10]
    limit = base_w + cfg.power.high_w
    longest, start = 0.0, None
    for t, p in power:
        if p > limit:
            if start is None:
                start = t
        elif start is not None:
            longest = max(longest, t - start)
            start = None
    return base_w, int(longest // 60)


def least_water(water: list[tuple[float, float]], lo: float, hi: float,
                cfg: DetectorConfig) -> float:
    """The least water used in any `low_hours` window of [lo, hi) (-1: not enough readings)."""
    window = cfg.water.low_hours * 3600
    pts = [(t, v) for t, v in water if lo <= t < hi]
    if len(pts) < 2 or pts[-1][0] - pts[0][0] < window:
        return -1.0
    least = float("inf")
    j = 0
    for i in range(len(pts)):
        t, v = pts[i]
        while pts[j][0] < t - window:
            j += 1
        if t - pts[0][0] >= window:
            least = min(least, v - pts[j][1])
    return least if least != float("inf") else -1.0
