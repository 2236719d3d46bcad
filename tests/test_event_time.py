"""Event time: the device's clock and anju's (docs/detectors.md, "Event time").

Emergencies open whatever their timestamp, late readings correct the home's picture,
heartbeats never decide the order of readings. Pure tests on the monitor, then the live
detector service against the real database.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime, timezone

from detectors.config import merge
from detectors.events import DeviceInfo, Event, HomeInfo
from detectors.monitor import HomeMonitor
from tests.support import wait_until
from tests.detector_support import Service, alerts_of, insert_reading

UTC = timezone.utc
T0 = 1_700_000_000.0
MOTION, DOOR, WATER, BUTTON = 1, 2, 5, 11


def _monitor() -> HomeMonitor:
    devs = (DeviceInfo("pir-bed", "motion", "bedroom"), DeviceInfo("pir-kit", "motion", "kitchen"),
            DeviceInfo("door", "door", "entrance"), DeviceInfo("meter", "water", "kitchen"),
            DeviceInfo("btn", "button", "bedroom"))
    m = HomeMonitor(HomeInfo("h", "Asia/Shanghai", devs), merge({}, {}))
    m.learn([], T0)
    return m


def _still(m: HomeMonitor) -> float:
    """Motion at T0, then the monitor's clock runs past the (12 h default) stillness limit."""
    m.observe(Event(T0, "pir-bed", "motion", 1, "bedroom"))
    dl = m.next_deadline()
    assert dl is not None
    found = m.advance(dl + 600)
    assert [f.kind for f in found if f.state == "open"] == ["inactivity"]
    return dl


# -- the monitor -----------------------------------------------------------------------------

def test_late_motion_resolves_inactivity_as_late_data_without_moving_the_clock_back():
    m = _monitor()
    dl = _still(m)
    clock = m.last_ts
    late = T0 + 3600                  # moved an hour after the last activity, seen only now
    found = m.observe(Event(late, "pir-kit", "motion", 1, "kitchen", arrived=clock))
    (f,) = found
    assert (f.kind, f.state, f.evidence["reason"]) == ("inactivity", "clear", "late_data")
    assert f.at == clock and m.last_ts == clock           # resolved now, clock not moved back
    assert "late data" in f.text["en"] and "迟到" in f.text["zh-CN"]
    # the picture is corrected: stillness counts from the late motion
    assert m.pres.last_act == late and m.pres.last_room == "kitchen"
    assert m.next_deadline() == late + (dl - T0)


def test_late_motion_from_before_the_stillness_changes_nothing():
    m = _monitor()
    _still(m)
    assert m.observe(Event(T0 - 60, "pir-kit", "motion", 1, "kitchen", arrived=m.last_ts)) == []
    assert "inactivity" in m.open and m.pres.last_act == T0


def test_late_button_opens_with_both_clocks():
    m = _monitor()
    m.observe(Event(T0 + 100, "pir-bed", "motion", 1, "bedroom"))
    (f,) = m.observe(Event(T0 + 98, "btn", "button", 1, "bedroom", arrived=T0 + 100.4))
    assert (f.kind, f.state, f.at) == ("button", "open", T0 + 98)
    assert f.evidence["device_time"].startswith("2023-11-14T22:14:58")
    assert f.evidence["late_s"] == 2.4 and f.evidence["arrived_at"]
    # an hour late (a clock an hour slow, or a buffer): said in words too
    (g,) = m.observe(Event(T0 - 3600, "btn", "button", 1, "bedroom", arrived=T0 + 101))
    assert g.evidence["late_s"] == 3701 and "min later" in g.text["en"]


def test_a_clock_ahead_is_placed_at_its_arrival():
    m = _monitor()
    m.observe(Event(T0 + 120, "pir-bed", "motion", 1, "bedroom", arrived=T0))
    assert m.pres.last_act == T0 and m.last_ts == T0
    (f,) = m.observe(Event(T0 + 130, "btn", "button", 1, "bedroom", arrived=T0 + 10))
    assert f.at == T0 + 10 and f.evidence["late_s"] == -120


def test_late_door_close_resolves_door_left_open_as_late_data():
    m = _monitor()
    m.observe(Event(T0, "door", "door", 1, "entrance"))
    m.advance(T0 + 20 * 60)
    assert "door_left_open" in m.open
    (f,) = [x for x in m.observe(Event(T0 + 5 * 60, "door", "door", 0, "entrance",
                                       arrived=T0 + 20 * 60)) if x.kind == "door_left_open"]
    assert f.evidence["reason"] == "late_data" and f.at == T0 + 20 * 60


