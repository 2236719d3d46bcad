"""Incidents with ground truth: what goes wrong, where and when.

Each incident kind has a stable snake_case name (the evaluation harness keys
on it). An incident is injected at a given time or a random one; some move
their start to the first moment they make sense (a collapse happens while
the resident is up and at home), and the ground truth records the time
actually used. Ground truth lines: {"home", "kind", "start", "end", "details"}
with ISO 8601 times in the home's zone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from simulators import personas
from simulators.resident import RATE_BUSY, RATE_WALK, DayPlan

H = 3600
COLLAPSE_S = 24 * H     # a collapse without a given duration lasts until help comes, a day later

# kind -> what it means (the order is the catalogue's; `collapse` first).
KINDS: dict[str, str] = {
    "collapse": "a fall or collapse: all activity stops at start, in any room; meters fall to "
                "standby; heartbeats go on; end is when help arrives (24 h later unless a "
                "duration is given: a person who collapses alone does not get up by themselves)",
    "illness": "activity reduced by details.fraction for days: later up and earlier to bed, more "
               "night toilet visits, fewer meals and outings",
    "decline": "a gradual decline over weeks: from start, every details.step_days days a step "
               "(details.steps of them) towards details.depth less activity, fewer meals and "
               "outings, later up; end is the end of the simulated span or of the last step's week",
    "dementia_progression": "night wandering (up and about, mostly outside the bedroom) growing "
                            "week by week from start: details.weekly more probability a night",
    "skipped_meals": "no meals (no kitchen activity or water at meal times) for details.days "
                     "days: breakfast and lunch skipped, dinner mostly too",
    "water_running": "a tap left running at details.litres_per_min from start to end",
    "stove_left_on": "the stove draws details.watts from start to end",
    "door_left_open": "the entrance door opens at start and is closed only at end",
    "night_wandering": "up between 00:00 and 05:00, entrance door opened, out until end",
    "not_returning": "went out at start and not back by night; back (or found) at end",
    "device_offline": "details.device sends nothing (readings and heartbeats) from start to end",
    "home_silent": "every device of the home stops (gateway or power cut) from start to end",
    "battery_low": "details.device's battery drops below 15% at start",
    "smoke": "the smoke alarm reports 1 at start, 0 at end",
    "gas": "the gas alarm reports 1 at start, 0 at end",
    "water_leak": "the leak sensor reports 1 (wet) at start, 0 at end",
    "button": "the emergency button is pressed at start",
}

# Which device kind an incident needs in the home.
NEEDS = {"smoke": "smoke", "gas": "gas", "water_leak": "leak", "button": "button",
         "water_running": "water", "stove_left_on": "power", "door_left_open": "door",
         "night_wandering": "door", "not_returning": "door"}

# Routine incidents: a state lasting days or weeks that changes how the resident lives, applied
# to the persona of each day (persona_for_day), not to the plans.
ROUTINE = frozenset({"illness", "decline", "dementia_progression", "skipped_meals"})

# Weights for random incidents (the routine kinds added for issue 19 are drawn only when asked
# for by name: the catalogue's default draw stays as it was).
WEIGHTS = {"collapse": 4, "illness": 2, "water_running": 2, "stove_left_on": 2,
           "door_left_open": 2, "night_wandering": 2, "not_returning": 2, "device_offline": 2,
           "home_silent": 1, "battery_low": 1, "smoke": 1, "gas": 1, "water_leak": 1, "button": 2}


@dataclass
class Incident:
    home: str
    kind: str
    start: int                      # epoch seconds (may move when applied, see module doc)
    end: int
    details: dict = field(default_factory=dict)
    pinned: bool = False            # start given by the user: do not move it
    _placed: bool = False           # start fixed (after adjustment)

    def ground_truth(self, tz: str) -> dict:
        z = ZoneInfo(tz)
        return {"home": self.home, "kind": self.kind,
                "start": datetime.fromtimestamp(self.start, z).isoformat(),
                "end": datetime.fromtimestamp(self.end, z).isoformat(),
                "details": self.details}


def feasible(kind: str, device_kinds: set[str]) -> bool:
    need = NEEDS.get(kind)
    return need is None or need in device_kinds


def make(kind: str, home, rng: random.Random, start: int | None, sim_start: int, sim_end: int,
         duration: int | None = None, **details) -> Incident:
    """An incident of `kind` in `home` at `start` (None: a random time suited to the kind)."""
    if kind not in KINDS:
        raise ValueError(f"incident kind {kind!r}: expected one of {', '.join(KINDS)}")
    kinds = {d.kind for d in home.devices}
    if not feasible(kind, kinds):
        raise ValueError(f"incident {kind} needs a {NEEDS[kind]} device; home {home.code} has "
                         f"{', '.join(sorted(kinds))}")
    pinned = start is not None
    tz = ZoneInfo(home.tz)
    span = max(1, sim_end - sim_start)

    def at_hour(lo: float, hi: float) -> int:
        t = sim_start + rng.randrange(span)
        d = datetime.fromtimestamp(t, tz).replace(hour=0, minute=0, second=0, microsecond=0)
        return int(d.timestamp() + rng.uniform(lo, hi) * H)

    def dur(lo: float, hi: float) -> int:
        return duration if duration is not None else int(rng.uniform(lo, hi) * H)

    if kind == "collapse":
        t = start if pinned else at_hour(7, 21)
        # nobody who collapses alone gets up again by themselves: the readings stay still
        # until help arrives (as the evaluation of recorded logs removes 24 h of events)
        inc = Incident(home.code, kind, t, t + (duration if duration is not None else COLLAPSE_S))
    elif kind == "illness":
        t = start if pinned else at_hour(0, 0)
        days = duration // 86400 if duration else rng.randint(2, 6)
        frac = details.pop("fraction", round(rng.uniform(0.3, 0.7), 2))
        inc = Incident(home.code, kind, t, t + days * 86400, {"fraction": frac, "days": days})
    elif kind == "decline":
        t = start if pinned else at_hour(0, 0)
        steps = int(details.pop("steps", rng.randint(3, 4)))
        step_days = int(details.pop("step_days", rng.randint(4, 6)))
        depth = float(details.pop("depth", round(rng.uniform(0.45, 0.65), 2)))
        e = t + (duration if duration else steps * step_days * 86400 + 7 * 86400)
        inc = Incident(home.code, kind, t, e, {"steps": steps, "step_days": step_days,
                                               "depth": depth})
    elif kind == "dementia_progression":
        t = start if pinned else at_hour(0, 0)
        weekly = float(details.pop("weekly", round(rng.uniform(0.2, 0.3), 2)))
        e = t + (duration if duration else 28 * 86400)
        inc = Incident(home.code, kind, t, e, {"weekly": weekly})
    elif kind == "skipped_meals":
        t = start if pinned else at_hour(0, 0)
        days = duration // 86400 if duration else rng.randint(2, 4)
        inc = Incident(home.code, kind, t, t + days * 86400, {"days": days})
    elif kind == "water_running":
        t = start if pinned else at_hour(8, 20)
        lpm = details.pop("litres_per_min", round(rng.uniform(4, 10), 1))
        inc = Incident(home.code, kind, t, t + dur(1, 6), {"litres_per_min": lpm})
    elif kind == "stove_left_on":
        t = start if pinned else at_hour(11, 19)
        w = details.pop("watts", round(rng.uniform(1200, 2000)))
        inc = Incident(home.code, kind, t, t + dur(1, 4), {"watts": w})
    elif kind == "door_left_open":
        t = start if pinned else at_hour(8, 19)
        inc = Incident(home.code, kind, t, t + dur(0.5, 5))
    elif kind == "night_wandering":
        t = start if pinned else at_hour(0.2, 4.5)
        inc = Incident(home.code, kind, t, t + dur(0.2, 1.2))
    elif kind == "not_returning":
        t = start if pinned else at_hour(14, 18)
        day0 = datetime.fromtimestamp(t, tz).replace(hour=0, minute=0, second=0, microsecond=0)
        e = t + duration if duration else int(day0.timestamp() + rng.uniform(31, 34) * H)
        inc = Incident(home.code, kind, t, e, {"night_from": "22:00"})
    elif kind in ("device_offline", "battery_low"):
        t = start if pinned else at_hour(0, 24)
        name = details.pop("device", None)
        pool = [d for d in home.devices if kind == "device_offline" or not d.mains]
        if name is None:
            if not pool:
                raise ValueError(f"home {home.code} has no device for {kind}")
            name = rng.choice(pool).name
        elif home.device(name) is None:
            raise ValueError(f"home {home.code} has no device {name!r}")
        e = sim_end if kind == "battery_low" else t + dur(2, 48)
        inc = Incident(home.code, kind, t, e, {"device": name, "uid": home.device(name).uid})
    elif kind == "home_silent":
        t = start if pinned else at_hour(0, 24)
        inc = Incident(home.code, kind, t, t + dur(1, 10))
    elif kind in ("smoke", "gas", "water_leak"):
        t = start if pinned else at_hour(7, 22)
        inc = Incident(home.code, kind, t, t + (duration or int(rng.uniform(3, 25) * 60)))
    else:  # button
        t = start if pinned else at_hour(7, 22)
        inc = Incident(home.code, kind, t, t)
    inc.details.update(details)
    inc.pinned = pinned
    inc.end = min(inc.end, sim_end) if kind not in ("illness", "skipped_meals") else inc.end
    return inc


def persona_for_day(p, incidents: list[Incident], day0: int):
    """The persona of the day starting at local midnight day0, as the routine incidents under
    way at its noon change it (illness, decline, dementia progression, skipped meals)."""
    noon = day0 + 43200
    for i in incidents:
        if i.kind not in ROUTINE or not i.start <= noon < i.end:
            continue
        d = i.details
        if i.kind == "illness":
            p = personas.ill(p, d["fraction"])
        elif i.kind == "decline":
            # a step every step_days, the first at the start: level depth * k / steps
            k = min(d["steps"], 1 + int((noon - i.start) // (d["step_days"] * 86400)))
            p = personas.declined(p, d["depth"] * k / d["steps"])
        elif i.kind == "dementia_progression":
            week = 1 + int((noon - i.start) // (7 * 86400))
            p = replace(p, night_wander_prob=min(0.97, p.night_wander_prob + d["weekly"] * week),
                        meal_sd=p.meal_sd + 0.1 * week)
        else:   # skipped_meals
            p = replace(p, meal_skip_each=(1.0, 1.0, 0.7))
    return p


def random_for_home(home, rng: random.Random, sim_start: int, sim_end: int, per_week: float,
                    kinds: list[str] | None = None) -> list[Incident]:
    """Random incidents at `per_week` per home-week, not overlapping one another."""
    weeks = (sim_end - sim_start) / (7 * 86400)
    mean = per_week * weeks
    n = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
    have = {d.kind for d in home.devices}
    pool = [k for k in (kinds or list(WEIGHTS)) if feasible(k, have)]
    out: list[Incident] = []
    for _ in range(n * 4):
        if len(out) >= n or not pool:
            break
        kind = rng.choices(pool, weights=[WEIGHTS.get(k, 1) for k in pool])[0]
        inc = make(kind, home, rng, None, sim_start, sim_end)
        if inc.start < sim_start + H or inc.start >= sim_end - 2 * H:
            continue
        lo, hi = inc.start - 12 * H, inc.end + 12 * H
        if any(not (hi < o.start or lo > o.end) for o in out):
            continue
        out.append(inc)
    out.sort(key=lambda i: i.start)
    return out


# -- applying incidents to plans ------------------------------------------------------

def _clip_intervals(items: list, t0: int, t1: int, getse, make_item) -> list:
    out = []
    for it in items:
        s, e = getse(it)
        if e <= t0 or s >= t1:
            out.append(it)
            continue
        if s < t0:
            out.append(make_item(it, s, t0))
        if e > t1:
            out.append(make_item(it, t1, e))
    return out


def clear_span(plan: DayPlan, t0: int, t1: int, keep_loads: bool = False) -> None:
    """Remove what the resident does in [t0, t1): stays, contacts, bed, water, appliances."""
    plan.stays = _clip_intervals(plan.stays, t0, t1, lambda x: (x[0], x[1]),
                                 lambda x, s, e: (s, e, x[2], x[3], x[4] and s == x[0]))
    plan.in_bed = _clip_intervals(plan.in_bed, t0, t1, lambda x: x, lambda x, s, e: (s, e))
    plan.contacts = [(t, r, (t0 - t if t < t0 < t + d else d)) for t, r, d in plan.contacts
                     if not t0 <= t < t1]
    plan.water = _clip_intervals(plan.water, t0, t1, lambda x: (x[0], x[0] + x[1]),
                                 lambda x, s, e: (s, e - s, x[2] * (e - s) / x[1]))
    if not keep_loads:
        plan.loads = _clip_intervals(plan.loads, t0, t1, lambda x: (x[0], x[1]),
                                     lambda x, s, e: (s, e, x[2], x[3]))
    plan.outings = _clip_intervals(plan.outings, t0, t1, lambda x: x, lambda x, s, e: (s, e))


def _room_at(plan: DayPlan, t: int) -> str:
    for s, e, room, _, _ in plan.stays:
        if s <= t < e:
            return room
    return "out"


def _awake_home_after(plan: DayPlan, t: int, rng: random.Random, prefer_bathroom: bool) -> int | None:
    cands = [(s, e, room) for s, e, room, rate, _ in plan.stays
             if e > t + 60 and e - s > 60 and rate > 0.01 and room != "out"]
    if prefer_bathroom:
        bath = [c for c in cands if c[2] == "bathroom" and c[0] >= t]
        if bath:
            s, e, _ = bath[0]
            return int(rng.uniform(s + 10, e - 10))
    if not cands:
        return None
    s, e, _ = cands[0]
    lo = max(s, t)
    return int(rng.uniform(lo, max(lo + 1, min(e - 10, lo + 600))))


def apply(inc: Incident, plan: DayPlan, rng: random.Random, renderer, overlap_end: int) -> bool:
    """Edit `plan` (spanning [plan.w0, plan.w1)) for `inc`. Returns False if not yet placed."""
    w0, w1 = plan.w0, plan.w1
    k = inc.kind
    if not inc._placed:
        if inc.start >= w1:
            return False
        if k == "collapse" and not inc.pinned:
            t = _awake_home_after(plan, max(inc.start, w0), rng, rng.random() < 0.35)
            if t is None:
                inc.start = w1   # try the next plan
                inc.end = w1 + (inc.end - inc.start)
                return False
            d = inc.end - inc.start
            inc.start, inc.end = t, min(t + d, overlap_end)
        elif k == "button" and not inc.pinned:
            t = _awake_home_after(plan, max(inc.start, w0), rng, False)
            if t is None:
                inc.start = inc.end = w1
                return False
            inc.start = inc.end = t
        elif k == "stove_left_on" and not inc.pinned:
            stoves = [l for l in plan.loads if l[3] == "stove" and l[1] >= inc.start - 4 * H]
            if stoves:
                d = inc.end - inc.start
                inc.start = stoves[0][1]
                inc.end = min(inc.start + d, overlap_end)
        elif k == "not_returning" and not inc.pinned:
            # leave from an afternoon at home: start when the resident is at home and up
            t = _awake_home_after(plan, max(inc.start, w0), rng, False)
            if t is not None and t < inc.end - 4 * H:
                inc.start = t
        inc._placed = True
        if "room" not in inc.details and k in ("collapse", "button"):
            inc.details["room"] = _room_at(plan, inc.start)
    t0, t1 = max(inc.start, w0), min(inc.end, w1)
    if k == "collapse":
        if t0 < t1:
            clear_span(plan, t0, t1)
            plan.stays.append((t0, t1, inc.details.get("room", "living_room"), 0.0, False))
        if w0 <= inc.end < w1 and inc.end < overlap_end:
            # help arrives: the door opens, someone comes in
            plan.contacts.append((inc.end, "entrance", 10))
            plan.stays.append((inc.end + 5, inc.end + 120, "entrance", RATE_WALK, True))
    elif k == "water_running":
        if t0 < t1:
            plan.water.append((t0, t1 - t0, inc.details["litres_per_min"] * (t1 - t0) / 60))
    elif k == "stove_left_on":
        if t0 < t1:
            plan.loads.append((t0, t1, float(inc.details["watts"]), "stove left on"))
    elif k == "door_left_open":
        plan.contacts = [c for c in plan.contacts
                         if not (c[1] == "entrance" and inc.start - 60 <= c[0] < inc.end + 1)]
        if w0 <= inc.start < w1:
            plan.contacts.append((inc.start, "entrance", inc.end - inc.start))
            plan.stays.append((inc.start - 30, inc.start, "entrance", RATE_BUSY, True))
    elif k == "night_wandering":
        if t0 < t1:
            clear_span(plan, t0, t1, keep_loads=True)
        if w0 <= inc.start < w1:
            T, E = inc.start, inc.end
            plan.stays += [(T, T + 60, "bedroom", RATE_BUSY, True),
                           (T + 60, T + 150, "entrance", RATE_BUSY, True),
                           (E - 150, E - 60, "entrance", RATE_BUSY, True),
                           (E - 60, E, "bedroom", RATE_BUSY, True)]
            plan.contacts += [(T + 120, "entrance", 12), (E - 150, "entrance", 12)]
            plan.outings.append((T + 150, E - 150))
    elif k == "not_returning":
        if w0 <= inc.start < w1:
            plan.stays.append((inc.start - 90, inc.start, "entrance", RATE_BUSY, True))
            plan.contacts.append((inc.start - 20, "entrance", 10))
        if t0 < t1:
            clear_span(plan, t0, t1)
            plan.outings.append((t0, t1))
        if w0 <= inc.end < w1:
            plan.contacts.append((inc.end, "entrance", 10))
            plan.stays.append((inc.end + 5, inc.end + 300, "entrance", RATE_BUSY, True))
    elif k == "battery_low":
        if w0 <= inc.start < w1 and renderer is not None:
            dev = renderer.home.index(inc.details["device"])
            renderer.battery_override[dev] = (inc.start, 14.0, 2.5)
    elif k in ("smoke", "gas", "water_leak"):
        dev = {"smoke": "smoke", "gas": "gas", "water_leak": "leak"}[k]
        if w0 <= inc.start < w1:
            plan.alarms.append((inc.start, dev, "1"))
        if w0 <= inc.end < w1:
            plan.alarms.append((inc.end, dev, "0"))
    elif k == "button":
        if w0 <= inc.start < w1:
            plan.alarms.append((inc.start, "button", "1"))
    return True


def silenced(incidents: list[Incident], home) -> list[tuple[int, int, int | None]]:
    """(start, end, device index or None for all) spans in which devices send nothing."""
    out = []
    for inc in incidents:
        if inc.kind == "home_silent":
            out.append((inc.start, inc.end, None))
        elif inc.kind == "device_offline":
            out.append((inc.start, inc.end, home.index(inc.details["device"])))
    return out


def filter_silent(events: list, spans: list[tuple[int, int, int | None]]) -> list:
    if not spans or not events:
        return events
    lo, hi = events[0][0], events[-1][0]
    active = [s for s in spans if s[0] <= hi and s[1] > lo]
    if not active:
        return events
    return [e for e in events
            if not any(s <= e[0] < t and (d is None or d == e[1]) for s, t, d in active)]
