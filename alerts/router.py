"""The router: escalation chains and deliveries, all state in the database.

Three kinds of work, each claimed under a row lock so any number of routers
can run and any of them can be killed at any instant:

1. adopt: an open alert without an escalation gets one, with its policy
   frozen onto it (INSERT ... ON CONFLICT DO NOTHING: one winner);
2. escalate: a due escalation is claimed FOR NO KEY UPDATE SKIP LOCKED; in one
   transaction the step's deliveries are created (one per contact, with an
   idempotency key) and the chain moves to its next step. A crash before
   commit leaves the step due; after commit, its deliveries exist;
3. deliver: a due delivery is claimed FOR NO KEY UPDATE SKIP LOCKED (which lets the attempt rows,
   written on another connection, reference it) and held while
   it is sent. An attempt row is committed before the send and completed
   after it, so a router killed mid-send leaves the delivery pending (the
   lock goes with its connection) and an attempt marked unfinished; the next
   router sends it again, with the same key: at most once more.

Time comes from an injected clock (`now`), so tests drive escalation
timing without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from alerts import policy as policies
from alerts import summary as summaries
from alerts import watchdog
from alerts import incidents, store, unreached
from alerts.contacts import Shift, message_format, on_duty, quiet_until, redact
from alerts.messages import AlertView, alert_messages, summary_messages
from alerts.send import SendResult, send
from alerts.tokens import new_nonce, sign_ack_token
from anju import heartbeats

log = logging.getLogger("anju.router")
Clock = Callable[[], datetime]
Sender = Callable[[str, str, str, str], Awaitable[SendResult]]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ManualClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass(frozen=True)
class Retry:
    """Tries per channel and the waits between them; then the next channel."""

    tries_per_channel: int = 3
    backoff_s: tuple[float, ...] = (5, 20, 60)

    def wait(self, failed_tries: int) -> float:
        return self.backoff_s[min(failed_tries - 1, len(self.backoff_s) - 1)]


@dataclass
class RouterConfig:
    secret: bytes
    link_base: str                      # e.g. https://anju.example.org ; links are <base>/ack/<token>
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


def _step_label(roles: tuple[str, ...]) -> str:
    return "+".join(roles)


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

    # -- lifecycle -------------------------------------------------------------
    async def open(self) -> None:
        if self.pool is None:
            self.pool = AsyncConnectionPool(self.url, min_size=2,
                                            max_size=2 * self.cfg.concurrency + 4, open=False,
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

    # -- adopt -------------------------------------------------------------------
    async def adopt(self) -> int:
        """Freeze a policy onto every open alert that has no escalation yet."""
        now = self.clock()
        adopted = 0
        async with self._pool().connection() as conn:
            cur = await conn.execute(
                "SELECT a.id, a.severity, a.opened_at, a.home_id, h.community_id,"
                "       hp.policy, cp.policy"
                " FROM alerts a JOIN homes h ON h.id = a.home_id"
                " LEFT JOIN alert_escalations e ON e.alert_id = a.id"
                " LEFT JOIN escalation_policies hp ON hp.scope = 'home'"
                "      AND hp.scope_id = a.home_id AND hp.severity = a.severity"
                " LEFT JOIN escalation_policies cp ON cp.scope = 'community'"
                "      AND cp.scope_id = h.community_id AND cp.severity = a.severity"
                " WHERE a.state = 'open' AND e.alert_id IS NULL"
                "   AND (%s::int[] IS NULL OR h.community_id = ANY(%s))"
                " ORDER BY a.id LIMIT 500", (self.cfg.communities, self.cfg.communities))
            rows = await cur.fetchall()
            for alert_id, severity, opened_at, home_id, community_id, hp, cp in rows:
                try:
                    pol, source = policies.choose(severity, home=hp, community=cp,
                                                  home_id=home_id, community_id=community_id)
                except policies.PolicyError as e:
                    log.error("alert %s: stored policy is invalid (%s); using the default",
                              alert_id, e)
                    pol, source = policies.DEFAULTS[severity], "default (stored one invalid)"
                if pol.steps:
                    due = max(opened_at + timedelta(seconds=pol.steps[0].after_s), opened_at)
                    state = "running"
                else:
                    due, state = None, "finished"
                cur = await conn.execute(
                    "INSERT INTO alert_escalations (alert_id, policy, policy_source, state,"
                    " due_at, started_at) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id",
                    (alert_id, Jsonb(pol.to_json()), source, state, due, now))
                if await cur.fetchone():
                    adopted += 1
            await conn.commit()
        return adopted

    # -- escalate ----------------------------------------------------------------
    async def escalate_due(self, limit: int = 1000) -> int:
        done = 0
        while done < limit and await self.escalate_one():
            done += 1
        return done

    async def escalate_one(self) -> bool:
        """Run one due step under its row lock; False when nothing is due."""
        now = self.clock()
        async with self._pool().connection() as conn:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT e.alert_id, e.policy, e.cycle, e.next_step, a.state,"
                    "       a.home_id, h.community_id, h.tz"
                    " FROM alert_escalations e JOIN alerts a ON a.id = e.alert_id"
                    " JOIN homes h ON h.id = a.home_id"
                    " WHERE e.state = 'running' AND e.due_at <= %s"
                    "   AND (%s::int[] IS NULL OR h.community_id = ANY(%s))"
                    " ORDER BY e.due_at LIMIT 1 FOR NO KEY UPDATE OF e SKIP LOCKED",
                    (now, self.cfg.communities, self.cfg.communities))
                row = await cur.fetchone()
                if row is None:
                    return False
                alert_id, raw_policy, cycle, step, state, home_id, community_id, tz = row
                if state != "open":
                    await store.stop_escalation(conn, alert_id, now, f"alert {state}")
                    return True
                pol = policies.parse(raw_policy)
                roles = pol.steps[step].notify
                contacts, note = await self._targets(conn, roles, home_id, community_id, tz, now)
                if not contacts:
                    await unreached.mark(conn, alert_id, "no_contact", _step_label(roles), now)
                view = await self._view(conn, alert_id)
                made = 0
                for c in contacts:
                    made += await self._create_alert_delivery(conn, view, c, cycle, step, now)
                nxt = pol.after(step, cycle)
                if nxt is None:
                    await conn.execute(
                        "UPDATE alert_escalations SET state = 'finished', due_at = NULL,"
                        " steps_done = steps_done + 1, stopped_at = %s,"
                        " stop_reason = 'chain complete' WHERE alert_id = %s", (now, alert_id))
                else:
                    n_step, n_cycle = nxt
                    due = now + timedelta(seconds=pol.delay_before(n_step, n_cycle))
                    await conn.execute(
                        "UPDATE alert_escalations SET next_step = %s, cycle = %s, due_at = %s,"
                        " steps_done = steps_done + 1 WHERE alert_id = %s",
                        (n_step, n_cycle, due, alert_id))
                text = (f"round {cycle + 1} step {step + 1} ({_step_label(roles)}): "
                        f"{len(contacts)} contact(s) {', '.join(c['name'] for c in contacts)}")
                if note:
                    text += f"; {note}"
                await store.event(conn, alert_id, now, "escalate", actor=f"router {self.cfg.worker}",
                                  channel="router", note=text)
        self.progress += 1
        self._wake()
        return True

    async def _targets(self, conn: psycopg.AsyncConnection, roles: tuple[str, ...],
                       home_id: int, community_id: int, tz: str,
                       now: datetime) -> tuple[list[dict[str, Any]], str]:
        cur = await conn.execute(
            "SELECT c.id, c.role, c.name, c.urls, c.lang, c.home_id IS NOT NULL,"
            "       coalesce((SELECT json_agg(json_build_array(s.weekday, s.starts, s.ends))"
            "                 FROM duty_shifts s WHERE s.contact_id = c.id), '[]')"
            " FROM contacts c WHERE c.active AND c.role = ANY(%s) AND ("
            "   c.home_id = %s OR (c.community_id = %s AND c.role <> 'family')"
            "   OR (c.role = 'operator' AND c.community_id IS NULL))"
            " ORDER BY c.id", (list(roles), home_id, community_id))
        rows = await cur.fetchall()
        chosen: list[dict[str, Any]] = []
        notes = []
        for role in roles:
            of_role = [r for r in rows if r[1] == role]
            if role == "property" and any(r[5] for r in of_role):
                of_role = [r for r in of_role if r[5]]      # the home's own, over the community's
            if role == "community_worker" and of_role:
                duty = [r for r in of_role if on_duty(
                    [Shift(w, _t(a), _t(b)) for w, a, b in r[6]], now, tz)]
                if duty:
                    of_role = duty
                else:
                    notes.append("no community worker on duty: all of them told")
            if not of_role:
                notes.append(f"no {role} contact")
            for r in of_role:
                if all(c["id"] != r[0] for c in chosen):
                    chosen.append({"id": r[0], "role": r[1], "name": r[2], "urls": list(r[3]),
                                   "lang": r[4]})
        return chosen, "; ".join(notes)

    async def _view(self, conn: psycopg.AsyncConnection, alert_id: int) -> AlertView:
        cur = await conn.execute(
            "SELECT a.id, a.kind, a.severity, h.resident_name, h.code, h.address, h.building,"
            "       h.tz, a.opened_at, a.since, a.summary_zh, a.summary_en, d.room, a.evidence"
            " FROM alerts a JOIN homes h ON h.id = a.home_id"
            " LEFT JOIN devices d ON d.id = a.device_id WHERE a.id = %s", (alert_id,))
        row = await cur.fetchone()
        assert row
        return AlertView(*row[:12], room=row[12], evidence=row[13] or {})

    def link(self, token: str) -> str:
        return f"{self.cfg.link_base.rstrip('/')}/ack/{token}"

    async def _create_alert_delivery(self, conn: psycopg.AsyncConnection, view: AlertView,
                                     c: dict[str, Any], cycle: int, step: int,
                                     now: datetime) -> int:
        key = f"a{view.alert_id}-r{cycle}-s{step}-c{c['id']}"
        expires = now + timedelta(seconds=self.cfg.link_ttl_s)
        token = sign_ack_token(self.cfg.secret, alert_id=view.alert_id, contact_id=c["id"],
                               expires_at=expires, nonce=new_nonce())
        msgs = alert_messages(view, c["lang"], self.link(token), expires_at=expires,
                              cycle=cycle, step=step)
        cur = await conn.execute(
            "INSERT INTO deliveries (key, purpose, alert_id, cycle, step, contact_id, severity,"
            " urls, messages, next_at, created_at)"
            " VALUES (%s, 'alert', %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (key) DO NOTHING RETURNING id",
            (key, view.alert_id, cycle, step, c["id"], view.severity, c["urls"], Jsonb(msgs),
             now, now))
        return 1 if await cur.fetchone() else 0

    # -- daily summaries -------------------------------------------------------------
    async def summaries_due(self) -> int:
        """Create today's summary for each opted-in family contact past their summary time."""
        now = self.clock()
        made = 0
        async with self._pool().connection() as conn:
            cur = await conn.execute(
                "SELECT c.id, c.name, c.lang, c.urls, h.id, h.tz, h.resident_name,"
                "       (%(now)s AT TIME ZONE h.tz)::date"
                " FROM contacts c JOIN homes h ON h.id = c.home_id"
                " WHERE c.active AND c.daily_summary AND c.role = 'family'"
                "   AND (%(c)s::int[] IS NULL OR h.community_id = ANY(%(c)s))"
                "   AND (%(now)s AT TIME ZONE h.tz)::time >= c.summary_at"
                "   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.key ="
                "       'summary-' || c.id || '-' || (%(now)s AT TIME ZONE h.tz)::date)",
                {"now": now, "c": self.cfg.communities})
            rows = await cur.fetchall()
            for cid, _name, lang, urls, home_id, tz, resident, day in rows:
                s = await summaries.for_day(conn, home_id, tz, day, now, lang)
                msgs = summary_messages(s, resident, lang, tz)
                cur = await conn.execute(
                    "INSERT INTO deliveries (key, purpose, contact_id, urls, messages, next_at,"
                    " created_at) VALUES (%s, 'summary', %s, %s, %s, %s, %s)"
                    " ON CONFLICT (key) DO NOTHING RETURNING id",
                    (f"summary-{cid}-{day}", cid, urls, Jsonb(msgs), now, now))
                made += 1 if await cur.fetchone() else 0
            await conn.commit()
        if made:
            self._wake()
        return made

    # -- deliver ---------------------------------------------------------------------
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
        """Claim one due delivery, send it on its current channel, record the result."""
        now = self.clock()
        pool = self._pool()
        async with pool.connection() as conn:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT d.id, d.key, d.purpose, d.alert_id, d.cycle, d.step, d.contact_id,"
                    "       d.severity, d.urls, d.messages, d.channel, d.tries, a.state,"
                    "       c.quiet_start, c.quiet_end, coalesce(h.tz, 'Asia/Shanghai'), c.name,"
                    "       (SELECT count(*) FROM delivery_attempts t"
                    "        WHERE t.delivery_id = d.id AND t.finished_at IS NULL)"
                    " FROM deliveries d JOIN contacts c ON c.id = d.contact_id"
                    " LEFT JOIN alerts a ON a.id = d.alert_id"
                    " LEFT JOIN homes h ON h.id = coalesce(a.home_id, c.home_id)"
                    " WHERE d.status = 'pending' AND d.next_at <= %s"
                    "   AND (%s::int[] IS NULL OR coalesce(h.community_id, c.community_id)"
                    "        = ANY(%s))"
                    " ORDER BY d.next_at LIMIT 1 FOR NO KEY UPDATE OF d SKIP LOCKED",
                    (now, self.cfg.communities, self.cfg.communities))
                row = await cur.fetchone()
                if row is None:
                    return False
                (did, key, purpose, alert_id, cycle, step, contact_id, severity, urls, msgs,
                 channel, tries, alert_state, q_start, q_end, tz, contact_name,
                 interrupted) = row
                if purpose == "alert" and alert_state != "open":
                    await conn.execute(
                        "UPDATE deliveries SET status = 'cancelled', done_at = %s, note = %s"
                        " WHERE id = %s", (now, f"alert {alert_state}", did))
                    return True
                if severity == "low":
                    until = quiet_until(now, tz, q_start, q_end)
                    if until is not None:
                        await conn.execute("UPDATE deliveries SET next_at = %s WHERE id = %s",
                                           (until, did))
                        return True
                if interrupted:
                    # a router died while sending this: it may or may not have gone out
                    await self._autocommit(
                        "UPDATE delivery_attempts SET finished_at = %s, error = %s"
                        " WHERE delivery_id = %s AND finished_at IS NULL",
                        (now, "interrupted: the router stopped during this send; sent again "
                              "with the same key", did))
                url = urls[channel]
                fmt = message_format(url)
                text = msgs[fmt]
                attempt = await self._autocommit(
                    "INSERT INTO delivery_attempts (delivery_id, contact_id, channel, target,"
                    " worker, started_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (did, contact_id, channel, redact(url), self.cfg.worker, now))
                result = await self.sender(url, text["title"], text["body"], key)
                done = self.clock()
                await self._autocommit(
                    "UPDATE delivery_attempts SET finished_at = %s, ok = %s, error = %s"
                    " WHERE id = %s", (done, result.ok, result.error, attempt))
                if result.ok:
                    await conn.execute(
                        "UPDATE deliveries SET status = 'delivered', done_at = %s, tries = %s"
                        " WHERE id = %s", (done, tries, did))
                    if alert_id is not None:
                        await store.clear_unreached(conn, alert_id, contact_name, done)
                else:
                    await self._failed(conn, did, alert_id, cycle, step, urls, channel,
                                       tries + 1, contact_name, result, done)
        self.progress += 1
        return True

    async def _failed(self, conn: psycopg.AsyncConnection, did: int, alert_id: int | None,
                      cycle: int | None, step: int | None, urls: list[str], channel: int,
                      tries: int, contact_name: str, result: SendResult, now: datetime) -> None:
        retry = self.cfg.retry
        if tries < retry.tries_per_channel:
            await conn.execute("UPDATE deliveries SET tries = %s, next_at = %s WHERE id = %s",
                               (tries, now + timedelta(seconds=retry.wait(tries)), did))
            return
        if channel + 1 < len(urls):
            await conn.execute(
                "UPDATE deliveries SET channel = %s, tries = 0, next_at = %s WHERE id = %s",
                (channel + 1, now, did))
            return
        await conn.execute(
            "UPDATE deliveries SET status = 'undelivered', tries = %s, done_at = %s, note = %s"
            " WHERE id = %s", (tries, now, f"all {len(urls)} channel(s) failed: {result.error}",
                               did))
        if alert_id is None:
            return
        await store.event(conn, alert_id, now, "undelivered", actor=f"router {self.cfg.worker}",
                          channel="router",
                          note=f"{contact_name} could not be reached on any of {len(urls)}"
                               " channel(s)")
        if cycle is None or step is None:
            return
        cur = await conn.execute(
            "SELECT count(*) FROM deliveries WHERE alert_id = %s AND cycle = %s AND step = %s"
            " AND id <> %s AND status IN ('pending', 'delivered')", (alert_id, cycle, step, did))
        (others,) = await cur.fetchone()  # type: ignore[misc]
        cur = await conn.execute(
            "SELECT policy, cycle, next_step FROM alert_escalations"
            " WHERE alert_id = %s FOR NO KEY UPDATE", (alert_id,))
        esc = await cur.fetchone()
        if esc is None:
            return
        pol = policies.parse(esc[0])
        if others == 0:
            # nobody of this step reached: the operators hear of it
            await unreached.mark(conn, alert_id, "all_failed",
                                 _step_label(pol.steps[step].notify), now)
        # Nobody of this step reached: run the next step now instead of waiting.
        nxt = pol.after(step, cycle)
        if nxt is None or (esc[2], esc[1]) != nxt:
            return
        if others == 0:
            await conn.execute(
                "UPDATE alert_escalations SET due_at = %s WHERE alert_id = %s AND due_at > %s",
                (now, alert_id, now))
            self._main_wake.set()

    async def _autocommit(self, sql: str, params: tuple[Any, ...]) -> Any:
        async with self._pool().connection() as c:
            cur = await c.execute(sql, params)  # type: ignore[arg-type]
            row = await cur.fetchone() if cur.description else None
            await c.commit()
            return row[0] if row else None

    # -- the service loop --------------------------------------------------------------
    def _wake(self) -> None:
        for e in self._wakes:
            e.set()

    async def next_due_in(self) -> float:
        async with self._pool().connection() as conn:
            # only future work: what is due now was done, or is locked by another router
            cur = await conn.execute(
                "SELECT least((SELECT min(next_at) FROM deliveries"
                "              WHERE status = 'pending' AND next_at > %(now)s),"
                "             (SELECT min(due_at) FROM alert_escalations"
                "              WHERE state = 'running' AND due_at > %(now)s))",
                {"now": self.clock()})
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


def _t(text: str) -> Any:
    from datetime import time
    return time.fromisoformat(text)


async def _wait_any(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    waits = {asyncio.create_task(a.wait()), asyncio.create_task(b.wait())}
    try:
        await asyncio.wait(waits, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

