"""Statistical properties of the simulated residents, per persona."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulators import personas
from simulators.generate import home_events, local_midnight
from simulators.homes import make_home
from simulators.resident import plan_day

TZ = ZoneInfo("Asia/Shanghai")
START = local_midnight(datetime(2024, 3, 4).date(), TZ)   # a Monday
DAYS = 14


def _plans(persona: str, homes: int = 6, days: int = DAYS):
    out = []
    for h in range(homes):
        rng = random.Random(f"{persona}:{h}")
        w0 = START
        for d in range(days):
            day = datetime(2024, 3, 4).date() + timedelta(days=d)
            day0 = local_midnight(day, TZ)
            p = plan_day(rng, personas.get(persona), day0, w0, day.weekday())
            out.append((day, day0, p))
            w0 = p.w1
    return out


def _wake_hours(plans, weekend: bool | None = None):
    return [(p.wake - day0) / 3600 for day, day0, p in plans
            if weekend is None or (day.weekday() >= 5) == weekend]


@pytest.mark.parametrize("name,lo,hi", [("early_riser", 5.5, 6.6), ("night_owl", 8.3, 9.9),
                                         ("frail", 6.6, 7.9), ("dementia", 6.0, 8.0)])
def test_wake_time_mean_per_persona(name, lo, hi):
    hours = _wake_hours(_plans(name), weekend=False)
    assert lo <= statistics.mean(hours) <= hi


def test_wake_time_spread_differs_by_persona():
    sd = {n: statistics.stdev(_wake_hours(_plans(n), weekend=False)) for n in personas.PERSONAS}
    assert 0.2 < sd["early_riser"] < 0.6
    assert sd["dementia"] > 2 * sd["early_riser"]
    assert sd["night_owl"] > sd["early_riser"]


def test_weekend_lie_in():
    plans = _plans("night_owl", homes=10, days=14)
    assert statistics.mean(_wake_hours(plans, True)) > statistics.mean(_wake_hours(plans, False)) + 0.2


def test_night_toilet_visits_per_persona():
    mean = {n: statistics.mean(p.night_toilets for _, _, p in _plans(n)) for n in personas.PERSONAS}
    for n, v in mean.items():
        assert abs(v - personas.get(n).night_toilet_mean) < 0.6, (n, v)
    assert mean["frail"] > mean["early_riser"] > mean["night_owl"] - 0.3


def test_meals_and_outings():
    er, de = _plans("early_riser"), _plans("dementia")
    assert statistics.mean(p.meals for *_, p in er) > 2.7
    assert statistics.mean(p.meals for *_, p in de) < statistics.mean(p.meals for *_, p in er)
    fr = _plans("frail")
    assert statistics.mean(len(p.outings) for *_, p in fr) < \
        statistics.mean(len(p.outings) for *_, p in er)


def _home_stats(persona: str, homes: int = 4):
    """Per home-day: activity events and water litres, from the generated readings."""
    acts, water = [], []
    for i in range(homes):
        h = make_home(random.Random(f"h:{persona}:{i}"), f"t-{i}", persona=persona, profile="full")
        end = START + DAYS * 86400
        n_act = 0
        first = last = None
        for chunk in home_events(h, START, end):
            for ts, dev, kind, value in chunk:
                if kind in ("motion", "door", "contact", "presence") and value == "1":
                    n_act += 1
                elif kind == "water":
                    v = float(value)
                    first = v if first is None else first
                    last = v
        acts.append(n_act / DAYS)
        water.append((last - first) / DAYS)
    return acts, water


@pytest.mark.parametrize("name", list(personas.PERSONAS))
def test_water_per_day_is_that_of_one_elderly_person(name):
    _, water = _home_stats(name)
    for litres in water:
        assert 40 <= litres <= 160, (name, litres)


def test_activity_events_per_day_by_persona():
    per = {n: statistics.mean(_home_stats(n)[0]) for n in personas.PERSONAS}
    for n, v in per.items():
        assert 60 <= v <= 600, (n, v)
    assert per["frail"] < per["early_riser"]
    assert per["frail"] < per["night_owl"]


def test_sensors_are_realistic():
    """PIR blind time, meters every minute at a fixed per-device second, heartbeats every 15 min."""
    h = make_home(random.Random(5), "t-real", persona="early_riser", profile="full")
    events = [e for c in home_events(h, START, START + 3 * 86400) for e in c]
    by_dev: dict[int, list] = {}
    for e in events:
        by_dev.setdefault(e[1], []).append(e)
    for i, d in enumerate(h.devices):
        evs = by_dev[i]
        hb = [t for t, _, k, _ in evs if k == "heartbeat"]
        assert all(b - a == 900 for a, b in zip(hb, hb[1:]))
        assert len(hb) == 3 * 96
        if d.kind == "motion":
            ons = [t for t, _, k, v in evs if k == "motion" and v == "1"]
            assert min(b - a for a, b in zip(ons, ons[1:])) >= 30
        if d.kind in ("water", "power"):
            ticks = [t for t, _, k, _ in evs if k in ("water", "power")]
            assert all(b - a == 60 for a, b in zip(ticks, ticks[1:]))
            assert len({(t - START) % 60 for t in ticks}) == 1
        if d.kind == "power":
            w = [float(v) for _, _, k, v in evs if k == "power"]
            assert min(w) > h.standby_w * 0.9   # the standby load never goes away
            e = [float(v) for _, _, k, v in evs if k == "energy"]
            assert all(b >= a for a, b in zip(e, e[1:]))
        if d.kind == "water":
            w = [float(v) for _, _, k, v in evs if k == "water"]
            assert all(b >= a for a, b in zip(w, w[1:]))
    bat = [int(v) for t, dev, k, v in events if k == "heartbeat" and h.devices[dev].kind == "door"]
    assert bat[-1] <= bat[0]
    # events come out in time order
    assert [e[0] for e in events] == sorted(e[0] for e in events)
