"""Routines: each feature of a day computed from a few events built here, and the routine rule
opening findings with words against a constructed history of ordinary days."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from detectors import texts
from detectors.config import DETECTORS, DetectorConfig
from detectors.events import DeviceInfo, Event, Finding, HomeInfo
from detectors.monitor import HomeMonitor
from detectors.routine import CORE, UNUSUAL, RobustModel, column_medians, usable
from detectors.routine_features import (IDX, capabilities, days_features, night_counts,
                                        night_window)
from detectors.rules import RULES
from detectors.rules.routine import KINDS, _rare_gap
from anju import i18n

TZ = "Asia/Shanghai"
H = 3600.0
DEVICES = (DeviceInfo("m-bed", "motion", "bedroom"), DeviceInfo("m-liv", "motion", "living_room"),
           DeviceInfo("m-kit", "motion", "kitchen"), DeviceInfo("m-bath", "motion", "bathroom"),
           DeviceInfo("c-fridge", "contact", "kitchen"), DeviceInfo("door", "door", "entrance"),
           DeviceInfo("water", "water", "kitchen"), DeviceInfo("power", "power", "other"))
INFO = HomeInfo("r-1", TZ, DEVICES)
DAY0 = datetime(2024, 3, 4, tzinfo=ZoneInfo(TZ)).timestamp()


class Day:
    """One constructed local day: the events a resident's day leaves, a few at a time."""

    def __init__(self, n: int) -> None:
        self.d0 = DAY0 + n * 86400
        self.ev: list[Event] = []
        self.water = 1000.0 + n * 500

    def at(self, h: float, dev: str, kind: str, value: float = 1.0) -> None:
        room = next(d.room for d in DEVICES if d.uid == dev)
        self.ev.append(Event(self.d0 + h * H, dev, kind, value, room))

    def draw(self, h: float, litres: float) -> None:
        self.at(h, "water", "water", self.water)
        self.water += litres
        self.at(h + 2 / 60, "water", "water", self.water)

    def alive(self, *uids: str) -> "Day":
        for uid in uids:            # a heartbeat every hour, at :20
            for h in range(24):
                self.at(h + 1 / 3, uid, "heartbeat", 100.0)
        return self

    def meter(self) -> None:
        # the power meter reports every 15 min all day: the day is seen whole, 2.4 kWh
        for q in range(96):
            self.at(q / 4 + 1 / 120, "power", "power", 100.0)

    def toilet(self, h: float) -> None:
        self.at(h, "m-bed", "motion")
        self.at(h + 1 / 60, "m-bath", "motion")
        self.draw(h + 3 / 60, 5.0)
        self.at(h + 6 / 60, "m-bed", "motion")

    def toilet_at(self, h: float) -> "Day":
        self.toilet(h)
        self.ev.sort(key=lambda e: e.ts)
        return self

    def breakfast(self, h: float = 7.1) -> None:
        self.at(h, "m-kit", "motion")
        for m in (3, 6, 9):
            self.at(h + m / 60, "m-kit", "motion")
        self.at(h + 0.03, "c-fridge", "contact", 1)
        self.at(h + 0.05, "c-fridge", "contact", 0)
        self.draw(h + 0.1, 3.0)
        self.at(h + 0.2, "m-kit", "motion")

    def ordinary(self, *, night_toilets: tuple[float, ...] = (2.0,), breakfast: bool = True,
                 night_kitchen: bool = False, up: float = 7.0, to_bed: float = 21.5,
                 tv_until: float = 0.0, shower: bool = True, out: bool = True,
                 silent: tuple[str, ...] = ()) -> "Day":
        self.alive(*(d.uid for d in DEVICES if d.uid not in silent))
        self.meter()
        for q in range(int(tv_until * 4)):   # the evening before, past midnight (a night owl)
            self.at(q / 4 + 0.05, "m-liv", "motion")
        for h in night_toilets:
            self.toilet(h)
        if night_kitchen:           # up and about in the kitchen at 02:40 (wandering)
            for m in range(0, 35, 5):
                self.at(2.67 + m / 60, "m-kit", "motion")
        for m in range(0, 60, 5):   # up at 07:00 in the living room
            self.at(up + m / 60, "m-liv", "motion")
        if breakfast:
            self.breakfast(up + 0.1)
        self.at(8.5, "m-bath", "motion")        # a shower: bathroom and 50 L in the slot
        self.draw(8.55, 50.0 if shower else 4.0)
        if out:
            self.at(9.0, "door", "door", 1)      # out 09:00-10:00: two passages each way
            self.at(9.01, "door", "door", 0)
            self.at(10.0, "door", "door", 1)
            self.at(10.01, "door", "door", 0)
        for q in range(int(10.25 * 4), int(to_bed * 4)):   # about the living room till 21:30
            self.at(q / 4 + 0.05, "m-liv", "motion")
        for h in (12.0, 18.0):
            self.at(h, "m-kit", "motion")
            self.draw(h + 0.05, 2.0)
        self.at(to_bed + 0.1, "m-bed", "motion")
        self.ev = sorted((e for e in self.ev if e.device not in silent), key=lambda e: e.ts)
        return self


def _features(day: Day) -> np.ndarray:
    nxt = Event(day.d0 + 86400 + 60, "power", "power", 100.0, "other")
    days, X = days_features(INFO, day.ev + [nxt])
    assert days == [day.d0]
    return X[0]


# -- the features of a constructed day ----------------------------------------------------

def test_getting_up_bedtime_and_the_night() -> None:
    x = _features(Day(0).ordinary(night_toilets=(1.0, 3.5)))
    assert x[IDX["wake_h"]] == 7.0                 # the first hour with living-room activity
    assert x[IDX["bed_h"]] == 21.5                 # the last slot outside the bedroom, 21:15-21:30
    # a toilet visit after going to bed is not staying up
    assert _features(Day(0).ordinary().toilet_at(23.2))[IDX["bed_h"]] == 21.5
    assert x[IDX["night_toilet"]] == 2
    assert x[IDX["night_up_slots"]] == 2           # up in the bathroom twice, nothing else
    assert x[IDX["night_away_slots"]] == 0


