"""The watchdog: tell the operators when a service stops making progress.

Every service writes its row in service_heartbeats while its loop turns (see
docs/router.md for the SQL). A service whose newest heartbeat, over all its
instances, is older than `stale_s` has stopped; the operators are told
directly through apprise from the process running the check — not through
the router's delivery queue, which may be the part that stopped — and told
again every `renotify_s` until it recovers, then told it recovered. The
check runs in every router and in `anju watchdog` (a separate process, or
`--once` from cron); an incident row, claimed atomically, keeps several of
them from telling the operators twice. If the database itself cannot be
reached, `anju watchdog` tells the URLs configured in ANJU_WATCHDOG_URLS.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Sequence

import psycopg

from alerts.messages import watchdog_message
from alerts.send import SendResult, send
from anju import pipeline

log = logging.getLogger("anju.watchdog")
Sender = Callable[[str, str, str, str], Awaitable[SendResult]]


@dataclass(frozen=True)
class WatchdogReport:
    stale: list[tuple[str, datetime | None]]     # services stopped, told now
    recovered: list[str]                         # services working again, told now
    told: int                                    # operators' URLs that accepted the message


def _default_sender(url: str, title: str, body: str, key: str) -> Awaitable[SendResult]:
    return send(url, title, body, key, timeout=30)


async def operator_urls(conn: psycopg.AsyncConnection) -> list[str]:
    """Every operator contact's preferred URL (operators of all communities and none)."""
    cur = await conn.execute(
        "SELECT urls[1] FROM contacts WHERE role = 'operator' AND active ORDER BY id")
    return [r[0] for r in await cur.fetchall()]


async def check(conn: psycopg.AsyncConnection, now: datetime, *, stale_s: float = 90,
                renotify_s: float = 1800, services: Sequence[str] | None = None,
                extra_urls: Sequence[str] = (), include_contacts: bool = True,
                sender: Sender | None = None) -> WatchdogReport:
    """One check; `conn` in autocommit mode. `services` limits which are watched."""
    sender = sender or _default_sender
    cur = await conn.execute(
        "SELECT service, max(beat_at) FROM service_heartbeats"
        " WHERE %(svc)s::text[] IS NULL OR service = ANY(%(svc)s) GROUP BY service",
        {"svc": list(services) if services is not None else None})
    beats = dict(await cur.fetchall())
    for s in services or ():
        beats.setdefault(s, None)
    if services is None or "pipeline" in services:
        # The data pipeline as a whole (broker -> ingest -> database): stale while
        # its watermark lags, even when every process still beats.
        mark = pipeline.watermark(await pipeline.read(conn), now)
        if mark is not None:
            beats["pipeline"] = mark
    cutoff = now - timedelta(seconds=stale_s)
    stale_now = {s: t for s, t in beats.items() if t is None or t < cutoff}
    to_tell: list[tuple[str, datetime | None]] = []
    claimed: list[int] = []
    for service, last in sorted(stale_now.items()):
        await conn.execute(
            "INSERT INTO watchdog_incidents (service, opened_at, last_beat_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (service) WHERE recovered_at IS NULL DO NOTHING", (service, now, last))
        cur = await conn.execute(
            "UPDATE watchdog_incidents SET notified_at = %s, notified = notified + 1,"
            " last_beat_at = %s WHERE service = %s AND recovered_at IS NULL"
            " AND (notified_at IS NULL OR notified_at < %s) RETURNING id",
            # an interrupted pipeline is told once, and its end: the night shift is
            # woken once, not every half hour of a long outage
            (now, last, service, datetime.min.replace(tzinfo=now.tzinfo) if service == "pipeline"
             else now - timedelta(seconds=renotify_s)))
        row = await cur.fetchone()
        if row:
            claimed.append(row[0])
            to_tell.append((service, last))
    fresh = [s for s in beats if s not in stale_now]
    cur = await conn.execute(
        "UPDATE watchdog_incidents SET recovered_at = %s WHERE recovered_at IS NULL"
        " AND service = ANY(%s) RETURNING service, notified", (now, fresh))
    recovered = [s for s, notified in await cur.fetchall() if notified]
    if not to_tell and not recovered:
        return WatchdogReport([], [], 0)
    urls = list(extra_urls) + (await operator_urls(conn) if include_contacts else [])
    title, body = watchdog_message(to_tell, recovered, now)
    told = await tell(urls, title, body, f"watchdog-{now:%Y%m%dT%H%M%S}", sender)
    if to_tell and told == 0:
        # nobody heard: let the next check try again rather than wait renotify_s
        await conn.execute("UPDATE watchdog_incidents SET notified_at = NULL,"
                           " notified = notified - 1 WHERE id = ANY(%s)", (claimed,))
        log.error("watchdog: no operator could be told that %s stopped",
                  ", ".join(s for s, _ in to_tell))
    return WatchdogReport(to_tell, recovered, told)


async def tell(urls: Sequence[str], title: str, body: str, key: str,
               sender: Sender | None = None) -> int:
    sender = sender or _default_sender
    if not urls:
        log.error("watchdog: no operator contacts and no ANJU_WATCHDOG_URLS: %s", body)
        return 0
    results = await asyncio.gather(*(sender(u, title, body, key) for u in urls))
    for u, r in zip(urls, results):
        if not r.ok:
            log.warning("watchdog: could not tell an operator: %s", r.error)
    return sum(1 for r in results if r.ok)
