"""Creating and editing homes, and community workers' duty rotas, from the console.

Admins, and operators of the community concerned (the whole community in their
scope); everyone else gets 403, a community or home outside the scope 404. The
same validation as the command line: anju.registry.add_home (time zone, codes),
alerts.manage.parse_days / add_shift.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import psycopg
from psycopg.rows import dict_row

from alerts import manage as alert_manage
from alerts.contacts import ContactError
from anju import registry
from console import data, fields, web
from console.errors import Msg, provisioning_msg
from console.manage import _home_for_change, _sync, may_manage
from console.sql import manage as manage_sql
from console.web import Ctx, Forbidden, Invalid

Short = Annotated[str, msgspec.Meta(max_length=64)]
Resident = Annotated[str, msgspec.Meta(max_length=100)]
Address = Annotated[str, msgspec.Meta(max_length=200)]
TimeZone = Annotated[str, msgspec.Meta(max_length=64, description="IANA, e.g. Asia/Shanghai",
                                       extra=fields.UNCHECKED)]


class NewHome(msgspec.Struct, kw_only=True):
    code: Short
    community: Annotated[str, msgspec.Meta(max_length=64, description="community code")]
    resident: Resident
    address: Address = ""
    building: Short = ""
    tz: TimeZone | None = None


class HomeEdit(msgspec.Struct, kw_only=True):
    """Absent fields stay as they are."""
    resident: Resident | None = None
    address: Address | None = None
    building: Short | None = None
    tz: TimeZone | None = None


class NewShift(msgspec.Struct, kw_only=True):
    contact: Annotated[int, msgspec.Meta(ge=1, le=fields.INT_HI,
                                         description="the worker's contact id")]
    days: Annotated[Annotated[str, msgspec.Meta(max_length=40)]
                    | Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=7)]],
                                msgspec.Meta(min_length=1)], msgspec.Meta(
        description='ISO weekdays: "1-5", "6,7", "mon-fri" or [1, 2]', extra=fields.UNCHECKED)]
    starts: Annotated[str, msgspec.Meta(description="HH:MM", extra=fields.UNCHECKED)]
    ends: Annotated[str, msgspec.Meta(description="HH:MM; before starts runs past midnight",
                                      extra=fields.UNCHECKED)]


def check_tz(params: Any, errors: web.Errors, default: str | None = None) -> str | None:
    tz = web.text_param(params, "tz", errors, max_len=64)
    if tz is None:
        return default
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors["tz"] = Msg("invalid.time_zone")
        return None
    return tz


async def community(ctx: Ctx, conn: psycopg.AsyncConnection, *, community_id: int | None = None,
                    code: str | None = None) -> dict[str, Any]:
    """A community the user manages; NotFound outside the scope, Forbidden for other roles."""
    if not may_manage(ctx.user):
        raise Forbidden("manage")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(manage_sql.MANAGED_COMMUNITY, {**ctx.user.scope_params(), "id": community_id,
                                                     "code": code})
    row = await cur.fetchone()
    if row is None:
        raise data.NotFound(f"community {community_id or code}")
    return row


async def managed_communities(conn: psycopg.AsyncConnection, user: Any) -> list[dict[str, Any]]:
    if not may_manage(user):
        return []
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(manage_sql.MANAGED_COMMUNITIES, user.scope_params())
    return await cur.fetchall()


# -- homes ------------------------------------------------------------------------------


async def create_home(ctx: Ctx, params: Any) -> dict[str, Any]:
    if not may_manage(ctx.user):
        raise Forbidden("manage")
    errors: web.Errors = {}
    new = fields.read(NewHome, params, errors)
    code, comm, resident = new.code, new.community, new.resident
    address, building = new.address, new.building
    tz = check_tz(params, errors, default="Asia/Shanghai")
    c = None
    if comm is not None:
        async with ctx.request.app.state.pool.connection() as conn:
            try:
                c = await community(ctx, conn, code=comm)
            except data.NotFound:      # unknown, or not one the user manages: the same words
                errors["community"] = Msg("invalid.not_your_community")
    if errors:
        raise Invalid(errors)
    assert c is not None
    try:
        home_id = await _sync(ctx, lambda conn: registry.add_home(
            conn, code=str(code), community=c["code"], resident=str(resident), address=address,
            building=building, tz=str(tz)))
    except registry.ProvisioningError as e:
        raise Invalid(dict([provisioning_msg(e)])) from None
    async with ctx.request.app.state.pool.connection() as conn:
        await data.audit(conn, ctx.user, "create_home", home_id=home_id,
                         detail={"code": code, "community": c["code"], "building": building,
                                 "tz": tz}, remote=ctx.remote)
        return await data.home(conn, ctx.user, home_id)


async def edit_home(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    """Change the resident's name, address, building or time zone (absent fields stay)."""
    async with ctx.request.app.state.pool.connection() as conn:
        h = await _home_for_change(ctx, conn, home_id)
        errors: web.Errors = {}
        e = fields.read(HomeEdit, params, errors)
        resident, address, building = e.resident, e.address, e.building
        if "resident" in params and resident is None and "resident" not in errors:
            errors = {"resident": Msg("invalid.required"), **errors}   # a blank name is no name
        tz = check_tz(params, errors, default=h["tz"])
        if errors:
            raise Invalid(errors)
        new = {"resident_name": resident if resident is not None else h["resident_name"],
               "address": address if address is not None else (
                   "" if "address" in params else h["address"]),
               "building": building if building is not None else (
                   "" if "building" in params else h["building"]),
               "tz": tz}
        changed = {k: v for k, v in new.items() if v != h[k]}
        async with conn.transaction():
            await conn.execute(manage_sql.UPDATE_HOME, (new["resident_name"], new["address"],
                                                        new["building"], new["tz"], home_id))
            await data.audit(conn, ctx.user, "edit_home", home_id=home_id,
                             detail={k: {"from": h[k], "to": v} for k, v in changed.items()},
                             remote=ctx.remote)
        try:
            return await data.home(conn, ctx.user, home_id)
        except data.NotFound:           # an operator's home can leave no scope: only building
            return {"id": home_id, **new}


