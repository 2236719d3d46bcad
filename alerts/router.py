"""The router: escalation chains and deliveries, all state in the database.

Work is done in stages, each a short transaction any number of routers can
share and any of them can be killed in: adopting open alerts and running
due escalation steps (alerts.escalation), follow-ups to the people already
told once an alert is acknowledged or resolved, daily summaries, and deliveries
(alerts.delivery: claimed under a lease, sent with nothing held, the result
recorded while the lease is still ours; what follows a send is decided by
alerts.outcome). A router killed mid-send leaves the delivery to be sent
again once its lease runs out, with the same idempotency key: at most once
more; the attempt row is committed before the send.

Time comes from an injected clock (`now`), so tests drive escalation
timing without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from alerts import delivery, escalation, incidents, store, unreached, watchdog
from alerts import router_sql as sql
from alerts import summary as summaries
from alerts.clock import Clock, ManualClock, utcnow
from alerts.followups import Followup, Recipient, recipients, superseded
from alerts.messages import AlertView, summary_messages
from alerts.outcome import Retry
from alerts.rendering import Links, followup_deliveries, summary_key
from alerts.send import SendResult, send
from anju import heartbeats, sdnotify

__all__ = ["ManualClock", "Retry", "Router", "RouterConfig", "DEFAULT_LINK_BASE"]

log = logging.getLogger("anju.router")
Sender = Callable[[str, str, str, str], Awaitable[SendResult]]

# the console's default address: it serves the acknowledgement links
DEFAULT_LINK_BASE = "http://127.0.0.1:8750"


@dataclass
class RouterConfig:
    secret: bytes
    link_base: str              # the console's public address; links are <base>/ack/<token>
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    concurrency: int = 8
    poll_s: float = 1.0
    link_ttl_s: int = 24 * 3600
    send_timeout_s: float = 60
    retry: Retry = field(default_factory=Retry)
    summaries: bool = True
    communities: list[int] | None = None   # serve only these communities (None: all)
    watchdog: bool = False                  # check the other services' heartbeats too
    watchdog_every_s: float = 15
    watchdog_stale_s: float = 90
    watchdog_urls: list[str] = field(default_factory=list)   # besides operator contacts
    watchdog_services: list[str] | None = None               # None: every service that beats
    # a critical alert unacknowledged this long tells the operators (a community may set its own)
    unacked_critical_s: int = unreached.DEFAULT_UNACKED_CRITICAL_S

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is ours: past the send timeout, with time to spare
        for writing the result."""
        return self.send_timeout_s + max(5.0, self.send_timeout_s / 4)

    @property
    def links(self) -> Links:
        return Links(self.secret, self.link_base, self.link_ttl_s)


