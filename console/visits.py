"""Home visits: schedules per home, each worker's visits due, recording a visit's outcome.

A visit that finds a concern opens an alert (kind visit_concern) through
alerts.store, as the detectors do. An alert
resolved with visited_all_well / visited_help_called is recorded as a visit.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
import psycopg
from psycopg.rows import dict_row

from alerts import store as alert_store
from console import data, fields, web
from console.auth import User
from console.errors import Label, Msg
from console.sql import visits as visits_sql
from console.web import Ctx, Forbidden, Invalid

SCHEDULE_KINDS = ("special_needs", "patrol")
OUTCOMES = ("all_well", "concern", "help_called", "not_home")
WORKER_ROLES = ("admin", "operator", "property")
SCHEDULE_ROLES = ("admin", "operator")
# How an alert's outcome is recorded as a visit.
ALERT_OUTCOME_VISIT = {"visited_all_well": "all_well", "visited_help_called": "help_called"}
DUE_WINDOW_DAYS = 7
DUE_LIMIT = 500


def may_record(user: User) -> bool:
    return user.role in WORKER_ROLES


def may_schedule(user: User) -> bool:
    return user.role in SCHEDULE_ROLES


def actor(user: User) -> str:
    return f"{user.name} ({user.username})"


# -- reading ------------------------------------------------------------------------


async def due(conn: psycopg.AsyncConnection, user: User, *, worker: int | None,
              within_days: int = DUE_WINDOW_DAYS, overdue_only: bool = False,
              limit: int = DUE_LIMIT) -> list[dict[str, Any]]:
    """Schedules in the user's scope due within `within_days` (overdue included)."""
    until = datetime.now(timezone.utc) + (timedelta(0) if overdue_only
                                          else timedelta(days=within_days))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(visits_sql.VISITS_DUE, {**user.scope_params(), "until": until,
                                              "worker": worker, "limit": limit})
    return await cur.fetchall()


async def for_home(conn: psycopg.AsyncConnection, home_id: int, limit: int = 20
                   ) -> dict[str, Any]:
    """A home's schedules and recent visits (the caller checked the scope)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(visits_sql.HOME_SCHEDULES, {"home": home_id})
    schedules = await cur.fetchall()
    await cur.execute(visits_sql.HOME_VISITS, (home_id, limit))
    return {"schedules": schedules, "visits": await cur.fetchall()}


# -- validation ---------------------------------------------------------------------


def _date(params: Any, name: str, errors: web.Errors) -> date | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        d = date.fromisoformat(str(raw))
    except ValueError:
        errors[name] = Msg("invalid.date")
        return None
    if not date(2000, 1, 1) <= d <= date(2100, 1, 1):
        errors[name] = Msg("invalid.date_range", lo=2000, hi=2100)
        return None
    return d


def _moment(params: Any, name: str, errors: web.Errors) -> datetime | None:
    """An ISO date-time (a naive one is UTC); not in the future, not before 2000."""
    at = web.iso_param(params, name, errors, Msg("invalid.datetime"))
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    if not datetime(2000, 1, 1, tzinfo=timezone.utc) <= at <= now + timedelta(minutes=5):
        errors[name] = Msg("invalid.moment_range")
        return None
    return at


class ScheduleInput(msgspec.Struct, kw_only=True):
    """A home's visit schedule (set, changed, or stopped with active false)."""
    kind: Literal[SCHEDULE_KINDS]                     # type: ignore[valid-type]
    every_days: Annotated[int, msgspec.Meta(ge=1, le=366)]
    worker: Annotated[str, msgspec.Meta(max_length=64,
                                        description="a console user name")] | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
    first_due: Annotated[date | None, msgspec.Meta(extra=fields.UNCHECKED)] = None
    active: Annotated[bool, msgspec.Meta(extra=fields.UNCHECKED)] = True


class VisitInput(msgspec.Struct, kw_only=True):
    """A visit made; outcome concern (with the concern) opens a visit_concern alert."""
    outcome: Literal[OUTCOMES]                        # type: ignore[valid-type]
    kind: Literal[SCHEDULE_KINDS] | None = None       # type: ignore[valid-type]
    concern: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    visited_at: Annotated[datetime | None, msgspec.Meta(extra=fields.UNCHECKED)] = None


def schedule_input(params: Any) -> ScheduleInput:
    errors: web.Errors = {}
    s = fields.read(ScheduleInput, params, errors)
    first_due = _date(params, "first_due", errors)
    active = params.get("active", True)
    if isinstance(active, str):
        active = active.lower() not in ("0", "false", "no", "off")
    if not isinstance(active, bool):
        errors["active"] = Msg("invalid.bool")
    if errors:
        raise Invalid(errors)
    return msgspec.structs.replace(s, first_due=first_due, active=active)


