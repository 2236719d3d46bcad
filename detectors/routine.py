"""The routine model: each home's usual day, learned from its own history, and a new day scored.

The model kept (chosen on `anju eval`, see docs/detectors.md "Routines") is a per-feature
robust score: for each feature of detectors/routine_features.py, the median and the median
absolute deviation of the home's learned days, the spread never under a floor in the
feature's own unit (30 min for a time of day, one toilet visit, 15 % of the day's activity),
so a home whose every day is alike is not alarmed by a small change. A day's score
(`day_score`) sums the deviations of the CORE features in the direction that is worrying
(more hours in the bedroom, later up and earlier to bed, less activity, slower, less power,
fewer outings, less kitchen, more night toilet visits). `ForestModel` (scikit-learn IsolationForest) and `CovModel`
(MinCovDet, a robust covariance) are the alternatives it was compared with
(detectors/routine_eval.py); they stay here for that comparison.

`RoutineMemory` is what a home's monitor keeps (HomeState.routine): the feature vectors
of its last days, today's bins as they fill, and which checks ran.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

import numpy as np

from detectors.clock import LocalClock
from detectors.events import Event, HomeInfo
from detectors.routine_days import ACTIVE, USABLE_SLOTS, Days
from detectors.routine_features import (FEATURES, IDX, NIGHT, DayBins, capabilities,
                                        device_sight, features, night_counts, night_window)

KEEP_DAYS = 28           # days of features kept and learned from
MIN_DAYS = 7             # days learned before any routine finding (routine.min_days by default)
UNUSUAL = 2.0            # a day scoring this (routine rule's day_score) is not learned from

# +1: more is worrying, -1: less is worrying, 0: not in the day's score
DIRECTION: dict[str, int] = {
    "wake_h": 1, "bed_h": -1, "night_toilet": 1, "night_up_slots": 1, "night_away_slots": 1,
    "kitchen_morning": -1, "kitchen_midday": -1, "kitchen_evening": -1,
    "meal_morning": 0, "meal_midday": 0, "meal_evening": 0,
    "food_morning": 0, "food_midday": 0, "food_evening": 0, "day_morning": 0,
    "day_midday": 0, "day_evening": 0, "water_morning": -1, "water_midday": -1, "water_evening": -1, "shower": 0, "outings": -1,
    "hours_bedroom": 1, "hours_kitchen": -1, "hours_living": 0, "hours_bathroom": 0,
    "activity": -1, "intensity": -1, "kitchen_day": -1, "active_slots": -1, "water_l": -1, "power_kwh": -1,
    "sleep_h": -1, "night_wet_bits": 0, "night_up_bits": 0, "night_away_bits": 0,
}
# the smallest spread (the MAD scaled to an SD) a feature is judged with, in its own unit;
# RELATIVE: at least this share of the median as well
FLOOR: dict[str, float] = {
    "wake_h": 0.5, "bed_h": 0.5, "night_toilet": 0.75, "night_up_slots": 1.0,
    "night_away_slots": 1.0, "kitchen_morning": 1.0, "kitchen_midday": 1.0,
    "kitchen_evening": 1.0, "meal_morning": 3.0, "meal_midday": 3.0, "meal_evening": 3.0,
    "food_morning": 1.0, "food_midday": 1.0, "food_evening": 1.0,
    "day_morning": 2.0, "day_midday": 2.0, "day_evening": 2.0, "water_morning": 8.0, "water_midday": 8.0, "water_evening": 8.0,
    "shower": 1.0, "outings": 1.5, "hours_bedroom": 1.0, "hours_kitchen": 0.5,
    "hours_living": 1.0, "hours_bathroom": 0.5, "activity": 10.0,
    "intensity": 0.3, "kitchen_day": 1.5, "active_slots": 3.0,
    "water_l": 15.0, "power_kwh": 0.3, "sleep_h": 0.5,
    "night_wet_bits": 1.0, "night_up_bits": 1.0, "night_away_bits": 1.0,
}
RELATIVE: dict[str, float] = {"activity": 0.15, "intensity": 0.08, "water_l": 0.15, "power_kwh": 0.1,
                              "active_slots": 0.08}
SIGN = np.array([DIRECTION[n] for n in FEATURES], dtype=float)
FLOORS = np.array([FLOOR[n] for n in FEATURES])
RELS = np.array([RELATIVE.get(n, 0.0) for n in FEATURES])
# the features of the day's score: signs a family would notice of someone unwell or failing,
# each moving by about half a spread or more on an illness's first days. A feature that moves
# less (under about 0.4: the morning's water, a night owl's evening past midnight) adds more of
# its own ups and downs to the sum than signal (docs/detectors.md, "fifth time")
CORE = ("hours_bedroom", "activity", "intensity", "wake_h", "power_kwh", "bed_h", "outings",
        "kitchen_day", "night_toilet")
_CORE_IDX = np.array([IDX[n] for n in CORE])
_SLEEP = IDX["sleep_h"]


def column_medians(X: np.ndarray) -> np.ndarray:
    """np.nanmedian(X, axis=0), NaN for a column without a value (a feature the home cannot
    see), without its warning. nanmedian sorts through masked arrays on small matrices; this
    takes the plain median and goes back only for the columns with a gap, eight times faster
    on a home's 28 x 36 days, which every home's midnight fits several times."""
    out = np.median(X, axis=0)
    for j in np.flatnonzero(np.isnan(out)):
        col = X[:, j]
        col = col[~np.isnan(col)]
        out[j] = np.median(col) if col.size else np.nan
    return out


def day_score(z: np.ndarray) -> float:
    """A day's score from its signed deviations: the CORE features' deviations, each
    clipped to [-1, 5] (one extreme feature cannot decide alone, and a feature better than
    usual offsets a little), summed over the square root of how many this home has."""
    v = z[_CORE_IDX]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0
    return float(np.clip(v, -1.0, 5.0).sum() / math.sqrt(v.size))


def day_scores(Z: np.ndarray) -> np.ndarray:
    """day_score of each row of a matrix of signed deviations (days x features)."""
    V = Z[:, _CORE_IDX]
    ok = np.isfinite(V)
    n = ok.sum(axis=1)
    tot = np.where(ok, np.clip(np.nan_to_num(V), -1.0, 5.0), 0.0).sum(axis=1)
    return np.where(n > 0, tot / np.sqrt(np.maximum(n, 1)), 0.0)


class RobustModel:
    """Median and MAD per feature, with a floor on the spread."""

    name = "robust"

    def fit(self, X: np.ndarray) -> "RobustModel":
        self.med = column_medians(X)
        mad = column_medians(np.abs(X - self.med)) * 1.4826
        self.scale = np.fmax(np.fmax(np.nan_to_num(mad), FLOORS), RELS * np.abs(
            np.nan_to_num(self.med)))
        # a spread from a week of days is less sure than one from four weeks: wider while
        # few days are learned (x1.4 with 7 days, x1.1 with 28)
        self.scale = self.scale * np.sqrt(1.0 + 7.0 / max(1, len(X)))
        # how far past midnight the evening went is named (not scored) only for a home that
        # usually goes to bed after midnight (a night owl, whose bed_h is midnight itself on
        # most days); for the rest bed_h says when they went to bed
        self.sign = SIGN.copy()
        if not self.med[_SLEEP] > 0:
            self.sign[_SLEEP] = np.nan
        return self

    def z(self, x: np.ndarray) -> np.ndarray:
        """Signed deviations, positive where worrying (NaN: not seen in this home)."""
        return self.sign * (x - self.med) / self.scale

    def score(self, x: np.ndarray) -> float:
        return day_score(self.z(x))

    def scores(self, X: np.ndarray) -> np.ndarray:
        """The day score of each row of X."""
        return day_scores(self.sign * (X - self.med) / self.scale)


def _columns(X: np.ndarray) -> np.ndarray:
    return np.nonzero(np.all(np.isfinite(X), axis=0) & (SIGN != 0))[0]


class ForestModel:
    """scikit-learn IsolationForest on the robustly scaled features (compared, not kept)."""

    name = "isolation_forest"

    def fit(self, X: np.ndarray) -> "ForestModel":
        from sklearn.ensemble import IsolationForest
        self.cols = _columns(X)
        self.rob = RobustModel().fit(X)
        Z = (X[:, self.cols] - self.rob.med[self.cols]) / self.rob.scale[self.cols]
        self.m = IsolationForest(n_estimators=100, random_state=0).fit(Z)
        return self

    def score(self, x: np.ndarray) -> float:
        z = (x[self.cols] - self.rob.med[self.cols]) / self.rob.scale[self.cols]
        return float(-self.m.score_samples(np.nan_to_num(z)[None, :])[0])


class CovModel:
    """A robust covariance (MinCovDet): Mahalanobis distance of the day (compared, not kept)."""

    name = "min_cov_det"

    def fit(self, X: np.ndarray) -> "CovModel":
        from sklearn.covariance import MinCovDet
        self.rob = RobustModel().fit(X)
        self.cols = _columns(X)
        Z = (X[:, self.cols] - self.rob.med[self.cols]) / self.rob.scale[self.cols]
        # more features than days: a ridge keeps the covariance invertible
        Z = Z + np.random.default_rng(0).normal(0, 0.05, Z.shape)
        self.m = MinCovDet(random_state=0, support_fraction=0.9).fit(Z)
        return self

    def score(self, x: np.ndarray) -> float:
        z = (x[self.cols] - self.rob.med[self.cols]) / self.rob.scale[self.cols]
        return float(np.sqrt(self.m.mahalanobis(np.nan_to_num(z)[None, :])[0]))


MODELS = {"robust": RobustModel, "isolation_forest": ForestModel, "min_cov_det": CovModel}


def usable(x: np.ndarray) -> bool:
    """A day that says something of the routine: the resident at home and up for a while
    (a day out or away is not a change of routine)."""
    return bool(x[ACTIVE] >= USABLE_SLOTS)


class RoutineMemory:
    """One home's routine: the last days' features, today's bins, the checks done."""

    __slots__ = ("has", "devices", "beats", "clock", "days", "bins", "ended", "checked",
                 "fails", "night", "calm_from", "opened_by")

    def __init__(self, info: HomeInfo) -> None:
        self.has = capabilities(info)
        self.devices = info.devices                   # for what a heartbeat says is alive
        self.beats = 0          # sights whose devices send heartbeats (routine_features HEARD)
        self.clock = LocalClock(info.tz)      # its own: the monitor's caches its current day
        self.days = Days()                            # local midnight -> features, score
        self.bins: DayBins | None = None
        self.ended: DayBins | None = None      # the day before, until its midnight is judged
        self.checked = 0.0                            # the day whose morning was judged
        # meals: each meal time of the last three days, missed (how unlikely: -ln of how
        # often the home misses it) or not (rules/routine.py EATEN)
        self.fails: dict[float, tuple[float, float, float]] = {}
        self.night = NIGHT                            # slots of this home's night
        # routine_activity: the persisting-change checks count days from calm_from (the day
        # after it last cleared), and what opened it ("day", "drift", "week") says what
        # must be over before it clears
        self.calm_from = 0.0
        self.opened_by = ""

    def keep(self, d0: float, x: np.ndarray) -> None:
        self.days.put(d0, x)
        if len(self.days) > KEEP_DAYS + 7:
            self.days.drop_oldest(len(self.days) - KEEP_DAYS - 7)
        if len(self.fails) > 3:
            for k in sorted(self.fails)[:-3]:
                del self.fails[k]

    def recent(self, before: float) -> list[float]:
        """The usable days before `before`, the last KEEP_DAYS of them."""
        return self.days.usable(-math.inf, before - 1)[-KEEP_DAYS:]

    def learned(self, before: float) -> tuple[list[float], np.ndarray]:
        """The recent days, leaving out the days that were themselves judged unusual (an
        illness does not become the usual), unless they are a third of them or more: then
        that is how the resident lives now."""
        ks = self.recent(before)
        ok = ~(self.days.scores(ks) >= UNUSUAL)      # a day not judged (NaN) is usual
        odd = len(ks) - int(ok.sum())
        if odd and odd * 3 < len(ks):
            ks = [k for k, good in zip(ks, ok) if good]
        return ks, self.days.rows(ks)

    def renight(self, before: float) -> None:
        """Learn the home's night from its usable days before `before` (00:00-05:00 until
        MIN_DAYS are known) and, when it moved, count every kept day's night in it again."""
        ks = self.recent(before)
        w = night_window(self.days.rows(ks)) if len(ks) >= MIN_DAYS else NIGHT
        if w == self.night:
            return
        self.night = w
        night_counts(self.days.X, w)

    def feed(self, ev: Event, clock: LocalClock) -> None:
        b = self.bins
        if b is None or not b.lo <= ev.ts < b.hi:
            if b is not None and ev.ts < b.lo:
                return      # late, from a day already closed
            lo = clock.day(ev.ts)
            # a reading stamped at midnight itself comes before the midnight is judged
            self.ended = b
            self.bins = b = DayBins(lo, clock.hi)
        b.add(ev)
        if ev.kind == "heartbeat":
            self.hear(b, ev.device, ev.ts)

    def hear(self, b: DayBins, device: str, t: float) -> None:
        """A heartbeat: the device's sight was alive that day (its readings say so by
        themselves; a door sensor on a day indoors sends none)."""
        bit = device_sight(self.devices, device)
        self.beats |= bit
        b.hear_at(bit, t)


