"""Managing a home from the console (admins and operators): away mode, detector thresholds,
contacts and devices. The same validation as the command line: detectors.config.from_dict,
alerts.manage.add_contact, anju.registry.add_device (whose credentials are shown once)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from alerts import manage as alert_manage
from alerts.contacts import ContactError
from alerts.policy import SEVERITIES, PolicyError, choose, parse_steps
from anju import registry
from anju.contract import DEVICE_KINDS, ROOMS
from detectors.config import ConfigError, from_dict
from console import data, fields, web
from console.errors import Msg, config_msg, contact_msg, policy_msg, provisioning_msg
from console.sql import homes as homes_sql, manage as manage_sql
from console.web import Ctx, Forbidden, Invalid

MANAGE_ROLES = ("admin", "operator")
CONTACT_ROLES = ("family", "property")          # a home's own contacts
DEVICE_KIND_CHOICES = tuple(k for k in DEVICE_KINDS if k != "gateway")
Short = Annotated[str, msgspec.Meta(max_length=64)]


class Away(msgspec.Struct, kw_only=True):
    action: Annotated[Literal["set", "clear"], msgspec.Meta(extra={"words": "away_"})]
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""
    start: Annotated[str | None, msgspec.Meta(
        description="in the home's time zone; default now", extra=fields.UNCHECKED)] = None
    until: Annotated[str | None, msgspec.Meta(
        description="in the home's time zone; default open", extra=fields.UNCHECKED)] = None


class DetectorChange(msgspec.Struct, kw_only=True):
    settings: Annotated[dict[str, Any], msgspec.Meta(
        description='e.g. {"inactivity.floor_min": 90} (the page: KEY=VALUE lines)',
        extra=fields.UNCHECKED)]
    replace: Annotated[bool, msgspec.Meta(extra=fields.UNCHECKED)] = False


class NewContact(msgspec.Struct, kw_only=True):
    role: Literal[CONTACT_ROLES] = "family"          # type: ignore[valid-type]
    name: Annotated[str, msgspec.Meta(max_length=100)]
    lang: Literal["zh-CN", "en"] = "zh-CN"
    urls: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(
        min_length=1, max_length=5, description="apprise URLs (the page: one a line)",
        extra=fields.UNCHECKED)]


class NewDevice(msgspec.Struct, kw_only=True):
    kind: Literal[DEVICE_KIND_CHOICES]               # type: ignore[valid-type]
    room: Literal[ROOMS] = "other"                   # type: ignore[valid-type]
    vendor: Short = ""
    model: Short = ""
    heartbeat_s: Annotated[int, msgspec.Meta(ge=10, le=86400)] = 900


class PolicyChange(msgspec.Struct, kw_only=True):
    severity: Literal[SEVERITIES]                    # type: ignore[valid-type]
    policy: Annotated[dict[str, Any], msgspec.Meta(
        description='{"steps": [{"after_s": 0, "notify": ["family"]}], "repeat_s": 900}'
                    ' (the page: "0:family,community_worker;600:property")',
        extra=fields.UNCHECKED)]
    repeat_s: Annotated[int | None, msgspec.Meta(
        description="with the page's short form only", extra=fields.UNCHECKED)] = None


def may_manage(user: Any) -> bool:
    return user.role in MANAGE_ROLES


async def _home_for_change(ctx: Ctx, conn: psycopg.AsyncConnection, home_id: int
                           ) -> dict[str, Any]:
    h = await data.home(conn, ctx.user, home_id)          # NotFound outside the scope
    if not may_manage(ctx.user):
        raise Forbidden("manage")
    return h


def _sync(ctx: Ctx, fn: Any) -> Any:
    """Run fn(conn) on a short synchronous connection (the CLI's functions are synchronous)."""
    def run() -> Any:
        with psycopg.connect(ctx.request.app.state.database_url, autocommit=True) as conn:
            with conn.transaction():
                return fn(conn)
    return asyncio.to_thread(run)


# -- away -----------------------------------------------------------------------------


def _local(params: Any, name: str, tz: str, errors: web.Errors) -> datetime | None:
    dt = web.iso_param(params, name, errors, Msg("invalid.date_or_time"))
    if dt is None:
        return None
    if not 2000 <= dt.year <= 2100:
        errors[name] = Msg("invalid.year_range", lo=2000, hi=2100)
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz))