def test_the_night_is_the_homes_own_evening_to_morning() -> None:
    owl = [Day(i).ordinary(up=9.0, to_bed=23.9, tv_until=0.75, night_toilets=(3.0, 6.0))
           for i in range(14)]
    X = np.vstack([_features(d) for d in owl])
    assert X[0, IDX["sleep_h"]] == 0.75            # the television on till 00:45
    assert _features(Day(0).ordinary())[IDX["sleep_h"]] == 0.0
    # from 01:00 (15 min after the evening ends) to 08:30 (30 min before getting up)
    assert night_window(X) == (4, 34)
    # 00:00-05:00 misses the 06:00 visit (the television is the evening either way: that
    # day's night begins after it); the home's own night counts it
    assert (X[0, IDX["night_toilet"]], X[0, IDX["night_up_slots"]]) == (1, 1)
    night_counts(X, night_window(X))
    assert (X[0, IDX["night_toilet"]], X[0, IDX["night_up_slots"]]) == (2, 2)
    # a night owl up till 02:30 one evening: that night begins at 02:45, 2 h at most later
    # than the usual start; getting up into the living room at 00:45 after an early night is
    # the night, not the evening
    late = Day(20).ordinary(up=9.0, to_bed=23.9, tv_until=2.5, night_toilets=(3.0, 6.0))
    x = _features(late)
    assert x[IDX["sleep_h"]] == 2.5
    night_counts(x[None, :], (4, 34))
    assert (x[IDX["night_toilet"]], x[IDX["night_up_slots"]], x[IDX["night_away_slots"]]) \
        == (2, 2, 0)
    up = Day(21).ordinary(night_toilets=())
    for m in range(45, 120, 5):
        up.at(m / 60, "m-liv", "motion")
    x = _features(up)
    assert x[IDX["sleep_h"]] == 0.0 and x[IDX["night_away_slots"]] == 5
    # an early sleeper's night runs to half an hour before getting up, at least 3 hours
    early = np.vstack([_features(Day(i).ordinary(up=5.5)) for i in range(7)])
    assert night_window(early) == (0, 20)
    late = early.copy()
    late[:, IDX["sleep_h"]], late[:, IDX["wake_h"]] = 2.75, 5.0
    assert night_window(late) == (12, 24)        # from 03:00 at the latest, three hours


def test_a_night_owls_toilet_visits_are_counted_in_its_own_night() -> None:
    def owl(i: int, toilets: tuple[float, ...]) -> Day:
        return Day(i).ordinary(up=9.0, to_bed=23.9, tv_until=0.75, night_toilets=toilets)
    days = [owl(i, (3.0, 6.0)) for i in range(14)] + [owl(14, (2.0, 3.0, 4.0, 5.5, 6.5, 7.5))]
    found = _run(days, days[14].d0 + 86400 + 1)
    assert [(f.kind, f.evidence) for f in found] == [
        ("routine_night_toilet", {"count": 6, "usual": 2})]
    # the television past midnight every night is not being up at night
    assert _run([owl(i, (3.0, 6.0)) for i in range(15)], DAY0 + 15 * 86400 + 1) == []


def test_a_day_out_is_not_a_day_in_bed() -> None:
    # up in the bedroom and out of the door at 08:00 till 19:00 (a basic kit: no kitchen or
    # living-room sign before leaving): up at 08:00, the day out is not hours in the bedroom
    d = Day(0)
    d.meter()
    d.at(7.5, "m-bed", "motion")
    d.at(8.0, "door", "door", 1)
    d.at(8.01, "door", "door", 0)
    d.at(19.0, "door", "door", 1)
    d.at(19.01, "door", "door", 0)
    for q in range(19 * 4 + 1, 22 * 4):
        d.at(q / 4 + 0.05, "m-liv", "motion")
    d.at(22.1, "m-bed", "motion")
    d.ev.sort(key=lambda e: e.ts)
    x = _features(d)
    assert x[IDX["wake_h"]] == 8.0
    assert x[IDX["hours_bedroom"]] == 8.0 + 2.0        # 00:00-08:00 and 22:00-24:00
    assert x[IDX["bed_h"]] == 22.0
    # out again at 23:00 and not back by midnight: when they went to bed is not known
    d.at(23.0, "door", "door", 1)
    d.at(23.01, "door", "door", 0)
    assert np.isnan(_features(d)[IDX["bed_h"]])


def test_wandering_at_night_is_time_outside_bedroom_and_bathroom() -> None:
    x = _features(Day(0).ordinary(night_kitchen=True))
    assert x[IDX["night_away_slots"]] == 3         # 02:40-03:10 in the kitchen: three slots
    assert x[IDX["night_up_slots"]] == 4           # and the toilet at 02:00


def test_meals_kitchen_and_water_around_meal_times() -> None:
    x = _features(Day(0).ordinary())
    assert x[IDX["kitchen_morning"]] == 2          # 07:06 and 07:18 are in two slots
    assert x[IDX["kitchen_midday"]] == 1
    assert x[IDX["kitchen_evening"]] == 1
    assert x[IDX["water_morning"]] == 3.0 + 50.0   # breakfast and the shower
    assert x[IDX["water_midday"]] == 2.0
    assert x[IDX["kitchen_day"]] == 4
    assert x[IDX["meal_morning"]] == 7             # five PIR signs, the fridge opened and shut
    assert x[IDX["food_morning"]] == 1             # the fridge opened once
    assert x[IDX["food_midday"]] == 0
    assert x[IDX["day_morning"]] >= 4              # up and at home that morning
    y = _features(Day(1).ordinary(breakfast=False))
    assert y[IDX["kitchen_morning"]] == 0 and y[IDX["water_morning"]] == 50.0


