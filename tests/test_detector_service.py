"""The live detector service against the real database (and broker, end to end)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from alerts import store
from anju.contract import Kind
from anju.endpoints import MqttEndpoint
from detectors.service import DetectorService
from simulators import fleet
from simulators import incidents as inc_mod
from simulators.homes import make_fleet
from tests.conftest import sync_broker
from tests.detector_support import UTC, Service, alerts_of, insert_reading
from tests.support import as_device, now_ms, reading, running_worker, through_store, wait_until

async def test_button_alert_within_a_second(stack, endpoints, db_url, conn, home_factory):
    """An emergency button published over MQTT opens a critical alert within a second."""
    home, devs = home_factory([("button", "bedroom"), ("motion", "bedroom")])
    btn = devs["button-bedroom"]
    svc = Service(db_url)
    await svc.started()
    async with running_worker(endpoints):
        c = await as_device(stack, btn)
        t0 = time.time()
        c.publish(f"anju/v1/devices/{btn.uid}/button", reading(1, 1, now_ms()), qos=1)
        await wait_until(lambda: any(a[0] == "button" for a in alerts_of(conn, home)), 5, 0.02)
        elapsed = time.time() - t0
        await c.disconnect()
    await svc.close()
    alerts = alerts_of(conn, home)
    assert [(a[0], a[1]) for a in alerts] == [("button", "open")]
    assert elapsed < 1.0, f"{elapsed:.2f} s from publish to alert"
    (sev,) = conn.execute("SELECT severity FROM alerts a JOIN homes h ON h.id = a.home_id"
                          " WHERE h.code = %s", (home,)).fetchone()
    assert sev == "critical"


async def test_countdown_survives_a_kill(db_url, conn, home_factory):
    """Killed mid-countdown, restarted after the deadline: the alert opens, once, on time."""
    home, devs = home_factory([("motion", "bedroom"), ("water", "kitchen")])
    pir, meter = devs["motion-bedroom"].id, devs["water-kitchen"].id
    t0 = time.time() - 20 * 3600
    insert_reading(conn, pir, 1, t0, 1)                       # the last movement
    for i in range(0, 20 * 6):                         # the meter keeps reporting, no flow
        insert_reading(conn, meter, 5, t0 - 600 + i * 600, 1000.0, i)

    a = Service(db_url, t0 + 120)
    await a.started()
    hid = conn.execute("SELECT id FROM homes WHERE code = %s", (home,)).fetchone()[0]
    deadline = a.svc.homes[hid].monitor.next_deadline()
    assert deadline is not None and t0 + 120 < deadline < time.time()
    a.kill()
    assert alerts_of(conn, home) == []

    b = Service(db_url)                                # restarted long after the deadline
    await b.started()
    alerts = [x for x in alerts_of(conn, home) if x[0] == "inactivity"]
    assert len(alerts) == 1 and alerts[0][1] == "open"
    fired_at = alerts[0][2].timestamp()
    assert t0 < fired_at <= time.time()
    assert alerts[0][3].get("last_activity") or alerts[0][3]
    assert "卧室" in alerts[0][4] or "bedroom" in alerts[0][5]
    await b.close()

    c = Service(db_url)                                # and again: still one alert
    await c.started()
    assert len([x for x in alerts_of(conn, home) if x[0] == "inactivity"]) == 1
    # the person moves again: the alert is resolved with the reason kept
    insert_reading(conn, pir, 1, time.time() - 1, 1, 99)
    conn.execute("SELECT pg_notify('anju_readings', %s)", (str(pir),))

    def inactivity_state() -> str:
        return [x for x in alerts_of(conn, home) if x[0] == "inactivity"][0][1]

    try:
        await wait_until(lambda: inactivity_state() == "resolved", 10)
    except AssertionError:
        raise AssertionError(f"alerts now: {alerts_of(conn, home)}") from None
    await c.close()
    inact = [x for x in alerts_of(conn, home) if x[0] == "inactivity"][0]
    assert inact[1] == "resolved" and inact[6]
    events = conn.execute(
        "SELECT e.action, e.to_state FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
        " JOIN homes h ON h.id = a.home_id WHERE h.code = %s AND a.kind = 'inactivity'"
        " ORDER BY e.id", (home,)).fetchall()
    assert events == [("open", "open"), ("resolve", "resolved")]
    # the same condition again later is a new alert, linked to the resolved one
    d = Service(db_url, time.time() + 13 * 3600)
    await d.started()
    await d.close()
    rows = conn.execute("SELECT a.id, a.state, a.reopens FROM alerts a JOIN homes h"
                        " ON h.id = a.home_id WHERE h.code = %s AND a.kind = 'inactivity'"
                        " ORDER BY a.id", (home,)).fetchall()
    assert len(rows) == 2 and rows[1][1] == "open" and rows[1][2] == rows[0][0]


async def test_a_device_silent_before_a_restart_is_reported_offline(db_url, conn, home_factory):
    """The kitchen PIR's last message came two hours before the service started, the
    bedroom's a minute before: after the rebuild the kitchen PIR is offline since three
    heartbeat periods after its last message, the bedroom's is not; when it reports again the
    alert is resolved."""
    home, devs = home_factory([("motion", "bedroom"), ("motion", "kitchen")])
    bed, kitchen = devs["motion-bedroom"].id, devs["motion-kitchen"].id
    now = time.time()
    insert_reading(conn, bed, 1, now - 60, 1)
    for did, ago in ((bed, 60), (kitchen, 7200)):
        conn.execute("UPDATE devices SET last_seen = %s, heartbeat_s = 900 WHERE id = %s",
                     (datetime.fromtimestamp(now - ago, UTC), did))
    svc = Service(db_url)
    await svc.started()
    rows = conn.execute(
        "SELECT a.kind, a.state, d.uid, a.condition_at, a.evidence FROM alerts a"
        " JOIN homes h ON h.id = a.home_id LEFT JOIN devices d ON d.id = a.device_id"
        " WHERE h.code = %s AND a.kind = 'device_offline'", (home,)).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == \
        [("device_offline", "open", devs["motion-kitchen"].uid)]
    assert abs(rows[0][3].timestamp() - (now - 7200 + 3 * 900)) < 2
    assert rows[0][4]["missed_heartbeats"] == 3
    conn.execute("UPDATE devices SET last_seen = now() WHERE id = %s", (kitchen,))
    conn.execute("SELECT pg_notify('anju_readings', %s)", (str(kitchen),))

    def state() -> str:
        return conn.execute("SELECT a.state FROM alerts a JOIN homes h ON h.id = a.home_id"
                            " WHERE h.code = %s AND a.kind = 'device_offline'",
                            (home,)).fetchone()[0]

    await wait_until(lambda: state() == "resolved", 10)
    await svc.close()


async def test_simulated_collapse_end_to_end(stack, endpoints, db_url, conn, tmp_path, unique):
    """A week of a simulated resident, then a collapse, published over MQTT and stored by the
    ingest: the detector service opens exactly one alert, with evidence, in both languages."""
    tz = ZoneInfo("Asia/Shanghai")
    profile = make_fleet(1, seed=3, prefix=f"e2e{unique}", persona_names=["early_riser"])[0]
    end = int(datetime(2024, 3, 12, 18, 0, tzinfo=tz).timestamp())
    start = end - 9 * 86400          # a week to learn from, and the day of the fall
    fall = int(datetime(2024, 3, 12, 9, 30, tzinfo=tz).timestamp())
    collapse = inc_mod.make("collapse", profile, random.Random(1), fall, start, end,
                            duration=end - fall)
    homes = fleet.provision(conn, [profile], credentials=tmp_path / "c.json", gateway_mode=True,
                            community=f"e2e-{unique}")
    sync_broker(stack, conn)
    shift = time.time() - end             # the simulated evening is now
    async with running_worker(endpoints, max_past_s=10 * 86400) as w:
        stats = await fleet.publish_fleet(MqttEndpoint.from_url(stack.mqtt_url()), homes, start,
                                          end, speed=0, shift=shift,
                                          incidents={profile.code: [collapse]})
        await wait_until(lambda: w.committed_messages >= stats.messages, 60)
    svc = Service(db_url)
    await svc.started()
    await svc.close()
    alerts = alerts_of(conn, profile.code)
    open_alerts = [a for a in alerts if a[1] == "open"]
    # The simulated days are shifted so that their evening is now: unless the test runs
    # at 18:00, each simulated day straddles a real local midnight, where the daily
    # activity count is closed, and the short day of the fall can then read as an
    # activity_decline besides (seen when run at 19:50). The collapse itself must be
    # exactly one inactivity alert, and nothing else may be open.
    assert [a[0] for a in open_alerts if a[0] != "activity_decline"] == ["inactivity"], alerts
    kind, state, condition_at, evidence, zh, en, _ = \
        next(a for a in open_alerts if a[0] == "inactivity")
    fired = condition_at.timestamp() - shift
    assert fall < fired < fall + 3 * 3600      # within three hours of the fall
    assert evidence["last_activity"] and evidence["threshold_min"] < 180
    assert "无活动" in zh and "No sign of life" in en


def test_detector_settings_are_validated_and_stored(stack, conn, home_factory):
    """A bad setting names the key, the value and what is allowed; a good one is stored."""
    import os
    import subprocess
    import sys

    home, _ = home_factory([("motion", "bedroom")])
    env = {**os.environ, "ANJU_STATE_DIR": str(stack.state_dir)}

    def anju(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "anju.cli", *args], env=env,
                              capture_output=True, text=True)

    r = anju("detector", "set", "--home", home, "inactivity.floor_min=5")
    assert r.returncode != 0 and "inactivity.floor_min" in r.stderr and "5" in r.stderr
    r = anju("detector", "set", "--home", home, "inactivity.colour=red")
    assert r.returncode != 0 and "inactivity.colour" in r.stderr
    r = anju("detector", "set", "--home", home, "inactivity.floor_min=120", "sensitivity=0.8")
    assert r.returncode == 0, r.stderr
    (stored,) = conn.execute(
        "SELECT s.settings FROM detector_settings s JOIN homes h ON h.id = s.scope_id"
        " WHERE s.scope = 'home' AND h.code = %s", (home,)).fetchone()
    assert stored == {"inactivity.floor_min": 120, "sensitivity": 0.8}


async def test_explicit_away_suppresses_inactivity(db_url, conn, home_factory):
    """Away set in the database (a hospital stay): no inactivity alert while it lasts."""
    home, devs = home_factory([("motion", "bedroom"), ("door", "entrance")])
    pir = devs["motion-bedroom"].id
    hid = conn.execute("SELECT id FROM homes WHERE code = %s", (home,)).fetchone()[0]
    t0 = time.time() - 20 * 3600
    insert_reading(conn, pir, 1, t0, 1)
    conn.execute("INSERT INTO home_away (home_id, starts_at, ends_at, reason) VALUES"
                 " (%s, %s, %s, 'hospital')", (hid, datetime.fromtimestamp(t0 + 60, UTC),
                                               datetime.fromtimestamp(time.time() + 86400, UTC)))
    svc = Service(db_url)
    await svc.started()
    await svc.close()
    assert [a[0] for a in alerts_of(conn, home) if a[0] == "inactivity"] == []


async def test_a_press_stored_while_down_with_a_fast_clock_is_raised_on_start(db_url, conn,
                                                                              home_factory):
    """A button press stored while the detector was down (killed between the ingest's commit and
    its notification), stamped by a device clock a few seconds fast: later than the restart's
    `now`, so not in the history it rebuilds from, and nobody will notify it again. It is read
    on start, not at the next reconnection."""
    home, devs = home_factory([("button", "bedroom")])
    btn = devs["button-bedroom"].id
    insert_reading(conn, btn, Kind.BUTTON, time.time() + 20, 1)   # 20 s ahead of anju's clock
    svc = Service(db_url)
    await svc.started()
    try:
        await wait_until(lambda: any(a[0] == "button" for a in alerts_of(conn, home)), 5, 0.05)
    finally:
        await svc.close()


async def test_a_started_service_beats_at_once(db_url, conn, unique):
    """The heartbeat is written as soon as the service watches, not a refresh later: the
    watchdog and the soak's recovery times read it."""
    svc = DetectorService(db_url, refresh_s=30, instance=f"beat-{unique}")
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    try:
        await wait_until(lambda: conn.execute(
            "SELECT 1 FROM service_heartbeats WHERE service = 'detectors' AND instance = %s",
            (f"beat-{unique}",)).fetchone() is not None, 5, 0.1)
    finally:
        stop.set()
        svc.wake.set()
        await asyncio.wait_for(task, 30)
        conn.execute("DELETE FROM service_heartbeats WHERE instance = %s", (f"beat-{unique}",))


