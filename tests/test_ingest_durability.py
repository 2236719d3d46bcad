"""The ingest loses nothing and duplicates nothing when it or the database dies."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

from anju.embedded import free_port

from tests.support import IngestProcess, as_device, publish_series, stored, wait_until

N_DEVICES = 4
PER_DEVICE = 5000


async def _publish_all(stack, devs, *, pace: float = 0) -> None:
    conns = [await as_device(stack, d) for d in devs]
    await asyncio.gather(*(publish_series(c, d.uid, PER_DEVICE, pace=pace, window=200)
                           for c, d in zip(conns, devs)))
    for c in conns:
        await c.disconnect()


async def test_kill_9_mid_stream_then_restart(stack, conn, home_factory, tmp_path, unique):
    """kill -9 of the worker under load, restart: every message stored exactly once."""
    home, devmap = home_factory([("motion", r) for r in ("bedroom", "kitchen", "bathroom",
                                                         "living_room")])
    devs = list(devmap.values())
    ids = [d.id for d in devs]
    port = free_port()
    worker = IngestProcess(stack, f"k9-{unique}", tmp_path / "ingest.log", group=f"k9-{unique}",
                           env={"ANJU_INGEST_METRICS_PORT": str(port)})
    worker.start()
    await worker.wait_subscribed()
    publishing = asyncio.create_task(_publish_all(stack, devs, pace=0.0004))
    await wait_until(lambda: stored(conn, ids)[0] >= 3000, timeout=60)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    received = float(re.search(r"^anju_ingest_received_total (\S+)$", metrics, re.M).group(1))
    assert received >= 3000 and "anju_ingest_queue_depth" in metrics
    worker.kill()                       # mid-stream, with a batch in the air
    killed_at = stored(conn, ids)[0]
    await asyncio.sleep(1.0)            # the broker queues for the dead worker's session
    worker.start()
    await publishing
    total = N_DEVICES * PER_DEVICE
    await wait_until(lambda: stored(conn, ids)[0] >= total, timeout=90)
    await asyncio.sleep(0.5)
    assert worker.stop() == 0
    assert killed_at < total
    assert stored(conn, ids) == (total, total)


async def test_database_outage_loses_nothing(stack, conn, home_factory, tmp_path, unique):
    """PostgreSQL down for 30 s under load: nothing lost or doubled, no early PUBACK.

    During the outage the worker itself is killed; only messages it never
    acknowledged come back to it from the broker, so if it had acknowledged
    anything not yet committed, that message would be missing at the end.
    """
    home, devmap = home_factory([("motion", r) for r in ("bedroom", "kitchen", "bathroom",
                                                         "living_room")])
    devs = list(devmap.values())
    ids = [d.id for d in devs]
    worker = IngestProcess(stack, f"pg-{unique}", tmp_path / "ingest.log", group=f"pg-{unique}")
    worker.start()
    await worker.wait_subscribed()
    publishing = asyncio.create_task(_publish_all(stack, devs, pace=0.004))
    await wait_until(lambda: stored(conn, ids)[0] >= 500, timeout=60)
    conn.close()
    stack.stop_postgres(mode="immediate")     # a crash, not a polite shutdown
    down_at = time.monotonic()
    await asyncio.sleep(15)
    worker.kill()                              # holding unacknowledged messages
    worker.start()
    await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    stack.start_postgres()
    await publishing
    import psycopg
    with psycopg.connect(stack.database_url(), autocommit=True) as c2:
        total = N_DEVICES * PER_DEVICE
        await wait_until(lambda: stored(c2, ids)[0] >= total, timeout=120)
        await asyncio.sleep(0.5)
        assert stored(c2, ids) == (total, total)
    assert worker.stop() == 0
    assert "retrying" in (tmp_path / "ingest.log").read_text()
