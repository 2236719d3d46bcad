"""Routines: the shape of the day against this home's own usual (detectors/routine.py).

At local midnight the day just ended is turned into features (detectors/routine_features.py)
and compared with the home's learned days (median and spread per feature, at least
routine.min_days of them, a setting):

- routine_activity (medium): the day's score (routine.day_score), or the mean of it and
  the day before's, reaches routine.day_score, or both days were unusual (each scoring
  routine.py UNUSUAL, at the default limit): several things at once unlike usual (later up, more
  hours in the bedroom, less activity, kitchen, outings, power). The evidence names the
  largest changes with the usual value. A smaller change that persists (a decline) opens it
  too: a CUSUM of the last days' scores, each in units of this home's own spread of scores
  (`_drift`), or the last 7 days' medians against the weeks before (`_week`).
- routine_night_toilet (low): toilet visits in the home's night three or more above the usual and
  more than on any night learned.
- routine_night_out_of_bed (low): time up outside the bedroom in the home's night far above it.
  (The night is the home's own: detectors/routine_features.py `night_window`.)
- routine_wandering (medium): nights with walking about outside bedroom and bathroom in the
  last 7, well above the rate of the weeks before (a change that grows week by week).
- routine_meals (medium): meal times (morning, midday, evening) with almost no kitchen
  activity, a run of them as unlikely as one in MEAL_RARE for this home: the same meal time
  on days in a row (two breakfasts missed by someone who never misses one), or meal times one
  after another (breakfast, lunch and dinner); checked as soon as that part of the day is
  over (the morning at 11:00), not only at midnight.
- routine_shower (low): no shower for longer than the longest gap learned (and >= 4 days).

Each clears when its day is back within the usual. A day mostly away (few active slots) or
under an explicit away is neither scored nor learned from.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.config import Routine as RoutineLimits
from detectors.events import Event, Finding
from detectors.routine import (CORE, UNUSUAL, HistoryTap, RobustModel, RoutineMemory,
                               close_day, column_medians, day_score, usable)
from detectors.routine_features import FEATURES, IDX, MEALS, MORNING, SLOT_S, features
from detectors.rules.base import Rule
from detectors.state import HomeState

# The limits a home may change are settings (detectors/config.py Routine: routine.day_score,
# routine.drift_score, routine.week_score, routine.night_toilet_more, ...); these are not.
SCORE_CLEAR = 1.2         # routine_activity opened by a persisting change clears under this
# a CUSUM of the day scores (Page's test for a small persistent shift): each day's score in
# units of the home's own spread of scores over its learned days, less DRIFT_K, summed while
# positive over the last DRIFT_DAYS days, opening at routine.drift_score (the textbook
# k = 0.5, h = 5: about one opening in 465 usual days for a normal score)
DRIFT_K = 0.5
DRIFT_DAYS = 14          # two weeks: a longer sum also gathers the ordinary ups and downs
DRIFT_SPREAD_MIN = 1.0    # a usual day's score varies by at least one deviation
# routine_meals reads a meal from the fridge where the home opens it at a meal time on all but
# one day in 20 of its learned days, else from the kitchen PIR (the fridge at nine days in ten
# let homes that often skip a meal through, and doubled these findings outside incidents on
# the frail and night-owl homes)
FOOD_MISS = 0.05
# a run of missed meal times opens routine_meals when it is as unlikely as one in MEAL_RARE for
# the home: two breakfasts missed by someone who has not missed one in 18 days; breakfast,
# lunch and dinner by someone who misses each one day in seven
MEAL_RARE = 400
MEAL_EVIDENCE = math.log(MEAL_RARE)
EATEN = -1.0              # mem.fails: a meal time with a meal (or not judged), ending a run
MEAL_PARTS = tuple(n for n, _ in MEALS)
KINDS = ("routine_activity", "routine_night_toilet", "routine_night_out_of_bed",
         "routine_wandering", "routine_meals", "routine_shower")
DAY_S = 86400
# two days each at UNUSUAL score the default routine.day_score (scaled with the home's own)
PAIR = RoutineLimits().day_score / UNUSUAL
# routine_shower: a gap between showers as long as one in a hundred of the home's own
SHOWER_RARE = 0.01


def _r(v: float, unit: float = 1.0) -> float:
    return round(float(v) / unit) * unit


class Routine(Rule):
    kinds = KINDS

    # -- the day as it fills ---------------------------------------------------------------
    def heard(self, s: HomeState, ev: Event) -> list[Finding]:
        mem = s.routine
        if mem is None:
            if not any(s.cfg.on(k) for k in KINDS):
                return []
            mem = s.routine = RoutineMemory(s.home)
        mem.feed(ev, mem.clock)
        b = mem.bins
        if b is None or mem.checked >= b.lo or ev.ts < b.lo + MORNING[1] * SLOT_S:
            return []
        # the morning is over (11:00): judged now, not at midnight, if the bins saw it whole
        mem.checked = b.lo
        if b.first is None or b.first > b.lo + 3600 or not s.cfg.on("routine_meals"):
            return []
        return _meals_part(s, mem, b.lo, features(b, mem.has, beats=mem.beats), ("morning",))

    # -- the day closed -----------------------------------------------------------------------
    def midnight(self, s: HomeState, t: float) -> list[Finding]:
        mem = s.routine
        if mem is None:
            return []
        d0 = mem.clock.day(t - 1)
        mem.renight(d0)
        x = close_day(mem, d0)
        if x is None or s.explicit_at(t - 1) or s.explicit_at(d0) or not usable(x):
            return []
        ks, X = mem.learned(d0)
        if len(ks) < s.cfg.routine.min_days:
            return []
        model = RobustModel().fit(X)
        z = model.z(x)
        out: list[Finding] = []
        out += _activity(s, mem, d0, x, z, model, t, X)
        # how many nights were like this one: every night at home, the unusual days' too
        # (a night of many toilet visits is often an unusual day, left out of learning)
        recent = mem.recent(d0)
        out += _night(s, x, z, model, t, mem.days.rows(recent))
        out += _wandering(s, mem, d0, ks, t)
        out += _meals_part(s, mem, d0, x, MEAL_PARTS, t, (ks, X))
        out += _shower(s, mem, d0, recent, t)
        return out


def _change(name: str, x: np.ndarray, model: RobustModel) -> dict[str, object]:
    v, u = float(x[IDX[name]]), float(model.med[IDX[name]])
    return {"feature": name, "value": round(v, 2), "usual": round(u, 2)}


def _activity(s: HomeState, mem: RoutineMemory, d0: float, x: np.ndarray, z: np.ndarray,
              model: RobustModel, t: float, X: np.ndarray) -> list[Finding]:
    score = day_score(z)
    mem.days.set_score(d0, score)
    prev = [k for k in mem.days.judged() if k < d0 and k >= d0 - 1.5 * DAY_S]
    p = mem.days.score_of(prev[-1]) if prev else None
    two = (score + p) / 2 if p is not None else 0.0
    # two days running, each unusual enough not to be learned from (UNUSUAL), reach the
    # default limit together: an illness's first day is often only unusual, and a mean
    # with it stays under the limit while the second day alone is under 0.8 x 3.44
    pair = min(score, p) * PAIR if p is not None else 0.0
    stat = max(0.8 * score, two, pair)
    lim = s.cfg.routine
    week = _week(mem, d0, lim.min_days)
    drift = _drift(mem, d0, model, X)
    out: list[Finding] = []
    # while open, nothing but a clear is to be done unless the day itself is unusual
    idle = "routine_activity" not in s.open
    if idle and drift is not None and stat < lim.day_score and drift[0] >= lim.drift_score and \
            (week is None or week[0] < lim.week_score):
        cusum, since = drift
        days = mem.days.usable(since - 1, d0)       # since itself, too
        md = column_medians(mem.days.rows(days))
        dz = model.z(md)
        # what a family can picture: features a spread or more from the usual over those
        # days; a sum with none (small ups and downs of many features) says nothing to them
        order = [i for i in np.argsort(-np.nan_to_num(dz, nan=-9)) if dz[i] >= 1.0][:3]
        changes = [{"feature": FEATURES[i], "value": round(float(md[i]), 2),
                    "usual": round(float(model.med[i]), 2)} for i in order]
        if changes:
            n = int(round((d0 - since) / DAY_S)) + 1
            out = s.raise_finding("routine_activity", t, "medium", since, days=n,
                                  score=round(cusum, 2), changes=changes)
            mem.opened_by = "drift" if out else mem.opened_by
            return out
    if idle and week is not None and stat < lim.day_score and week[0] >= lim.week_score:
        _, wz, m7, before = week
        order = [i for i in np.argsort(-np.nan_to_num(wz, nan=-9)) if wz[i] >= 2.0][:3]
        changes = [{"feature": FEATURES[i], "value": round(float(m7[i]), 2),
                    "usual": round(float(before.med[i]), 2)} for i in order]
        if changes:
            out = s.raise_finding("routine_activity", t, "medium", d0 - 6 * DAY_S, days=7,
                                  score=round(week[0], 2), changes=changes)
            mem.opened_by = "week" if out else mem.opened_by
            return out
    # a day back to the usual ends a finding a bad day opened, though its mean with that bad
    # day is still over the limit
    recovered = not idle and mem.opened_by == "day" and score < UNUSUAL
    if stat >= lim.day_score and not recovered:
        # the largest worrying changes, any feature: what a family can picture
        order = [i for i in np.argsort(-np.nan_to_num(z, nan=-9)) if z[i] >= 2.0][:3]
        changes = [_change(FEATURES[i], x, model) for i in order] or \
            [_change(max(CORE, key=lambda n: float(np.nan_to_num(z[IDX[n]], nan=-9))), x,
                     model)]
        out = s.raise_finding("routine_activity", t, "medium", d0,
                              days=1 if 0.8 * score >= lim.day_score else 2,
                              score=round(stat, 2), changes=changes)
        mem.opened_by = "day" if out else mem.opened_by
        return out
    # back to the usual day: cleared. One opened by a bad day or two clears on the first day
    # usual enough to be learned from (under UNUSUAL: a second illness soon after is then a
    # finding of its own, where a day of recovery scoring 1.3 held the first open across
    # it); one opened by a change that persists, when that is over too (a week still unlike
    # the weeks before keeps it, with the week's words, not the day's)
    if mem.opened_by == "day":
        back = recovered
    else:
        back = stat < SCORE_CLEAR and (week is None or week[0] < lim.week_score) and \
            (drift is None or drift[0] < lim.drift_score)
    if back:
        out = s.clear_finding("routine_activity", t, "recovered", score=round(score, 2))
        if out:
            # the persisting-change checks start again after the recovery (Page's CUSUM is
            # restarted after it signals): the days it recovered from do not reopen it
            mem.calm_from, mem.opened_by = d0 + DAY_S - 3600, ""
    return out


def _drift(mem: RoutineMemory, d0: float, model: RobustModel, X: np.ndarray
           ) -> tuple[float, float] | None:
    """A small change that persists: the CUSUM of the usable days' scores over the last
    DRIFT_DAYS (to d0), and the day its current run began. A score is the one the day had at
    its midnight, or (a day closed before a restart) its score against today's model; it is
    counted in units of the spread of the learned days' own scores, so a home whose days
    vary much needs a larger change."""
    days = mem.days.usable(max(d0 - DRIFT_DAYS * DAY_S, mem.calm_from), d0)
    if not days:
        return None
    own = model.scores(X)
    mid = float(np.median(own))
    spread = max(DRIFT_SPREAD_MIN, 1.4826 * float(np.median(np.abs(own - mid))))
    had = mem.days.scores(days)
    missing = [k for k, v in zip(days, had) if np.isnan(v)]
    later = dict(zip(missing, model.scores(mem.days.rows(missing)))) if missing else {}
    cusum, since = 0.0, days[0]
    for k, v in zip(days, had.tolist()):
        z = min(((later.get(k, 0.0) if math.isnan(v) else v) - mid) / spread, 4.0)
        if cusum == 0.0:
            since = k
        cusum = max(0.0, cusum + z - DRIFT_K)
    return cusum, since


def _week(mem: RoutineMemory, d0: float, min_days: int
          ) -> tuple[float, np.ndarray, np.ndarray, RobustModel] | None:
    """A change that came in steps: the median of the last 7 days against the days before
    them (a median of 7 days spreads about half as much as one day)."""
    days = mem.days.usable(-math.inf, d0)
    last = [k for k in days if k > d0 - 7 * DAY_S + 3600]
    before = [k for k in days if k <= d0 - 7 * DAY_S + 3600][-28:]
    if len(last) < 6 or len(before) < min_days or last[0] < mem.calm_from:
        return None
    m = RobustModel().fit(mem.days.rows(before))
    m7 = column_medians(mem.days.rows(last))
    wz = m.z(m7) * 2.0
    return day_score(wz), wz, m7, m


def _night(s: HomeState, x: np.ndarray, z: np.ndarray, model: RobustModel,
           t: float, seen: np.ndarray) -> list[Finding]:
    """Toilet visits and time out of bed tonight against the usual (`model`) and against
    every night `seen` at home."""
    out: list[Finding] = []
    i = IDX["night_toilet"]
    if np.isfinite(x[i]):
        usual = _r(model.med[i])
        # more than on any night seen (a count's chance tail shows in four weeks), and far
        # above the usual
        if z[i] >= 3.0 and x[i] >= usual + s.cfg.routine.night_toilet_more and \
                x[i] > np.nanmax(seen[:, i]):
            out += s.raise_finding("routine_night_toilet", t, "low", None, count=int(x[i]),
                                   usual=int(usual))
        elif x[i] <= usual + 1:
            out += s.clear_finding("routine_night_toilet", t, "recovered", count=int(x[i]))
    i = IDX["night_up_slots"]
    if np.isfinite(x[i]):
        usual = model.med[i]
        more = s.cfg.routine.night_up_more_min / 15      # in 15-minute slots
        if z[i] >= 5.0 and x[i] >= usual + more and x[i] > np.nanmax(seen[:, i]):
            out += s.raise_finding("routine_night_out_of_bed", t, "low", None,
                                   minutes=int(x[i] * 15), usual_min=int(_r(usual) * 15))
        elif x[i] <= usual + 2:
            out += s.clear_finding("routine_night_out_of_bed", t, "recovered",
                                   minutes=int(x[i] * 15))
    return out


WANDER_SLOTS = 1          # a night with a 15-min slot up in the kitchen or living room
WANDER_P = 0.003          # routine_wandering: the chance of so many such nights in a week


def _tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X binomial(n, p)."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))


def _wandering(s: HomeState, mem: RoutineMemory, d0: float, ks: list[float],
               t: float) -> list[Finding]:
    away = mem.days.column(IDX["night_away_slots"])
    days = [k for k in away if k <= d0]
    last7 = [k for k in days if k > d0 - 7 * DAY_S + 3600]
    before = [k for k in days if k <= d0 - 7 * DAY_S + 3600][-28:]
    if len(before) < s.cfg.routine.min_days or len(last7) < 5 or not np.isfinite(away[d0]):
        return []
    k7 = sum(1 for k in last7 if away[k] >= WANDER_SLOTS)
    seen = sum(1 for k in before if away[k] >= WANDER_SLOTS)
    e = 7 * seen / len(before)
    # more nights than the weeks before would give by chance: the binomial tail of the last
    # nights at the home's rate, taken by Laplace's rule of succession (a week or three with
    # one such night is weak evidence that the rate is one in 21)
    rate = (seen + 1) / (len(before) + 2)
    if k7 >= s.cfg.routine.wander_nights and _tail(k7, len(last7), rate) <= WANDER_P:
        return s.raise_finding("routine_wandering", t, "medium", None, nights=k7,
                               usual_per_week=round(e, 1))
    if k7 <= e + 1:
        return s.clear_finding("routine_wandering", t, "recovered", nights=k7)
    return []


def _miss_rate(missed: np.ndarray) -> float:
    """How often a meal time is missed (`missed`: a day's flag each), by Laplace's rule of
    succession ((misses + 1) / (days + 2)), not the bare share: a week or three with no miss
    is weak evidence that a home never misses, and a share of none would make any miss
    infinitely unlikely."""
    return (int(np.count_nonzero(missed)) + 1) / (missed.size + 2)


def _meals_part(s: HomeState, mem: RoutineMemory, d0: float, x: np.ndarray,
                parts: tuple[str, ...], t: float | None = None,
                learned: tuple[list[float], np.ndarray] | None = None) -> list[Finding]:
    """Each meal time in `parts`: no meal today while the resident was at home and up, judged
    by how unlikely a run of such meal times is for this home (`_missed_run`).
    `learned`: mem.learned(d0), where the caller has it already (the midnight)."""
    got = _meal_times(s.cfg.routine.min_days, mem, d0, x, parts, learned)
    if got is None:
        return []
    fails, seen_now = got
    mem.fails[d0] = fails
    at = t if t is not None else s.last_ts
    out: list[Finding] = []
    for j, (what, v, med) in seen_now.items():
        if fails[j] < 0:
            if v >= 0.5 * med and t is not None:
                out += s.clear_finding("routine_meals", at, "recovered", part=MEALS[j][0])
            continue
        if j + 1 in seen_now and fails[j + 1] >= 0:
            continue            # the run goes on: judged at its last meal time
        run = _missed_run(mem, d0, j)
        if run:
            out += s.raise_finding("routine_meals", at, "medium", None, part=MEALS[j][0],
                                   **run, **{what: int(v), f"usual_{what}": int(round(med))})
    return out


def _meal_times(min_days: int, mem: RoutineMemory, d0: float, x: np.ndarray,
                parts: tuple[str, ...], learned: tuple[list[float], np.ndarray] | None = None
                ) -> tuple[tuple[float, float, float], dict[int, tuple[str, float, float]]] | None:
    """The day d0's meal times in `parts`: each missed one's -ln of how often the home misses
    it, EATEN otherwise (mem.fails, the other parts as they were), and for each judged one
    what says it, its value and the usual; None where meals are not judged (no kitchen, too
    few days learned). A meal is the fridge or a cupboard opened (a kitchen contact, where the
    home has one and it is opened at that time on all but one day in 20, FOOD_MISS), else
    minutes of kitchen activity (more than two signs and a quarter of the usual: passing
    through is a sign or two)."""
    if "kitchen" not in mem.has:
        return None
    ks, X = learned if learned is not None else mem.learned(d0)
    if len(ks) < min_days:
        return None
    # how often the home misses a meal time is judged on the days before yesterday: yesterday
    # may be the first of the run in question, not evidence of how seldom it happens
    old = np.array([k < d0 - 1.5 * DAY_S for k in ks])
    fails = list(mem.fails.get(d0, (EATEN, EATEN, EATEN)))
    seen_now: dict[int, tuple[str, float, float]] = {}     # meal time -> what, value, usual
    for j, (name, _) in enumerate(MEALS):
        if name not in parts:
            continue
        fails[j] = EATEN        # not judged (out, not up, the kitchen not heard) ends a run
        fi = IDX[f"food_{name}"]
        # judged on the days its sensors were heard (NaN: offline all day, not a day without)
        food = X[:, fi]
        seen = np.isfinite(food)
        if np.isfinite(x[fi]) and seen.sum() >= min_days and \
                _miss_rate(food[old & seen] == 0) <= FOOD_MISS:
            # the pottering about a kitchen PIR sees on a day without meals does not open
            # the fridge (where the fridge is not opened then on most days, the kitchen PIR
            # below still judges: left out, it found 0.23 of skipped meals, not 0.38)
            i, limit, what = fi, 0.0, "opened"
            med = float(np.median(food[seen]))
        else:
            i = IDX[f"meal_{name}"]
            seen = np.isfinite(X[:, i])
            if not np.isfinite(x[i]) or seen.sum() < min_days:
                continue        # the kitchen not heard today, or on too few days
            med, what = float(np.median(X[seen, i])), "signs"
            limit = max(2.0, math.floor(0.25 * med))
        if x[IDX[f"day_{name}"]] < 4:
            continue            # out (or not up) then: not a meal skipped at home
        col = X[old & seen, i]
        seen_now[j] = (what, float(x[i]), med)
        if x[i] <= limit:
            # a meal time the home seldom has counts little, and one it never has next to
            # nothing (not a break in a run of the meal times it does have)
            fails[j] = -math.log(_miss_rate(col <= limit))
    return (fails[0], fails[1], fails[2]), seen_now


def _missed_run(mem: RoutineMemory, d0: float, j: int) -> dict[str, object] | None:
    """A run of missed meal times, ending at today's meal time j, unlikely enough for this
    home to open routine_meals: two or more, each counting -ln of how often the home misses
    that meal time (mem.fails), summing to ln(MEAL_RARE) or more. Two runs are judged, the
    same meal time on days in a row (breakfast missed twice by someone who has it every day)
    and meal times one after another (breakfast, lunch and dinner skipped); the evidence of
    the first, or of the second (how many meal times, since which)."""
    days = [d0]
    while len(days) < len(mem.fails):
        prev = [k for k in mem.fails if days[-1] - 1.5 * DAY_S <= k < days[-1]]
        if not prev:
            break
        days.append(prev[-1])
    same = []
    for k in days:
        if mem.fails[k][j] < 0:
            break
        same.append(mem.fails[k][j])
    if len(same) >= 2 and sum(same) >= MEAL_EVIDENCE:
        return {"days": len(same)}
    run, first = [], (0, j)
    for back, k in enumerate(days):
        for m in range(j if back == 0 else len(MEALS) - 1, -1, -1):
            if mem.fails[k][m] < 0:
                break
            run.append(mem.fails[k][m])
            first = (back, m)
        else:
            continue
        break
    if len(run) >= 2 and sum(run) >= MEAL_EVIDENCE:
        return {"meals": len(run), "since_day": first[0], "since_part": MEALS[first[1]][0]}
    return None


def _rare_gap(runs: list[int], rare: float = SHOWER_RARE) -> int:
    """The gap between showers (days without one) that is one in `1/rare` of this home's
    gaps: the gaps past the shortest taken as geometric, their rate by Laplace's rule. A
    resident who showers every third day has gaps of two, and six days is far past them; one
    who showers on a random three days in ten has gaps of 0 to 9 and has one of nine now and
    then (0.7^9 = 0.04), so for them the limit is 13."""
    lo = min(runs)
    extra = sum(r - lo for r in runs)
    q = (extra + 1) / (extra + len(runs) + 2)
    return lo + math.ceil(math.log(rare) / math.log(q))


def _shower(s: HomeState, mem: RoutineMemory, d0: float, recent: list[float],
            t: float) -> list[Finding]:
    """No shower for longer than the home's gaps; `recent`: its usable days before d0."""
    # the days the water meter was heard: a day it was offline is neither with a shower nor
    # without one
    shower = {k: v for k, v in mem.days.column(IDX["shower"]).items() if v == v}
    days = [k for k in shower if k <= d0]
    if d0 not in shower:
        return []
    if shower[d0] >= 1:
        return s.clear_finding("routine_shower", t, "recovered")
    gap, since = 0, d0
    for k in reversed(days):
        if shower[k] >= 1:
            break
        gap, since = gap + 1, k
    # the gaps before this one began (the days of the gap under way, counted in, made every
    # gap as long as itself), on every day at home, the unusual ones too: a gap is counted
    # in days, and left out they cut a long gap short
    ks = [k for k in recent if k in shower and k < since]
    runs, run = [], 0
    for k in ks:
        if shower[k] >= 1:
            runs.append(run)
            run = 0
        else:
            run += 1
    if len(runs) < 3 or len(ks) < s.cfg.routine.min_days:
        return []     # a home that seldom shows a shower, or too little seen: nothing to miss
    longest = max(max(runs), run)
    # the first gap seen began before the days kept: shorter than it was, not one to learn
    if gap >= max(s.cfg.routine.shower_days, longest + 3, _rare_gap(runs[1:])) and \
            gap < len(days):
        return s.raise_finding("routine_shower", t, "low", None, days=gap, usual_max=longest)
    return []


def learn_history(s: HomeState, history, now: float) -> HistoryTap | None:  # type: ignore[no-untyped-def]
    """The history as the baseline learner reads it, gathering the routine days on the way
    (None when every routine kind is switched off)."""
    if not any(s.cfg.on(k) for k in KINDS):
        return None
    if s.routine is None:
        s.routine = RoutineMemory(s.home)
    return HistoryTap(s.routine, s.home.tz, history, now, after=lambda: _recall_meals(s))


def _recall_meals(s: HomeState) -> None:
    """After a restart, the meal times of the last days the history gave, missed or not, so
    that a run of missed ones under way goes on (live, each check keeps its own)."""
    mem = s.routine
    if mem is None or not s.cfg.on("routine_meals"):
        return
    for d0 in list(mem.days)[-3:]:
        if d0 not in mem.fails:
            got = _meal_times(s.cfg.routine.min_days, mem, d0, mem.days[d0], MEAL_PARTS)
            if got is not None:
                mem.fails[d0] = got[0]
