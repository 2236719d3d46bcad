"""`anju demo`'s community: devices online from the start, the scripted incidents alerted.

Drives the demo's own pieces (devtools/demo.py) against servers of its own
(a detector service raises alerts for every home it knows, so it must not see
other tests' homes): the scripted homes planned, registered and published by
the simulators, the ingest, detector and router services as child processes,
the `anju sim run` community, and the inbox. The incident schedule is
compressed (the same kinds, due 20 s into the run instead of 1 to 5 minutes).
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from datetime import datetime, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

import psycopg
import pytest

from anju.embedded import Stack
from console.sql.homes import HOME_DEVICES
from devtools import demo, demo_homes
from tests.conftest import fresh_stack

COMPRESSED = demo_homes.Schedule(still_from=-(demo_homes.STILL_LIMIT_S - 20),
                                 tap_from=-(demo_homes.TAP_LIMIT_S - 20), door_at=20)
KINDS = {h.code: h.alert for h in demo_homes.HOMES}
BOUND_S = 75          # every scripted incident's alert within this of the start


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    yield from fresh_stack("anju-demo-community-")


def offline_devices(conn: psycopg.Connection, prefix: str) -> tuple[int, list[str]]:
    """(devices, those the console shows offline) of the homes whose code starts so."""
    total, offline = 0, []
    for (home_id,) in conn.execute("SELECT id FROM homes WHERE code LIKE %s",
                                   (prefix + "%",)).fetchall():
        cur = conn.execute(HOME_DEVICES, (home_id,))
        cols = [c.name for c in cur.description or ()]
        for row in cur.fetchall():
            d = dict(zip(cols, row))
            total += 1
            if d["offline"]:
                offline.append(d["uid"])
    return total, offline


def alerts_of(conn: psycopg.Connection) -> list[tuple[str, str, datetime]]:
    """The scripted homes' alerts: (home, kind, opened at)."""
    return conn.execute("SELECT h.code, a.kind, a.opened_at FROM alerts a JOIN homes h"
                        " ON h.id = a.home_id WHERE h.code = ANY(%s) ORDER BY a.id",
                        (list(KINDS),)).fetchall()


def test_demo_homes_online_and_their_incidents_alerted(own_stack: Stack) -> None:
    stack = own_stack
    started = time.time()
    p, homes, after = demo.prepare(stack, COMPRESSED, start=int(started))
    assert after == {}
    inbox = demo.inbox_for(p)
    demo.add_family(stack, inbox.port)
    demo.add_worker(stack, inbox.port)
    env = demo.service_env(stack, inbox.port)
    log_dir = stack.state_dir / "logs"
    children = demo.start_services(env, log_dir, demo.PIPELINE)
    children.append(demo.start_community(env, log_dir, homes=2))
    stop = asyncio.Event()
    online: tuple[int, list[str]] = (0, [])
    community: tuple[int, list[str]] = (0, [])
    alerts: list[tuple[str, str, datetime]] = []

    async def watch() -> None:
        nonlocal online, community, alerts
        task = asyncio.create_task(demo.publish_homes(stack, homes, p, stop))
        try:
            with psycopg.connect(stack.database_url(), autocommit=True) as conn:
                while time.time() - started < BOUND_S:
                    await asyncio.sleep(1)
                    online = offline_devices(conn, "demo-")
                    community = offline_devices(conn, "demo-sim-")
                    alerts = alerts_of(conn)
                    if {a[0] for a in alerts} == set(KINDS) and not online[1] and community[0] \
                            and not community[1]:
                        break
        finally:
            stop.set()
            await task

    try:
        asyncio.run(watch())
    finally:
        demo.stop_children(children)
    logs = {f.name: f.read_text(errors="replace")[-1500:] for f in log_dir.glob("*.log")}
    # every device of the demo, scripted homes and `anju sim run` community alike, counts
    # as online as the console works it out
    assert online[0] >= 3 * 10 and not online[1], (online, logs)
    assert community[0] > 0 and not community[1], (community, logs)
    # the three incident kinds, each raised as an alert in its home, within the bound, and
    # nothing else there (the backlog's ordinary life raises nothing under the short limits)
    assert sorted((code, kind) for code, kind, _ in alerts) == sorted(KINDS.items()), \
        (alerts, logs)
    raised = {code: (kind, at) for code, kind, at in alerts}
    for code, (kind, at) in raised.items():
        assert at.timestamp() - started < BOUND_S, (code, kind, at)
    # and each reached the inbox: the family's message, at a time in the home's zone
    deadline = time.monotonic() + 20
    while {m.path.strip("/") for m in inbox.messages} < set(KINDS) and time.monotonic() < deadline:
        time.sleep(0.5)
    paths = {m.path.strip("/") for m in inbox.messages}
    assert set(KINDS) <= paths, (paths, logs["route.log"])
    page = urllib.request.urlopen(f"http://127.0.0.1:{inbox.port}/").read().decode()
    assert "通知收件箱" in page and "家属" in page
    for m in inbox.messages:
        tz = p.tz(m.path.strip("/")) if m.path.strip("/") in KINDS else "Asia/Shanghai"
        clock = datetime.fromtimestamp(m.at, ZoneInfo(tz)).strftime("%H:%M:%S")
        assert clock in page, (clock, tz, page)
    night = p.tz("demo-201")
    hour = datetime.fromtimestamp(raised["demo-201"][1].timestamp(), ZoneInfo(night)).hour
    assert hour < 5, (night, hour)
    if night != "Asia/Shanghai":
        assert f"({night})" in page
    utc = datetime.fromtimestamp(inbox.messages[0].at, timezone.utc).strftime("%H:%M:%S")
    shanghai = datetime.fromtimestamp(inbox.messages[0].at,
                                      ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S")
    assert utc == shanghai or not re.search(rf"<b>{utc}\b", page)
    english = urllib.request.urlopen(f"http://127.0.0.1:{inbox.port}/?lang=en").read().decode()
    assert "Notification inbox" in english
    inbox.stop()