def visit_input(params: Any) -> VisitInput:
    errors: web.Errors = {}
    v = fields.read(VisitInput, params, errors)
    at = _moment(params, "visited_at", errors)
    if v.outcome == "concern" and not v.concern and "concern" not in errors:
        errors["concern"] = Msg("invalid.required_when",
                                outcome=Label("visit_outcome", "concern"))
    if errors:
        raise Invalid(errors)
    return msgspec.structs.replace(v, visited_at=at)


# -- writing ------------------------------------------------------------------------


async def set_schedule(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)       # NotFound outside the scope
        if not may_schedule(ctx.user):
            raise Forbidden("schedules")
        s = schedule_input(params)
        worker_id = None
        if s.worker:
            row = await (await conn.execute(visits_sql.WORKER_BY_USERNAME,
                                            (s.worker,))).fetchone()
            if row is None or row[1] not in WORKER_ROLES:
                raise Invalid({"worker": Msg("invalid.no_worker", name=s.worker)})
            worker_id = row[0]
        first_due = None
        if s.first_due:
            first_due = datetime.combine(s.first_due, time(9), ZoneInfo(h["tz"]))
        async with conn.transaction():
            row = await (await conn.execute(visits_sql.SET_SCHEDULE, {
                "home": home_id, "kind": s.kind, "every_days": s.every_days,
                "worker": worker_id, "note": s.note, "active": s.active,
                "first_due": first_due})).fetchone()
            assert row
            await data.audit(conn, ctx.user, "set_visit_schedule", home_id=home_id,
                             detail={k: v for k, v in msgspec.structs.asdict(s).items()
                                     if k != "first_due"}
                             | {"first_due": str(s.first_due or "")}, remote=ctx.remote)
        return {"id": row[0], **(await for_home(conn, home_id))}


async def _open_concern(conn: psycopg.AsyncConnection, home_id: int, at: datetime,
                        who: str, concern: str) -> int:
    """A visit's concern is an alert (one unresolved visit_concern per home: joined)."""
    aid, _ = await alert_store.open_or_join(conn, alert_store.NewAlert(
        home_id=home_id, kind="visit_concern", severity="high", condition_at=at, since=at,
        evidence={"concern": concern, "visited_by": who},
        summary_zh=f"上门探访发现问题：{concern}"[:300],
        summary_en=f"Home visit found a concern: {concern}"[:300], note=concern[:1000]),
        actor=who, channel="console")
    return aid


async def insert_visit(conn: psycopg.AsyncConnection, *, home_id: int, user: User,
                       outcome: str, at: datetime, kind: str | None = None,
                       concern: str | None = None, note: str | None = None,
                       alert_id: int | None = None) -> dict[str, Any]:
    """The visit row, its schedule advanced, and a concern's alert (in one transaction)."""
    async with conn.transaction():
        schedule = None
        if kind:
            row = await (await conn.execute(visits_sql.SCHEDULE_ID, (home_id, kind))).fetchone()
            if row is None:
                raise Invalid({"kind": Msg("invalid.no_schedule",
                                           kind=Label("schedule_kind", kind))})
            schedule = row[0]
        row = await (await conn.execute(visits_sql.RECORD_VISIT, {
            "home": home_id, "schedule": schedule, "alert": alert_id, "at": at, "uid": user.id,
            "worker": actor(user), "outcome": outcome, "concern": concern,
            "note": note})).fetchone()
        assert row
        visit_id = int(row[0])
        await conn.execute(visits_sql.ADVANCE_SCHEDULES, {"home": home_id, "schedule": schedule,
                                                          "at": at})
        concern_alert = None
        if outcome == "concern" and concern:
            concern_alert = await _open_concern(conn, home_id, at, actor(user), concern)
            await conn.execute(visits_sql.LINK_CONCERN_ALERT, (concern_alert, visit_id))
    return {"id": visit_id, "home_id": home_id, "outcome": outcome, "visited_at": at,
            "schedule_id": schedule, "alert_id": alert_id, "concern_alert_id": concern_alert}


async def record(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        await data.home(conn, ctx.user, home_id)            # NotFound outside the scope
        if not may_record(ctx.user):
            raise Forbidden("visits")
        v = visit_input(params)
        out = await insert_visit(conn, home_id=home_id, user=ctx.user, outcome=v.outcome,
                                 at=v.visited_at or datetime.now(timezone.utc), kind=v.kind,
                                 concern=v.concern, note=v.note)
        await data.audit(conn, ctx.user, "record_visit", home_id=home_id,
                         alert_id=out["concern_alert_id"],
                         detail={"visit": out["id"], "outcome": v.outcome},
                         remote=ctx.remote)
        return out
