"""Liveness rows the watchdog reads (table service_heartbeats, migration 004).

Each service writes its row from its working loop itself, so a service that is
stuck (its database writes failing, say) stops beating.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

HEARTBEAT = """
INSERT INTO service_heartbeats (service, instance, beat_at, progress, info)
VALUES (%s, %s, coalesce(%s::timestamptz, now()), %s, %s)
ON CONFLICT (service, instance) DO UPDATE SET beat_at = excluded.beat_at,
    progress = excluded.progress, info = excluded.info
"""


async def beat(conn: psycopg.AsyncConnection, service: str, instance: str, progress: int,
               at: datetime | None = None, info: dict[str, Any] | None = None) -> None:
    """Record that `instance` of `service` is working; `at` defaults to the database's now().
    `info` says more (the ingest: its broker connection, see anju.pipeline)."""
    await conn.execute(HEARTBEAT, (service, instance, at, progress, Jsonb(info or {})))
