"""The only code that writes alerts: open, clear, acknowledge, resolve, stop escalation,
the unreached flag, every `alert_events` row and every NOTIFY `anju_alerts`.

Detectors, the console, home visits, the router, the CLI and test fixtures all
call these functions; none of them writes alert SQL of its own, so a rule about
alerts is written once. Each function runs on the caller's psycopg
AsyncConnection (inside the caller's transaction when there is one) and applies
the pure state machine (alerts.lifecycle) before it writes.

Episodes: one unresolved alert per home and kind (`alerts_one_open`), and one
alert per home, kind and condition time (`alerts_episode`); opening an alert
that already exists does nothing and returns None. A condition that comes back
after its alert was resolved is a new alert linked by `reopens`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import psycopg
from psycopg.types.json import Jsonb

from alerts import lifecycle
from alerts.tokens import AckTokenError, verify_ack_token

# -- SQL ---------------------------------------------------------------------------

# Re-opening links the new alert to the same kind's alert resolved in the 24 hours before.
_OPEN = """
INSERT INTO alerts (home_id, kind, severity, device_id, condition_at, since, evidence,
                    summary_zh, summary_en, opened_at, reopens)
SELECT v.*, coalesce(%s::timestamptz, now()), (SELECT a.id FROM alerts a WHERE a.home_id = v.home_id AND a.kind = v.kind
             AND a.state = 'resolved' AND a.resolved_at > v.condition_at - interval '24 hours'
             ORDER BY a.resolved_at DESC LIMIT 1)
FROM (VALUES (%s::int, %s::text, %s::text, %s::int, %s::timestamptz, %s::timestamptz,
              %s::jsonb, %s::text, %s::text))
     AS v(home_id, kind, severity, device_id, condition_at, since, evidence, summary_zh,
          summary_en)
ON CONFLICT DO NOTHING
RETURNING id
"""

_UNRESOLVED = "SELECT id FROM alerts WHERE home_id = %s AND kind = %s AND state <> 'resolved'"

_EVENT = """
INSERT INTO alert_events (alert_id, at, action, from_state, to_state, actor, channel, note)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""

_NOTIFY = "SELECT pg_notify('anju_alerts', %s)"

# The unresolved alert of this kind whose episode began no later than the clearing.
_CLEARABLE = """
SELECT id, state FROM alerts
WHERE home_id = %s AND kind = %s AND state <> 'resolved' AND condition_at <= %s
FOR UPDATE
"""

_CLEAR = """
UPDATE alerts SET state = 'resolved', cleared_at = %s, clear_reason = %s, resolved_at = %s,
       resolved_by = %s, outcome = %s, updated_at = now()
WHERE id = %s
"""

# An acknowledged alert of this kind, older than `at`, with no alert of its own at `at`.
_SUPERSEDABLE = """
SELECT a.id, a.state FROM alerts a
WHERE a.home_id = %s AND a.kind = %s AND a.state = 'acknowledged' AND a.condition_at < %s
  AND NOT EXISTS (SELECT 1 FROM alerts e WHERE e.home_id = a.home_id AND e.kind = a.kind
                  AND e.condition_at = %s)
FOR UPDATE
"""

_LOAD = """
SELECT state, acknowledged_at, acknowledged_by, resolved_at, resolved_by, outcome
FROM alerts WHERE id = %s FOR NO KEY UPDATE
"""

_RECORD = """
UPDATE alerts SET state = %s, acknowledged_at = %s, acknowledged_by = %s,
       resolved_at = %s, resolved_by = %s, outcome = %s,
       note = coalesce(%s, note), updated_at = %s
WHERE id = %s
"""

_STOP_CHAIN = """
UPDATE alert_escalations SET state = 'stopped', due_at = NULL, stopped_at = %s, stop_reason = %s
WHERE alert_id = %s AND state = 'running'
"""

_CANCEL_PENDING = """
UPDATE deliveries SET status = 'cancelled', done_at = %s, note = %s
WHERE id IN (SELECT id FROM deliveries WHERE alert_id = %s AND status = 'pending'
             AND (lease_until IS NULL OR lease_until <= %s)
             FOR NO KEY UPDATE SKIP LOCKED)
"""

_MARK_UNREACHED = """
UPDATE alerts SET unreached_at = %s, unreached_reason = %s, unreached_detail = %s,
       unreached_told_at = NULL, updated_at = %s
WHERE id = %s AND state = 'open' AND unreached_at IS NULL
RETURNING id
"""

_CLEAR_UNREACHED = """
UPDATE alerts SET unreached_at = NULL, unreached_reason = NULL, unreached_detail = NULL,
       updated_at = %s
WHERE id = %s AND unreached_at IS NOT NULL AND unreached_reason <> 'unacknowledged'
RETURNING id
"""

