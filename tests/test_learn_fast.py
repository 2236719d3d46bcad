"""The start-up's fast paths learn exactly what the reference does.

A service with 100,000 homes starts by building and learning a monitor per home; the
fast paths share what is the same between homes (the default thresholds, one config per
community, the local noons) and build each monitor once. These tests hold them to the
reference: the same baselines, configs, deadlines and findings, on constructed and on
simulated histories.
"""

from __future__ import annotations

import random
from array import array
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from detectors import clock as clock_mod
from detectors import homes as homes_mod
from detectors.baseline import Baseline, learn
from detectors.clock import SLOTS, LocalClock
from detectors.config import DetectorConfig, from_dict, merge
from detectors.events import DeviceInfo, Event, HomeInfo
from detectors.homes import Home, next_noon, replay
from detectors.monitor import HomeMonitor
from detectors.service import DetectorService
from simulators.generate import FleetSpec, home_events
from tests.detector_support import D, H, HOME, T0, mv, routine

FIELDS = [f for f in Baseline.__dataclass_fields__]


def reference_next_noon(t: float, tz: str) -> float:
    """next_noon() as it was before its answers were kept: worked out every time."""
    local = datetime.fromtimestamp(t, ZoneInfo(tz))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon.timestamp() <= t:
        noon = (local + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon.timestamp()


def reference_defaults(cfg: DetectorConfig) -> tuple[array, array]:
    d = cfg.inactivity.default_min
    return array("H", [d] * (2 * SLOTS)), array("H", [max(d, cfg.away.floor_min)] * (2 * SLOTS))


def same_baseline(a: Baseline, b: Baseline) -> None:
    for f in FIELDS:
        assert getattr(a, f) == getattr(b, f), f


# -- local noons ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tz,around", [
    ("Asia/Shanghai", "2024-03-10"), ("Europe/Berlin", "2024-03-31"),
    ("Europe/Berlin", "2024-10-27"), ("America/New_York", "2024-11-03"),
    ("Asia/Kathmandu", "2024-06-01"), ("Australia/Lord_Howe", "2024-04-07"),
    ("Pacific/Apia", "2011-12-29"),     # Samoa skipped 30 December 2011
])
def test_kept_noons_answer_as_the_reference_across_zone_changes(tz: str, around: str) -> None:
    homes_mod._NOONS.clear()
    t0 = datetime.fromisoformat(around).replace(tzinfo=ZoneInfo(tz)).timestamp() - 3 * D
    rnd = random.Random(tz)
    times = [t0 + rnd.uniform(0, 6 * D) for _ in range(3000)]
    # the noons themselves, a second either side, and times asked in a jumbled order
    exact = [reference_next_noon(t0 + i * D / 2, tz) for i in range(12)]
    times += exact + [x - 1 for x in exact] + [x + 1 for x in exact]
    rnd.shuffle(times)
    for t in times + sorted(times):
        assert next_noon(t, tz) == reference_next_noon(t, tz), (tz, t)


def reference_day(t: float, tz: str) -> tuple[float, float, int]:
    """LocalClock.day() as it was before the zone's days were kept: worked out every time."""
    z = ZoneInfo(tz)
    dt = datetime.fromtimestamp(t, z)
    mid = datetime(dt.year, dt.month, dt.day, tzinfo=z)
    nxt = mid.date() + timedelta(days=1)
    return mid.timestamp(), datetime(nxt.year, nxt.month, nxt.day, tzinfo=z).timestamp(), \
        mid.weekday()


@pytest.mark.parametrize("tz,around", [
    ("Asia/Shanghai", "2024-03-10"), ("Europe/Berlin", "2024-03-31"),
    ("America/Santiago", "2024-09-08"),  # the clocks change at midnight
    ("Asia/Kathmandu", "2024-06-01"), ("Australia/Lord_Howe", "2024-10-06"),
    ("Pacific/Apia", "2011-12-29"),
])
def test_kept_local_days_answer_as_the_reference(tz: str, around: str) -> None:
    clock_mod._DAYS.clear()
    t0 = datetime.fromisoformat(around).replace(tzinfo=ZoneInfo(tz)).timestamp() - 3 * D
    rnd = random.Random(tz)
    times = [t0 + rnd.uniform(0, 7 * D) for _ in range(3000)]
    times += [reference_day(t0 + i * D / 2, tz)[0] + e for i in range(14) for e in (-1, 0, 1)]
    rnd.shuffle(times)
    clocks = [LocalClock(tz) for _ in range(3)]       # clocks of one zone share the days
    for k, t in enumerate(times + sorted(times)):
        c = clocks[k % 3]
        lo = c.day(t)
        assert (lo, c.hi, c.weekday) == reference_day(t, tz), (tz, t)
        assert c.slot(t) == LocalClock(tz).slot(t)


# -- defaults shared between homes ---------------------------------------------------------------

