"""Database upkeep: 15-minute rollups and retention, whichever TimescaleDB build is present.

The community build has retention policies (background jobs inside the
database); the Apache build (Debian's) has only drop_chunks, so anju calls it
itself. Run by an ingest worker every few minutes (one at a time, under an
advisory lock) and by `anju db maintain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

MAINTENANCE_LOCK = 0x616E6A76
ROLLUP_LATE_DATA = "1 hour"  # readings arriving this late still reach their rollup

LICENSE = "SELECT current_setting('timescaledb.license', true)"

ROLLUP = """
WITH bounds AS (
    SELECT COALESCE((SELECT value FROM maintenance_state WHERE name = 'rollup'),
                    (SELECT min(ts) FROM readings), now()) - interval '%s' AS lo,
           time_bucket('15 minutes', now()) AS hi
)
INSERT INTO readings_15m (home_id, bucket, kind, room, n, n_on, vmin, vmax, vsum)
SELECT d.home_id, time_bucket('15 minutes', r.ts), r.kind, d.room,
       count(*), count(*) FILTER (WHERE r.value > 0), min(r.value), max(r.value), sum(r.value)
FROM readings r JOIN devices d ON d.id = r.device_id, bounds
WHERE r.ts >= bounds.lo AND r.ts < bounds.hi
GROUP BY 1, 2, 3, 4
ON CONFLICT (home_id, kind, room, bucket) DO UPDATE SET
    n = EXCLUDED.n, n_on = EXCLUDED.n_on, vmin = EXCLUDED.vmin, vmax = EXCLUDED.vmax,
    vsum = EXCLUDED.vsum
""" % ROLLUP_LATE_DATA

ROLLUP_MARK = """
INSERT INTO maintenance_state (name, value) VALUES ('rollup', time_bucket('15 minutes', now()))
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value
RETURNING value
"""


@dataclass
class MaintenanceReport:
    license: str
    rollup_rows: int
    rolled_up_to: datetime | None
    dropped_chunks: int
    rejected_deleted: int
    retention: str  # how retention is enforced


async def run(conn: psycopg.AsyncConnection, *, retention_days: int,
              rollup_retention_days: int) -> MaintenanceReport | None:
    """One pass; returns None when another process holds the maintenance lock."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (MAINTENANCE_LOCK,))
    row = await cur.fetchone()
    if not row or not row[0]:
        return None
    try:
        lic = (await (await conn.execute(LICENSE)).fetchone() or ["apache"])[0] or "apache"
        cur = await conn.execute(ROLLUP)
        rollup_rows = cur.rowcount
        mark = await (await conn.execute(ROLLUP_MARK)).fetchone()
        await conn.commit()
        dropped = 0
        if lic == "timescale":
            # The community build compresses a week-old chunk to a fraction of
            # its size: segmenting by device keeps per-device queries fast.
            await conn.execute(
                "ALTER TABLE readings SET (timescaledb.compress,"
                " timescaledb.compress_segmentby = 'device_id, kind',"
                " timescaledb.compress_orderby = 'ts')")
            await conn.execute("SELECT add_compression_policy('readings', interval '7 days',"
                               " if_not_exists => true)")
            for table, days in (("readings", retention_days),
                                ("readings_15m", rollup_retention_days)):
                await conn.execute("SELECT remove_retention_policy(%s, if_exists => true)",
                                   (table,))
                await conn.execute(
                    "SELECT add_retention_policy(%s, make_interval(days => %s))", (table, days))
            how = "compression and retention policies (TimescaleDB community)"
        else:
            for table, days in (("readings", retention_days),
                                ("readings_15m", rollup_retention_days)):
                cur = await conn.execute(
                    "SELECT drop_chunks(%s, older_than => now() - make_interval(days => %s))",
                    (table, days))
                dropped += len(await cur.fetchall())
            how = "drop_chunks by anju (TimescaleDB Apache build)"
        cur = await conn.execute(
            "DELETE FROM rejected_messages WHERE received_at < now() - make_interval(days => %s)",
            (retention_days,))
        rejected = cur.rowcount
        await conn.execute(
            "DELETE FROM rejected_counts WHERE hour < now() - make_interval(days => %s)",
            (retention_days,))
        await conn.commit()
        return MaintenanceReport(lic, rollup_rows, mark[0] if mark else None, dropped, rejected,
                                 how)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MAINTENANCE_LOCK,))
        await conn.commit()