def test_shower_outings_water_and_power() -> None:
    x = _features(Day(0).ordinary(night_toilets=(2.0,)))
    assert x[IDX["shower"]] == 1
    assert x[IDX["outings"]] == 4                  # out and back: the door twice each way
    assert x[IDX["water_l"]] == 5 + 3 + 50 + 2 + 2
    assert abs(x[IDX["power_kwh"]] - 2.4) < 0.05   # 100 W all day
    d = Day(1).alive("water")
    d.meter()
    d.at(8.5, "m-bath", "motion")                  # bathroom, but only a little water
    d.draw(8.55, 5.0)
    d.ev.sort(key=lambda e: e.ts)
    assert _features(d)[IDX["shower"]] == 0


def test_time_per_room_activity_and_pace() -> None:
    x = _features(Day(0).ordinary(night_toilets=()))
    # in bed till 07:00 and from 21:30 (the slot after the last living-room one)
    assert x[IDX["hours_bedroom"]] == 7.0 + 2.5
    assert x[IDX["hours_living"]] >= 12
    assert x[IDX["active_slots"]] >= 50 and usable(x)
    assert x[IDX["activity"]] == sum(1 for e in Day(0).ordinary(night_toilets=()).ev
                                     if e.kind in ("motion", "contact"))
    assert x[IDX["intensity"]] > 1


def test_a_home_without_a_sensor_has_no_value_for_what_it_cannot_see() -> None:
    basic = HomeInfo("r-2", TZ, (DeviceInfo("m-bed", "motion", "bedroom"),
                                 DeviceInfo("m-liv", "motion", "living_room"),
                                 DeviceInfo("power", "power", "other")))
    assert capabilities(basic) == frozenset({"power", "living", "rooms"})
    d = Day(0).ordinary()
    days, X = days_features(basic, [e for e in d.ev if e.device in ("m-bed", "m-liv", "power")]
                            + [Event(d.d0 + 86460, "power", "power", 100.0, "other")])
    x = X[0]
    for f in ("night_toilet", "kitchen_morning", "water_l", "shower", "outings"):
        assert np.isnan(x[IDX[f]]), f
    assert x[IDX["wake_h"]] == 7.0


SILENT = ("door", "power", "m-kit", "c-fridge")     # offline all day: no reading, no heartbeat


def _after_a_day_alive(day: Day) -> np.ndarray:
    """The features of `day` (not the first) after a day with every device alive: its
    devices are known to send heartbeats."""
    before = Day(round((day.d0 - DAY0) / 86400) - 1).ordinary()
    nxt = Event(day.d0 + 86400 + 60, "power", "power", 100.0, "other")
    days, X = days_features(INFO, before.ev + day.ev + [nxt])
    assert days == [before.d0, day.d0]
    return X[1]


def test_a_device_silent_all_day_is_not_seen_rather_than_nothing_done() -> None:
    x = _after_a_day_alive(Day(1).ordinary(silent=SILENT))
    for f in ("outings", "power_kwh", "kitchen_day", "kitchen_morning", "meal_morning",
              "food_morning", "hours_kitchen"):
        assert np.isnan(x[IDX[f]]), f
    assert x[IDX["water_l"]] > 0 and np.isfinite(x[IDX["wake_h"]])   # the rest as it was
    # where no heartbeat was ever heard (a recorded log), silence says nothing of a device
    assert _features(Day(1).ordinary(silent=SILENT))[IDX["outings"]] == 0
    # alive but not used (a heartbeat, nothing else): a day indoors, without the fridge
    idle = Day(1).ordinary(out=False, breakfast=False)
    idle.ev = [e for e in idle.ev if e.device != "c-fridge" or e.kind == "heartbeat"]
    y = _features(idle)
    assert y[IDX["outings"]] == 0 and y[IDX["food_morning"]] == 0
    # the kitchen's PIR offline, the fridge not: the kitchen's signs are both, so neither
    # says the day's kitchen (a breakfast seen by the fridge alone is a few signs, not a meal)
    z = _after_a_day_alive(Day(2).ordinary(silent=("m-kit",)))
    assert np.isnan(z[IDX["meal_morning"]]) and np.isnan(z[IDX["food_morning"]])
    assert z[IDX["outings"]] == 4 and z[IDX["power_kwh"]] > 0
    # the power meter gone at 10:00 (a battery, a plug pulled): the day's power is not known;
    # silent from 01:00 to 05:00 only, it is (the night's heartbeats lost, say)
    d = Day(3).ordinary()
    d.ev = [e for e in d.ev if e.device != "power" or e.ts < d.d0 + 10 * H]
    assert np.isnan(_features(d)[IDX["power_kwh"]])
    d = Day(4).ordinary()
    d.ev = [e for e in d.ev if e.device != "power" or not d.d0 + H < e.ts < d.d0 + 5 * H]
    assert _features(d)[IDX["power_kwh"]] > 0


def test_a_day_with_sensors_offline_is_not_a_day_unlike_usual() -> None:
    # the door sensor, the power meter and the kitchen's sensors offline for a day read as no
    # outing, no power and no kitchen: a day "unlike usual" told to the family for a battery
    days = [Day(i).ordinary() for i in range(15)]
    days.append(Day(15).ordinary(silent=SILENT))
    days.append(Day(16).ordinary())
    assert _run(days, days[16].d0 + 3600) == []
    # the same day, seen: at home all day, no kitchen and little power is unlike usual
    days[15] = Day(15).ordinary(out=False, breakfast=False)
    days[15].ev = [e for e in days[15].ev if e.device not in ("m-kit", "c-fridge", "power")
                   or e.kind == "heartbeat"]
    assert "routine_activity" in [f.kind for f in _run(days, days[16].d0 + 3600)]


def test_the_robust_score_has_a_floor_on_the_spread() -> None:
    X = np.vstack([_features(Day(i).ordinary()) for i in range(7)])   # seven identical days
    m = RobustModel().fit(X)
    x = X[0].copy()
    x[IDX["night_toilet"]] = 2                     # one visit more than every day so far
    z = m.z(x)
    assert 0 < z[IDX["night_toilet"]] < 1.5        # not alarming: the floor is one visit's worth
    x[IDX["wake_h"]] = 6.0                         # up earlier is not worrying
    assert m.z(x)[IDX["wake_h"]] < 0


