"""The JSON API under /api/v1: what the pages do, for scripts and integrators.

Signed-in by the console's session cookie; POSTs carry the session's CSRF
token in the X-CSRF-Token header (GET /api/v1/me returns it). Invalid input
is answered 422 with field-level errors.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from console import actions, admin, charts, data, i18n, manage, reports, visits
from console.pages import HOME_STATUSES, due_filters, home_filters
from console.web import JSON, Ctx, Invalid, api, path_id
from console import web

STATES = ("open", "acknowledged", "resolved")


def _alert(a: dict[str, Any]) -> dict[str, Any]:
    return {k: a[k] for k in (
        "id", "kind", "severity", "state", "opened_at", "since", "condition_at", "summary_zh",
        "summary_en", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
        "outcome", "note", "evidence", "home_id", "home_code", "resident_name", "building", "tz",
        "community_code", "community_name", "unreached_at", "unreached_reason",
        "unreached_detail")}


@api
async def me(ctx: Ctx) -> Response:
    u = ctx.user
    return JSON({"username": u.username, "name": u.name, "role": u.role, "csrf_token": u.csrf,
                 "scope": [g.__dict__ for g in u.grants]})


@api
async def board(ctx: Ctx) -> Response:
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await data.board(conn, ctx.user)
        overdue = await visits.due(conn, ctx.user, worker=None, overdue_only=True, limit=50)
    return JSON({"alerts": [_alert(a) for a in rows], "overdue_visits": overdue})


@api
async def alerts(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    p = ctx.request.query_params
    state = web.choice_param(p, "state", STATES, errors)
    home = web.int_param(p, "home", errors, lo=1)
    limit = web.int_param(p, "limit", errors, default=100, lo=1, hi=1000)
    if errors:
        raise Invalid(errors)
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await data.alerts(conn, ctx.user, state=state, home=home, limit=limit or 100)
    return JSON({"alerts": [_alert(a) for a in rows]})


@api
async def alert(ctx: Ctx) -> Response:
    alert_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        a = await data.alert(conn, ctx.user, alert_id)
        timeline = await data.alert_timeline(conn, alert_id)
        await data.audit(conn, ctx.user, "view_alert", home_id=a["home_id"], alert_id=alert_id,
                         detail={"via": "api"}, remote=ctx.remote)
    return JSON({"alert": _alert(a), **timeline})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid({"body": "expected a JSON object"}) from None
    if not isinstance(body, dict):
        raise Invalid({"body": "expected a JSON object"})
    return body


def _result(r: Any) -> dict[str, Any]:
    return {"id": r.alert_id, "changed": r.changed, "state": r.state,
            "acknowledged_by": r.acknowledged_by, "acknowledged_at": r.acknowledged_at,
            "resolved_by": r.resolved_by}


@api
async def acknowledge(ctx: Ctx) -> Response:
    alert_id = path_id(ctx.request)
    body = await _body(ctx.request)
    errors: dict[str, str] = {}
    note = web.text_param(body, "note", errors, max_len=1000)
    if errors:
        raise Invalid(errors)
    return JSON(_result(await actions.acknowledge(ctx, alert_id, note)))


@api
async def resolve(ctx: Ctx) -> Response:
    alert_id = path_id(ctx.request)
    body = await _body(ctx.request)
    errors: dict[str, str] = {}
    note = web.text_param(body, "note", errors, max_len=1000)
    outcome = web.choice_param(body, "outcome", i18n.PERSON_OUTCOMES, errors)
    if outcome is None and "outcome" not in errors:
        errors["outcome"] = "required"
    if errors:
        raise Invalid(errors)
    return JSON(_result(await actions.resolve(ctx, alert_id, outcome, note)))


@api
async def homes(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = home_filters(ctx.request.query_params, errors)
    if errors:
        raise Invalid(errors)
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await data.homes(conn, ctx.user, **f)
    return JSON({"homes": rows, "statuses": HOME_STATUSES})


@api
async def home(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)
        details = await data.home_details(conn, h)
        history = await data.alerts(conn, ctx.user, home=home_id, limit=50)
        await data.audit(conn, ctx.user, "view_home", home_id=home_id, detail={"via": "api"},
                         remote=ctx.remote)
    return JSON({"home": h, **details, "alerts": [_alert(a) for a in history]})


def _window(ctx: Ctx) -> data.Window:
    errors: dict[str, str] = {}
    name = web.choice_param(ctx.request.query_params, "window", tuple(data.WINDOWS), errors,
                            default="24h")
    if errors:
        raise Invalid(errors)
    return data.WINDOWS[name or "24h"]


@api
async def activity(ctx: Ctx) -> Response:
    """Activations per room and step; `?format=svg` draws it."""
    home_id = path_id(ctx.request)
    win = _window(ctx)
    since, until = data.window_bounds(win)
    async with ctx.request.app.state.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)
        rows = await data.activity(conn, home_id, since)
        usual = await data.normal(conn, home_id, h["tz"], since)
    if ctx.request.query_params.get("format") == "svg":
        svg = charts.activity(rows, since=since, until=until, tz=h["tz"], step=win.step,
                              room_name=ctx.w.room, title=ctx.w(f"activity_{win.name}"),
                              empty=ctx.w("no_data"), normal=usual,
                              normal_label=ctx.w("usual"))
        return Response(svg, media_type="image/svg+xml")
    return JSON({"window": win.name, "since": since, "until": until, "step_s":
                 int(win.step.total_seconds()),
                 "points": [{"room": r, "bucket": b, "activations": n} for r, b, n in rows],
                 "normal": [{"room": r, "slot": slot, "share": round(share, 3)}
                            for (r, slot), share in sorted(usual.items())]})


@api
async def usage(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    win = _window(ctx)
    since, until = data.window_bounds(win)
    async with ctx.request.app.state.pool.connection() as conn:
        await data.home(conn, ctx.user, home_id)
        use = await data.usage(conn, home_id, since)
    return JSON({"window": win.name, "since": since, "until": until,
                 "water_litres": [{"bucket": b, "value": v} for b, v in use["water"]],
                 "power_watts": [{"bucket": b, "value": v} for b, v in use["power"]]})


# -- visits ---------------------------------------------------------------------------


@api
async def visits_due(ctx: Ctx) -> Response:
    """Visits due within `within` days (overdue included): the user's own or all in scope."""
    errors: dict[str, str] = {}
    f = due_filters(ctx.request.query_params, ctx.user, errors)
    if errors:
        raise Invalid(errors)
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await visits.due(conn, ctx.user, worker=f["worker"],
                                within_days=f["within_days"])
    return JSON({"worker": f["who"], "within_days": f["within_days"], "visits_due": rows})


