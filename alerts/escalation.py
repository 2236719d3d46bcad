"""Escalation chains in the database: adopting open alerts, running due steps.

adopt: an open alert without an escalation gets one, with its policy frozen
onto it (INSERT ... ON CONFLICT DO NOTHING: one winner). run_due_step: a
due escalation is claimed FOR NO KEY UPDATE SKIP LOCKED; in one transaction
the step's deliveries are created (one per contact, with an idempotency key)
and the chain moves on. A crash before commit leaves the step due; after
commit, its deliveries exist. step_undelivered: a step's delivery failed on
every channel; the operators may be told and the next step brought forward.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import psycopg
from psycopg.types.json import Jsonb

from alerts import policy as policies
from alerts import router_sql as sql
from alerts import store, targeting, unreached
from alerts.contacts import Shift
from alerts.messages import AlertView
from alerts.outcome import step_unreached
from alerts.rendering import Links, alert_delivery
from alerts.targeting import Candidate, step_label

log = logging.getLogger("anju.router")


async def adopt(conn: psycopg.AsyncConnection, now: datetime,
                communities: list[int] | None) -> int:
    """Freeze a policy onto every open alert that has no escalation yet; commits."""
    adopted = 0
    rows = await (await conn.execute(sql.UNADOPTED, {"c": communities})).fetchall()
    for alert_id, severity, opened_at, home_id, community_id, hp, cp in rows:
        try:
            pol, source = policies.choose(severity, home=hp, community=cp,
                                          home_id=home_id, community_id=community_id)
        except policies.PolicyError as e:
            log.error("alert %s: stored policy is invalid (%s); using the default", alert_id, e)
            pol, source = policies.DEFAULTS[severity], "default (stored one invalid)"
        if pol.steps:
            due = max(opened_at + timedelta(seconds=pol.steps[0].after_s), opened_at)
            state = "running"
        else:
            due, state = None, "finished"
        cur = await conn.execute(sql.ADOPT, (alert_id, Jsonb(pol.to_json()), source, state, due,
                                             now))
        if await cur.fetchone():
            adopted += 1
    await conn.commit()
    return adopted


@dataclass(frozen=True)
class StepRun:
    alert_id: int
    ran: bool                  # False: the alert was no longer open and the chain stopped
    deliveries: int            # made by this step


async def run_due_step(conn: psycopg.AsyncConnection, now: datetime, *,
                       communities: list[int] | None, links: Links,
                       actor: str) -> StepRun | None:
    """Run one due step under its row lock, in one transaction; None when nothing is due."""
    async with conn.transaction():
        row = await (await conn.execute(sql.CLAIM_STEP, {"now": now, "c": communities})
                     ).fetchone()
        if row is None:
            return None
        alert_id, raw_policy, cycle, step, state, home_id, community_id, tz = row
        if state != "open":
            await store.stop_escalation(conn, alert_id, now, f"alert {state}")
            return StepRun(alert_id, False, 0)
        pol = policies.parse(raw_policy)
        roles = pol.steps[step].notify
        candidates = await _candidates(conn, roles, home_id, community_id)
        contacts, note = targeting.choose(candidates, roles, now, tz)
        if not contacts:
            await unreached.mark(conn, alert_id, "no_contact", step_label(roles), now)
        view = await _view(conn, alert_id)
        made = 0
        for c in contacts:
            made += await _create(conn, view, c, cycle, step, now, links)
        nxt = pol.after(step, cycle)
        if nxt is None:
            await conn.execute(sql.CHAIN_FINISHED, (now, alert_id))
        else:
            n_step, n_cycle = nxt
            due = now + timedelta(seconds=pol.delay_before(n_step, n_cycle))
            await conn.execute(sql.CHAIN_NEXT, (n_step, n_cycle, due, alert_id))
        text = (f"round {cycle + 1} step {step + 1} ({step_label(roles)}): "
                f"{len(contacts)} contact(s) {', '.join(c.name for c in contacts)}")
        if note:
            text += f"; {note}"
        await store.event(conn, alert_id, now, "escalate", actor=actor, channel="router",
                          note=text)
    return StepRun(alert_id, True, made)


async def _candidates(conn: psycopg.AsyncConnection, roles: tuple[str, ...], home_id: int,
                      community_id: int) -> list[Candidate]:
    cur = await conn.execute(sql.CANDIDATES, (list(roles), home_id, community_id))
    return [Candidate(id=r[0], role=r[1], name=r[2], urls=tuple(r[3]), lang=r[4],
                      own_home=r[5], shifts=tuple(Shift(w, time.fromisoformat(a),
                                                        time.fromisoformat(b))
                                                  for w, a, b in r[6]))
            for r in await cur.fetchall()]


async def _view(conn: psycopg.AsyncConnection, alert_id: int) -> AlertView:
    row = await (await conn.execute(sql.ALERT_VIEW, (alert_id,))).fetchone()
    assert row
    return AlertView(*row[:12], room=row[12], evidence=row[13] or {})


async def _create(conn: psycopg.AsyncConnection, view: AlertView, c: Candidate, cycle: int,
                  step: int, now: datetime, links: Links) -> int:
    d = alert_delivery(view, c, cycle=cycle, step=step, now=now, links=links)
    cur = await conn.execute(sql.NEW_ALERT_DELIVERY,
                             (d.key, view.alert_id, cycle, step, c.id, view.severity,
                              list(c.urls), Jsonb(d.messages), now, now))
    return 1 if await cur.fetchone() else 0


async def step_undelivered(conn: psycopg.AsyncConnection, delivery_id: int, alert_id: int,
                           cycle: int, step: int, now: datetime) -> bool:
    """A step's delivery failed on every channel (inside the caller's transaction).

    When nobody of the step was reached, the operators hear of it and the next
    step runs now instead of after its delay. True if the next step was brought
    forward.
    """
    (others,) = await (await conn.execute(sql.STEP_OTHERS, (alert_id, cycle, step, delivery_id))
                       ).fetchone()  # type: ignore[misc]
    esc = await (await conn.execute(sql.CHAIN_FOR_UPDATE, (alert_id,))).fetchone()
    if esc is None:
        return False
    pol = policies.parse(esc[0])
    decision = step_unreached(others, pol.after(step, cycle), (esc[2], esc[1]))
    if decision.tell_operators:
        await unreached.mark(conn, alert_id, "all_failed", step_label(pol.steps[step].notify), now)
    if decision.run_next_step_now:
        await conn.execute(sql.CHAIN_DUE_NOW, (now, alert_id, now))
    return decision.run_next_step_now
