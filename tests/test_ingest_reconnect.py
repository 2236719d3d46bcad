"""The ingest survives losing its broker connection with messages received and not yet
acknowledged (the database holding their batch)."""

from __future__ import annotations

import asyncio
import secrets

import psycopg

from anju.settings import IngestSettings
from ingest.metrics import IngestMetrics
from ingest.service import IngestWorker
from tests.support import as_device, forget_session, publish_series, stored, wait_until

async def test_reconnect_with_messages_in_flight_loses_and_duplicates_nothing(
        stack, endpoints, conn, db_url, home_factory):
    """Database blocked (nothing acknowledged), connection dropped, database back: every
    reading stored once. The broker sends the unacknowledged ones again on the new
    connection; the batch of the old one commits its rows without acknowledging them.
    The worker keeps its socket read all along: keepalives are answered while it waits
    (keepalive 30 s; the test waits 40)."""
    home, devs = home_factory([("motion", "bedroom")])
    dev = devs["motion-bedroom"]
    settings = IngestSettings(share_group=f"g-{secrets.token_hex(3)}",
                              client_id=f"ingest-rc-{secrets.token_hex(3)}",
                              queue_max=20, batch_size=10, flush_ms=20, maintenance_s=0)
    w = IngestWorker(endpoints.database_url, endpoints.mqtt, settings, worker="rc",
                     metrics=IngestMetrics())
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    # Every batch locks its devices' rows before it commits: holding this
    # device's row lock blocks every batch of this test, and only this test's.
    blocker = psycopg.connect(db_url)
    try:
        await asyncio.wait_for(w.ready.wait(), 15)
        blocker.execute("SELECT 1 FROM devices WHERE id = %s FOR UPDATE", (dev.id,))
        c = await as_device(stack, dev)

        await publish_series(c, dev.uid, 100, seq0=0)
        await wait_until(lambda: w.metrics.received._value.get() >= 100, timeout=10)
        assert stored(conn, [dev.id]) == (0, 0)
        first = w.conn
        assert first is not None
        await asyncio.sleep(40)                          # past the keepalive: no churn
        assert w.conn is first and first.connects == 1, "the connection stayed up"

        first.abort()   # the connection dies with 100 messages unacknowledged
        await wait_until(lambda: w.generation >= 2 and w.conn is not None
                         and w.conn.connected, timeout=10)
        await publish_series(c, dev.uid, 50, seq0=100)   # while the database is blocked

        blocker.rollback()
        await publish_series(c, dev.uid, 50, seq0=150)   # after the database is back
        await c.disconnect()
        total = 200
        await wait_until(lambda: stored(conn, [dev.id])[0] >= total or task.done(), timeout=20)
        assert not task.done(), f"the worker stopped: {task.exception()!r}"
        receivers = [t for t in asyncio.all_tasks() if t.get_name() == "ingest-mqtt"]
        assert receivers and not any(t.done() for t in receivers), "the MQTT receiver ended"
        await asyncio.sleep(0.3)
        assert stored(conn, [dev.id]) == (total, total)
    finally:
        blocker.close()
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        except Exception:
            pass  # already reported above, if it matters
        await forget_session(endpoints, settings.client_id)