# Claimed atomically, so that of several routers one tells each alert's operators.
_CLAIM_UNREACHED = """
UPDATE alerts a SET unreached_told_at = %s FROM homes h
WHERE h.id = a.home_id AND a.id IN (
  SELECT a2.id FROM alerts a2 JOIN homes h2 ON h2.id = a2.home_id
  WHERE a2.state = 'open' AND a2.unreached_at IS NOT NULL AND a2.unreached_told_at IS NULL
    AND (%s::int[] IS NULL OR h2.community_id = ANY(%s))
  ORDER BY a2.unreached_at, a2.id LIMIT %s FOR UPDATE OF a2 SKIP LOCKED)
RETURNING a.id, a.kind, h.resident_name, coalesce(nullif(h.address, ''), h.code),
          h.tz, a.opened_at, a.unreached_reason, a.unreached_detail, h.community_id
"""

_UNCLAIM_UNREACHED = "UPDATE alerts SET unreached_told_at = NULL WHERE id = %s"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AlertNotFound(LookupError):
    pass


# -- opening and clearing (detectors, visits) ----------------------------------------

@dataclass(frozen=True)
class NewAlert:
    """An alert to open: what a detector (or a visit) found, and since when."""
    home_id: int
    kind: str
    severity: str
    condition_at: datetime          # when the condition began: the episode's key
    summary_zh: str
    summary_en: str
    evidence: dict[str, Any] = field(default_factory=dict)
    since: datetime | None = None
    device_id: int | None = None
    note: str | None = None         # the 'open' event's note (default: summary_en)
    opened_at: datetime | None = None   # default: the transaction's time


async def event(conn: psycopg.AsyncConnection, alert_id: int, at: datetime, action: str, *,
                actor: str, channel: str = "system", note: str | None = None,
                from_state: str | None = "open", to_state: str = "open") -> None:
    """One row of an alert's timeline (escalations, deliveries, the unreached flag ...)."""
    await conn.execute(_EVENT, (alert_id, at, action, from_state, to_state, actor, channel,
                                note))


async def open_many(conn: psycopg.AsyncConnection, alerts: list[NewAlert], *,
                    actor: str = "detector", channel: str = "system") -> list[int | None]:
    """Open each alert unless its episode or an unresolved alert of its kind exists.

    Returns, in order, the new alert's id or None where nothing was opened. Each new
    alert gets its 'open' event and a NOTIFY, in the caller's transaction.
    """
    if not alerts:
        return []
    ids: list[int | None] = []
    async with conn.cursor() as cur:
        await cur.executemany(_OPEN, [(
            a.opened_at, a.home_id, a.kind, a.severity, a.device_id, a.condition_at, a.since,
            Jsonb(a.evidence), a.summary_zh, a.summary_en) for a in alerts],
            returning=True)
        for _ in alerts:
            row = await cur.fetchone()
            ids.append(int(row[0]) if row else None)
            if not cur.nextset():
                break
        ids += [None] * (len(alerts) - len(ids))
        opened = [(aid, a) for aid, a in zip(ids, alerts) if aid is not None]
        if opened:
            await cur.executemany(_EVENT, [
                (aid, a.condition_at, "open", None, "open", actor, channel,
                 a.note if a.note is not None else a.summary_en) for aid, a in opened])
            await cur.executemany(_NOTIFY, [(str(aid),) for aid, _ in opened])
    return ids


async def open_or_join(conn: psycopg.AsyncConnection, alert: NewAlert, *, actor: str,
                       channel: str) -> tuple[int, bool]:
    """Open the alert, or return the unresolved alert of its home and kind: (id, opened)."""
    [aid] = await open_many(conn, [alert], actor=actor, channel=channel)
    if aid is not None:
        return aid, True
    row = await (await conn.execute(_UNRESOLVED, (alert.home_id, alert.kind))).fetchone()
    if row is None:           # the same episode, already resolved: nothing to join
        raise AlertNotFound(f"alert {alert.kind} of home {alert.home_id} at "
                            f"{alert.condition_at} exists and is resolved")
    return int(row[0]), False


async def _condition_cleared(conn: psycopg.AsyncConnection, rows: Iterable[tuple[int, str]],
                             at: datetime, reason: str) -> list[int]:
    cleared = []
    for alert_id, state in rows:
        new, t = lifecycle.condition_cleared(lifecycle.AlertState(lifecycle.State(state)),
                                             at=at, reason=reason)
        await conn.execute(_CLEAR, (at, reason, at, new.resolved_by, new.outcome, alert_id))
        await conn.execute(_EVENT, (alert_id, at, t.action, t.from_state.value,
                                    t.to_state.value, t.actor, t.channel, t.note))
        await conn.execute(_NOTIFY, (str(alert_id),))
        cleared.append(alert_id)
    return cleared


async def clear(conn: psycopg.AsyncConnection, home_id: int, kind: str, at: datetime,
                reason: str) -> list[int]:
    """The condition went away at `at`: resolve the unresolved alert of this kind whose
    episode began no later, keeping the reason. Returns the ids resolved."""
    rows = await (await conn.execute(_CLEARABLE, (home_id, kind, at))).fetchall()
    return await _condition_cleared(conn, rows, at, reason)


async def supersede(conn: psycopg.AsyncConnection, home_id: int, kind: str, at: datetime,
                    reason: str) -> list[int]:
    """A momentary condition (a button) came again at `at` after someone acknowledged the
    earlier one: that alert is resolved as followed, so the new one opens and is told."""
    rows = await (await conn.execute(_SUPERSEDABLE, (home_id, kind, at, at))).fetchall()
    return await _condition_cleared(conn, rows, at, reason)


