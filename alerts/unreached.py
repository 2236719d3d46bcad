"""Alerts that reached nobody, and telling the community's operators of them.

An alert is unreached when an escalation step finds no contact, when every
channel of every contact of a step failed, or when a critical alert stays
unacknowledged past its community's limit (default 5 minutes). It is marked
on the alert (the board shows it first, in red) and the community's operators
are told once, directly through apprise, as the watchdog tells them: the
router's delivery queue may be the part that failed. A delivery that later
reaches someone clears the mark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence
from zoneinfo import ZoneInfo

import psycopg

from alerts import store, watchdog
from anju import i18n
from anju.i18n import lang_of

log = logging.getLogger("anju.router")

REASONS = ("no_contact", "all_failed", "unacknowledged")
DEFAULT_UNACKED_CRITICAL_S = 300
TELL_PER_TURN = 20        # operators' notices of unreached alerts sent in one router turn



def roles_text(roles: Sequence[str], lang: str) -> str:
    return i18n.join(lang, (i18n.label(lang, "role", r) for r in roles))


def reason_text(reason: str, detail: str | None, lang: str) -> str:
    """The reason as a person reads it; `detail` is roles joined by '+' or minutes."""
    lang = lang_of(lang)
    if reason in ("no_contact", "all_failed") and detail:
        detail = roles_text(detail.split("+"), lang)
    said = i18n.text(lang, f"unreached.reason.{reason}", reason, detail=detail or "")
    # without the roles the sentence starts with its separator ("：没有可通知的联系人")
    return said if detail else said.lstrip("：:;；,， ")


@dataclass(frozen=True)
class Unreached:
    alert_id: int
    kind: str
    resident: str
    address: str
    tz: str
    opened_at: datetime
    reason: str
    detail: str | None
    community_id: int


def message(u: Unreached, lang: str) -> tuple[str, str]:
    lang = lang_of(lang)
    at = u.opened_at.astimezone(ZoneInfo(u.tz)).strftime("%m-%d %H:%M")
    what = i18n.label(lang, "kind", u.kind)
    fields = dict(label=i18n.text(lang, "unreached.label"), who=u.resident, what=what,
                  where=u.address, at=at, why=reason_text(u.reason, u.detail, lang), id=u.alert_id)
    return (i18n.text(lang, "unreached.title", **fields), i18n.text(lang, "unreached.body", **fields))


async def mark(conn: psycopg.AsyncConnection, alert_id: int, reason: str, detail: str,
               now: datetime) -> bool:
    """Mark an open alert unreached (once; the first reason stays). True if newly marked."""
    assert reason in REASONS
    if not await store.mark_unreached(conn, alert_id, reason, detail, now):
        return False
    log.warning("alert %s reached nobody (%s: %s)", alert_id, reason, detail)
    return True


async def mark_unacknowledged(conn: psycopg.AsyncConnection, now: datetime,
                              communities: list[int] | None,
                              default_s: int = DEFAULT_UNACKED_CRITICAL_S) -> int:
    """Critical alerts open longer than their community's limit, not yet marked."""
    cur = await conn.execute(
        "SELECT a.id, coalesce(c.unacked_critical_s, %s)"
        " FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c"
        " ON c.id = h.community_id"
        " WHERE a.state = 'open' AND a.severity = 'critical' AND a.unreached_at IS NULL"
        "   AND a.opened_at < %s - make_interval(secs => coalesce(c.unacked_critical_s, %s))"
        "   AND (%s::int[] IS NULL OR h.community_id = ANY(%s))",
        (default_s, now, default_s, communities, communities))
    marked = 0
    for alert_id, limit_s in await cur.fetchall():
        marked += await mark(conn, alert_id, "unacknowledged", str(round(limit_s / 60)), now)
    return marked


async def tell_operators(conn: psycopg.AsyncConnection, now: datetime,
                         communities: list[int] | None, extra_urls: Sequence[str] = (),
                         sender: watchdog.Sender | None = None,
                         limit: int = TELL_PER_TURN) -> int:
    """Tell each unreached alert's operators once; `conn` in autocommit mode.

    Claimed atomically (several routers may run); if no operator could be told,
    the claim is given back so the next turn tries again. At most `limit` alerts a
    turn: the router's loop escalates new alerts between turns, and a backlog of
    notices (after an outage, hundreds) must not hold a new emergency's first message
    back. Returns alerts told.
    """
    claimed = await store.claim_unreached(conn, now, communities, limit)
    told_alerts = 0
    for row in claimed:
        u = Unreached(*row)
        ops = await conn.execute(
            "SELECT urls[1], lang FROM contacts WHERE role = 'operator' AND active"
            " AND (community_id = %s OR community_id IS NULL) ORDER BY id", (u.community_id,))
        targets = [(url, lang) for url, lang in await ops.fetchall()]
        targets += [(url, "zh-CN") for url in extra_urls]
        told = 0
        for url, lang in targets:
            title, body = message(u, lang)
            told += await watchdog.tell([url], title, body, f"unreached-{u.alert_id}", sender)
        if told:
            told_alerts += 1
            await store.event(conn, u.alert_id, now, "operators_told", actor="router",
                              note=f"{told} operator channel(s)")
        elif not targets:
            # nobody to try: said once in the log and the timeline, not every turn
            log.error("alert %s reached nobody, and its community has no operator contact"
                      " (nor ANJU_WATCHDOG_URLS)", u.alert_id)
            await store.event(conn, u.alert_id, now, "operators_untold", actor="router",
                              note="no operator contact")
        else:
            log.error("alert %s reached nobody and no operator could be told", u.alert_id)
            await store.unclaim_unreached(conn, u.alert_id)
    return told_alerts


