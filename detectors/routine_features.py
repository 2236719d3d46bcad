"""A day's routine, as numbers: the features the routine model (detectors/routine.py) learns.

A local day is gathered in 15-minute slots (`DayBins`: signs of life per room group, water in
litres, entrance-door events, power) as the events come, and closed into a feature vector
(`features()`, a numpy float array indexed by FEATURES; NaN where the home has no sensor for
it). The same accumulator serves the live monitor (fed event by event) and the learner and
the tests (`days_features()` over a list of events), so what is learned is what is scored.

A night is the home's own: from the end of its evening (past midnight for a night owl) to
half an hour before it usually gets up (`night_window`, learned from its days; 00:00-05:00
until a week is learned), or to when that day's resident got up, if earlier. The same hours
serve every day of a home, so only a change against its own usual stands out. The night's slots 00:00-11:00 are kept with each day as bit masks
(`night_*_bits`), so the night features of past days are counted again whenever the window
moves (`night_counts`) and a day is never judged against nights counted otherwise.
"""

from __future__ import annotations

import math
from array import array
from typing import Iterable, Sequence

import numpy as np

from detectors.clock import SLOT_S, SLOTS, LocalClock


from detectors.events import DeviceInfo, Event, HomeInfo

# room groups of signs of life
BED, BATH, KITCHEN, LIVING, ENTRY = range(5)
NG = 5
_GROUP = {"bedroom": BED, "bathroom": BATH, "toilet": BATH, "kitchen": KITCHEN,
          "entrance": ENTRY, "hallway": ENTRY}

NIGHT = (0, 20)              # slots 00:00-05:00: the night until the home's own is learned
BITS = 44                    # slots 00:00-11:00 kept as bits: every window a night can have
NIGHT_MIN = 12               # a night window is at least 3 h
QUIET = 4                    # 1 h without the kitchen or the living room: the evening is over
LATE_MAX = 8                 # a late evening moves that day's night on by at most 2 h
MORNING = (20, 44)           # 05:00-11:00: breakfast
MIDDAY = (44, 60)            # 11:00-15:00: lunch
EVENING = (60, 84)           # 15:00-21:00: dinner
MEALS = (("morning", MORNING), ("midday", MIDDAY), ("evening", EVENING))
DAYTIME = (20, SLOTS)
FLUSH_L = 2.0                # water in a night slot that is a toilet flush
SHOWER_L = 20.0              # water in one slot that is a shower (or a wash machine)

FEATURES: tuple[str, ...] = (
    "wake_h",            # getting up: first lasting activity outside the bedroom after 04:00
    "bed_h",             # last activity in the kitchen, living room or at the door before midnight
    "night_toilet",      # toilet visits in the home's night (bathroom PIR, else flushes)
    "night_up_slots",    # 15-min slots of the night with activity outside the bedroom
    "night_away_slots",  # ... in the kitchen or the living room (wandering)
    "kitchen_morning",   # 15-min slots with kitchen activity 05:00-11:00
    "kitchen_midday",    # 11:00-15:00
    "kitchen_evening",   # 15:00-21:00
    "meal_morning",      # signs of life in the kitchen (PIR, fridge, cupboard) 05:00-11:00
    "meal_midday",
    "meal_evening",
    "food_morning",      # the fridge or a cupboard opened 05:00-11:00 (a kitchen contact)
    "food_midday",
    "food_evening",
    "day_morning",       # 15-min slots with any sign of life 05:00-11:00 (up and at home)
    "day_midday",
    "day_evening",
    "water_morning",     # litres 05:00-11:00
    "water_midday",
    "water_evening",
    "shower",            # 1 when a shower was taken (bathroom + a slot of >= 20 L)
    "outings",           # entrance-door passages 06:00-22:00 (two per outing)
    "hours_bedroom",     # time per room, from the room last seen in each slot (the whole day)
    "hours_kitchen",
    "hours_living",
    "hours_bathroom",
    "activity",          # signs of life in the day
    "intensity",         # signs of life per active 15-min slot (how briskly the resident moves)
    "kitchen_day",       # 15-min slots with kitchen activity in the whole day
    "active_slots",      # 15-min slots with a sign of life 05:00-24:00
    "water_l",           # litres in the day
    "power_kwh",         # energy in the day
    "sleep_h",           # end of the evening past midnight (0: asleep by midnight)
    # not features: the slots 00:00-11:00 as bits, for the home's own night window
    "night_wet_bits",    # a toilet visit (bathroom PIR, else a flush)
    "night_up_bits",     # up outside the bedroom
    "night_away_bits",   # in the kitchen or the living room
)
IDX = {n: i for i, n in enumerate(FEATURES)}
NF = len(FEATURES)
RAW = ("night_wet_bits", "night_up_bits", "night_away_bits")


