"""Device-offline bursts in one community: one incident, not an alert per home (pure)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from detectors.bursts import Bursts
from detectors.events import Finding
from tests.detector_support import Service, alerts_of
from tests.support import wait_until


def offline(device: str, at: float = 0.0, state: str = "open") -> Finding:
    return Finding("device_offline", state, at, severity="medium", device=device)  # type: ignore[arg-type]


COMMUNITY = {1: 10, 2: 10, 3: 10, 4: 10, 9: 20}


def test_a_lone_offline_device_is_raised_after_the_window() -> None:
    b = Bursts(window_s=300, min_homes=3)
    assert b.filter([(9, offline("x"))], COMMUNITY, 0) == []
    assert b.due(299) == []
    assert [(h, f.device) for h, f in b.due(300)] == [(9, "x")]
    assert b.to_write() == ([], [])


def test_a_device_back_within_the_window_says_nothing() -> None:
    b = Bursts(window_s=300, min_homes=3)
    b.filter([(9, offline("x"))], COMMUNITY, 0)
    assert b.filter([(9, offline("x", 100, "clear"))], COMMUNITY, 100) == []
    assert b.due(400) == []


def test_three_homes_at_once_are_one_incident_until_all_are_back() -> None:
    b = Bursts(window_s=300, min_homes=3)
    found = [(1, offline("a")), (2, offline("b")), (2, offline("b2")), (3, offline("c")),
             (9, offline("x")), (5, Finding("smoke", "open", 0, severity="critical"))]
    assert [f.kind for _, f in b.filter(found, COMMUNITY, 0)] == ["smoke"], "never held"
    assert [(h, f.device) for h, f in b.due(300)] == [(9, "x")], "the other community's alone"
    changed, closed = b.to_write()
    assert len(changed) == 1 and changed[0].homes == 3 and len(changed[0].members) == 4
    # a fourth home joins the open incident at once, without an alert
    assert b.filter([(4, offline("d", 320))], COMMUNITY, 320) == []
    assert b.to_write()[0][0].homes == 4
    for hid, dev in ((1, "a"), (2, "b"), (2, "b2"), (3, "c")):
        assert b.filter([(hid, offline(dev, 900, "clear"))], COMMUNITY, 900) == []
    assert b.to_write()[1] == []
    b.filter([(4, offline("d", 950, "clear"))], COMMUNITY, 950)
    changed, closed = b.to_write()
    assert len(closed) == 1 and closed[0].community_id == 10
    # and a later lone device is an alert again
    b.filter([(1, offline("a", 2000))], COMMUNITY, 2000)
    assert [(h, f.device) for h, f in b.due(2300)] == [(1, "a")]


async def test_a_power_cut_in_one_community_is_one_incident(db_url, conn, home_factory,
                                                            unique) -> None:
    """Live: three homes of one community go silent together, a fourth elsewhere alone. On a
    clock the test moves: the three are one community incident and no alert; the lone home's
    device is an alert, five minutes after it fell silent."""
    homes = [home_factory([("motion", "bedroom")], community=f"cut-{unique}")[0]
             for _ in range(3)]
    alone = home_factory([("motion", "bedroom")], community=f"calm-{unique}")[0]
    t0 = time.time() + 5 * 86400     # a clock of its own: no other test's ingest counts
    for code in homes + [alone]:
        conn.execute("UPDATE devices SET last_seen = %s, heartbeat_s = 900 WHERE home_id ="
                     " (SELECT id FROM homes WHERE code = %s)",
                     (datetime.fromtimestamp(t0, timezone.utc), code))
    svc = Service(db_url, t0 + 60)
    await svc.started()

    async def at(t: float) -> None:
        svc.now = t
        svc.svc.wake.set()
        await wait_until(lambda: not svc.svc.wake.is_set(), 10)
        await asyncio.sleep(0.3)

    try:
        await at(t0 + 3 * 900 + 30)          # offline after three missed heartbeats
        await at(t0 + 3 * 900 + 120)
        assert all(alerts_of(conn, h) == [] for h in homes + [alone]), "waiting, not alerting"
        await at(t0 + 3 * 900 + 400)
        assert all(alerts_of(conn, h) == [] for h in homes)
        # (its only device: the whole home is silent)
        assert [a[0] for a in alerts_of(conn, alone)] in (["device_offline"], ["home_silent"])
        row = conn.execute(
            "SELECT i.homes, i.devices, i.closed_at FROM community_incidents i"
            " JOIN communities c ON c.id = i.community_id WHERE c.code = %s",
            (f"cut-{unique}",)).fetchone()
        assert row == (3, 3, None)
    finally:
        await svc.close()