def test_a_day_without_going_out_counts_in_the_days_score() -> None:
    # out every morning for a week; a day at home is one sign of being unwell, not a finding
    m = RobustModel().fit(np.vstack([_features(Day(i).ordinary()) for i in range(7)]))
    usual, stayed_in = _features(Day(7).ordinary()), _features(Day(7).ordinary(out=False))
    # four passages fewer, against a spread of 1.5 passages widened x1.4 from a week
    assert stayed_in[IDX["outings"]] == 0 and 1.8 < m.z(stayed_in)[IDX["outings"]] < 1.9
    assert m.score(usual) < 0.5 < m.score(stayed_in) < UNUSUAL


def test_a_night_owls_evening_past_midnight_is_named_but_not_scored() -> None:
    # up till 01:30 every night; one evening over at 00:15: still past midnight (bed_h is
    # midnight either way). How far past midnight it went is a deviation the evidence can
    # name, but not in the day's score: on the first days of an illness it hardly moves,
    # against a night owl's bedtimes that vary by hours
    owl = RobustModel().fit(np.vstack([_features(Day(i).ordinary(up=9.0, to_bed=23.9,
                                                                  tv_until=1.5))
                                       for i in range(7)]))
    early = _features(Day(7).ordinary(up=9.0, to_bed=23.9, tv_until=0.25))
    z = owl.z(early)
    assert z[IDX["bed_h"]] == 0 and z[IDX["sleep_h"]] > 1.5
    assert "sleep_h" not in CORE and owl.score(early) < 1.0
    # a home asleep by midnight: its evenings say nothing past midnight (bed_h says when)
    usual = RobustModel().fit(np.vstack([_features(Day(i).ordinary()) for i in range(7)]))
    assert np.isnan(usual.z(_features(Day(7).ordinary(tv_until=0.5)))[IDX["sleep_h"]])


# -- the rule ---------------------------------------------------------------------------

def _run(days: list[Day], until: float, info: HomeInfo = INFO) -> list[Finding]:
    """Learn the first 14 days, then live through the rest as the service would."""
    have = {d.uid for d in info.devices}
    hist = [e for d in days[:14] for e in d.ev if e.device in have]
    live = [e for d in days[14:] for e in d.ev if e.ts <= until and e.device in have]
    m = HomeMonitor(info, DetectorConfig())
    m.learn(hist, days[14].d0)
    out: list[Finding] = []
    for e in live:
        out += m.observe(e)
    out += m.advance(until)
    return [f for f in out if f.kind.startswith("routine_")]


def test_a_night_with_four_toilet_visits_after_fourteen_ordinary_ones() -> None:
    days = [Day(i).ordinary() for i in range(14)]
    days.append(Day(14).ordinary(night_toilets=(0.5, 1.5, 2.5, 3.5)))
    found = _run(days, days[14].d0 + 86400 + 1)
    night = [f for f in found if f.kind == "routine_night_toilet"]
    assert len(night) == 1 and night[0].state == "open" and night[0].severity == "low"
    assert night[0].evidence == {"count": 4, "usual": 1}
    assert night[0].text["zh-CN"] == "夜间如厕 4 次，平时 1 次。"
    assert night[0].text["en"] == "4 toilet visits last night, usually 1."
    # an ordinary day says nothing of the kind
    assert _run([Day(i).ordinary() for i in range(15)], DAY0 + 15 * 86400 + 1) == []


def test_a_reading_stamped_at_midnight_itself_does_not_lose_the_day() -> None:
    days = [Day(i).ordinary() for i in range(14)]
    days.append(Day(14).ordinary(night_toilets=(0.5, 1.5, 2.5, 3.5)))
    days[14].at(24.0, "m-bed", "motion")          # 00:00:00 of the next day, before midnight ran
    found = _run(days, days[14].d0 + 86400 + 1)
    assert [f.evidence for f in found if f.kind == "routine_night_toilet"] == [
        {"count": 4, "usual": 1}]


def test_meals_and_showers_with_a_sensor_offline_for_days() -> None:
    kitchen = ("m-kit", "c-fridge")
    # two days with the kitchen's sensors offline are not two mornings without breakfast
    days = [Day(i).ordinary() for i in range(21)]
    days += [Day(21).ordinary(silent=kitchen), Day(22).ordinary(silent=kitchen)]
    assert [f for f in _run(days, days[22].d0 + 86400 + 60) if f.kind == "routine_meals"] == []
    # and once they are back, two mornings without breakfast are still told: the days they
    # were offline are left out of how often the home misses one, not counted as misses
    days += [Day(23).ordinary(breakfast=False), Day(24).ordinary(breakfast=False)]
    meals = [f for f in _run(days, days[24].d0 + 11.5 * H) if f.kind == "routine_meals"]
    assert [f.evidence["part"] for f in meals] == ["morning"]
    # a shower every day; the water meter offline for eight days, then a day without one:
    # a gap of one day, not of nine
    days = [Day(i).ordinary() for i in range(21)]
    days += [Day(i).ordinary(silent=("water",)) for i in range(21, 29)]
    days.append(Day(29).ordinary(shower=False))
    assert [f for f in _run(days, days[29].d0 + 86400 + 60) if f.kind == "routine_shower"] == []


def test_two_mornings_without_the_kitchen_open_at_eleven() -> None:
    # three weeks of breakfasts: yesterday's missed one is one day in 22 of the home's days
    days = [Day(i).ordinary() for i in range(21)]
    days += [Day(21).ordinary(breakfast=False), Day(22).ordinary(breakfast=False)]
    found = _run(days, days[22].d0 + 11.5 * H)
    meals = [f for f in found if f.kind == "routine_meals"]
    assert len(meals) == 1 and meals[0].severity == "medium"
    # judged on the first reading after 11:00 on the second day, not at midnight
    assert days[22].d0 + 11 * H <= meals[0].at < days[22].d0 + 11.5 * H
    assert meals[0].evidence == {"days": 2, "part": "morning", "opened": 0, "usual_opened": 1}
    assert meals[0].text["zh-CN"] == "连续 2 天上午没有开过冰箱或橱柜（平时约 1 次）。"
    assert meals[0].text["en"] == ("The fridge and cupboards not opened in the morning for 2 days"
                                   " in a row (usual openings: 1).")
    # one morning alone is not enough
    assert [f for f in _run(days[:22], days[21].d0 + 86400 + 11.5 * H)
            if f.kind == "routine_meals"] == []
    # a home without a kitchen contact: the kitchen PIR says it
    no_fridge = HomeInfo("r-2", TZ, tuple(d for d in DEVICES if d.uid != "c-fridge"))
    meals = [f for f in _run(days, days[22].d0 + 11.5 * H, no_fridge) if f.kind == "routine_meals"]
    assert [f.text["zh-CN"] for f in meals] == ["连续 2 天上午无厨房活动。"]
    assert meals[0].text["en"] == "No kitchen activity in the morning for 2 days in a row."