# What a day heard from: a bit per sight a device gives (see `capabilities`), set by any of
# its readings or heartbeats. A sight whose devices send heartbeats (a heartbeat every 15
# minutes by the device contract) and that was not heard from for more than GAP_SLOTS of the
# day is unseen that day (NaN), not nothing done: a door sensor offline is not a day indoors,
# a power meter offline since the morning not a day of little power. Where no heartbeat was
# ever heard (a recorded log, a device that sends none), silence says nothing of the device.
GAP_SLOTS = 24
H_DOOR, H_POWER, H_WATER, H_KITCHEN, H_FOOD = 1, 2, 4, 8, 16
HEARD = {"door": H_DOOR, "power": H_POWER, "water": H_WATER, "kitchen_pir": H_KITCHEN,
         "food": H_FOOD}


def sight(kind: str, room: str) -> int:
    """The HEARD bit a device of `kind` in `room` gives (as `capabilities` counts it; 0:
    none that a routine feature reads alone)."""
    if kind in ("door", "power", "water"):
        return HEARD[kind]
    if (kind == "motion" or kind == "contact") and _GROUP.get(room, LIVING) == KITCHEN:
        return H_FOOD if kind == "contact" else H_KITCHEN
    return 0


def device_sight(devices: Sequence[DeviceInfo], uid: str) -> int:
    """The HEARD bit of the home's device `uid` (0 for one the home does not list)."""
    for d in devices:
        if d.uid == uid:
            return sight(d.kind, d.room)
    return 0


