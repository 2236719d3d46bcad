"""Reading what a user may see, and writing the audit log: the console's I/O on the database."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg.rows import dict_row

from anju import i18n as catalog
from anju.contract import Kind
from console.sql import alerts as alerts_sql, homes as homes_sql, users as users_sql
from console.auth import Grant, User

ACTIVITY_KINDS = [int(Kind.MOTION), int(Kind.DOOR), int(Kind.CONTACT), int(Kind.PRESENCE)]
BOARD_LIMIT = 500


class NotFound(LookupError):
    """Not there, or not in the user's scope: the two look the same from outside."""


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    step: timedelta


WINDOWS = {"24h": Window("24h", timedelta(hours=24), timedelta(minutes=15)),
           "7d": Window("7d", timedelta(days=7), timedelta(hours=1))}


def _rows(cur: psycopg.AsyncCursor[Any]) -> Any:
    return cur.fetchall()


async def session_user(conn: psycopg.AsyncConnection, token_hash: bytes) -> User | None:
    cur = await conn.execute(users_sql.SESSION_USER, (token_hash,))
    row = await cur.fetchone()
    if row is None:
        return None
    uid, username, name, role, csrf = row
    cur = await conn.execute(users_sql.USER_SCOPES, (uid,))
    grants = tuple(Grant(c, b, h) for c, b, h in await cur.fetchall())
    return User(uid, username, name, role, csrf, grants)


async def audit(conn: psycopg.AsyncConnection, user: User, action: str, *,
                home_id: int | None = None, alert_id: int | None = None,
                detail: dict[str, Any] | None = None, remote: str = "") -> None:
    await conn.execute(users_sql.AUDIT, (user.id, user.username, action, home_id, alert_id,
                                         json.dumps(detail or {}, ensure_ascii=False), remote))


def _like(q: str | None) -> str | None:
    """A search word as an ILIKE pattern matching it anywhere, its wildcards taken literally."""
    if not q:
        return None
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _with_place(row: dict[str, Any]) -> dict[str, Any]:
    """The alert's home address said once: the community's name and the building are often
    written into the address already ("南岸区·南坪街道 1栋")."""
    row["place"] = catalog.place(row.get("community_name"), row.get("building"),
                                 row.get("address"))
    return row


async def board(conn: psycopg.AsyncConnection, user: User, *, community: str | None = None,
                severity: str | None = None, state: str | None = None,
                q: str | None = None) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(alerts_sql.BOARD, {**user.scope_params(), "limit": BOARD_LIMIT,
                                         "community": community, "severity": severity,
                                         "state": state, "q": _like(q)})
    return [_with_place(r) for r in await cur.fetchall()]


async def alerts(conn: psycopg.AsyncConnection, user: User, *, state: str | None = None,
                 home: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(alerts_sql.ALERTS, {**user.scope_params(), "state": state, "home": home,
                                          "limit": limit})
    return await cur.fetchall()


async def alert(conn: psycopg.AsyncConnection, user: User, alert_id: int) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(alerts_sql.ALERT, {**user.scope_params(), "id": alert_id})
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"alert {alert_id}")
    return _with_place(row)


async def alert_timeline(conn: psycopg.AsyncConnection, alert_id: int) -> dict[str, Any]:
    """Events, the escalation, deliveries and every attempt (the caller checked the scope)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(alerts_sql.ALERT_EVENTS, (alert_id,))
    events = await cur.fetchall()
    await cur.execute(alerts_sql.ALERT_ESCALATION, (alert_id,))
    escalation = await cur.fetchone()
    await cur.execute(alerts_sql.ALERT_DELIVERIES, (alert_id,))
    deliveries = await cur.fetchall()
    await cur.execute(alerts_sql.ALERT_ATTEMPTS, (alert_id,))
    attempts = await cur.fetchall()
    for d in deliveries:
        d["attempts"] = [a for a in attempts if a["delivery_id"] == d["id"]]
    return {"events": events, "escalation": escalation, "deliveries": deliveries}


# A mobile number in an apprise URL (an SMS gateway's target: sns://…/+8613800000000,
# twilio://…/13800000000): a number a person may dial when the contact has no phone set.
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86)?(1[3-9][0-9]{9})(?![0-9])")


def phone_in_urls(urls: list[str]) -> str | None:
    for url in urls:
        path = url.split("://", 1)[-1].split("@", 1)[-1]   # not a password's digits
        m = _MOBILE.search(path)
        if m:
            return m.group(1)
    return None


@dataclass(frozen=True)
class Person:
    """Someone to call about a home: the resident or a contact."""
    role: str               # resident, family, community_worker, property
    name: str
    phone: str | None
    has_key: bool = False


@dataclass(frozen=True)
class LastActivity:
    at: datetime
    room: str


async def home_people(conn: psycopg.AsyncConnection, a: dict[str, Any]) -> list[Person]:
    """The resident first, then the home's family, community workers and property contacts."""
    cur = await conn.execute(alerts_sql.HOME_PHONE, (a["home_id"],))
    row = await cur.fetchone()
    people = [Person("resident", a["resident_name"], row[0] if row else None)]
    cur = await conn.execute(alerts_sql.HOME_PEOPLE, {"home": a["home_id"],
                                                      "community": a["community_id"]})
    for _id, role, name, phone, has_key, urls in await cur.fetchall():
        people.append(Person(role, name, phone or phone_in_urls(list(urls)), bool(has_key)))
    return people