# -- duty rotas ---------------------------------------------------------------------------


async def workers(conn: psycopg.AsyncConnection, community_id: int) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(manage_sql.COMMUNITY_WORKERS, (community_id,))
    return await cur.fetchall()


def _clock(params: Any, name: str, errors: web.Errors) -> time | None:
    raw = params.get(name)
    if raw is None or raw == "":
        errors[name] = Msg("invalid.time_required")
        return None
    try:
        return time.fromisoformat(str(raw)[:8]).replace(tzinfo=None)
    except (ValueError, TypeError):
        errors[name] = Msg("invalid.time")
        return None


def _days(params: Any, errors: web.Errors) -> list[int]:
    raw = params.get("days")
    if isinstance(raw, list) and raw and all(isinstance(d, int) and not isinstance(d, bool)
                                             and 1 <= d <= 7 for d in raw):
        return sorted(set(raw))
    if isinstance(raw, str) and raw.strip() and len(raw) <= 40:
        try:
            return alert_manage.parse_days(raw)
        except ContactError:
            errors["days"] = Msg("invalid.days")
            return []
    errors["days"] = Msg("invalid.days")
    return []


async def add_shift(ctx: Ctx, community_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        c = await community(ctx, conn, community_id=community_id)
        errors: web.Errors = {}
        contact = fields.read(NewShift, params, errors).contact
        if contact is not None:
            row = await (await conn.execute(manage_sql.COMMUNITY_WORKER,
                                            (contact, c["id"]))).fetchone()
            if row is None:
                errors["contact"] = Msg("invalid.not_worker")
        days = _days(params, errors)
        starts = _clock(params, "starts", errors)
        ends = _clock(params, "ends", errors)
        if starts is not None and starts == ends:
            errors["ends"] = Msg("invalid.same_time")
        if errors:
            raise Invalid(errors)
    try:
        n = await _sync(ctx, lambda conn: alert_manage.add_shift(
            conn, int(contact or 0), days, starts, ends))
    except ContactError:                # the contact is no community worker (any more)
        raise Invalid({"contact": Msg("invalid.not_worker")}) from None
    detail = {"community": c["code"], "contact": contact, "days": days,
              "starts": starts.strftime("%H:%M") if starts else None,
              "ends": ends.strftime("%H:%M") if ends else None}
    async with ctx.request.app.state.pool.connection() as conn:
        await data.audit(conn, ctx.user, "add_shift", detail=detail, remote=ctx.remote)
    return {**detail, "added": n}


async def remove_shift(ctx: Ctx, community_id: int, shift_id: int) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        c = await community(ctx, conn, community_id=community_id)
        async with conn.transaction():
            row = await (await conn.execute(manage_sql.REMOVE_SHIFT,
                                            (shift_id, c["id"]))).fetchone()
            if row is None:
                raise data.NotFound(f"shift {shift_id}")
            detail = {"community": c["code"], "shift": row[0], "contact": row[1],
                      "weekday": row[2], "starts": row[3], "ends": row[4]}
            await data.audit(conn, ctx.user, "remove_shift", detail=detail, remote=ctx.remote)
    return {"id": shift_id, "removed": True}