class HistoryTap:
    """Passes history events on (to the baseline's learner) while gathering the routine days
    the memory does not have yet; finish() stores them."""

    def __init__(self, mem: RoutineMemory, tz: str, events: Iterable[Event], now: float,
                 after: Callable[[], None] | None = None) -> None:
        self.mem, self.src, self.now = mem, events, now
        self.after = after                  # called once the days are stored
        self.clock = LocalClock(tz)
        self.cur: DayBins | None = None
        self.hi = -1.0

    def __iter__(self) -> Iterator[Event]:
        mem = self.mem
        clock = self.clock
        for ev in self.src:
            yield ev
            if ev.ts >= self.hi:
                if self.cur is not None:
                    self._close(self.cur)
                lo = clock.day(ev.ts)
                self.hi = clock.hi
                # a day the memory has already (closed live) is not gathered again
                self.cur = None if lo in mem.days else DayBins(lo, clock.hi)
            if self.cur is not None:
                self.cur.add(ev)
                if ev.kind == "heartbeat":
                    mem.hear(self.cur, ev.device, ev.ts)

    def _close(self, b: DayBins) -> None:
        # a day is whole when its events begin within an hour of its midnight (meters and
        # heartbeats report all night) and it ended before now
        if b.first is None or b.hi > self.now or b.first > b.lo + 3600:
            return
        self.mem.keep(b.lo, features(b, self.mem.has, self.mem.night, self.mem.beats))

    def finish(self) -> None:
        if self.cur is not None:
            self._close(self.cur)
        self.cur = None
        self.mem.renight(self.now)
        if self.after is not None:
            self.after()


def close_day(mem: RoutineMemory, d0: float) -> np.ndarray | None:
    """Local midnight ending the day d0: its features from its bins (None when the bins did
    not see it whole)."""
    b = mem.bins
    if b is not None and b.lo == d0:
        mem.bins = None
    else:
        # a reading stamped at midnight itself (or after) came before this midnight was judged
        b = mem.ended if mem.ended is not None and mem.ended.lo == d0 else None
    mem.ended = None
    if b is None or b.first is None:
        return mem.days.get(d0)
    if b.first > d0 + 3600 and d0 not in mem.days:
        return None
    x = features(b, mem.has, mem.night, mem.beats)
    mem.keep(d0, x)
    return x