def _three_meals(i: int, skip: tuple[str, ...] = ()) -> Day:
    """An ordinary day with breakfast, lunch and dinner in the kitchen, less those skipped."""
    d = Day(i).ordinary(breakfast="morning" not in skip)
    for part, h in (("midday", 12.1), ("evening", 18.1)):
        if part not in skip:
            d.breakfast(h)
    d.ev.sort(key=lambda e: e.ts)
    return d


def test_meal_times_skipped_one_after_another() -> None:
    # three weeks of three meals a day, then dinner and the next breakfast missed: each alone is
    # one day in 23, a pair of them once in 500 days, told at 11:00 with the words of a run
    days = [_three_meals(i) for i in range(21)]
    days += [_three_meals(21, skip=("evening",)), _three_meals(22, skip=("morning",))]
    meals = [f for f in _run(days, days[22].d0 + 11.5 * H) if f.kind == "routine_meals"]
    assert [(f.at >= days[22].d0 + 11 * H, f.evidence) for f in meals] == [
        (True, {"meals": 2, "since_day": 1, "since_part": "evening", "part": "morning",
                "opened": 0, "usual_opened": 1})]
    assert meals[0].text["zh-CN"] == "连续 2 个饭点没有吃饭的迹象（从昨天晚饭起，平时很少错过）。"
    assert meals[0].text["en"] == ("No sign of a meal at 2 meal times in a row, since yesterday's"
                                   " dinner (seldom missed).")
    # a whole day without a meal is told at its midnight
    whole = days[:21] + [_three_meals(21, skip=("morning", "midday", "evening"))]
    meals = [f for f in _run(whole, whole[21].d0 + 86400 + 1) if f.kind == "routine_meals"]
    assert [(f.at, f.evidence["meals"], f.evidence["since_part"]) for f in meals] == \
        [(whole[21].d0 + 86400, 3, "morning")]
    # a meal between two missed ones ends the run
    eaten = days[:21] + [_three_meals(21, skip=("morning", "evening"))]
    assert [f for f in _run(eaten, eaten[21].d0 + 86400 + 1) if f.kind == "routine_meals"] == []


def test_a_run_of_missed_meals_goes_on_across_a_restart() -> None:
    # dinner missed, then the service restarts at 00:30 and learns from the history: the
    # next breakfast missed is still the second of a run
    days = [_three_meals(i) for i in range(21)]
    days += [_three_meals(21, skip=("evening",)), _three_meals(22, skip=("morning",))]
    m = HomeMonitor(INFO, DetectorConfig())
    m.learn([e for d in days[:22] for e in d.ev], days[22].d0 + 0.5 * H)
    found: list[Finding] = []
    for e in days[22].ev:
        if days[22].d0 + 0.5 * H <= e.ts <= days[22].d0 + 11.5 * H:
            found += m.observe(e)
    found += m.advance(days[22].d0 + 11.5 * H)
    assert [(f.evidence["meals"], f.evidence["since_part"]) for f in found
            if f.kind == "routine_meals"] == [(2, "evening")]


def test_a_home_that_often_skips_meals_is_not_told_of_a_few_in_a_row() -> None:
    # one meal time in three skipped, at random: three in a row is an ordinary week's event
    rng = random.Random(7)
    days = [_three_meals(i, skip=tuple(p for p in ("morning", "midday", "evening")
                                       if rng.random() < 1 / 3)) for i in range(21)]
    days += [_three_meals(21, skip=("midday", "evening")), _three_meals(22, skip=("morning",))]
    assert [f for f in _run(days, days[22].d0 + 11.5 * H) if f.kind == "routine_meals"] == []
    # the same run where meals are never missed is told, at the midnight of its second
    days = [_three_meals(i) for i in range(21)] + days[21:]
    assert [(f.at, f.evidence["meals"]) for f in _run(days, days[22].d0 + 11.5 * H)
            if f.kind == "routine_meals"] == [(days[21].d0 + 86400, 2)]


def test_pottering_in_the_kitchen_is_not_a_meal_where_the_fridge_says_so() -> None:
    # two mornings without breakfast, in and out of the kitchen six times instead
    days = [Day(i).ordinary() for i in range(21)]
    days += [Day(21).ordinary(breakfast=False), Day(22).ordinary(breakfast=False)]
    for d in days[21:]:
        for m in range(6):
            d.at(7.5 + m * 0.3, "m-kit", "motion")
        d.ev.sort(key=lambda e: e.ts)
    found = _run(days, days[22].d0 + 11.5 * H)
    assert [f.evidence["opened"] for f in found if f.kind == "routine_meals"] == [0]
    # the kitchen PIR alone takes the pottering for a meal
    no_fridge = HomeInfo("r-2", TZ, tuple(d for d in DEVICES if d.uid != "c-fridge"))
    assert [f for f in _run(days, days[22].d0 + 11.5 * H, no_fridge)
            if f.kind == "routine_meals"] == []


def test_a_home_that_often_skips_breakfast_is_not_told_it_skipped_two() -> None:
    # breakfast missed on 2 of 21 days, and yesterday: two mornings without it by chance
    # now and then
    days = [Day(i).ordinary(breakfast=i not in (5, 12)) for i in range(21)]
    days += [Day(21).ordinary(breakfast=False), Day(22).ordinary(breakfast=False)]
    assert [f for f in _run(days, days[22].d0 + 11.5 * H) if f.kind == "routine_meals"] == []