class DayBins:
    """One local day in 15-minute slots, filled event by event."""

    __slots__ = ("lo", "hi", "act", "water", "door", "food", "wh", "first", "meter_v",
                 "meter_t", "heard", "lost", "last", "upto")

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        self.act = array("H", bytes(2 * NG * SLOTS))      # [group * SLOTS + slot]
        self.water = array("f", bytes(4 * SLOTS))
        self.door = array("H", bytes(2 * SLOTS))
        self.food: array | None = None    # kitchen contacts opened (made at the first)
        self.wh = 0.0
        self.first: float | None = None
        self.heard = 0                    # HEARD bits (a heartbeat's: RoutineMemory.hear)
        self.lost = 0                     # ... silent for more than GAP_SLOTS since heard
        self.last = array("B", bytes(len(HEARD)))   # the slot each was last heard in
        self.upto = 0                     # the latest slot of any event
        self.meter_v: dict[str, float] = {}
        self.meter_t: dict[str, float] = {}

    def add(self, ev: Event) -> None:
        t = ev.ts
        if self.first is None:
            self.first = t
        k = ev.kind
        slot = min(SLOTS - 1, int((t - self.lo) // SLOT_S))
        if slot > self.upto:
            self.upto = slot
        if k == "motion" or k == "button":
            g = _GROUP.get(ev.room, LIVING)
            if g == KITCHEN and k == "motion":
                self.hear(H_KITCHEN, slot)
            if ev.value >= 1:
                self.act[g * SLOTS + slot] += 1
        elif k == "contact" or k == "presence":
            g = BED if k == "presence" else _GROUP.get(ev.room, LIVING)
            self.act[g * SLOTS + slot] += 1
            if g == KITCHEN and k == "contact":
                self.hear(H_FOOD, slot)
                if ev.value >= 1:
                    if self.food is None:
                        self.food = array("H", bytes(2 * SLOTS))
                    self.food[slot] += 1
        elif k == "door":
            self.hear(H_DOOR, slot)
            self.door[slot] += 1
        elif k == "water":
            self.hear(H_WATER, slot)
            prev = self.meter_v.get(ev.device)
            self.meter_v[ev.device] = ev.value
            if prev is not None and ev.value > prev:
                self.water[slot] += ev.value - prev
        elif k == "power":
            self.hear(H_POWER, slot)
            # a reading is the mean power of the last minute (the simulator, most meters)
            prev_t = self.meter_t.get(ev.device)
            self.meter_t[ev.device] = t
            if prev_t is not None and 0 < t - prev_t <= 900:
                self.wh += ev.value * (t - prev_t) / 3600.0

    def hear(self, bit: int, slot: int) -> None:
        """A sight (a HEARD bit, 0: none) heard from in `slot`."""
        if not bit:
            return
        i = bit.bit_length() - 1
        if slot > self.last[i]:         # a late reading does not move it back
            if slot - self.last[i] > GAP_SLOTS:
                self.lost |= bit
            self.last[i] = slot
        self.heard |= bit

    def hear_at(self, bit: int, t: float) -> None:
        """A heartbeat at t from a device of sight `bit` (its readings are heard by add)."""
        self.hear(bit, min(SLOTS - 1, int((t - self.lo) // SLOT_S)))

    def unseen(self, beats: int) -> int:
        """Of the sights `beats` (HEARD bits of those known to send heartbeats), the ones
        unheard for more than GAP_SLOTS (to the latest event: a day still filling is judged
        as far as it has come)."""
        bad = ~self.heard | self.lost
        for i in range(len(HEARD)):
            if self.heard >> i & 1 and self.upto - self.last[i] > GAP_SLOTS:
                bad |= 1 << i
        return bad & beats


def _span(a: np.ndarray, r: tuple[int, int]) -> np.ndarray:
    return a[..., r[0]:r[1]]


_WEIGHTS = np.left_shift(np.int64(1), np.arange(BITS, dtype=np.int64))


def _bits(flags: np.ndarray) -> float:
    """Slot i set -> bit i; a float64 holds the 44 bits exactly."""
    return float(np.dot(flags.astype(np.int64), _WEIGHTS[:len(flags)]))


_NIGHT_COLS = [IDX["night_toilet"], IDX["night_up_slots"], IDX["night_away_slots"]]
_BIT_COLS = [IDX[n] for n in RAW]


def night_counts(X: np.ndarray, night: tuple[int, int]) -> np.ndarray:
    """Count the night features of each row of X (days x FEATURES, changed in place) in the
    slots night = (from, to) from its bits: toilet visits (runs of wet slots: one visit can
    straddle two), slots up outside the bedroom, slots in the kitchen or living room. A day
    whose evening went on later than the night's start has its night begin after it (by at
    most LATE_MAX): a late evening is not being up in the night. It ends when that day's
    resident got up (wake_h), if that was before the night's end: getting up early for the
    day is not being up in the night (a home whose mornings spread by hours was otherwise
    "up at night" on every early morning, and wandering week after week)."""
    lo, hi = night
    B = X[:, _BIT_COLS]
    ok = np.isfinite(B)
    e = np.nan_to_num(X[:, IDX["sleep_h"]] * 4).astype(np.int64)
    start = np.where(e > 0, np.clip(e + 1, lo, lo + LATE_MAX), lo)
    start = np.minimum(start, hi)
    up = np.nan_to_num(X[:, IDX["wake_h"]] * 4, nan=hi).astype(np.int64)
    end = np.clip(up, start, hi)
    start, end = start[:, None], end[:, None]
    mask = np.left_shift(np.int64(1), end - start) - 1
    m = (np.nan_to_num(B).astype(np.int64) >> start) & mask
    runs = np.bitwise_count(m[:, 0] & ~(m[:, 0] << 1))
    counts = np.stack([runs, np.bitwise_count(m[:, 1]), np.bitwise_count(m[:, 2])], axis=1)
    X[:, _NIGHT_COLS] = np.where(ok, counts.astype(np.float64), np.nan)
    return X


def night_window(X: np.ndarray) -> tuple[int, int]:
    """A home's night in slots of the day, from its usual days (rows of X): from the end of
    its usual evening past midnight (plus 15 min) to half an hour before its usual getting
    up, at least 3 h and within 00:00-11:00."""
    lo = min(12, int(math.ceil(4 * float(np.nanmedian(X[:, IDX["sleep_h"]])))) + 1)
    if lo == 1:
        lo = 0          # asleep by midnight: the night is counted from 00:00
    hi = int(math.floor(4 * (float(np.nanmedian(X[:, IDX["wake_h"]])) - 0.5)))
    hi = min(BITS, max(lo + NIGHT_MIN, hi))
    return lo, hi


def features(b: DayBins, has: frozenset[str], night: tuple[int, int] = NIGHT,
             beats: int = 0) -> np.ndarray:
    """The day's feature vector; `has` names what the home can see (see `capabilities`), the
    night features are counted in `night` (slots; the home's `night_window`). Of the sights
    `beats` (HEARD bits of those whose devices send heartbeats), one not heard from for long
    (DayBins.unseen) is left out of `has` for the day."""
    bad = b.unseen(beats)
    if bad:
        gone = {c for c, bit in HEARD.items() if c in has and bad & bit}
        if gone & {"kitchen_pir", "food"}:
            gone |= {"kitchen", "food"}     # the kitchen's signs are its PIR's and contacts'
        has = has - gone
    act = np.frombuffer(b.act, dtype=np.uint16).reshape(NG, SLOTS).astype(np.float64)
    water = np.frombuffer(b.water, dtype=np.float32).astype(np.float64)
    door = np.frombuffer(b.door, dtype=np.uint16).astype(np.float64)
    food = np.zeros(SLOTS) if b.food is None else \
        np.frombuffer(b.food, dtype=np.uint16).astype(np.float64)
    f = np.full(NF, np.nan)
    total = act.sum(axis=0)
    nonbed = total - act[BED]
    # getting up: the first slot from 04:00 opening an hour with activity in the kitchen or
    # the living room in at least two of its four slots (a night toilet visit does not), or
    # going out (the entrance door)
    day_rooms = (act[KITCHEN] + act[LIVING]) > 0
    wake = 14.0
    for s in range(16, 56):
        if (day_rooms[s] and day_rooms[s:s + 4].sum() >= 2) or door[s] > 0:
            wake = s / 4.0
            break
    f[IDX["wake_h"]] = wake
    # going to bed: the last activity in the kitchen or the living room, or the door (a toilet
    # visit after going to bed is not staying up)
    up = day_rooms if ("kitchen" in has or "living" in has) else nonbed > 0
    late = np.nonzero(up[68:] | (door[68:] > 0))[0]
    bed = (68 + late[-1] + 1) / 4.0 if late.size else 17.0
    # out at midnight (the door after the evening's last sign and nothing in the bedroom
    # after it): when they went to bed is not known, not early
    gone = np.nonzero(door[68:] > 0)[0]
    if gone.size and (68 + gone[-1]) / 4.0 >= bed - 0.25 and \
            not act[BED, 68 + gone[-1] + 1:].any():
        bed = np.nan
    f[IDX["bed_h"]] = bed
    # the evening past midnight: activity in the kitchen or living room going on at midnight
    # (in its first half hour), up to the first hour without any (a night owl's television;
    # 0 for one asleep by midnight: getting up later is the night, not the evening)
    end = 0
    if day_rooms[:2].any():
        for sl in range(BITS):
            if sl - end >= QUIET:
                break
            if day_rooms[sl]:
                end = sl + 1
    f[IDX["sleep_h"]] = end / 4.0
    if "bath" in has or "water" in has:
        wet = (act[BATH, :BITS] > 0) if "bath" in has else (water[:BITS] >= FLUSH_L)
        f[IDX["night_wet_bits"]] = _bits(wet)
    if "rooms" in has:
        f[IDX["night_up_bits"]] = _bits(nonbed[:BITS] > 0)
        # the entrance is left out: the way to the toilet crosses it
        f[IDX["night_away_bits"]] = _bits((act[KITCHEN, :BITS] + act[LIVING, :BITS]) > 0)
    night_counts(f[None, :], night)
    for name, r in MEALS:
        if "kitchen" in has:
            f[IDX[f"kitchen_{name}"]] = np.count_nonzero(_span(act[KITCHEN], r) > 0)
            f[IDX[f"meal_{name}"]] = _span(act[KITCHEN], r).sum()
        if "food" in has:
            f[IDX[f"food_{name}"]] = _span(food, r).sum()
        f[IDX[f"day_{name}"]] = np.count_nonzero(_span(total, r) > 0)
        if "water" in has:
            f[IDX[f"water_{name}"]] = float(_span(water, r).sum())
    if "water" in has:
        big = water >= SHOWER_L
        if "bath" in has:
            near = act[BATH] > 0
            near = near | np.roll(near, 1) | np.roll(near, -1)
            big = big & near
        f[IDX["shower"]] = 1.0 if big.any() else 0.0
        f[IDX["water_l"]] = float(water.sum())
    if "door" in has:
        f[IDX["outings"]] = float(door[24:88].sum())
    # time per room: each daytime slot is spent in the room with most activity in it, or in
    # the room last seen (people sit where no sensor sees them)
    room = BED
    hours = np.zeros(NG)
    for s in range(SLOTS):
        col = act[:, s]
        if col.sum() > 0:
            room = int(np.argmax(col[:4])) if col[:4].sum() > 0 else ENTRY
        elif door[s] > 0:
            room = ENTRY        # gone out (or at the door): not in the room last seen
        hours[room] += 0.25
    for name, g, cap in (("bedroom", BED, ""), ("kitchen", KITCHEN, "kitchen"),
                         ("living", LIVING, "living"), ("bathroom", BATH, "bath")):
        if not cap or cap in has:
            f[IDX[f"hours_{name}"]] = hours[g]
    f[IDX["activity"]] = total.sum()
    f[IDX["active_slots"]] = np.count_nonzero(total[DAYTIME[0]:] > 0)
    nb = nonbed[DAYTIME[0]:]
    f[IDX["intensity"]] = nb.sum() / max(1, np.count_nonzero(nb > 0))
    if "kitchen" in has:
        f[IDX["kitchen_day"]] = np.count_nonzero(act[KITCHEN, DAYTIME[0]:] > 0)
    if "power" in has:
        f[IDX["power_kwh"]] = b.wh / 1000.0
    return f


_KITS: dict[frozenset[str], frozenset[str]] = {}


def capabilities(info: HomeInfo) -> frozenset[str]:
    """What a home's devices let the features see."""
    has: set[str] = set()
    rooms = set()
    for d in info.devices:
        if d.kind == "water":
            has.add("water")
        elif d.kind == "power":
            has.add("power")
        elif d.kind == "door":
            has.add("door")
        elif d.kind in ("motion", "contact", "presence"):
            g = BED if d.kind == "presence" else _GROUP.get(d.room, LIVING)
            rooms.add(g)
            if g == BATH:
                has.add("bath")
            elif g == KITCHEN:
                has.add("kitchen")
                if d.kind == "contact":
                    has.add("food")     # the fridge or a cupboard: opened for a meal
                elif d.kind == "motion":
                    has.add("kitchen_pir")
            elif g == LIVING:
                has.add("living")
    if rooms - {BED}:
        has.add("rooms")
    # one set for every home with the same sight (a handful of kits), not one per home
    kit = frozenset(has)
    return _KITS.setdefault(kit, kit)


def days_features(info: HomeInfo, events: Iterable[Event], *, first_complete: bool = True,
                  ) -> tuple[list[float], np.ndarray]:
    """Every whole local day's features in `events` (time order): (local midnights, matrix of
    days x FEATURES). With first_complete False the first day is left out (the events may
    begin part-way through it)."""
    clock = LocalClock(info.tz)
    has = capabilities(info)
    out_days: list[float] = []
    rows: list[np.ndarray] = []
    cur: DayBins | None = None
    skip_first = not first_complete
    beats = 0
    for ev in events:
        if cur is None or ev.ts >= cur.hi:
            if cur is not None:
                if not skip_first:
                    out_days.append(cur.lo)
                    rows.append(features(cur, has, beats=beats))
                skip_first = False
            lo = clock.day(ev.ts)
            cur = DayBins(lo, clock.hi)
        if ev.ts >= cur.lo:
            cur.add(ev)
            if ev.kind == "heartbeat":
                bit = device_sight(info.devices, ev.device)
                beats |= bit
                cur.hear_at(bit, ev.ts)
    # the last day is whole only if the events run to its end: the caller knows; left out here
    return out_days, (np.vstack(rows) if rows else np.empty((0, NF)))


def stack(rows: Sequence[np.ndarray]) -> np.ndarray:
    return np.vstack(rows) if rows else np.empty((0, NF))