class Router:
    def __init__(self, database_url: str, config: RouterConfig, *, clock: Clock = utcnow,
                 sender: Sender | None = None) -> None:
        self.url = database_url
        self.cfg = config
        self.clock = clock
        self.sender: Sender = sender or (
            lambda url, title, body, key: send(url, title, body, key, config.send_timeout_s))
        self.pool: AsyncConnectionPool | None = None
        self.progress = 0          # steps run + deliveries finished, for the heartbeat
        self._wakes: list[asyncio.Event] = []
        self._main_wake = asyncio.Event()

    @property
    def actor(self) -> str:
        return f"router {self.cfg.worker}"

    # -- lifecycle -------------------------------------------------------------
    async def open(self) -> None:
        if self.pool is None:
            # a connection is held for a claim or a result, never across a send
            self.pool = AsyncConnectionPool(self.url, min_size=2,
                                            max_size=self.cfg.concurrency + 4, open=False,
                                            kwargs={"autocommit": False},
                                            check=AsyncConnectionPool.check_connection)
            await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def __aenter__(self) -> "Router":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _pool(self) -> AsyncConnectionPool:
        assert self.pool is not None, "Router.open() first"
        return self.pool

    # -- one pass, for tests and for the loop ------------------------------------
    async def tick(self) -> int:
        """Adopt new alerts, run every due step, send every due delivery, until nothing
        is due at this clock time (a failed delivery can make the next step due). Returns
        work done."""
        total = 0
        while True:
            n = await self.adopt()
            n += await self.escalate_due()
            n += await self.followups_due()
            if self.cfg.summaries:
                n += await self.summaries_due()
            n += await self.deliver_due()
            n += await self.unreached_due()
            total += n
            if n == 0:
                return total

    async def watch(self) -> "watchdog.WatchdogReport":
        """One watchdog check, told directly through apprise (not through deliveries)."""
        async with self._pool().connection() as conn:
            await conn.set_autocommit(True)
            try:
                return await watchdog.check(
                    conn, self.clock(), stale_s=self.cfg.watchdog_stale_s,
                    services=self.cfg.watchdog_services, extra_urls=self.cfg.watchdog_urls)
            finally:
                await conn.set_autocommit(False)

    async def unreached_due(self) -> int:
        """Mark critical alerts nobody acknowledged in time; tell the operators of every
        alert that reached nobody (once each). Returns alerts marked or told."""
        now = self.clock()
        async with self._pool().connection() as conn:
            await conn.set_autocommit(True)
            try:
                n = await unreached.mark_unacknowledged(conn, now, self.cfg.communities,
                                                        self.cfg.unacked_critical_s)
                n += await unreached.tell_operators(conn, now, self.cfg.communities,
                                                    self.cfg.watchdog_urls)
                n += await incidents.tell(conn, self.cfg.communities, self.cfg.watchdog_urls)
            finally:
                await conn.set_autocommit(False)
        return n

    async def heartbeat(self) -> None:
        async with self._pool().connection() as conn:
            await heartbeats.beat(conn, "router", self.cfg.worker, self.progress,
                                  at=self.clock())

    # -- escalation ----------------------------------------------------------------
    async def adopt(self) -> int:
        """Freeze a policy onto every open alert that has no escalation yet."""
        async with self._pool().connection() as conn:
            return await escalation.adopt(conn, self.clock(), self.cfg.communities)

    async def escalate_due(self, limit: int = 1000) -> int:
        done = 0
        while done < limit and await self.escalate_one():
            done += 1
        return done

    async def escalate_one(self) -> bool:
        """Run one due step under its row lock; False when nothing is due."""
        async with self._pool().connection() as conn:
            run = await escalation.run_due_step(conn, self.clock(),
                                                communities=self.cfg.communities,
                                                links=self.cfg.links, actor=self.actor)
        if run is None:
            return False
        if run.ran:
            self.progress += 1
            self._wake()
        return True

    # -- follow-ups ----------------------------------------------------------------------
    async def followups_due(self, limit: int = 1000) -> int:
        """Queue the follow-ups of every alert acknowledged or resolved since the router last
        looked; returns the alerts handled."""
        done = 0
        while done < limit and await self.followup_one():
            done += 1
        if done:
            self._wake()
        return done

    async def followup_one(self) -> bool:
        """One alert's follow-ups as deliveries, and the mark that they are queued, in one
        transaction under the alert's row lock: a crash before the commit leaves them to be
        queued again, after it they exist (keys a<id>-ack-c<contact>: never twice)."""
        now = self.clock()
        async with self._pool().connection() as conn:
            async with conn.transaction():
                row = await (await conn.execute(sql.FOLLOWUP_DUE,
                                                {"c": self.cfg.communities})).fetchone()
                if row is None:
                    return False
                view = AlertView(*row[:12], room=row[12], evidence=row[13] or {})
                (state, ack_at, ack_by, res_at, res_by, outcome, ack_due, res_due, res_note,
                 link_contact) = row[14:]
                cur = await conn.execute(sql.FOLLOWUP_TOLD, (view.alert_id,))
                told = [Recipient(id=r[0], name=r[1], lang=r[2], urls=tuple(r[3]))
                        for r in await cur.fetchall()]
                notes = []
                # acknowledged and resolved before the router looked: the outcome says both
                if ack_due and state == "acknowledged" and ack_at is not None:
                    f = Followup(kind="ack", view=view, at=ack_at, actor=ack_by)
                    notes.append(await self._queue(conn, f, recipients(
                        told, acted_contact=link_contact, actor=ack_by), now))
                if res_due and state == "resolved" and res_at is not None:
                    if superseded(outcome, res_note):
                        notes.append("resolved: superseded by a new alert, nobody told")
                    else:
                        f = Followup(kind="res", view=view, at=res_at, actor=res_by,
                                     outcome=outcome, note=res_note)
                        notes.append(await self._queue(conn, f, recipients(
                            told, acted_contact=None, actor=res_by), now))
                await store.followups_queued(conn, view.alert_id, ack=True,
                                             res=state == "resolved", now=now,
                                             note="; ".join(notes) or "nobody to tell")
        return True

    async def _queue(self, conn: psycopg.AsyncConnection, f: Followup,
                     told: list[Recipient], now: datetime) -> str:
        made = []
        for d in followup_deliveries(f, told, now):
            cur = await conn.execute(sql.NEW_FOLLOWUP_DELIVERY, (
                d.key, f.view.alert_id, d.to.id, f.view.severity, list(d.to.urls),
                Jsonb(d.messages), now, now))
            if await cur.fetchone():
                made.append(d.to.name)
        what = "acknowledged" if f.kind == "ack" else "resolved"
        return f"{what}: {len(made)} told" + (f" ({', '.join(made)})" if made else "")

    # -- daily summaries -------------------------------------------------------------
    async def summaries_due(self) -> int:
        """Create today's summary for each opted-in family contact past their summary time."""
        now = self.clock()
        made = 0
        async with self._pool().connection() as conn:
            rows = await (await conn.execute(sql.SUMMARIES_DUE,
                                             {"now": now, "c": self.cfg.communities})
                          ).fetchall()
            for cid, _name, lang, urls, home_id, tz, resident, day in rows:
                s = await summaries.for_day(conn, home_id, tz, day, now, lang)
                msgs = summary_messages(s, resident, lang, tz)
                cur = await conn.execute(sql.NEW_SUMMARY_DELIVERY,
                                         (summary_key(cid, day), cid, urls, Jsonb(msgs), now,
                                          now))
                made += 1 if await cur.fetchone() else 0
            await conn.commit()
        if made:
            self._wake()
        return made

    # -- deliveries --------------------------------------------------------------------
    async def deliver_due(self) -> int:
        """Send every delivery due now, `concurrency` at a time; returns how many were handled."""
        counts = await asyncio.gather(*(self._drain() for _ in range(self.cfg.concurrency)))
        return sum(counts)

    async def _drain(self) -> int:
        n = 0
        while await self.deliver_one():
            n += 1
        return n

    async def deliver_one(self) -> bool:
        """Claim one due delivery, send it on its current channel, record the result.

        No connection is held during the send."""
        pool = self._pool()
        async with pool.connection() as conn:
            lease = await delivery.claim(conn, self.clock(), communities=self.cfg.communities,
                                         worker=self.cfg.worker, lease_s=self.cfg.lease_s)
        if not isinstance(lease, delivery.Lease):
            return lease
        d = lease.delivery
        text = d.text()
        try:
            result = await self.sender(d.url, text["title"], text["body"], d.key)
        except BaseException:
            # stopped mid-send: the next router need not wait for the lease to run out
            # (the attempt stays unfinished, so it is marked interrupted and sent again)
            with contextlib.suppress(Exception):      # else the lease runs out
                async with pool.connection() as conn:
                    await asyncio.wait_for(delivery.release(conn, lease), 5)
            raise
        async with pool.connection() as conn:
            done = await delivery.record(conn, lease, result, self.clock(),
                                         retry=self.cfg.retry, actor=self.actor)
        if done.next_step_now:
            self._main_wake.set()
        self.progress += 1
        return True

    # -- the service loop --------------------------------------------------------------
    def _wake(self) -> None:
        for e in self._wakes:
            e.set()

    async def next_due_in(self) -> float:
        async with self._pool().connection() as conn:
            cur = await conn.execute(sql.NEXT_DUE, {"now": self.clock()})
            row = await cur.fetchone()
            await conn.rollback()
        if not row or row[0] is None:
            return self.cfg.poll_s
        return max(0.0, min(self.cfg.poll_s, (row[0] - self.clock()).total_seconds()))

    async def run(self, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
        """Serve until `stop` is set: LISTEN for new alerts, poll as a fallback."""
        await self.open()
        alert_wake = self._main_wake = asyncio.Event()
        self._wakes = [asyncio.Event() for _ in range(self.cfg.concurrency)]
        tasks = [asyncio.create_task(self._listen(alert_wake, stop))]
        tasks += [asyncio.create_task(self._delivery_worker(w, stop)) for w in self._wakes]
        if ready is not None:
            ready.set()
        log.info("router %s running (%d senders)", self.cfg.worker, self.cfg.concurrency)
        sdnotify.ready(f"router {self.cfg.worker} running")
        backoff = 0.5
        loop = asyncio.get_running_loop()
        last_watch = -1e9
        try:
            while not stop.is_set():
                try:
                    alert_wake.clear()
                    await self.heartbeat()
                    await self.adopt()
                    await self.escalate_due()
                    await self.followups_due()
                    await self.unreached_due()
                    if self.cfg.summaries:
                        await self.summaries_due()
                    if self.cfg.watchdog and loop.time() - last_watch >= self.cfg.watchdog_every_s:
                        last_watch = loop.time()
                        await self.watch()
                    self._wake()
                    wait = await self.next_due_in()
                    backoff = 0.5
                except (psycopg.OperationalError, psycopg.errors.AdminShutdown,
                        OSError) as e:
                    log.warning("database unavailable (%s); retrying in %.1f s", e, backoff)
                    wait, backoff = backoff, min(backoff * 2, 15)
                for t in tasks:
                    if t.done() and t.exception():
                        raise t.exception()  # type: ignore[misc]
                sdnotify.watchdog()   # a pass completed (or a retry is due): not stuck
                await _wait_any(alert_wake, stop, timeout=wait)
        finally:
            stop.set()
            self._wake()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    async def _delivery_worker(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            wake.clear()
            try:
                while not stop.is_set() and await self.deliver_one():
                    pass
                backoff = 0.5
                await _wait_any(wake, stop, timeout=self.cfg.poll_s)
            except (psycopg.OperationalError, OSError) as e:
                log.warning("delivery: database unavailable (%s)", e)
                await _wait_any(stop, stop, timeout=backoff)
                backoff = min(backoff * 2, 15)

    async def _listen(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """LISTEN anju_alerts; reconnects with backoff; the poll covers any gap."""
        backoff = 0.5
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.url,
                                                                 autocommit=True) as conn:
                    await conn.execute("LISTEN anju_alerts")
                    wake.set()              # anything missed while not listening
                    backoff = 0.5
                    async for _ in conn.notifies():
                        wake.set()
            except (psycopg.OperationalError, OSError) as e:
                log.warning("LISTEN connection lost (%s); reconnecting", e)
                await _wait_any(stop, stop, timeout=backoff)
                backoff = min(backoff * 2, 15)


async def _wait_any(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    waits = {asyncio.create_task(a.wait()), asyncio.create_task(b.wait())}
    try:
        await asyncio.wait(waits, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