def test_wandering_growing_over_a_week() -> None:
    days = [Day(i).ordinary() for i in range(21)]
    days += [Day(21 + i).ordinary(night_kitchen=True) for i in range(5)]
    hist = [e for d in days[:21] for e in d.ev]
    m = HomeMonitor(INFO, DetectorConfig())
    m.learn(hist, days[21].d0)
    out: list[Finding] = []
    for e in (e for d in days[21:] for e in d.ev):
        out += m.observe(e)
    out += m.advance(days[-1].d0 + 86400 + 1)
    w = [f for f in out if f.kind == "routine_wandering"]
    assert len(w) == 1 and w[0].severity == "medium"
    assert w[0].evidence["nights"] >= 3 and w[0].evidence["usual_per_week"] == 0
    assert "晚半夜在卧室外走动" in w[0].text["zh-CN"]


def test_kinds_are_switchable_worded_and_low_or_medium() -> None:
    assert set(KINDS) <= set(DETECTORS)
    assert any(set(KINDS) <= set(r.kinds) for r in RULES)
    for k in KINDS:
        for lang in i18n.LANGS:
            assert i18n.has(lang, f"kind.{k}"), (lang, k)
    off = DetectorConfig(enabled=frozenset(DETECTORS) - {"routine_night_toilet"})
    days = [Day(i).ordinary() for i in range(14)]
    days.append(Day(14).ordinary(night_toilets=(0.5, 1.5, 2.5, 3.5)))
    m = HomeMonitor(INFO, off)
    m.learn([e for d in days[:14] for e in d.ev], days[14].d0)
    out = [f for e in days[14].ev for f in m.observe(e)] + m.advance(days[14].d0 + 86401)
    assert not [f for f in out if f.kind == "routine_night_toilet"]
    # every feature a routine_activity finding may name has words in both languages
    from detectors.routine_features import FEATURES, RAW
    for f in FEATURES:
        if f in RAW:
            continue          # the night's slots as bits: never named
        for lang in i18n.LANGS:
            assert i18n.has(lang, f"finding.routine_change.{f}"), (lang, f)
    t = texts.render("routine_activity", "open", {"days": 2, "changes": [
        {"feature": "wake_h", "value": 9.5, "usual": 7.25},
        {"feature": "hours_bedroom", "value": 13.0, "usual": 8.5}]})
    assert t["zh-CN"] == "近2天的生活规律和平时不一样：起床 09:30，平时 07:15；在卧室约13小时，平时约8小时30分钟。"
    # a night owl's evening: past midnight, or over before it
    for v, zh, en in ((0.25, "夜里 00:15 上床休息，平时 01:30", "to bed at 00:15 after midnight"),
                      (0.0, "午夜前就上床休息了，平时夜里 01:30", "to bed before midnight")):
        t = texts.render("routine_activity", "open", {"days": 1, "changes": [
            {"feature": "sleep_h", "value": v, "usual": 1.5}]})
        assert zh in t["zh-CN"] and en in t["en"], t


def test_a_small_change_that_persists_opens_after_days_not_at_once() -> None:
    # up an hour later and to bed an hour earlier: each day alone is within the usual
    # (a day's score under the opening), five or so in a row are a decline
    days = [Day(i).ordinary() for i in range(14)]
    days += [Day(14 + i).ordinary(up=8.0, to_bed=20.5) for i in range(7)]
    three = _run(days, days[16].d0 + 86400 + 1)
    assert [f for f in three if f.kind == "routine_activity"] == []
    found = [f for f in _run(days, days[-1].d0 + 86400 + 1) if f.kind == "routine_activity"]
    assert len(found) == 1 and found[0].state == "open" and found[0].severity == "medium"
    ev = found[0].evidence
    assert 4 <= ev["days"] <= 7 and ev["score"] >= 5.0
    assert found[0].at >= days[17].d0 + 86400      # not before the fourth such day is over
    named = {c["feature"]: c for c in ev["changes"]}
    assert named["wake_h"]["value"] == 8.0 and named["wake_h"]["usual"] == 7.0
    assert found[0].text["zh-CN"].startswith(f"近{ev['days']}天的生活规律和平时不一样")
    assert "起床 08:00，平时 07:00" in found[0].text["zh-CN"]
    # back to the usual days: the sum drains and the finding clears
    days += [Day(21 + i).ordinary() for i in range(8)]
    after = [f for f in _run(days, days[-1].d0 + 86400 + 1) if f.kind == "routine_activity"]
    assert [f.state for f in after] == ["open", "clear"]


def test_an_illness_after_recovery_opens_again() -> None:
    # three days unwell (up at 10:30, to bed at 19:00, no breakfast, the toilet four times a
    # night), three ordinary days, then two unwell again: two findings, the first cleared
    # when the days were back even though the days' sum still remembered the first spell
    def ill(i: int) -> Day:
        return Day(i).ordinary(up=10.5, to_bed=19.0, breakfast=False,
                               night_toilets=(0.5, 1.5, 2.5, 3.5))
    days = [Day(i).ordinary() for i in range(14)] + [ill(14), ill(15), ill(16)]
    days += [Day(17 + i).ordinary() for i in range(3)] + [ill(20), ill(21)]
    found = [f for f in _run(days, days[-1].d0 + 86400 + 1) if f.kind == "routine_activity"]
    assert [f.state for f in found] == ["open", "clear", "open"]
    assert found[0].at == days[14].d0 + 86400           # at the first unwell day's midnight
    assert days[17].d0 + 86400 <= found[1].at <= days[19].d0 + 86400
    assert days[20].d0 + 86400 <= found[2].at <= days[21].d0 + 86400