@dataclass(frozen=True)
class AckResult:
    alert_id: int
    changed: bool               # False: it was already acknowledged or resolved
    state: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None = None


# -- people: acknowledge and resolve (console, links, CLI) ------------------------

async def _load(conn: psycopg.AsyncConnection, alert_id: int) -> lifecycle.AlertState:
    row = await (await conn.execute(_LOAD, (alert_id,))).fetchone()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return lifecycle.AlertState(lifecycle.State(row[0]), *row[1:])


async def _record(conn: psycopg.AsyncConnection, alert_id: int, new: lifecycle.AlertState,
                  t: lifecycle.Transition) -> None:
    await conn.execute(_RECORD, (new.state.value, new.acknowledged_at, new.acknowledged_by,
                                 new.resolved_at, new.resolved_by, new.outcome, t.note, t.at,
                                 alert_id))
    await conn.execute(_EVENT, (alert_id, t.at, t.action, t.from_state.value, t.to_state.value,
                                t.actor, t.channel, t.note))
    await stop_escalation(conn, alert_id, t.at, f"{t.action}d by {t.actor} ({t.channel})")
    await conn.execute(_NOTIFY, (str(alert_id),))


async def stop_escalation(conn: psycopg.AsyncConnection, alert_id: int, at: datetime,
                          reason: str) -> None:
    """Stop the chain and cancel the deliveries not being sent right now.

    A delivery being sent at this moment is leased (or being claimed) by its
    router; it is left to finish, and its router cancels it instead of any
    retry or next channel because the alert is no longer open.
    """
    await conn.execute(_STOP_CHAIN, (at, reason, alert_id))
    await conn.execute(_CANCEL_PENDING, (at, reason, alert_id, at))


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
        typed = (used_by or "").strip()
        # the name typed on the page, beside the contact's, unless it says the same person
        # ("王小明" for the contact 王小明（儿子）)
        who = f"{contact} ({typed})" if typed and typed not in contact else contact
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


# -- the unreached flag (router) ----------------------------------------------------

async def mark_unreached(conn: psycopg.AsyncConnection, alert_id: int, reason: str,
                         detail: str, now: datetime) -> bool:
    """Mark an open alert unreached (once; the first reason stays). True if newly marked."""
    if await (await conn.execute(_MARK_UNREACHED, (now, reason, detail, now,
                                                   alert_id))).fetchone() is None:
        return False
    await event(conn, alert_id, now, "unreached", actor="router", note=f"{reason}: {detail}")
    return True


async def clear_unreached(conn: psycopg.AsyncConnection, alert_id: int, by: str,
                          now: datetime) -> None:
    """A delivery reached someone: the alert is no longer unreached (unless the reason is
    that nobody acknowledged it in time, which reaching someone does not undo)."""
    if await (await conn.execute(_CLEAR_UNREACHED, (now, alert_id))).fetchone():
        await event(conn, alert_id, now, "reached", actor="router", note=by)


async def claim_unreached(conn: psycopg.AsyncConnection, now: datetime,
                          communities: list[int] | None, limit: int) -> list[tuple[Any, ...]]:
    """Claim up to `limit` unreached alerts whose operators were not told yet:
    (id, kind, resident, address, tz, opened_at, reason, detail, community_id)."""
    cur = await conn.execute(_CLAIM_UNREACHED, (now, communities, communities, limit))
    return list(await cur.fetchall())


async def unclaim_unreached(conn: psycopg.AsyncConnection, alert_id: int) -> None:
    """No operator could be told: the next turn tries again."""
    await conn.execute(_UNCLAIM_UNREACHED, (alert_id,))


# -- follow-ups (router) ------------------------------------------------------------

_FOLLOWUPS_QUEUED = """
UPDATE alerts SET
  followup_ack_at = CASE WHEN %(ack)s THEN coalesce(followup_ack_at, %(now)s)
                         ELSE followup_ack_at END,
  followup_res_at = CASE WHEN %(res)s THEN coalesce(followup_res_at, %(now)s)
                         ELSE followup_res_at END
WHERE id = %(id)s AND ((%(ack)s AND followup_ack_at IS NULL)
                       OR (%(res)s AND followup_res_at IS NULL))
RETURNING state
"""


async def followups_queued(conn: psycopg.AsyncConnection, alert_id: int, *, ack: bool,
                           res: bool, now: datetime, note: str, actor: str = "router") -> bool:
    """The follow-ups of the acknowledgement (`ack`) and/or the resolution (`res`) are
    queued as deliveries (in the caller's transaction, with them): marked once, with a
    'followup' event. False when they were marked already (another router did it)."""
    row = await (await conn.execute(_FOLLOWUPS_QUEUED, {"ack": ack, "res": res, "now": now,
                                                        "id": alert_id})).fetchone()
    if row is None:
        return False
    await event(conn, alert_id, now, "followup", actor=actor, channel="router", note=note,
                from_state=row[0], to_state=row[0])
    return True