async def last_activity(conn: psycopg.AsyncConnection, home_id: int) -> LastActivity | None:
    cur = await conn.execute(alerts_sql.LAST_ACTIVITY, {
        "home": home_id, "kinds": ACTIVITY_KINDS,
        "any_value": [int(Kind.DOOR), int(Kind.CONTACT)]})
    row = await cur.fetchone()
    return LastActivity(row[0], row[1]) if row else None


async def homes(conn: psycopg.AsyncConnection, user: User, *, community: str | None = None,
                building: str | None = None, status: str | None = None, q: str | None = None,
                limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    if q:
        q = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(homes_sql.HOMES, {**user.scope_params(), "community": community,
                                        "building": building, "status": status, "q": q or None,
                                        "limit": limit, "offset": offset})
    return await cur.fetchall()


async def communities(conn: psycopg.AsyncConnection, user: User) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(homes_sql.COMMUNITIES, user.scope_params())
    return await cur.fetchall()


async def home(conn: psycopg.AsyncConnection, user: User, home_id: int) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(homes_sql.HOME, {**user.scope_params(), "id": home_id})
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"home {home_id}")
    return row


async def home_details(conn: psycopg.AsyncConnection, h: dict[str, Any]) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(homes_sql.HOME_CONTACTS, (h["id"], h["community_id"]))
    contacts = await cur.fetchall()
    for c in contacts:   # channels without their secrets: scheme and host only
        c["channels"] = [u.split("://", 1)[0] for u in c.pop("urls")]
    await cur.execute(homes_sql.HOME_DEVICES, (h["id"],))
    devices = await cur.fetchall()
    await cur.execute(homes_sql.HOME_AWAY, (h["id"],))
    away = await cur.fetchall()
    return {"contacts": contacts, "devices": devices, "away_periods": away}


def window_bounds(w: Window, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until) aligned to the window's step, ending after the current step."""
    now = now or datetime.now(timezone.utc)
    step_s = int(w.step.total_seconds())
    end = datetime.fromtimestamp((int(now.timestamp()) // step_s + 1) * step_s, timezone.utc)
    return end - w.span, end


async def activity(conn: psycopg.AsyncConnection, home_id: int, since: datetime
                   ) -> list[tuple[str, datetime, int]]:
    cur = await conn.execute(homes_sql.ACTIVITY, {"home": home_id, "kinds": ACTIVITY_KINDS,
                                                  "since": since})
    return [(r, b, int(n)) for r, b, n in await cur.fetchall()]


async def normal(conn: psycopg.AsyncConnection, home_id: int, tz: str, since: datetime
                 ) -> dict[tuple[str, int], float]:
    """(room, local quarter-hour slot) -> share of the past 28 days active then."""
    cur = await conn.execute(homes_sql.NORMAL, {"home": home_id, "tz": tz, "kinds": ACTIVITY_KINDS,
                                                "since": since})
    return {(room, slot): share for room, slot, share in await cur.fetchall()}


async def usage(conn: psycopg.AsyncConnection, home_id: int, since: datetime
                ) -> dict[str, list[tuple[datetime, float]]]:
    cur = await conn.execute(homes_sql.USAGE, {"home": home_id, "since": since})
    out: dict[str, list[tuple[datetime, float]]] = {"water": [], "power": []}
    for kind, bucket, v in await cur.fetchall():
        out["water" if kind == int(Kind.WATER) else "power"].append((bucket, float(v)))
    return out
