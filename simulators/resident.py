"""The resident: one day of a routine with randomness, as a plan of where and what.

A plan covers the span from the previous bedtime to this day's bedtime (the
night first, then the waking day), so consecutive plans tile time without
overlap. Times are epoch seconds (ints). A plan says where the resident is
and how much they move (PIR trigger rate per minute), which doors and
cupboards they open, when they draw water and switch appliances on. The
sensors (sensors.py) turn a plan into readings; incidents (incidents.py)
edit plans before that.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulators.personas import Persona

# PIR trigger rates (per minute, before the sensor's blind time) by what the person does.
RATE_WALK = 3.0
RATE_BUSY = 1.6      # cooking, washing, tidying
RATE_SIT = 0.12      # reading or watching television in an armchair
RATE_SLEEP = 0.006   # turning over in bed
RATE_STILL = 0.0     # lying on the floor after a fall

HOME_ROOMS = ("bedroom", "living_room", "kitchen", "bathroom", "entrance")

# Appliance loads (W) and their usual durations (minutes).
KETTLE_W, RICE_W, STOVE_W, MICRO_W = 1800.0, 650.0, 1500.0, 1000.0
TV_W, LIGHT_W, HEATER_W, WASHER_W = 95.0, 45.0, 2000.0, 450.0


@dataclass(slots=True)
class DayPlan:
    w0: int                      # plan span start (previous bedtime)
    w1: int                      # plan span end (this bedtime)
    wake: int
    bed: int
    stays: list = field(default_factory=list)     # (start, end, room, rate, entry)
    contacts: list = field(default_factory=list)  # (t, role, open_seconds)
    in_bed: list = field(default_factory=list)    # (start, end)
    water: list = field(default_factory=list)     # (start, seconds, litres)
    loads: list = field(default_factory=list)     # (start, end, watts, what)
    outings: list = field(default_factory=list)   # (start, end)
    alarms: list = field(default_factory=list)    # (t, device kind, value): smoke, button, leak, gas
    meals: int = 0
    night_toilets: int = 0


class _Builder:
    """Appends plan items while a cursor walks through the day."""

    def __init__(self, plan: DayPlan, rng: random.Random, persona: Persona, day0: int,
                 heater: bool) -> None:
        self.p, self.rng, self.pe, self.day0 = plan, rng, persona, day0
        self.t = plan.wake
        self.room = "bedroom"
        self.heater = heater

    # -- primitives ---------------------------------------------------------
    def stay(self, room: str, seconds: float, rate: float, entry: bool = True) -> None:
        seconds = max(1, int(seconds))
        if room != self.room and self.room != "out":
            # crossing the flat: a few seconds through the entrance/hallway
            walk = self.rng.randint(4, 12)
            self.p.stays.append((self.t, self.t + walk, "entrance", RATE_WALK, True))
            self.t += walk
        self.p.stays.append((self.t, self.t + seconds, room, rate * self.pe.activity
                             if rate < RATE_WALK else rate, entry))
        self.t += seconds
        self.room = room

    def water(self, litres: float, seconds: float, offset: float = 0) -> None:
        self.p.water.append((int(self.t + offset), max(1, int(seconds)), max(0.1, litres)))

    def load(self, watts: float, seconds: float, what: str, offset: float = 0) -> None:
        s = int(self.t + offset)
        self.p.loads.append((s, s + max(1, int(seconds)), watts, what))

    def contact(self, role: str, seconds: float, offset: float = 0) -> None:
        self.p.contacts.append((int(self.t + offset), role, max(1, int(seconds))))

    def minutes(self, mean: float, sd_frac: float = 0.3, low: float = 1.0) -> float:
        return max(low, self.rng.gauss(mean, mean * sd_frac)) * 60

    # -- activities ---------------------------------------------------------
    def toilet(self) -> None:
        r = self.rng
        self.stay("bathroom", self.minutes(3.5), RATE_BUSY)
        self.water(r.uniform(4.5, 6.5), r.uniform(40, 70), offset=-r.uniform(5, 20))   # flush
        self.water(r.uniform(0.3, 1.0), r.uniform(10, 25), offset=-r.uniform(0, 5))   # hands

    def wash_morning(self) -> None:
        r = self.rng
        start = self.t
        self.stay("bathroom", self.minutes(12), RATE_BUSY)
        self.p.water.append((int(start + 60), int(r.uniform(120, 240)), r.uniform(3, 7)))
        self.p.water.append((int(self.t - 90), int(r.uniform(40, 70)), r.uniform(4.5, 6.5)))

    def shower(self) -> None:
        r = self.rng
        start = self.t
        self.stay("bathroom", self.minutes(20, 0.25, 8), RATE_BUSY)
        flow_s = r.uniform(300, 660)
        self.p.water.append((int(start + 120), int(flow_s), flow_s / 60 * r.uniform(5.0, 7.5)))
        if self.heater:
            self.p.loads.append((int(start + 120), int(start + 120 + flow_s + r.uniform(600, 1500)),
                                 HEATER_W, "water heater"))

    def meal(self, which: int) -> None:
        r, pe = self.rng, self.pe
        cook = r.random() < pe.cook_prob * (0.6 if which == 0 else 1.0)
        self.stay("kitchen", self.minutes(25 if cook else 8, 0.35, 3), RATE_BUSY)
        k_start = self.p.stays[-1][0]
        k_len = self.t - k_start
        n_fridge = r.randint(1, 4 if cook else 2)
        for _ in range(n_fridge):
            self.p.contacts.append((int(k_start + r.uniform(0, k_len * 0.8)), "fridge",
                                    int(r.uniform(5, 40))))
        for _ in range(r.randint(0, 3)):
            self.p.contacts.append((int(k_start + r.uniform(0, k_len * 0.9)), "cupboard",
                                    int(r.uniform(3, 20))))
        self.p.water.append((int(k_start + r.uniform(10, 60)), int(r.uniform(20, 60)),
                             r.uniform(1, 3)))
        if r.random() < 0.6:  # kettle for tea
            s = int(k_start + r.uniform(20, 90))
            self.p.loads.append((s, s + int(r.uniform(150, 240)), KETTLE_W, "kettle"))
            self.p.water.append((s - 20, 15, r.uniform(1.0, 1.7)))
        if cook:
            if which != 0 and r.random() < 0.5:
                s = int(k_start + r.uniform(30, 120))
                self.p.loads.append((s, s + int(r.uniform(1500, 2400)), RICE_W, "rice cooker"))
                self.p.water.append((s - 60, 40, r.uniform(1.5, 3)))
            s = int(k_start + k_len * r.uniform(0.3, 0.5))
            self.p.loads.append((s, s + int(r.uniform(600, 1200)), STOVE_W, "stove"))
        elif r.random() < 0.4:
            s = int(k_start + r.uniform(20, 120))
            self.p.loads.append((s, s + int(r.uniform(90, 240)), MICRO_W, "microwave"))
        self.stay("living_room", self.minutes(20, 0.3, 5), RATE_SIT * 2)  # eating
        if cook or r.random() < 0.5:  # washing up
            self.stay("kitchen", self.minutes(7, 0.4, 2), RATE_BUSY)
            self.water(r.uniform(4, 10) if cook else r.uniform(1.5, 4), self.minutes(3, 0.4, 1) / 2,
                       offset=-90)
        self.p.meals += 1

    def sit(self, seconds: float, tv: bool, dark: bool) -> None:
        start = self.t
        self.stay("living_room", seconds, RATE_SIT)
        if tv:
            self.p.loads.append((int(start), int(self.t), TV_W, "tv"))

    def potter(self, seconds: float) -> None:
        end = self.t + seconds
        while self.t < end - 60:
            room = self.rng.choice(("kitchen", "living_room", "bedroom", "living_room"))
            self.stay(room, min(end - self.t, self.minutes(4, 0.6)), RATE_BUSY)

    def nap(self) -> None:
        self.stay("bedroom", 60, RATE_BUSY)
        start = self.t
        length = self.minutes(self.pe.nap_hours * 60, 0.35, 15)
        self.stay("bedroom", length, RATE_SLEEP, entry=False)
        self.p.in_bed.append((int(start), int(self.t)))
        self.stay("bedroom", 60, RATE_BUSY)

    def go_out(self, hours: float) -> None:
        r = self.rng
        self.stay("entrance", r.uniform(40, 150), RATE_BUSY)
        self.contact("entrance", r.uniform(4, 15), offset=-r.uniform(2, 6))
        start = self.t
        self.room = "out"
        self.t += int(max(15 * 60, r.gauss(hours, hours * 0.4) * 3600))
        self.p.outings.append((int(start), int(self.t)))
        self.contact("entrance", r.uniform(4, 15), offset=r.uniform(0, 3))
        self.room = "entrance"
        self.p.stays.append((self.t, self.t + int(r.uniform(30, 120)), "entrance", RATE_BUSY, True))
        self.t = self.p.stays[-1][1]

    def visitor(self) -> None:
        r = self.rng
        self.stay("entrance", r.uniform(20, 60), RATE_BUSY)
        self.contact("entrance", r.uniform(4, 12), offset=-r.uniform(5, 15))
        start = self.t
        # two people talking in the living room move more than one reading alone
        self.stay("living_room", self.minutes(50, 0.5, 15), RATE_SIT + 1.0)
        s = int(start + r.uniform(60, 300))
        self.p.loads.append((s, s + 200, KETTLE_W, "kettle"))
        self.stay("entrance", r.uniform(20, 60), RATE_BUSY)
        self.contact("entrance", r.uniform(4, 12), offset=-r.uniform(5, 15))

    def laundry(self) -> None:
        r = self.rng
        start = self.t
        self.stay("bathroom", self.minutes(4), RATE_BUSY)
        self.p.water.append((int(start + 200), 1200, r.uniform(35, 55)))
        self.p.loads.append((int(start + 150), int(start + 150 + r.uniform(2700, 4200)), WASHER_W,
                             "washing machine"))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def plan_day(rng: random.Random, persona: Persona, day0: int, w0: int, weekday: int,
             heater: bool = True) -> DayPlan:
    """Plan the night that started at w0 (the previous bedtime) and the day at day0 (local midnight).

    weekday: 0 Monday .. 6 Sunday.
    """
    pe = persona
    weekend = weekday >= 5
    shift = pe.weekend_shift if weekend else 0.0
    H = 3600
    wake = int(day0 + (pe.wake_mean + shift + rng.gauss(0, pe.wake_sd)) * H)
    wake = max(wake, w0 + 4 * H)
    bed = int(day0 + (pe.bed_mean + shift + rng.gauss(0, pe.bed_sd)) * H)
    bed = max(bed, wake + 10 * H)
    plan = DayPlan(w0=w0, w1=bed, wake=wake, bed=bed)

    # -- the night -------------------------------------------------------------
    b = _Builder(plan, rng, pe, day0, heater)
    n_toilet = _poisson(rng, pe.night_toilet_mean)
    night_trips = sorted(rng.uniform(w0 + 1800, wake - 1200) for _ in range(n_toilet)
                         if wake - w0 > 3600)
    wander = rng.random() < pe.night_wander_prob
    wander_at = rng.uniform(max(w0 + 1800, day0 + 0.5 * H), max(w0 + 3600, day0 + 4.5 * H)) \
        if wander else None
    t = w0
    bed_from = w0
    trips = [(x, "toilet") for x in night_trips]
    if wander_at is not None and wander_at < wake - 1800:
        trips.append((wander_at, "wander"))
    trips.sort()
    b.room = "bedroom"
    for at, what in trips:
        at = int(max(at, t + 600))
        if at >= wake - 600:
            break
        plan.stays.append((t, at, "bedroom", RATE_SLEEP, t == w0))
        plan.in_bed.append((bed_from, at))
        b.t = at
        b.stay("bedroom", rng.uniform(20, 60), RATE_BUSY)
        if what == "toilet":
            b.toilet()
            plan.night_toilets += 1
        else:
            b.potter(b.minutes(20, 0.5, 5))
            if rng.random() < pe.wander_door_prob:
                b.stay("entrance", rng.uniform(30, 120), RATE_BUSY)
                b.contact("entrance", rng.uniform(5, 60), offset=-rng.uniform(5, 20))
            b.stay("kitchen", b.minutes(5), RATE_BUSY)
            if rng.random() < 0.4:
                b.contact("fridge", rng.uniform(5, 30), offset=-rng.uniform(10, 100))
        b.stay("bedroom", rng.uniform(20, 60), RATE_BUSY)
        t = b.t
        bed_from = t
    plan.stays.append((t, wake, "bedroom", RATE_SLEEP, False))
    plan.in_bed.append((bed_from, wake))

    # -- the day -------------------------------------------------------------
    b.t, b.room = wake, "bedroom"
    b.stay("bedroom", rng.uniform(120, 400), RATE_BUSY)
    b.wash_morning()
    agenda: list[tuple[float, str]] = []
    for i, mt in enumerate(pe.meal_times):
        if rng.random() < pe.meal_skip or (pe.meal_skip_each[i]
                                            and rng.random() < pe.meal_skip_each[i]):
            continue
        base = mt + (shift if i == 0 else 0) + rng.gauss(0, pe.meal_sd)
        if i == 0:
            base = max(base, (wake - day0) / H + 0.3)
        agenda.append((base, "meal%d" % i))
    if rng.random() < pe.shower_prob:
        when = (pe.bed_mean - 1.5 if rng.random() < pe.shower_evening else pe.wake_mean + 0.7)
        agenda.append((when + rng.gauss(0, 0.4) + shift, "shower"))
    for _ in range(_poisson(rng, pe.outings_mean)):
        agenda.append((rng.choice((rng.uniform(8.5, 11.5), rng.uniform(14.5, 17.0))), "out"))
    if rng.random() < pe.nap_prob:
        agenda.append((pe.meal_times[1] + 1.0 + rng.gauss(0, 0.4), "nap"))
    if rng.random() < pe.visitors_per_week / 7:
        agenda.append((rng.uniform(9.5, 19.0), "visitor"))
    if rng.random() < 2 / 7:
        agenda.append((rng.uniform(9.0, 16.0), "laundry"))
    n_toilet_day = _poisson(rng, 5.0)
    for _ in range(n_toilet_day):
        agenda.append((rng.uniform((wake - day0) / H + 1, (bed - day0) / H - 0.2), "toilet"))
    agenda.sort()
    tv_share = min(0.9, pe.tv_hours / max(1.0, (bed - wake) / H - 4))
    for at_h, what in agenda:
        at = int(day0 + at_h * H)
        if at > bed - 1200 or b.t > bed - 1200:
            continue
        if at > b.t + 300:
            _idle(b, at, tv_share)
        if what.startswith("meal"):
            b.meal(int(what[4]))
        elif what == "shower":
            b.shower()
        elif what == "out":
            b.go_out(pe.outing_hours)
        elif what == "nap":
            b.nap()
        elif what == "visitor":
            b.visitor()
        elif what == "laundry":
            b.laundry()
        elif what == "toilet":
            b.toilet()
    if b.t < bed - 900:
        _idle(b, bed - 900, tv_share)
    if b.t < bed:
        b.toilet()
        if b.t < bed:
            b.stay("bedroom", bed - b.t, RATE_BUSY)
    plan.bed = plan.w1 = max(bed, int(b.t))
    if pe.forget_prob and rng.random() < pe.forget_prob:
        # a tap left dripping or the kettle forgotten for a while (not an incident yet)
        s = int(rng.uniform(wake + H, plan.bed - H))
        plan.water.append((s, int(rng.uniform(300, 900)), rng.uniform(3, 8)))
    _lights(plan, day0)
    return plan


def _idle(b: _Builder, until: int, tv_share: float) -> None:
    r = b.rng
    while b.t < until - 120:
        left = until - b.t
        x = r.random()
        if x < 0.35:
            b.potter(min(left, b.minutes(10, 0.6)))
        else:
            tv = r.random() < tv_share
            b.sit(min(left, b.minutes(35, 0.6, 5)), tv, False)
    if b.t < until:
        b.stay(b.room if b.room != "out" else "living_room", until - b.t, RATE_SIT)


def _lights(plan: DayPlan, day0: int) -> None:
    """Lights on while awake at home before 06:30 or after 18:00."""
    dark = ((day0 - 86400 + 18 * 3600, day0 + 6 * 3600 + 1800),
            (day0 + 18 * 3600, day0 + 30 * 3600 + 1800))
    awake_from, awake_to = plan.wake, plan.bed
    # awake at home: from wake to bed minus outings
    spans = [(awake_from, awake_to)]
    for o0, o1 in plan.outings:
        nxt = []
        for s0, s1 in spans:
            if o1 <= s0 or o0 >= s1:
                nxt.append((s0, s1))
                continue
            if s0 < o0:
                nxt.append((s0, o0))
            if o1 < s1:
                nxt.append((o1, s1))
        spans = nxt
    for s0, s1 in spans:
        for d0, d1 in dark:
            a, z = max(s0, d0), min(s1, d1)
            if a < z:
                plan.loads.append((a, z, LIGHT_W, "lights"))
