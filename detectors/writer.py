"""The detector service's writes: findings as alerts (through alerts.store, the only
writer of alerts) and community incidents (detectors/bursts.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Mapping

import psycopg
from psycopg.types.json import Jsonb

from alerts import store
from detectors import sql
from detectors.bursts import Bursts
from detectors.events import Finding
from detectors.homes import Home
from detectors.state import MOMENTARY

log = logging.getLogger("anju.detect")
UTC = timezone.utc


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def write_findings(db: psycopg.AsyncConnection, findings: list[tuple[int, Finding]],
                         device_id: dict[str, int]) -> tuple[int, int]:
    """Findings of homes (by id) in order: opens are written in batches, a clear after the
    opens before it. Returns how many alerts were opened and cleared."""
    opened = cleared = 0
    opens: list[tuple[int, Finding]] = []
    for hid, f in findings:
        if f.state == "open":
            if f.kind in MOMENTARY:
                opened += await open_alerts(db, opens, device_id)
                opens = []
                # pressed again after someone acknowledged the earlier press: that alert
                # is resolved as followed by this one, which opens and is told anew
                await store.supersede(db, hid, f.kind, _dt(f.at),
                                      "pressed again: a new alert follows")
            opens.append((hid, f))
            continue
        opened += await open_alerts(db, opens, device_id)
        opens = []
        reason = f.text.get("en") or str(f.evidence.get("reason", "condition cleared"))
        cleared += len(await store.clear(db, hid, f.kind, _dt(f.at), reason))
    opened += await open_alerts(db, opens, device_id)
    return opened, cleared


async def open_alerts(db: psycopg.AsyncConnection, opens: list[tuple[int, Finding]],
                      device_id: dict[str, int]) -> int:
    """Open findings as alerts, in one batch; returns how many alerts opened."""
    ids = await store.open_many(db, [store.NewAlert(
        home_id=hid, kind=f.kind, severity=f.severity, condition_at=_dt(f.at),
        since=_dt(f.since) if f.since else None, evidence=f.evidence,
        summary_zh=f.text.get("zh-CN", f.kind), summary_en=f.text.get("en", f.kind),
        note=f.text.get("en"), device_id=device_id.get(f.device or ""))
        for hid, f in opens])
    return sum(1 for i in ids if i is not None)


async def write_incidents(db: psycopg.AsyncConnection, bursts: Bursts,
                          homes: Mapping[int, Home], now: float) -> None:
    """Community incidents opened, changed or closed since the last write."""
    changed, closed = bursts.to_write()
    code = {h.id: h.code for h in homes.values()} if changed else {}
    for inc in changed:
        homes = sorted({code.get(k[0], str(k[0])) for k in inc.members})
        await db.execute(sql.UPSERT_INCIDENT, (
            inc.community_id, _dt(inc.opened_at), inc.homes, len(inc.members),
            Jsonb({"homes": homes[:200], "kinds": sorted({k[1] for k in inc.members})})))
        log.warning("community %s: %d homes lost devices at once; one incident, no alert"
                    " each", inc.community_id, inc.homes)
    for inc in closed:
        await db.execute(sql.CLOSE_INCIDENT, (_dt(now), inc.community_id))
