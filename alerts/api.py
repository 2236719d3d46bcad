"""Acknowledging and resolving alerts: the functions the console, the ack link and the CLI call.

Each runs in one transaction on the caller's psycopg AsyncConnection, applies
the pure state machine (alerts.lifecycle), writes the alert and its audit
row, and stops the alert's escalation and every pending delivery, so no
other channel or step goes out after someone took responsibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg

from alerts import lifecycle
from alerts.tokens import AckTokenError, verify_ack_token


class AlertNotFound(LookupError):
    pass


@dataclass(frozen=True)
class AckResult:
    alert_id: int
    changed: bool               # False: it was already acknowledged or resolved
    state: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def _load(conn: psycopg.AsyncConnection, alert_id: int) -> lifecycle.AlertState:
    cur = await conn.execute(
        "SELECT state, acknowledged_at, acknowledged_by, resolved_at, resolved_by, outcome"
        " FROM alerts WHERE id = %s FOR NO KEY UPDATE", (alert_id,))
    row = await cur.fetchone()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return lifecycle.AlertState(lifecycle.State(row[0]), *row[1:])


async def _record(conn: psycopg.AsyncConnection, alert_id: int, new: lifecycle.AlertState,
                  t: lifecycle.Transition) -> None:
    await conn.execute(
        "UPDATE alerts SET state = %s, acknowledged_at = %s, acknowledged_by = %s,"
        " resolved_at = %s, resolved_by = %s, outcome = %s,"
        " note = coalesce(%s, note), updated_at = %s WHERE id = %s",
        (new.state.value, new.acknowledged_at, new.acknowledged_by, new.resolved_at,
         new.resolved_by, new.outcome, t.note, t.at, alert_id))
    await conn.execute(
        "INSERT INTO alert_events (alert_id, at, action, from_state, to_state, actor, channel, note)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (alert_id, t.at, t.action, t.from_state.value, t.to_state.value, t.actor, t.channel,
         t.note))
    await stop_escalation(conn, alert_id, t.at, f"{t.action}d by {t.actor} ({t.channel})")
    await conn.execute("SELECT pg_notify('anju_alerts', %s)", (str(alert_id),))


async def stop_escalation(conn: psycopg.AsyncConnection, alert_id: int, at: datetime,
                          reason: str) -> None:
    """Stop the chain and cancel the deliveries not being sent right now.

    A delivery being sent at this moment is locked by its router; it is not
    waited for (SKIP LOCKED), and the router cancels it before any retry
    because the alert is no longer open.
    """
    await conn.execute(
        "UPDATE alert_escalations SET state = 'stopped', due_at = NULL, stopped_at = %s,"
        " stop_reason = %s WHERE alert_id = %s AND state = 'running'", (at, reason, alert_id))
    await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', done_at = %s, note = %s"
        " WHERE id IN (SELECT id FROM deliveries WHERE alert_id = %s AND status = 'pending'"
        "              FOR NO KEY UPDATE SKIP LOCKED)", (at, reason, alert_id))


def _result(alert_id: int, a: lifecycle.AlertState, changed: bool) -> AckResult:
    return AckResult(alert_id, changed, a.state.value, a.acknowledged_by, a.acknowledged_at,
                     a.resolved_by)


async def acknowledge(conn: psycopg.AsyncConnection, alert_id: int, *, actor: str,
                      channel: str = "api", note: str | None = None,
                      now: datetime | None = None) -> AckResult:
    """Acknowledge an open alert; an alert already acknowledged or resolved is left as it is."""
    if not actor.strip():
        raise ValueError("actor: say who is acknowledging")
    async with conn.transaction():
        a = await _load(conn, alert_id)
        if a.state is not lifecycle.State.OPEN:
            return _result(alert_id, a, False)
        new, t = lifecycle.acknowledge(a, actor=actor, channel=channel, at=now or _utcnow(),
                                       note=note)
        await _record(conn, alert_id, new, t)
        return _result(alert_id, new, True)


async def resolve(conn: psycopg.AsyncConnection, alert_id: int, *, actor: str, outcome: str,
                  channel: str = "api", note: str | None = None,
                  now: datetime | None = None) -> AckResult:
    """Resolve an alert with an outcome (lifecycle.OUTCOMES)."""
    async with conn.transaction():
        a = await _load(conn, alert_id)
        if a.state is lifecycle.State.RESOLVED:
            return _result(alert_id, a, False)
        new, t = lifecycle.resolve(a, actor=actor, channel=channel, at=now or _utcnow(),
                                   outcome=outcome, note=note)
        await _record(conn, alert_id, new, t)
        return _result(alert_id, new, True)


async def acknowledge_link(conn: psycopg.AsyncConnection, token: str, *, secret: bytes,
                           used_by: str | None = None, remote: str = "",
                           now: datetime | None = None) -> AckResult:
    """Acknowledge through a signed link: AckTokenError if forged, expired or used before.

    The person is the contact the link was sent to (and the name they typed,
    if any); the use is recorded whether or not someone acknowledged first.
    """
    now = now or _utcnow()
    claim = verify_ack_token(token, secret, now)
    async with conn.transaction():
        cur = await conn.execute("SELECT name FROM contacts WHERE id = %s", (claim.contact_id,))
        row = await cur.fetchone()
        contact = row[0] if row else f"contact {claim.contact_id}"
        who = f"{contact} ({used_by.strip()})" if used_by and used_by.strip() else contact
        cur = await conn.execute(
            "INSERT INTO ack_link_uses (nonce, alert_id, contact_id, used_at, used_by, remote,"
            " result) VALUES (%s, %s, %s, %s, %s, %s, 'pending')"
            " ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
            (claim.nonce, claim.alert_id, claim.contact_id if row else None, now, who, remote))
        if await cur.fetchone() is None:
            cur = await conn.execute(
                "SELECT used_at, used_by FROM ack_link_uses WHERE nonce = %s", (claim.nonce,))
            used = await cur.fetchone()
            assert used
            raise AckTokenError("replayed", f"this link was already used at "
                                f"{used[0]:%Y-%m-%d %H:%M} UTC by {used[1]}")
        result = await acknowledge(conn, claim.alert_id, actor=who, channel="link", now=now)
        outcome = ("acknowledged" if result.changed else
                   f"already {result.state} by {result.acknowledged_by or result.resolved_by}")
        await conn.execute("UPDATE ack_link_uses SET result = %s WHERE nonce = %s",
                           (outcome, claim.nonce))
        return result