def test_new_homes_share_the_default_thresholds_and_learning_replaces_them() -> None:
    cfg = from_dict({"inactivity": {"default_min": 600}, "away": {"floor_min": 660}})
    a, b = HomeMonitor(HOME, cfg), HomeMonitor(HOME, cfg)
    ref_home, ref_away = reference_defaults(cfg)
    assert a.base.home_thr == ref_home and a.base.away_thr == ref_away
    assert set(a.base.away_thr) == {660} and a.base.home_thr.typecode == "H"
    assert a.base.home_thr is b.base.home_thr          # one pair for all such homes
    a.learn(routine(21), T0 + 21 * D)                  # a learned home gets its own
    assert a.base.learned and a.base.home_thr != ref_home
    assert b.base.home_thr == ref_home and b.base.away_thr == ref_away
    # too little history: the defaults again, equal to the reference
    base, _ = learn(routine(3), T0 + 3 * D, "UTC", cfg)
    assert not base.learned and base.home_thr == ref_home and base.away_thr == ref_away


# -- the service's rebuild: one monitor per home, one config per community ---------------------

def _simulated(n: int, days: int) -> list[tuple[HomeInfo, list[Event], float]]:
    spec = FleetSpec(homes=n, days=days, seed=3)
    start, end = spec.span()
    out = []
    for home in spec.make_homes():
        uid = [d.uid for d in home.devices]
        room = [d.room for d in home.devices]
        evs = [Event(float(t), uid[i], k, float(v), room[i])
               for chunk in home_events(home, start, end) for t, i, k, v in chunk]
        info = HomeInfo(home.code, home.tz,
                        tuple(DeviceInfo(d.uid, d.kind, d.room) for d in home.devices))
        out.append((info, evs, float(end) - 5 * H))
    return out


def _constructed() -> list[tuple[HomeInfo, list[Event], float]]:
    quiet = routine(12)
    collapse = routine(10) + [mv(T0 + 10 * D + 8 * H)]
    return [(HOME, quiet, T0 + 12 * D + 3 * H), (HOME, collapse, T0 + 10 * D + 15 * H),
            (HOME, [], T0), (HomeInfo("t-2", "Asia/Shanghai", HOME.devices), quiet,
                             T0 + 12 * D + 9 * H)]


def test_rebuilt_homes_learn_and_find_what_the_reference_does() -> None:
    settings = {("community", 1): {"inactivity": {"margin": 0.5}},
                ("home", 3): {"inactivity": {"slack_min": 45}}}
    cases = _constructed() + _simulated(3, 24)
    svc = DetectorService("postgresql://unused")
    svc._settings = settings
    for hid, (info, history, now) in enumerate(cases):
        community = 1 if hid % 2 else 2
        devs = {10 * hid + j: d for j, d in enumerate(info.devices)}
        svc.device_uid.update({d.uid: did for did, d in devs.items()})
        svc.homes[hid] = Home(hid, info.home, info.tz, community,
                              HomeMonitor(info, svc._config(hid, community)), devs)
        svc._fresh.add(hid)
        found = svc._rebuild(hid, history, now)
        # the reference: a config merged for this home, a monitor made for the rebuild
        ref_cfg = merge(settings.get(("community", community), {}),
                        settings.get(("home", hid), {}))
        ref = Home(hid, info.home, info.tz, community, HomeMonitor(info, ref_cfg), devs)
        ref_found = replay(ref, history, now, replay_s=svc.replay_s,
                           learn_days=svc.learn_days, relearn_s=svc.relearn_s)
        got = svc.homes[hid]
        assert got.monitor.cfg == ref_cfg
        same_baseline(got.monitor.base, ref.monitor.base)
        assert got.monitor.next_deadline() == ref.monitor.next_deadline()
        assert got.relearn_at == ref.relearn_at
        assert [(f.kind, f.state, f.at) for f in found] == \
            [(f.kind, f.state, f.at) for f in ref_found]
        assert got.monitor.open_findings() == ref.monitor.open_findings()
    learned = [svc.homes[h].monitor.base for h in svc.homes]
    assert sum(b.learned for b in learned) >= 4        # the histories were long enough to learn
    collapsed = svc.homes[1].monitor.open_findings()
    assert any(f.kind == "inactivity" for f in collapsed)
    # homes of a community without settings of their own share its config
    assert svc.homes[1].monitor.cfg is svc.homes[5].monitor.cfg
    assert svc.homes[3].monitor.cfg is not svc.homes[1].monitor.cfg
    assert svc.homes[3].monitor.cfg.inactivity.slack_min == 45


def test_a_monitor_already_fed_is_made_anew_at_its_rebuild() -> None:
    svc = DetectorService("postgresql://unused")
    devs = {j: d for j, d in enumerate(HOME.devices)}
    svc.device_uid.update({d.uid: did for did, d in devs.items()})
    svc.homes[0] = Home(0, HOME.home, HOME.tz, 1, HomeMonitor(HOME, svc._config(0, 1)), devs)
    svc._fresh.add(0)
    first = svc.homes[0].monitor
    first.observe(mv(T0 + 9 * H))            # fed before its rebuild (a cut-short rebuild)
    svc._rebuild(0, routine(12), T0 + 12 * D + 3 * H)
    assert svc.homes[0].monitor is not first and svc.homes[0].monitor.base.learned