async def away(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        h = await _home_for_change(ctx, conn, home_id)
        errors: web.Errors = {}
        a = fields.read(Away, params, errors)
        action, reason = a.action, a.reason
        now = datetime.now(timezone.utc)
        start = _local(params, "start", h["tz"], errors) or now
        until = _local(params, "until", h["tz"], errors)
        if until is not None and until <= start and "until" not in errors:
            errors["until"] = Msg("invalid.after_start")
        if errors:
            raise Invalid(errors)
        who = f"{ctx.user.name} ({ctx.user.username})"
        async with conn.transaction():
            if action == "set":
                await conn.execute(manage_sql.AWAY_SET, (home_id, start, until, reason, who))
                n = 1
            else:
                n = (await conn.execute(manage_sql.AWAY_CLEAR, (now, home_id, now))).rowcount
            await data.audit(conn, ctx.user, f"away_{action}", home_id=home_id,
                             detail={"start": start.isoformat(),
                                     "until": until.isoformat() if until else None,
                                     "reason": reason, "periods": n}, remote=ctx.remote)
        h = await data.home(conn, ctx.user, home_id)
        return {"away": h["away"], "changed": n}


# -- detector thresholds ------------------------------------------------------------------


async def detector_settings(conn: psycopg.AsyncConnection, h: dict[str, Any]) -> dict[str, Any]:
    """The home's own settings, the community's, and the effective configuration."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(manage_sql.DETECTOR_SETTINGS, (h["id"], h["community_id"]))
    rows = {r["scope"]: r["settings"] for r in await cur.fetchall()}
    try:
        effective = from_dict(rows.get("home"), from_dict(rows.get("community"))).to_dict()
    except ConfigError as e:         # stored before a rule changed: say so, do not fail
        effective = {"error": str(e)}
    for k, v in effective.items():
        if isinstance(v, frozenset):
            effective[k] = sorted(v)
    return {"home": rows.get("home", {}), "community": rows.get("community", {}),
            "effective": effective}


def parse_settings(raw: Any) -> dict[str, Any]:
    """{...} (API) or a text of KEY=VALUE lines (the page's form)."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid({"settings": Msg("invalid.settings")})
    if len(raw) > 4000:
        raise Invalid({"settings": Msg("invalid.too_long", max=4000)})
    out: dict[str, Any] = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Invalid({"settings": Msg("invalid.key_value", line=repr(line[:60]))})
        try:
            out[key.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            out[key.strip()] = value.strip()
    return out


async def set_detector(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        h = await _home_for_change(ctx, conn, home_id)
        change = fields.read_or_raise(DetectorChange, params)
        settings = parse_settings(change.settings)
        replace_all = change.replace in (True, "1", "true", "on")
        try:
            from_dict(settings)
            current = await detector_settings(conn, h)
            merged = settings if replace_all else {**current["home"], **settings}
            from_dict(merged)              # the settings together must make sense too
        except ConfigError as e:
            raise Invalid({f"settings.{e.key}": config_msg(e)}) from None
        async with conn.transaction():
            await conn.execute(manage_sql.DETECTOR_SET, (home_id, Jsonb(merged)))
            await data.audit(conn, ctx.user, "set_detector", home_id=home_id,
                             detail={"settings": settings, "replace": replace_all},
                             remote=ctx.remote)
        return await detector_settings(conn, h)


# -- contacts -----------------------------------------------------------------------------


async def add_contact(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        h = await _home_for_change(ctx, conn, home_id)
        errors: web.Errors = {}
        new = fields.read(NewContact, params, errors)
        role, name, lang, urls = new.role, new.name, new.lang, new.urls
        if isinstance(urls, str):
            urls = [u.strip() for u in urls.splitlines() if u.strip()]
        if (not isinstance(urls, list) or not urls or len(urls) > 5
                or any(not isinstance(u, str) or len(u) > 500 for u in urls)):
            errors["urls"] = Msg("invalid.urls", lo=1, hi=5)
        if errors:
            raise Invalid(errors)
        spec = alert_manage.ContactSpec(role=str(role), name=str(name), urls=list(urls),
                                        home=h["code"], lang=str(lang))
    try:
        contact_id = await _sync(ctx, lambda c: alert_manage.add_contact(c, spec))
    except ContactError as e:
        raise Invalid(dict([contact_msg(e)])) from None
    async with ctx.request.app.state.pool.connection() as conn:
        await data.audit(conn, ctx.user, "add_contact", home_id=home_id,
                         detail={"contact": contact_id, "role": role}, remote=ctx.remote)
    return {"id": contact_id, "role": role, "name": name}


# -- devices --------------------------------------------------------------------------------


async def list_devices(conn: psycopg.AsyncConnection, home_id: int) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(homes_sql.HOME_DEVICES, (home_id,))
    return await cur.fetchall()


async def add_device(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    async with ctx.request.app.state.pool.connection() as conn:
        h = await _home_for_change(ctx, conn, home_id)
        d = fields.read_or_raise(NewDevice, params)
    try:
        dev = await _sync(ctx, lambda c: registry.add_device(
            c, home=h["code"], kind=d.kind, room=d.room, vendor=d.vendor, model=d.model,
            heartbeat_s=d.heartbeat_s))
    except registry.ProvisioningError as e:
        raise Invalid(dict([provisioning_msg(e, 'device')])) from None
    async with ctx.request.app.state.pool.connection() as conn:
        await data.audit(conn, ctx.user, "add_device", home_id=home_id,
                         detail={"device": dev.id, "uid": dev.uid, "kind": d.kind},
                         remote=ctx.remote)
    return {"id": dev.id, "uid": dev.uid, "kind": dev.kind, "room": dev.room,
            "mqtt_username": dev.uid, "mqtt_password": dev.password,
            "note": "the password is shown once; it is stored only as a hash"}


async def remove_contact(ctx: Ctx, home_id: int, contact_id: int) -> dict[str, Any]:
    """Deactivate one of the home's own contacts (alerts.manage.remove_contact)."""
    async with ctx.request.app.state.pool.connection() as conn:
        await _home_for_change(ctx, conn, home_id)
        row = await (await conn.execute(manage_sql.HOME_CONTACT, (contact_id, home_id))).fetchone()
        if row is None:
            raise data.NotFound(f"contact {contact_id}")
    removed = await _sync(ctx, lambda c: alert_manage.remove_contact(c, contact_id))
    async with ctx.request.app.state.pool.connection() as conn:
        await data.audit(conn, ctx.user, "remove_contact", home_id=home_id,
                         detail={"contact": contact_id}, remote=ctx.remote)
    return {"id": contact_id, "removed": bool(removed)}


# -- escalation policies ------------------------------------------------------------------


async def policies(conn: psycopg.AsyncConnection, h: dict[str, Any]) -> dict[str, Any]:
    """The policy each severity's alerts get at this home and where it comes from (as
    alerts.manage.effective_policies, on the console's pool)."""
    rows = await (await conn.execute(manage_sql.HOME_POLICIES, (h["id"], h["community_id"]))
                  ).fetchall()
    found = {(scope, sev): pol for scope, sev, pol in rows}
    out: dict[str, Any] = {}
    for sev in SEVERITIES:
        try:
            pol, src = choose(sev, home=found.get(("home", sev)),
                              community=found.get(("community", sev)), home_id=h["id"],
                              community_id=h["community_id"])
            out[sev] = {"source": src, "policy": pol.to_json()}
        except PolicyError as e:       # stored before a rule changed: say so, do not fail
            out[sev] = {"source": "invalid", "error": str(e)}
    return {"policies": out}


async def set_policy(ctx: Ctx, home_id: int, params: Any) -> dict[str, Any]:
    """This home's escalation policy for one severity (alerts.manage.set_policy validates)."""
    async with ctx.request.app.state.pool.connection() as conn:
        h = await _home_for_change(ctx, conn, home_id)
    errors: web.Errors = {}
    severity = fields.read(PolicyChange, params, errors).severity
    raw = params.get("policy")
    try:
        # The page's short form: "0:family,community_worker;600:property".
        if isinstance(raw, str):
            raw = {"steps": parse_steps(raw)}
            repeat = web.int_param(params, "repeat_s", errors, default=900, lo=0, hi=7 * 86400)
            raw["repeat_s"] = repeat if repeat is not None else 900
    except PolicyError as e:
        errors["policy"] = policy_msg(e)
    if raw is None and "policy" not in errors:
        errors["policy"] = Msg("invalid.required")
    if errors:
        raise Invalid(errors)
    who = f"{ctx.user.name} ({ctx.user.username})"
    try:
        pol = await _sync(ctx, lambda c: alert_manage.set_policy(c, severity=str(severity), raw=raw,
                                              home=h["code"], by=who))
    except (PolicyError, ContactError) as e:
        raise Invalid({"policy": policy_msg(e)}) from None
    async with ctx.request.app.state.pool.connection() as conn:
        await data.audit(conn, ctx.user, "set_policy", home_id=home_id,
                         detail={"severity": severity, "policy": pol.to_json()},
                         remote=ctx.remote)
    return {"severity": severity, "policy": pol.to_json()}