@api
async def home_visits(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        await data.home(conn, ctx.user, home_id)
        return JSON(await visits.for_home(conn, home_id))


@api
async def record_visit(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    body = await _body(ctx.request)
    return JSON(await visits.record(ctx, home_id, body), status_code=201)


@api
async def set_schedule(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    body = await _body(ctx.request)
    return JSON(await visits.set_schedule(ctx, home_id, body))


# -- reports and the audit log -----------------------------------------------------------


@api
async def report(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = reports.filters(ctx.user, ctx.request.query_params, errors)
    if errors:
        raise Invalid(errors)
    async with ctx.request.app.state.pool.connection() as conn:
        return JSON(await reports.build(conn, ctx.user, **f))


@api
async def audit(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = reports.audit_filters(ctx.user, ctx.request.query_params, errors)
    if errors:
        raise Invalid(errors)
    async with ctx.request.app.state.pool.connection() as conn:
        return JSON({"entries": await reports.audit_log(conn, ctx.user, f)})


# -- managing a home ------------------------------------------------------------------


@api
async def set_away(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    return JSON(await manage.away(ctx, home_id, await _body(ctx.request)))


@api
async def detector(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)
        return JSON(await manage.detector_settings(conn, h))


@api
async def set_detector(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    return JSON(await manage.set_detector(ctx, home_id, await _body(ctx.request)))


@api
async def add_contact(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    return JSON(await manage.add_contact(ctx, home_id, await _body(ctx.request)),
                status_code=201)


@api
async def devices(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        await data.home(conn, ctx.user, home_id)
        return JSON({"devices": await manage.list_devices(conn, home_id)})


@api
async def add_device(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    out = await manage.add_device(ctx, home_id, await _body(ctx.request))
    return JSON(out, status_code=201, headers={"Cache-Control": "no-store"})


@api
async def remove_contact(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    contact_id = path_id(ctx.request, "cid")
    return JSON(await manage.remove_contact(ctx, home_id, contact_id))


@api
async def policies(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)
        return JSON(await manage.policies(conn, h))


@api
async def set_policy(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    return JSON(await manage.set_policy(ctx, home_id, await _body(ctx.request)))


# -- homes and duty rotas -------------------------------------------------------------


@api
async def create_home(ctx: Ctx) -> Response:
    return JSON(await admin.create_home(ctx, await _body(ctx.request)), status_code=201)


@api
async def edit_home(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    return JSON(await admin.edit_home(ctx, home_id, await _body(ctx.request)))


@api
async def workers(ctx: Ctx) -> Response:
    community_id = path_id(ctx.request)
    async with ctx.request.app.state.pool.connection() as conn:
        c = await admin.community(ctx, conn, community_id=community_id)
        return JSON({"community": c, "workers": await admin.workers(conn, c["id"])})


@api
async def add_shift(ctx: Ctx) -> Response:
    community_id = path_id(ctx.request)
    return JSON(await admin.add_shift(ctx, community_id, await _body(ctx.request)),
                status_code=201)


@api
async def remove_shift(ctx: Ctx) -> Response:
    return JSON(await admin.remove_shift(ctx, path_id(ctx.request),
                                         path_id(ctx.request, "sid")))