def test_an_illness_a_day_after_the_last_is_a_finding_of_its_own() -> None:
    # three days unwell, one ordinary day, two unwell again: the first finding clears on the
    # ordinary day, the second spell opens its own
    def ill(i: int) -> Day:
        return Day(i).ordinary(up=10.5, to_bed=19.0, breakfast=False,
                               night_toilets=(0.5, 1.5, 2.5, 3.5))
    days = [Day(i).ordinary() for i in range(14)] + [ill(14), ill(15), ill(16)]
    days += [Day(17).ordinary(), ill(18), ill(19)]
    found = [f for f in _run(days, days[-1].d0 + 86400 + 1) if f.kind == "routine_activity"]
    assert [f.state for f in found] == ["open", "clear", "open"]
    assert found[1].at == days[17].d0 + 86400
    assert days[18].d0 + 86400 <= found[2].at <= days[19].d0 + 86400


def test_routine_limits_are_settings_of_a_home() -> None:
    from detectors.config import ConfigError, merge
    days = [Day(i).ordinary() for i in range(14)]
    days.append(Day(14).ordinary(night_toilets=(0.5, 1.5, 2.5, 3.5)))
    cfg = merge(None, {"routine.night_toilet_more": 4})       # four more than usual, not three
    m = HomeMonitor(INFO, cfg)
    m.learn([e for d in days[:14] for e in d.ev], days[14].d0)
    out = [f for e in days[14].ev for f in m.observe(e)] + m.advance(days[14].d0 + 86401)
    assert not [f for f in out if f.kind == "routine_night_toilet"]
    with pytest.raises(ConfigError, match=r"routine.day_score=0.5: expected 1.5..10"):
        merge(None, {"routine": {"day_score": 0.5}})


def test_getting_up_early_is_the_morning_not_the_night() -> None:
    usual = np.vstack([_features(Day(i).ordinary()) for i in range(7)])
    night = night_window(usual)
    assert night == (0, 26)                       # to 06:30, half an hour before getting up
    # up at 05:00 for the day, in the living room and the kitchen: not up in the night
    x = night_counts(_features(Day(7).ordinary(up=5.0))[None, :], night)[0]
    assert x[IDX["wake_h"]] == 5.0
    assert (x[IDX["night_toilet"]], x[IDX["night_up_slots"]], x[IDX["night_away_slots"]]) \
        == (1, 1, 0)
    # the kitchen at 02:40 on a night before an early morning is still the night
    x = night_counts(_features(Day(8).ordinary(up=5.0, night_kitchen=True))[None, :], night)[0]
    assert x[IDX["night_away_slots"]] == 3


def test_a_week_learned_is_too_little_to_call_three_nights_wandering() -> None:
    def found(learned: int) -> list[Finding]:
        days = [Day(i).ordinary() for i in range(learned)]
        days += [Day(learned + i).ordinary(night_kitchen=i in (1, 3, 5)) for i in range(7)]
        m = HomeMonitor(INFO, DetectorConfig())
        m.learn([e for d in days[:learned] for e in d.ev], days[learned].d0)
        out: list[Finding] = []
        for e in (e for d in days[learned:] for e in d.ev):
            out += m.observe(e)
        out += m.advance(days[-1].d0 + 86400 + 1)
        return [f for f in out if f.kind == "routine_wandering"]
    # three nights in a week after three weeks without: a change
    assert [f.evidence for f in found(21)] == [{"nights": 3, "usual_per_week": 0}]
    # after one week without: one such week in nine is chance (Laplace's rule), not a change
    assert found(7) == []


def test_a_missed_meal_on_an_unusual_day_still_counts_as_missed() -> None:
    # breakfast missed on 2 of 20 days, then on two more, the first of them a day also spent
    # mostly in bed (not learned from): the home misses breakfast too often for a pair to say
    # anything, whether or not the first of the pair was learned
    days = [Day(i).ordinary(breakfast=i not in (5, 12)) for i in range(20)]
    days += [Day(20).ordinary(breakfast=False, up=10.0, to_bed=18.0),
             Day(21).ordinary(breakfast=False)]
    assert [f.evidence for f in _run(days, days[21].d0 + 86400 + 1)
            if f.kind == "routine_activity"]       # the day in bed is unusual
    assert [f for f in _run(days, days[21].d0 + 11.5 * H) if f.kind == "routine_meals"] == []


def test_two_unusual_days_running_are_a_finding_neither_is_alone() -> None:
    # up at 08:45 instead of 07:00 and to bed at 20:30: each day unusual (not learned from),
    # neither near the limit, and their mean under it too
    def days(second: bool) -> list[Day]:
        out = [Day(i).ordinary() for i in range(14)] + [Day(14).ordinary(up=8.75, to_bed=20.5)]
        return out + [Day(15).ordinary(up=8.75, to_bed=20.5) if second else Day(15).ordinary()]
    both = days(True)
    found = [f for f in _run(both, both[15].d0 + 86400 + 1) if f.kind == "routine_activity"]
    assert [(f.at, f.evidence["days"]) for f in found] == [(both[15].d0 + 86400, 2)]
    assert [c["feature"] for c in found[0].evidence["changes"]] == ["wake_h", "hours_bedroom"]
    one = days(False)
    assert [f for f in _run(one, one[15].d0 + 86400 + 1) if f.kind == "routine_activity"] == []


def test_no_shower_for_longer_than_any_gap_learned() -> None:
    # a shower every day for two weeks, then none: six days without is the finding (at least
    # routine.shower_days, and three more than the longest gap learned), in words; the days
    # of the gap under way are learned too, but are not a gap learned before it
    days = [Day(i).ordinary() for i in range(14)] + \
        [Day(14 + i).ordinary(shower=False) for i in range(6)] + [Day(20).ordinary()]
    found = [f for f in _run(days, days[20].d0 + 86400 + 1) if f.kind == "routine_shower"]
    assert [(f.state, f.at) for f in found] == [("open", days[19].d0 + 86400),
                                               ("clear", days[20].d0 + 86400)]
    assert found[0].severity == "low" and found[0].evidence == {"days": 6, "usual_max": 0}
    assert found[0].text["zh-CN"] == "已经 6 天没有洗澡，平时最多隔 0 天。"
    # a shower every third day: six days without (routine.shower_days) is already far past
    # its gaps of two
    third = [Day(i).ordinary(shower=i % 3 == 0) for i in range(13)] + \
        [Day(13 + i).ordinary(shower=False) for i in range(6)]
    found = [f for f in _run(third, third[18].d0 + 86400 + 1) if f.kind == "routine_shower"]
    assert [(f.at, f.evidence) for f in found] == [(third[18].d0 + 86400,
                                                    {"days": 6, "usual_max": 2})]
    # a home whose gaps were two to four days: seven days without is three past the longest,
    # but three gaps that differ by two are too few to call seven rare; ten days are
    gaps = [Day(i).ordinary(shower=i % 5 == 0 or i == 13) for i in range(14)] + \
        [Day(14 + i).ordinary(shower=False) for i in range(10)]
    found = [f for f in _run(gaps, gaps[23].d0 + 86400 + 1) if f.kind == "routine_shower"]
    assert [(f.at, f.evidence) for f in found] == [(gaps[23].d0 + 86400,
                                                    {"days": 10, "usual_max": 4})]