def test_a_late_meter_reading_does_not_count_flow_twice():
    m = _monitor()
    for i, total in enumerate((100.0, 100.0, 100.0)):
        m.observe(Event(T0 + i * 600, "meter", "water", total, "kitchen"))
    m.observe(Event(T0 + 300, "meter", "water", 50.0, "kitchen", arrived=T0 + 1300))
    assert m.state.meters["meter"].v == 100.0 and m.state.meters["meter"].t == T0 + 1200
    assert m.observe(Event(T0 + 1800, "meter", "water", 100.0, "kitchen")) == []


# -- the live service ------------------------------------------------------------------------

def _home_still_for_20_hours(conn, home_factory, extra=()):
    """A home whose resident last moved 20 hours ago (an inactivity alert is open) while its
    water meter kept reporting every 10 min up to now: the home's newest message is recent."""
    home, devs = home_factory([("motion", "bedroom"), ("motion", "kitchen"), ("water", "kitchen"),
                               *extra])
    now = time.time()
    insert_reading(conn, devs["motion-bedroom"].id, MOTION, now - 20 * 3600, 1)
    for i in range(20 * 6):
        insert_reading(conn, devs["water-kitchen"].id, WATER, now - 20 * 3600 + i * 600 + 300, 1000.0, i)
    return home, devs, now


def _notify(conn, *dids: int) -> None:
    conn.execute("SELECT pg_notify('anju_readings', %s)", (",".join(map(str, dids)),))


def _hid(conn, home: str) -> int:
    return conn.execute("SELECT id FROM homes WHERE code = %s", (home,)).fetchone()[0]


def _inactivity(conn, home: str) -> tuple:
    return [a for a in alerts_of(conn, home) if a[0] == "inactivity"][0]


async def test_clock_2_min_ahead(db_url, conn, home_factory):
    """The bedroom PIR runs 2 min ahead: its motion is placed at its arrival, and the kitchen
    PIR's motion a moment later (stamped 2 min behind the home's newest stamp) is the last
    activity, not dropped."""
    home, devs, _ = _home_still_for_20_hours(conn, home_factory)
    svc = Service(db_url)
    await svc.started()
    events = svc.svc.stats.events
    bed, kit = devs["motion-bedroom"].id, devs["motion-kitchen"].id
    t = time.time()
    insert_reading(conn, bed, MOTION, t + 120, 1, 1)
    _notify(conn, bed)
    await wait_until(lambda: svc.svc.stats.events >= events + 1, 5, 0.02)
    bed_placed = svc.svc.homes[_hid(conn, home)].monitor.pres.last_act
    assert bed_placed is not None and t <= bed_placed < t + 5      # at its arrival
    await asyncio.sleep(0.3)
    tk = time.time()
    insert_reading(conn, kit, MOTION, tk, 1, 1)
    _notify(conn, kit)
    await wait_until(lambda: svc.svc.stats.events >= events + 2, 5, 0.02)
    pres = svc.svc.homes[_hid(conn, home)].monitor.pres
    await svc.close()
    assert pres.last_room == "kitchen" and abs(pres.last_act - tk) < 1e-3
    assert _inactivity(conn, home)[1] == "resolved"


async def test_clock_2_min_behind(db_url, conn, home_factory):
    """The kitchen PIR runs 2 min behind the water meter: its motion still ends the stillness."""
    home, devs, _ = _home_still_for_20_hours(conn, home_factory)
    svc = Service(db_url)
    await svc.started()
    assert _inactivity(conn, home)[1] == "open"
    meter, kit = devs["water-kitchen"].id, devs["motion-kitchen"].id
    t = time.time()
    insert_reading(conn, meter, WATER, t, 1000.0, 999)
    _notify(conn, meter)
    await asyncio.sleep(0.3)
    insert_reading(conn, kit, MOTION, t - 120, 1, 1)
    _notify(conn, kit)
    await wait_until(lambda: _inactivity(conn, home)[1] == "resolved", 5, 0.02)
    await svc.close()
    assert "moved" in _inactivity(conn, home)[6]


async def test_clock_an_hour_behind(db_url, conn, home_factory):
    """A button whose clock is an hour slow: its press opens at once, with both clocks."""
    home, devs, _ = _home_still_for_20_hours(conn, home_factory, [("button", "bedroom")])
    svc = Service(db_url)
    await svc.started()
    btn = devs["button-bedroom"].id
    insert_reading(conn, btn, BUTTON, time.time() - 3600, 1, 1)
    _notify(conn, btn)
    await wait_until(lambda: any(a[0] == "button" for a in alerts_of(conn, home)), 5, 0.02)
    await svc.close()
    (a,) = [a for a in alerts_of(conn, home) if a[0] == "button"]
    ev = a[3]
    assert a[1] == "open" and 3590 < ev["late_s"] < 3700
    assert datetime.fromisoformat(ev["arrived_at"]) > datetime.fromisoformat(ev["device_time"])
    assert "min later" in a[5]


