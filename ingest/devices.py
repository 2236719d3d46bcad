"""The ingest's in-memory copy of the device registry.

Loaded once at start, then refreshed from `devices.updated_at`; a device not
yet known is looked up on demand (with a short negative cache, so a flood
from an unprovisioned device does not become a flood of queries).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterable

import psycopg

from ingest import sql
from ingest.message import DeviceRef, device_ref

NEGATIVE_TTL_S = 2.0


class DeviceCache:
    def __init__(self) -> None:
        self._by_uid: dict[str, DeviceRef] = {}
        self._by_gateway: dict[tuple[str, str], DeviceRef] = {}
        self._watermark = datetime(1970, 1, 1, tzinfo=timezone.utc)
        self._missing: dict[str | tuple[str, str], float] = {}

    def __len__(self) -> int:
        return len(self._by_uid)

    # Registry protocol (used by decode)
    def device(self, uid: str) -> DeviceRef | None:
        return self._by_uid.get(uid)

    def behind_gateway(self, gateway_uid: str, name: str) -> DeviceRef | None:
        return self._by_gateway.get((gateway_uid, name))

    def _apply(self, rows: Iterable[tuple[Any, ...]]) -> int:
        n = 0
        for id_, uid, home_id, kind, tz, gw_uid, ext_name, active, updated_at in rows:
            n += 1
            self._missing.pop(uid, None)
            if active:
                ref = device_ref(id_, uid, home_id, kind, tz)
                self._by_uid[uid] = ref
                if gw_uid and ext_name:
                    self._by_gateway[(gw_uid, ext_name)] = ref
                    self._missing.pop((gw_uid, ext_name), None)
            else:
                self._by_uid.pop(uid, None)
                if gw_uid and ext_name:
                    self._by_gateway.pop((gw_uid, ext_name), None)
            if updated_at > self._watermark:
                self._watermark = updated_at
        return n

    async def refresh(self, conn: psycopg.AsyncConnection) -> int:
        """Apply devices added or changed since the last refresh."""
        cur = await conn.execute(sql.LOAD_DEVICES, (self._watermark,))
        return self._apply(await cur.fetchall())

    async def lookup(self, conn: psycopg.AsyncConnection,
                     keys: set[str | tuple[str, str]]) -> None:
        """Fetch devices not seen before, by uid or by (gateway uid, name).

        Misses are remembered for NEGATIVE_TTL_S, so a device sending before it is
        provisioned costs one query per interval, not one per message.
        """
        now = time.monotonic()
        wanted = [k for k in keys if now - self._missing.get(k, -1e9) > NEGATIVE_TTL_S]
        if not wanted:
            return
        uids = [k for k in wanted if isinstance(k, str)]
        pairs = [k for k in wanted if isinstance(k, tuple)]
        cur = await conn.execute(sql.LOOKUP_DEVICES, (uids, [g for g, _ in pairs],
                                                      [n for _, n in pairs]))
        self._apply(await cur.fetchall())
        for k in wanted:
            found = (self._by_gateway.get(k) if isinstance(k, tuple)
                     else self._by_uid.get(k))
            if found is None:
                self._missing[k] = now


def lookup_key(topic: str) -> str | tuple[str, str]:
    """The registry key a topic names: a device uid, or (gateway uid, name)."""
    parts = topic.split("/")
    if len(parts) >= 5 and parts[2] == "gateways":
        return (parts[3], parts[4])
    if len(parts) >= 5 and parts[2] == "z2m":
        return (parts[3], "/".join(parts[4:-1] if parts[-1] == "availability" else parts[4:]))
    return parts[3] if len(parts) > 3 else ""
