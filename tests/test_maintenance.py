"""Rollups keep what charts and detectors need; retention drops old raw readings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from anju import maintenance


def _insert(conn, device_id: int, kind: int, ts: datetime, seq: int, value: float) -> None:
    conn.execute("INSERT INTO readings (ts, seq, value, device_id, kind) VALUES (%s,%s,%s,%s,%s)",
                 (ts, seq, value, device_id, kind))


async def test_rollup_and_retention(db_url, conn, home_factory):
    """Raw readings past retention are dropped; their 15-minute rollup stays."""
    home, devs = home_factory([("motion", "kitchen"), ("water", "kitchen")])
    motion, water = devs["motion-kitchen"].id, devs["water-kitchen"].id
    old = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=100)
    for i in range(5):   # five motion events in one quarter hour, 100 days ago
        _insert(conn, motion, 1, old + timedelta(minutes=2 * i), i, 1)
    for i in range(3):   # water meter totals
        _insert(conn, water, 5, old + timedelta(minutes=5 * i), i, 100.0 + i * 2.5)
    recent = datetime.now(timezone.utc) - timedelta(hours=2)
    _insert(conn, motion, 1, recent, 99, 1)
    # the rollup has never run for this data: start its window before it
    conn.execute("DELETE FROM maintenance_state WHERE name = 'rollup'")

    async with await psycopg.AsyncConnection.connect(db_url) as a:
        report = await maintenance.run(a, retention_days=90, rollup_retention_days=730)
    assert report is not None
    assert report.license == "apache" and "drop_chunks" in report.retention
    assert report.dropped_chunks >= 1
    home_id = conn.execute("SELECT id FROM homes WHERE code = %s", (home,)).fetchone()[0]
    rows = conn.execute(
        "SELECT bucket, kind, room, n, n_on, vmin, vmax FROM readings_15m"
        " WHERE home_id = %s ORDER BY bucket, kind", (home_id,)).fetchall()
    assert rows[0][1:] == (1, "kitchen", 5, 5, 1.0, 1.0) and rows[0][0] == old
    assert rows[1][1:] == (5, "kitchen", 3, 3, 100.0, 105.0)
    assert rows[-1][3] == 1  # the recent event is rolled up too
    raw = conn.execute("SELECT count(*) FROM readings WHERE device_id = ANY(%s)",
                       ([motion, water],)).fetchone()[0]
    assert raw == 1  # only the recent reading is left


async def test_only_one_maintainer_at_a_time(db_url):
    """A second process finds the lock taken and does nothing."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (maintenance.MAINTENANCE_LOCK,))
        async with await psycopg.AsyncConnection.connect(db_url) as other:
            assert await maintenance.run(other, retention_days=90,
                                         rollup_retention_days=730) is None
