"""Every injected incident is visible in the readings exactly where the ground truth says."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from simulators import incidents as inc_mod
from simulators.generate import FleetSpec, home_events, write_fleet
from simulators.homes import make_home

ACTIVITY = {"motion", "door", "contact", "presence", "button"}
SPEC = FleetSpec(homes=1, days=7, seed=1)
START, END = SPEC.span()


def _run(kind: str, seed: int = 0, start: int | None = None, duration: int | None = None,
         persona: str = "early_riser", **details):
    h = make_home(random.Random(seed), "t-inc", persona=persona, profile="full")
    rng = random.Random(seed + 1)
    inc = inc_mod.make(kind, h, rng, start, START, END, duration, **details)
    events = [e for c in home_events(h, START, END, [inc]) for e in c]
    return h, inc, events


def _between(events, t0, t1):
    return [e for e in events if t0 <= e[0] < t1]


def _meter(events, kind, t0, t1):
    return [(t, float(v)) for t, _, k, v in events if k == kind and t0 <= t < t1]


@pytest.mark.parametrize("seed", range(12))
def test_collapse_stops_all_activity_until_help_arrives(seed):
    h, inc, events = _run("collapse", seed)
    assert START < inc.start < inc.end <= END
    during = _between(events, inc.start, inc.end)
    assert not [e for e in during if e[2] in ACTIVITY and e[3] == "1"]
    water = _meter(events, "water", inc.start + 60, inc.end)
    assert water[-1][1] == water[0][1]            # no water drawn
    power = _meter(events, "power", inc.start + 60, inc.end)
    assert max(w for _, w in power) < (h.standby_w + h.fridge_w) * 1.1   # standby only
    assert [e for e in during if e[2] == "heartbeat"]                    # heartbeats go on
    before = _between(events, inc.start - 1800, inc.start)
    assert [e for e in before if e[2] in ACTIVITY and e[3] == "1"]      # up and about before
    assert inc.details["room"] in ("bedroom", "living_room", "kitchen", "bathroom", "entrance")


@pytest.mark.parametrize("seed", range(6))
def test_a_collapse_lasts_until_help_comes_a_day_later(seed):
    """Without a given duration nobody gets up again by themselves: 24 h (or the end of the span)
    of stillness, then help comes through the entrance door."""
    h, inc, events = _run("collapse", seed)
    assert inc.end == min(inc.start + inc_mod.COLLAPSE_S, END)
    assert not [e for e in _between(events, inc.start, inc.end) if e[2] in ACTIVITY and e[3] == "1"]
    if inc.end < END - 600:
        door = h.index("door")
        assert [e for e in _between(events, inc.end, inc.end + 600) if e[1] == door]


def test_collapse_happens_in_the_bathroom_too():
    rooms = {_run("collapse", s)[1].details["room"] for s in range(30)}
    assert "bathroom" in rooms and len(rooms) >= 3


def test_collapse_at_a_given_time_is_kept():
    t = START + 2 * 86400 + 10 * 3600
    _, inc, events = _run("collapse", 3, start=t, duration=4 * 3600)
    assert (inc.start, inc.end) == (t, t + 4 * 3600)
    assert not [e for e in _between(events, t, t + 4 * 3600) if e[2] in ACTIVITY and e[3] == "1"]


@pytest.mark.parametrize("seed", range(4))
def test_water_running(seed):
    _, inc, events = _run("water_running", seed)
    w = _meter(events, "water", inc.start, inc.end + 60)
    used = w[-1][1] - w[0][1]
    expect = inc.details["litres_per_min"] * (inc.end - inc.start) / 60
    assert used >= 0.85 * expect
    per_min = [b[1] - a[1] for a, b in zip(w, w[1:-1])]
    assert min(per_min) >= inc.details["litres_per_min"] * 0.85


@pytest.mark.parametrize("seed", range(4))
def test_stove_left_on(seed):
    _, inc, events = _run("stove_left_on", seed)
    p = _meter(events, "power", inc.start + 60, inc.end)
    assert p and min(w for _, w in p) >= inc.details["watts"] * 0.95  # meter noise


def test_door_left_open():
    h, inc, events = _run("door_left_open", 2)
    door = [e for e in events if e[2] == "door"]
    opened = [e for e in door if e[0] == inc.start and e[3] == "1"]
    assert opened
    assert not [e for e in door if inc.start < e[0] < inc.end]
    assert [e for e in door if e[0] == inc.end and e[3] == "0"]


@pytest.mark.parametrize("seed", range(4))
def test_night_wandering_opens_the_door_at_night(seed):
    h, inc, events = _run("night_wandering", seed)
    local = datetime.fromtimestamp(inc.start, inc_mod.ZoneInfo(h.tz))
    assert 0 <= local.hour < 5
    assert [e for e in _between(events, inc.start, inc.end) if e[2] == "door" and e[3] == "1"]


def test_not_returning():
    h, inc, events = _run("not_returning", 1)
    assert [e for e in _between(events, inc.start - 60, inc.start + 1) if e[2] == "door"]
    quiet = _between(events, inc.start + 60, inc.end)
    assert not [e for e in quiet if e[2] in ACTIVITY and e[3] == "1"]
    local_end = datetime.fromtimestamp(inc.end, inc_mod.ZoneInfo(h.tz))
    assert inc.end - inc.start > 6 * 3600 and (local_end.hour < 12 or inc.end == END)


def test_device_offline_and_home_silent():
    h, inc, events = _run("device_offline", 4, device="motion-kitchen")
    dev = h.index("motion-kitchen")
    assert not [e for e in _between(events, inc.start, inc.end) if e[1] == dev]
    assert [e for e in _between(events, inc.start, inc.end) if e[1] != dev]
    assert [e for e in events if e[1] == dev and e[0] >= inc.end] or inc.end >= END - 900
    h, inc, events = _run("home_silent", 5)
    assert not _between(events, inc.start, inc.end)
    assert _between(events, inc.end, inc.end + 900) or inc.end == END


def test_battery_low():
    h, inc, events = _run("battery_low", 6, device="door")
    dev = h.index("door")
    hb = [(t, int(v)) for t, d, k, v in events if d == dev and k == "heartbeat"]
    assert all(v < 15 for t, v in hb if t >= inc.start)
    assert all(v >= 15 for t, v in hb if t < inc.start)


@pytest.mark.parametrize("kind,device", [("smoke", "smoke"), ("gas", "gas"), ("water_leak", "leak")])
def test_alarms(kind, device):
    h, inc, events = _run(kind, 7)
    alarm = [(t, v) for t, d, k, v in events if k == device]
    assert alarm == [(inc.start, "1"), (inc.end, "0")]


def test_button():
    h, inc, events = _run("button", 8)
    assert [(t, v) for t, d, k, v in events if k == "button"] == [(inc.start, "1")]


def test_illness_reduces_activity():
    def acts(evts, t0, t1):
        return len([e for e in _between(evts, t0, t1) if e[2] in ACTIVITY and e[3] == "1"])
    ill = well = 0
    for seed in range(6):
        t = START + 3 * 86400
        _, inc, events = _run("illness", seed, start=t, duration=3 * 86400, fraction=0.6)
        ill += acts(events, inc.start, inc.end)
        well += acts(events, START, START + 3 * 86400)
    assert ill < 0.75 * well


def test_ground_truth_file_matches_the_events(tmp_path):
    spec = FleetSpec(homes=12, days=7, seed=9, incidents_per_home_week=2)
    write_fleet(spec, tmp_path, workers=1, progress=False)
    import csv
    import json
    truth = [json.loads(x) for x in (tmp_path / "incidents.jsonl").read_text().splitlines()]
    assert truth and {"home", "kind", "start", "end", "details"} <= set(truth[0])
    assert set(t["kind"] for t in truth) <= set(inc_mod.KINDS)
    collapses = [t for t in truth if t["kind"] == "collapse"]
    with open(tmp_path / "events.csv") as f:
        rows = list(csv.DictReader(f))
    for t in collapses:
        s, e = datetime.fromisoformat(t["start"]), datetime.fromisoformat(t["end"])
        bad = [r for r in rows if r["home"] == t["home"] and r["kind"] in ACTIVITY
               and r["value"] == "1" and s <= datetime.fromisoformat(r["ts"]) < e]
        assert not bad
    assert list(inc_mod.KINDS)[0] == "collapse"
