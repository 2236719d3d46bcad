"""Deliveries in the database: claimed under a lease, their results recorded.

A due delivery is claimed in one short transaction: the row is picked FOR
NO KEY UPDATE SKIP LOCKED, passes the gate (cancelled, held for quiet hours,
or to be sent), an unfinished attempt of a router that died is marked
interrupted, the new attempt row is written and the delivery is leased to
this router until after its send timeout; then it commits. The send happens
with no transaction open and no connection held. Its result is written in
another short transaction, only while the lease is still this router's.

So a router killed mid-send leaves its attempt unfinished and its lease to
run out; the next router marks the attempt interrupted and sends again with
the same idempotency key: at most once more. A delivery being sent is not
cancelled by an acknowledgement (alerts.store skips leased deliveries); its
result then cancels it instead of retrying or trying the next channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from alerts import router_sql as sql
from alerts import store
from alerts.contacts import redact
from alerts.escalation import step_undelivered
from alerts.outcome import AfterSend, Cancel, Claimed, Hold, Next, Retry, after_send, gate
from alerts.send import SendResult

log = logging.getLogger("anju.router")

INTERRUPTED_NOTE = "interrupted: the router stopped during this send; sent again with the same key"


@dataclass(frozen=True)
class Lease:
    delivery: Claimed
    attempt_id: int
    holder: str
    until: datetime


async def claim(conn: psycopg.AsyncConnection, now: datetime, *, communities: list[int] | None,
                worker: str, lease_s: float) -> Lease | bool:
    """Claim one due delivery (commits). A Lease when it is to be sent now; True when it
    was cancelled or held instead; False when nothing is due."""
    async with conn.transaction():
        row = await (await conn.execute(sql.CLAIM_DELIVERY, {"now": now, "c": communities})
                     ).fetchone()
        if row is None:
            return False
        d = _claimed(row)
        g = gate(d, now)
        if isinstance(g, Cancel):
            await conn.execute(sql.CANCEL, (now, g.note, d.id))
            return True
        if isinstance(g, Hold):
            await conn.execute(sql.HOLD, (g.until, d.id))
            return True
        if d.interrupted:
            # a router died while sending this: it may or may not have gone out
            await conn.execute(sql.INTERRUPTED, (now, INTERRUPTED_NOTE, d.id))
        cur = await conn.execute(sql.NEW_ATTEMPT, (d.id, d.contact_id, d.channel, redact(d.url),
                                                   worker, now))
        (attempt,) = await cur.fetchone()  # type: ignore[misc]
        until = now + timedelta(seconds=lease_s)
        await conn.execute(sql.LEASE, (until, worker, d.id))
    return Lease(d, attempt, worker, until)


def _claimed(row: tuple) -> Claimed:  # type: ignore[type-arg]
    (did, key, purpose, alert_id, alert_state, cycle, step, contact_id, contact_name, severity,
     urls, msgs, channel, tries, q_start, q_end, tz, interrupted) = row
    return Claimed(id=did, key=key, purpose=purpose, alert_id=alert_id, alert_state=alert_state,
                   cycle=cycle, step=step, contact_id=contact_id, contact_name=contact_name,
                   severity=severity, urls=tuple(urls), messages=msgs, channel=channel,
                   tries=tries, quiet=(q_start, q_end) if q_start is not None else None, tz=tz,
                   interrupted=interrupted)


async def release(conn: psycopg.AsyncConnection, lease: Lease) -> None:
    """Give a lease up without a result (commits)."""
    async with conn.transaction():
        await conn.execute(sql.RELEASE, (lease.delivery.id, lease.holder, lease.until))


@dataclass(frozen=True)
class Recorded:
    after: AfterSend | None        # None: the lease was lost, another router has it
    next_step_now: bool = False    # every channel failed and the next step was brought forward


async def record(conn: psycopg.AsyncConnection, lease: Lease, result: SendResult, now: datetime,
                 *, retry: Retry, actor: str) -> Recorded:
    """Write a send's result in one transaction, if the lease is still ours."""
    d = lease.delivery
    async with conn.transaction():
        await conn.execute(sql.FINISH_ATTEMPT, (now, result.ok, result.error, lease.attempt_id))
        row = await (await conn.execute(sql.STILL_LEASED, (d.id, lease.holder, lease.until))
                     ).fetchone()
        if row is None:
            log.warning("delivery %s: lease lost during the send (%s); result not applied",
                        d.id, "ok" if result.ok else result.error)
            return Recorded(None)
        # a follow-up speaks of an alert no longer open: that is no reason to give it up
        a = after_send(result, tries=d.tries, channel=d.channel, channels=len(d.urls),
                       retry=retry, alert_state=row[0] if d.purpose == "alert" else None)
        sooner = False
        if a.next is Next.DELIVERED:
            await conn.execute(sql.DELIVERED, (now, a.tries, d.id))
            if d.alert_id is not None and d.purpose == "alert":
                await store.clear_unreached(conn, d.alert_id, d.contact_name, now)
        elif a.next is Next.CANCELLED:
            await conn.execute(sql.CANCEL, (now, a.note, d.id))
        elif a.next is Next.RETRY:
            await conn.execute(sql.RETRY_LATER,
                               (a.tries, now + timedelta(seconds=a.wait_s), d.id))
        elif a.next is Next.NEXT_CHANNEL:
            await conn.execute(sql.NEXT_CHANNEL, (a.channel, now, d.id))
        else:
            await conn.execute(sql.UNDELIVERED, (a.tries, now, a.note, d.id))
            sooner = await _undelivered(conn, d, now, actor)
    return Recorded(a, sooner)


async def _undelivered(conn: psycopg.AsyncConnection, d: Claimed, now: datetime,
                       actor: str) -> bool:
    if d.alert_id is None:
        return False
    await store.event(conn, d.alert_id, now, "undelivered", actor=actor, channel="router",
                      note=f"{d.contact_name} could not be reached on any of {len(d.urls)}"
                           " channel(s)")
    if d.cycle is None or d.step is None:
        return False
    return await step_undelivered(conn, d.id, d.alert_id, d.cycle, d.step, now)
