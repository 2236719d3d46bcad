"""Up to when anju's data is known complete: the pipeline watermark.

Readings reach the database through the broker and the ingest. Each ingest
worker beats in service_heartbeats with its broker connection in `info`
({"mqtt": "up" | "down", "since": ISO time of the last change}). A worker that
is connected and beating has stored what the broker gave it up to its beat; a
disconnected one only up to when it lost the broker; a dead one up to its last
beat. The watermark is the oldest of these over the workers seen lately (a
dead worker's persistent session keeps its share of the stream queued, so one
worker down is data missing); if none was seen lately, the newest of all (the
whole ingest has been down since then). A worker stopped on purpose says so in
its last beat and is not counted.

While the watermark lags, silence in a home says nothing about the resident:
the detectors hold absence-based findings and one alert goes to the operators
instead (docs/detectors.md, "Outages").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

import psycopg

# Findings that mean "nothing happened": not to be believed while data is missing.
ABSENCE_KINDS = frozenset({"inactivity", "home_silent", "device_offline", "no_water",
                           "not_back", "sensor_dead"})
HOLD_AFTER_S = 120          # lag beyond which the pipeline is called interrupted
LIVE_S = 15 * 60            # workers seen this recently are each waited for
FORGET_S = 7 * 86400        # beats older than this say nothing any more


@dataclass(frozen=True)
class WorkerBeat:
    instance: str
    beat_at: datetime
    mqtt_up: bool
    since: datetime | None = None   # when the broker connection last went up or down
    stopped: bool = False           # shut down on purpose: not waited for

    @property
    def complete_to(self) -> datetime:
        if self.mqtt_up or self.since is None:
            return self.beat_at
        return min(self.since, self.beat_at)


def from_row(instance: str, beat_at: datetime, info: dict[str, Any] | None) -> WorkerBeat:
    info = info or {}
    since = info.get("since")
    state = info.get("mqtt", "up")
    return WorkerBeat(instance, beat_at, state == "up",
                      datetime.fromisoformat(since) if isinstance(since, str) else None,
                      stopped=state == "stopped")


def watermark(beats: Sequence[WorkerBeat], now: datetime, *, live_s: float = LIVE_S,
              forget_s: float = FORGET_S) -> datetime | None:
    """The time up to which readings are known stored; None if no ingest is known
    (nothing to judge by: nothing is held)."""
    known = [b for b in beats if not b.stopped
             and b.beat_at >= now - timedelta(seconds=forget_s)]
    live = [b for b in known if b.beat_at >= now - timedelta(seconds=live_s)]
    if live:
        return min(b.complete_to for b in live)
    return max((b.complete_to for b in known), default=None)


def interrupted(mark: datetime | None, now: datetime, hold_after_s: float = HOLD_AFTER_S) -> bool:
    return mark is not None and (now - mark).total_seconds() > hold_after_s


def ingest_info(mqtt_up: bool, since: datetime | None, *, stopped: bool = False) -> dict[str, Any]:
    """What an ingest worker puts in its heartbeat's `info`."""
    return {"mqtt": "stopped" if stopped else "up" if mqtt_up else "down",
            "since": since.isoformat() if since is not None else None}


async def read(conn: psycopg.AsyncConnection) -> list[WorkerBeat]:
    cur = await conn.execute(
        "SELECT instance, beat_at, info FROM service_heartbeats WHERE service = 'ingest'")
    return [from_row(*r) for r in await cur.fetchall()]