def test_the_rare_gap_between_showers_is_the_homes_own() -> None:
    # like clockwork every third day: three days past its gaps (the floor of six decides)
    assert _rare_gap([2, 2, 2, 2, 2, 2]) == 5
    # on a random three days in ten (gaps of 0 to 5 days in three weeks) a gap of eight (the
    # longest + 3) comes now and then: ten is one in a hundred of theirs
    assert _rare_gap([0, 3, 1, 5, 2, 0, 1]) == 10
    assert _rare_gap([0, 3, 1, 5, 2, 0, 1] * 3) == 10


def test_a_day_of_recovery_ends_the_finding_so_a_relapse_is_its_own() -> None:
    # two days unwell, a day nearly back (up at 08:00 and to bed at 20:30: not unusual enough
    # to be left out of learning, though its mean with the day before is still over the
    # limit), then unwell again: the first finding clears on that day, the relapse opens one
    def ill(i: int) -> Day:
        return Day(i).ordinary(up=10.5, to_bed=19.0, breakfast=False,
                               night_toilets=(0.5, 1.5, 2.5, 3.5))
    days = [Day(i).ordinary() for i in range(14)] + [ill(14), ill(15)]
    days += [Day(16).ordinary(up=8.0, to_bed=20.5), ill(17)]
    found = [f for f in _run(days, days[-1].d0 + 86400 + 1) if f.kind == "routine_activity"]
    assert [(f.state, f.at) for f in found] == [("open", days[14].d0 + 86400),
                                               ("clear", days[16].d0 + 86400),
                                               ("open", days[17].d0 + 86400)]
    assert 1.2 < found[1].evidence["score"] < 2.0


def test_a_night_like_one_seen_on_an_unusual_day_is_not_news() -> None:
    # four toilet visits on a night of an unwell day (not learned from) and again a week
    # later on an ordinary day: the second is a night the home has had, not a new finding
    days = [Day(i).ordinary() for i in range(14)]
    days.append(Day(14).ordinary(up=10.5, to_bed=19.0, breakfast=False,
                                 night_toilets=(0.5, 1.5, 2.5, 3.5)))
    days += [Day(15 + i).ordinary() for i in range(6)]
    days.append(Day(21).ordinary(night_toilets=(0.5, 1.5, 2.5, 3.5)))
    found = [f for f in _run(days, days[21].d0 + 86400 + 1)
             if f.kind == "routine_night_toilet" and f.state == "open"]
    assert [f.at for f in found] == [days[14].d0 + 86400]


def test_column_medians_are_nanmedian_without_its_warning() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(28, 36))
    X[:, 5] = np.nan                 # a feature the home cannot see
    X[[3, 9], 7] = np.nan            # a feature missing on two days
    X[:27, 11] = np.nan              # seen once
    with pytest.warns(RuntimeWarning):
        want = np.nanmedian(X, axis=0)
    assert np.array_equal(column_medians(X), want, equal_nan=True)
    assert np.isnan(column_medians(X)[5]) and column_medians(X)[11] == X[27, 11]


def test_kept_days_are_in_day_order_with_their_scores_and_the_oldest_go_first() -> None:
    from detectors.routine import KEEP_DAYS, RoutineMemory
    from detectors.routine_features import NF

    mem = RoutineMemory(INFO)
    rows = {DAY0 + n * 86400: np.full(NF, float(n)) for n in range(KEEP_DAYS + 10)}
    # a restart gathers older days from the history after the newest were closed live
    order = list(rows)[20:] + list(rows)[:20]
    for k in order:
        mem.keep(k, rows[k])
    kept = list(mem.days)
    assert kept == sorted(rows)[-(KEEP_DAYS + 7):]       # the 35 newest, oldest first
    assert all(np.array_equal(mem.days[k], rows[k]) for k in kept)
    assert np.array_equal(mem.days.rows(kept[::-1]), np.vstack([rows[k] for k in kept[::-1]]))
    assert mem.days.rows([]).shape == (0, NF) and mem.days.get(DAY0) is None
    assert DAY0 not in mem.days and kept[0] in mem.days

    k = kept[-1]
    assert mem.days.score_of(k) is None and mem.days.score_of(k, 0.0) == 0.0
    mem.days.set_score(k, 2.5)
    mem.keep(k, rows[k] + 1)            # a day closed again keeps the score it was judged with
    assert mem.days.score_of(k) == 2.5 and mem.days[k][0] == rows[k][0] + 1
    assert mem.days.judged() == [k]
    with pytest.raises(KeyError):
        mem.days.set_score(DAY0, 1.0)       # a day not kept is not scored in another's row
    # the oldest day goes when a new one comes, and its score with it
    mem.days.set_score(kept[0], 1.0)
    mem.keep(k + 86400, rows[k])
    assert kept[0] not in mem.days and mem.days.judged() == [k]
    # a row read is the kept day itself: the night counted again in place is kept
    mem.days[k][IDX["night_toilet"]] = 9
    assert mem.days.rows([k])[0, IDX["night_toilet"]] == 9


def test_homes_with_the_same_kit_share_one_set_of_capabilities() -> None:
    other = HomeInfo("r-2", TZ, tuple(DeviceInfo("x" + d.uid, d.kind, d.room) for d in DEVICES))
    assert capabilities(other) is capabilities(INFO)