async def test_gateway_flushes_a_10_minute_buffer(db_url, conn, home_factory):
    """A gateway back after 10 minutes flushes its buffer in three transactions, newest first
    and out of order within each device: every reading is observed once, the resident's
    movement resolves the inactivity alert, the last activity is the newest motion, and the
    button pressed in the buffer opens its alert."""
    home, devs, now = _home_still_for_20_hours(conn, home_factory, [("button", "bedroom")])
    bed, kit, btn = (devs[k].id for k in ("motion-bedroom", "motion-kitchen", "button-bedroom"))
    svc = Service(db_url)
    await svc.started()
    events = svc.svc.stats.events
    t = time.time()
    batches = [[(kit, MOTION, t - 60, 1), (bed, MOTION, t - 120, 1)],
               [(kit, MOTION, t - 540, 1), (bed, MOTION, t - 420, 1), (kit, MOTION, t - 300, 1)],
               [(btn, BUTTON, t - 480, 1), (bed, MOTION, t - 590, 1)]]
    n = 0
    for batch in batches:
        with conn.transaction():
            for did, kind, ts, v in batch:
                n += 1
                insert_reading(conn, did, kind, ts, v, 100 + n)
            _notify(conn, *{d for d, *_ in batch})
        await asyncio.sleep(0.2)
    await wait_until(lambda: svc.svc.stats.events >= events + n, 5, 0.02)
    await asyncio.sleep(0.3)
    pres = svc.svc.homes[_hid(conn, home)].monitor.pres
    await svc.close()
    assert svc.svc.stats.events == events + n          # each once, none lost
    assert abs(pres.last_act - (t - 60)) < 1e-3 and pres.last_room == "kitchen"
    assert _inactivity(conn, home)[1] == "resolved"
    (b,) = [a for a in alerts_of(conn, home) if a[0] == "button"]
    assert b[1] == "open" and b[3]["late_s"] > 400


async def test_inactivity_resolved_as_late_data(db_url, conn, home_factory):
    """The inactivity alert opened 8 h ago; a kitchen motion stamped 10 h ago arrives now:
    the alert is resolved with the reason "late data"."""
    home, devs, now = _home_still_for_20_hours(conn, home_factory)
    svc = Service(db_url)
    await svc.started()
    opened = _inactivity(conn, home)
    assert opened[1] == "open" and opened[2].timestamp() < now - 7 * 3600
    kit = devs["motion-kitchen"].id
    insert_reading(conn, kit, MOTION, now - 10 * 3600, 1, 1)
    _notify(conn, kit)
    await wait_until(lambda: _inactivity(conn, home)[1] == "resolved", 5, 0.02)
    await svc.close()
    reason = _inactivity(conn, home)[6]
    assert "late data" in reason, reason
    (note,) = conn.execute(
        "SELECT e.note FROM alert_events e JOIN alerts a ON a.id = e.alert_id JOIN homes h"
        " ON h.id = a.home_id WHERE h.code = %s AND a.kind = 'inactivity' AND"
        " e.action = 'resolve'", (home,)).fetchone()
    assert "late data" in note


async def test_late_button_opens_within_a_second(db_url, conn, home_factory):
    """A button press stamped 2 s behind another device's last message (a reading, then a
    heartbeat at anju's receive time) opens its alert: from the commit of the reading to the
    alert row, 20 times, each under a second."""
    homes = [home_factory([("motion", "bedroom"), ("button", "bedroom")]) for _ in range(20)]
    svc = Service(db_url)
    await svc.started()
    lat: list[float] = []
    for home, devs in homes:
        pir, btn = devs["motion-bedroom"].id, devs["button-bedroom"].id
        t = time.time()
        insert_reading(conn, pir, MOTION, t, 1, 1)
        conn.execute("UPDATE devices SET last_seen = now() WHERE id = %s", (pir,))
        _notify(conn, pir)
        events = svc.svc.stats.events
        await wait_until(lambda: svc.svc.stats.events >= events + 2, 5, 0.01)
        with conn.transaction():
            insert_reading(conn, btn, BUTTON, t - 2, 1, 1)
            _notify(conn, btn)
        committed = time.perf_counter()
        await wait_until(lambda: any(a[0] == "button" for a in alerts_of(conn, home)), 5, 0.002)
        lat.append(time.perf_counter() - committed)
    await svc.close()
    print(f"late button: reading committed -> alert row, {len(lat)} tries: median "
          f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
    assert max(lat) < 1.0, lat
