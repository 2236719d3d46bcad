"""Learning a home's baselines from its past events.

The inactivity threshold (see docs/detectors.md):

1. Replay the history through the same activity rules the monitor uses
   (detectors/history.py) and cut it into still periods: at home, from one
   sign of life to the next; away, from the entrance door to the return.
2. For every local day and 15-minute slot, the longest stillness reached in
   that slot (detectors/thresholds.py).
3. Per slot, the usual longest stillness u = the largest of those values
   over the past days within +-`window_min` of the slot, weekdays and
   weekends apart (weekends fall back to all days while fewer than 3 of them).
4. threshold = u x (1 + margin / sensitivity) + slack / sensitivity,
   clamped to [floor, cap]. Before `min_days` full days of history, a fixed
   `default_min` (field practice: 12 hours).

Still periods longer than a day are gaps in the data (or a holiday), not
stillness: they and the days they cover are left out. Only full local days
before the last event count. The habits (the night, activity a day, power,
water) are detectors/habits.py's. The result is a few compact arrays (about
1 KB); the history itself is not kept.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Iterable

from detectors import habits
from detectors.clock import DAY_S, SLOT_S, SLOTS, LocalClock
from detectors.config import DetectorConfig
from detectors.events import Event
from detectors.history import Tail, away_seconds, full_days, replay, signs_per_day
from detectors.thresholds import room_thresholds, stillness_maxima, time_of_day_thresholds

__all__ = ["DAY_S", "LIVED_AT_HOME", "SLOT_S", "SLOTS", "Baseline", "LocalClock", "Tail",
           "learn"]

# A day the resident lived at home, for sensor_dead, has signs of life and at least this share
# of it at home (6 h): a short visit on a day away (a neighbour feeding the cat) does not show
# that a sensor should have fired, and a day out at work does.
LIVED_AT_HOME = 0.25


# What a baseline holds before anything is set: shared, never changed in place (learning
# replaces the arrays), so that 100,000 homes do not each keep three empty ones.
_NO_MINUTES = array("H")


@dataclass(slots=True)
class Baseline:
    """What was learned about one home: compact, a few hundred bytes of arrays."""

    days: int = 0                                  # full days of history learned from
    learned: bool = False                          # thresholds learned (else the defaults)
    home_thr: array = field(default_factory=lambda: _NO_MINUTES)   # minutes, 192 slots
    away_thr: array = field(default_factory=lambda: _NO_MINUTES)
    # minutes, per room group (activity.GROUPS) x 96 slots of the day the stillness began;
    # 0 where there is too little to go on (the time-of-day threshold alone applies)
    room_thr: array = field(default_factory=lambda: _NO_MINUTES)
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


# The fixed thresholds by (default_min, away floor): one pair of arrays shared by every home
# that has not learned yet (100,000 new homes would otherwise each build and keep their own
# two arrays of 192 minutes: a fifth of a start-up's time and about 100 MB). Thresholds are
# only ever replaced, never changed in place.
_DEFAULTS: dict[tuple[int, int], tuple[array, array]] = {}


def defaults(cfg: DetectorConfig) -> tuple[array, array]:
    """The fixed thresholds (home, away) used until enough days are learned (shared: read
    them, never change them in place)."""
    d = cfg.inactivity.default_min
    key = (d, max(d, cfg.away.floor_min))
    pair = _DEFAULTS.get(key)
    if pair is None:
        pair = _DEFAULTS[key] = (array("H", [key[0]]) * (2 * SLOTS),
                                 array("H", [key[1]]) * (2 * SLOTS))
    return pair


def learn(history: Iterable[Event], now: float, tz: str, cfg: DetectorConfig, pirs: int = 2
          ) -> tuple[Baseline, Tail]:
    """Baselines from `history` (events in time order, those after `now` ignored) and the
    state at its end; `pirs` is how many PIRs the home has (see activity.Presence)."""
    clock = LocalClock(tz)
    r = replay(history, now, cfg, pirs)
    tail = r.tail
    base = Baseline()
    if r.last_t is None or tail.first_ts is None:
        base.home_thr, base.away_thr = defaults(cfg)
        return base, tail
    days = full_days(clock, tail.first_ts, r.last_t, now, cfg.inactivity.learn_days)
    n = days.n
    if n == 0:
        base.home_thr, base.away_thr = defaults(cfg)
        return base, tail
    counts = signs_per_day(r.acts, clock, days)
    away = away_seconds(r.stills, clock, days)
    tail.life_days = [days.starts[i] for i in range(n)
                      if counts[i] and away[i] <= (1 - LIVED_AT_HOME) * DAY_S]
    maxima, valid = stillness_maxima(r.stills, clock, days)
    good = [i for i in range(n) if valid[i]]
    base.days = len(good)
    md = cfg.inactivity.min_days
    if base.days < md - 2 or (base.days < md and n < md):
        base.home_thr, base.away_thr = defaults(cfg)
        return base, tail
    # `min_days` of history of which one or two days were lost to gaps (installation, a
    # gateway down): learned, but with twice the margin and slack until they are made up
    sens = cfg.sensitivity if base.days >= md else cfg.sensitivity / 2
    base.home_thr, base.away_thr = time_of_day_thresholds(maxima, good, days.weekend, cfg, sens)
    base.room_thr = room_thresholds(r.stills, clock, days.index, valid, good, n, cfg, sens)
    base.learned = True
    nt = habits.night(r.stills, clock, days.index, valid)
    base.wake_mean, base.wake_sd, base.sleep_from, base.sleep_to = \
        nt.wake_mean, nt.wake_sd, nt.sleep_from, nt.sleep_to
    base.daily_acts, base.recent = habits.daily_activity(counts, away, good, cfg.decline.days)
    base.last_day = days.starts[-1]
    base.base_w, base.high_load_min = habits.power_load(r.power, cfg)
    base.water_min_l = habits.least_water(r.water, days.starts[good[0]],
                                          days.starts[good[-1]] + DAY_S, cfg)
    return base, tail
