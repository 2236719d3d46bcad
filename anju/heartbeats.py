"""Liveness rows the watchdog reads (table service_heartbeats, migration 004).

Each service writes its row from its working loop itself, so a service that is
stuck (its database writes failing, say) stops beating.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

HEARTBEAT = """
INSERT INTO service_heartbeats (service, instance, beat_at, progress)
VALUES (%s, %s, coalesce(%s::timestamptz, now()), %s)
ON CONFLICT (service, instance) DO UPDATE SET beat_at = excluded.beat_at,
    progress = excluded.progress
"""


async def beat(conn: psycopg.AsyncConnection, service: str, instance: str, progress: int,
               at: datetime | None = None) -> None:
    """Record that `instance` of `service` is working; `at` defaults to the database's now()."""
    await conn.execute(HEARTBEAT, (service, instance, at, progress))
