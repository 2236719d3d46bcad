"""A thousand simulated homes publish through the real broker; the ingest stores every reading."""

from __future__ import annotations

import time

from anju.endpoints import MqttEndpoint
from simulators import fleet
from simulators.homes import make_fleet
from tests.conftest import sync_broker
from tests.support import running_worker, wait_until


async def test_thousand_homes_every_message_stored(stack, endpoints, conn, tmp_path, unique):
    profiles = make_fleet(1000, seed=11, prefix=f"f{unique}")
    homes = fleet.provision(conn, profiles, credentials=tmp_path / "creds.json",
                            gateway_mode=True, community=f"fleet-{unique}")
    sync_broker(stack, conn)
    end = int(time.time()) - 60
    start = end - 15 * 60          # a quarter of an hour of 1,000 homes, recent enough to accept
    expect = fleet.count_events(homes, start, end)
    ids = [r[0] for r in conn.execute(
        "SELECT d.id FROM devices d JOIN homes h ON h.id = d.home_id WHERE h.code LIKE %s",
        (f"f{unique}%",))]
    async with running_worker(endpoints) as w:
        stats = await fleet.publish_fleet(MqttEndpoint.from_url(stack.mqtt_url()), homes,
                                          start, end, speed=0)
        assert stats.readings == expect["readings"] > 10_000
        await wait_until(lambda: w.committed_messages >= stats.messages, timeout=120)
    (rows,) = conn.execute("SELECT count(*) FROM readings WHERE device_id = ANY(%s)",
                           (ids,)).fetchone()
    (rejected,) = conn.execute("SELECT count(*) FROM rejected_messages WHERE device_uid LIKE %s",
                               (f"f{unique}%",)).fetchone()
    assert rejected == 0
    assert rows == expect["readings"]
    (seen,) = conn.execute("SELECT count(*) FROM devices WHERE id = ANY(%s) AND last_seen IS NOT"
                           " NULL", (ids,)).fetchone()
    assert seen > 0.9 * len(ids)   # heartbeats and readings marked the devices seen