async def test_a_second_press_after_an_acknowledgement_is_a_new_alert(db_url, conn,
                                                                      home_factory):
    """Pressed, acknowledged ("on my way"), pressed again: the second press is a new alert,
    told anew, following the first (which is resolved as followed). A press while the alert
    is still open joins it (its escalation is running); a restart adds nothing."""
    home, devs = home_factory([("button", "bedroom")])
    btn = devs["button-bedroom"].id

    def press(seq: int, ts: float) -> None:
        insert_reading(conn, btn, Kind.BUTTON, ts, 1, seq)
        conn.execute("SELECT pg_notify('anju_readings', %s)", (str(btn),))

    def rows() -> list[tuple]:
        return conn.execute(
            "SELECT a.id, a.state, a.reopens FROM alerts a JOIN homes h ON h.id = a.home_id"
            " WHERE h.code = %s AND a.kind = 'button' ORDER BY a.id", (home,)).fetchall()

    svc = Service(db_url)
    await svc.started()
    try:
        t = time.time()
        press(1, t - 60)
        await wait_until(lambda: len(rows()) == 1, 5, 0.05)
        first = rows()[0][0]
        await asyncio.to_thread(through_store, conn, lambda a: store.acknowledge(
            a, first, actor="家属", channel="link"))
        press(2, t - 30)
        await wait_until(lambda: len(rows()) == 2, 5, 0.05)
        assert rows() == [(first, "resolved", None), (rows()[1][0], "open", first)]
        press(3, t - 10)                                # the new alert is still open: joins it
        await asyncio.sleep(1)
        assert len(rows()) == 2
    finally:
        await svc.close()
    again = Service(db_url)                             # replaying the presses adds nothing
    await again.started()
    await asyncio.sleep(1)
    await again.close()
    assert [r[1] for r in rows()] == ["resolved", "open"]
