"""The HTML pages: sign-in, the alert board and its live stream, an alert, homes, a home."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from console import actions, admin, auth, charts, data, i18n, manage, reports, visits
from console.sql import users as users_sql
from console.live import PING_S, sse
from console.web import Ctx, Invalid, current_user, page, path_id, remote, render, words
from console import web

HOME_STATUSES = ("alert", "offline", "away", "ok")


def safe_next(target: str | None, default: str = "/board") -> str:
    """Only a path on this site (no //host, no scheme) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _secure(request: Request) -> bool:
    return bool(request.app.state.secure_cookies) or request.url.scheme == "https"


# -- signing in and out -------------------------------------------------------------


async def login_form(request: Request, *, status: int = 200, error: str | None = None,
                     username: str = "") -> Response:
    token = auth.new_token()
    resp = render(request, "login.html", status, csrf=token, error=error, username=username,
                  next=safe_next(request.query_params.get("next")))
    resp.set_cookie(auth.LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                    secure=_secure(request), path="/login")
    return resp


async def login(request: Request) -> Response:
    if request.method == "GET":
        if await current_user(request):
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return await login_form(request)
    w = words(request)
    form = await request.form()
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:256]
    if not auth.same_token(str(form.get(auth.CSRF_FIELD) or ""),
                           request.cookies.get(auth.LOGIN_CSRF_COOKIE)):
        return await login_form(request, status=403, error=w("bad_form"), username=username)
    where = remote(request)
    pool = request.app.state.pool
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(users_sql.LOCK_LOGIN_REMOTE, (where,))
            cur = await conn.execute(users_sql.LOGIN_FAILURES, {
                "username": username, "remote": where,
                "user_window": auth.LOGIN_USER_WINDOW_S,
                "remote_window": auth.LOGIN_REMOTE_WINDOW_S})
            row = await cur.fetchone()
            assert row
            wait = auth.login_wait(int(row[0]), row[1], int(row[2]), row[3])
            cur = await conn.execute(users_sql.RECORD_LOGIN, (username, where, False, wait > 0))
            attempt = await cur.fetchone()
            assert attempt
        if wait > 0:
            seconds = math.ceil(wait)
            resp = await login_form(request, status=429, username=username,
                                    error=w("too_many").format(wait=_wait_words(w, seconds)))
            resp.headers["Retry-After"] = str(seconds)
            return resp
        cur = await conn.execute(users_sql.USER_FOR_LOGIN, (username,))
        found = await cur.fetchone()
    encoded = found[1] if found and found[2] else None
    ok = await asyncio.to_thread(auth.verify_password, encoded, password)
    if not ok or found is None:
        return await login_form(request, status=401, error=w("bad_login"), username=username)
    async with pool.connection() as conn:
        await conn.execute(users_sql.LOGIN_SUCCEEDED, (attempt[0],))
        if auth.needs_rehash(found[1]):
            await conn.execute(users_sql.SET_PASSWORD_HASH, (auth.hash_password(password), found[0]))
        token = auth.new_token()
        await conn.execute(users_sql.NEW_SESSION, (auth.token_hash(token), found[0], auth.new_token(),
                                                   auth.SESSION_SECONDS, where,
                                                   request.headers.get("user-agent", "")[:200]))
        await conn.execute(users_sql.AUDIT, (found[0], username, "sign_in", None, None, "{}", where))
    resp = RedirectResponse(safe_next(str(form.get("next") or "")), 303)
    resp.set_cookie(auth.SESSION_COOKIE, token, max_age=auth.SESSION_SECONDS, httponly=True,
                    samesite="lax", secure=_secure(request), path="/")
    resp.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
    return resp


def _wait_words(w: i18n.Words, seconds: int) -> str:
    if seconds < 120:
        return w("seconds").format(n=seconds)
    return w("minutes").format(n=math.ceil(seconds / 60))


@page
async def logout(ctx: Ctx) -> Response:
    token = ctx.request.cookies.get(auth.SESSION_COOKIE, "")
    async with ctx.request.app.state.pool.connection() as conn:
        await conn.execute(users_sql.END_SESSION, (auth.token_hash(token),))
        await data.audit(conn, ctx.user, "sign_out", remote=ctx.remote)
    resp = RedirectResponse("/login", 303)
    resp.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                       secure=_secure(ctx.request))
    return resp


async def set_lang(request: Request) -> Response:
    code = request.path_params["code"]
    resp = RedirectResponse(safe_next(request.query_params.get("next")), 303)
    if code in i18n.LANGS:
        resp.set_cookie(auth.LANG_COOKIE, code, max_age=365 * 86400, samesite="lax",
                        secure=_secure(request), path="/")
    return resp


# -- the board ----------------------------------------------------------------------


async def root(request: Request) -> Response:
    return RedirectResponse("/board", 303)


@page
async def board(ctx: Ctx) -> Response:
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await data.board(conn, ctx.user)
        overdue = await visits.due(conn, ctx.user, worker=None, overdue_only=True, limit=50)
    return render(ctx.request, "board.html", w=ctx.w, alerts=rows,
                  outcomes=i18n.PERSON_OUTCOMES, overdue=overdue)


@page
async def board_rows(ctx: Ctx) -> Response:
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await data.board(conn, ctx.user)
    return render(ctx.request, "board_rows.html", w=ctx.w, alerts=rows)


async def events(request: Request) -> Response:
    """Server-sent events: `alert` when an alert in the user's scope opens or changes."""
    user = await current_user(request)
    if user is None:
        return web.problem(401, "sign in first")
    hub = request.app.state.hub

    async def stream() -> Any:
        client = hub.connect(user)
        try:
            yield "retry: 1000\n" + sse("hello", {"user": user.username})
            while True:
                try:
                    yield await asyncio.wait_for(client.queue.get(), PING_S)
                except asyncio.TimeoutError:
                    yield ": ping\n\n"
        finally:
            hub.disconnect(client)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# -- one alert -----------------------------------------------------------------------


async def _alert_page(ctx: Ctx, alert_id: int, *, status: int = 200,
                      errors: dict[str, str] | None = None) -> Response:
    async with ctx.request.app.state.pool.connection() as conn:
        a = await data.alert(conn, ctx.user, alert_id)
        timeline = await data.alert_timeline(conn, alert_id)
        await data.audit(conn, ctx.user, "view_alert", home_id=a["home_id"], alert_id=alert_id,
                         remote=ctx.remote)
    return render(ctx.request, "alert.html", status, w=ctx.w, a=a, errors=errors or {},
                  outcomes=i18n.PERSON_OUTCOMES, **timeline)


@page
async def alert(ctx: Ctx) -> Response:
    return await _alert_page(ctx, path_id(ctx.request))


@page
async def acknowledge(ctx: Ctx) -> Response:
    alert_id = path_id(ctx.request)
    form = await ctx.request.form()
    errors: dict[str, str] = {}
    note = web.text_param(form, "note", errors, max_len=1000)
    if errors:
        return await _alert_page(ctx, alert_id, status=422, errors=errors)
    await actions.acknowledge(ctx, alert_id, note)
    return RedirectResponse(safe_next(str(form.get("next") or ""), f"/alerts/{alert_id}"), 303)


@page
async def resolve(ctx: Ctx) -> Response:
    alert_id = path_id(ctx.request)
    form = await ctx.request.form()
    errors: dict[str, str] = {}
    note = web.text_param(form, "note", errors, max_len=1000)
    outcome = str(form.get("outcome") or "")
    try:
        if errors:
            raise Invalid(errors)
        await actions.resolve(ctx, alert_id, outcome, note)
    except Invalid as e:
        return await _alert_page(ctx, alert_id, status=422, errors=e.errors)
    return RedirectResponse(safe_next(str(form.get("next") or ""), f"/alerts/{alert_id}"), 303)


# -- homes ------------------------------------------------------------------------------


def home_filters(params: Any, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "community": web.text_param(params, "community", errors, max_len=64),
        "building": web.text_param(params, "building", errors, max_len=64),
        "status": web.choice_param(params, "status", HOME_STATUSES, errors),
        "q": web.text_param(params, "q", errors, max_len=64),
        "limit": web.int_param(params, "limit", errors, default=100, lo=1, hi=500),
        "offset": web.int_param(params, "offset", errors, default=0, lo=0, hi=10_000_000),
    }


@page
async def homes(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = home_filters(ctx.request.query_params, errors)
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await data.homes(conn, ctx.user, **f)
        comms = await data.communities(conn, ctx.user)
        managed = await admin.managed_communities(conn, ctx.user)
    return render(ctx.request, "homes.html", 422 if errors else 200, w=ctx.w, homes=rows,
                  communities=comms, f=f, errors=errors, statuses=HOME_STATUSES,
                  managed=managed, new_errors={}, new={})


async def home_charts(conn: Any, h: dict[str, Any], w: i18n.Words) -> dict[str, str]:
    out = {}
    for name in ("24h", "7d"):
        win = data.WINDOWS[name]
        since, until = data.window_bounds(win)
        rows = await data.activity(conn, h["id"], since)
        usual = await data.normal(conn, h["id"], h["tz"], since)
        out[f"activity_{name}"] = charts.activity(
            rows, since=since, until=until, tz=h["tz"], step=win.step, room_name=w.room,
            title=w(f"activity_{name}"), empty=w("no_data"), normal=usual,
            normal_label=w("usual"))
    win = data.WINDOWS["24h"]
    since, until = data.window_bounds(win)
    use = await data.usage(conn, h["id"], since)
    out["water"] = charts.bars(use["water"], since=since, until=until, tz=h["tz"], step=win.step,
                               unit="L", title=w("water_24h"), css="water", empty=w("no_data"))
    out["power"] = charts.bars(use["power"], since=since, until=until, tz=h["tz"], step=win.step,
                               unit="W", title=w("power_24h"), css="power", empty=w("no_data"))
    return out


async def _home_page(ctx: Ctx, home_id: int, *, status: int = 200,
                     errors: dict[str, str] | None = None, form: str = "",
                     new_device: dict[str, Any] | None = None) -> Response:
    async with ctx.request.app.state.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)
        details = await data.home_details(conn, h)
        history = await data.alerts(conn, ctx.user, home=home_id, limit=50)
        svgs = await home_charts(conn, h, ctx.w)
        v = await visits.for_home(conn, home_id)
        detector = policies = None
        if manage.may_manage(ctx.user):
            detector = await manage.detector_settings(conn, h)
            policies = (await manage.policies(conn, h))["policies"]
        await data.audit(conn, ctx.user, "view_home", home_id=home_id, remote=ctx.remote)
    return render(ctx.request, "home.html", status, w=ctx.w, h=h, history=history, charts=svgs,
                  errors=errors or {}, form=form, visit_outcomes=visits.OUTCOMES,
                  schedule_kinds=visits.SCHEDULE_KINDS,
                  may_record=visits.may_record(ctx.user),
                  may_schedule=visits.may_schedule(ctx.user),
                  may_manage=manage.may_manage(ctx.user), detector=detector,
                  device_kinds=manage.DEVICE_KIND_CHOICES, rooms=manage.ROOMS,
                  policies=policies,
                  new_device=new_device, **v, **details)


@page
async def home(ctx: Ctx) -> Response:
    return await _home_page(ctx, path_id(ctx.request))


# -- visits -----------------------------------------------------------------------------


def due_filters(params: Any, user: Any, errors: dict[str, str]) -> dict[str, Any]:
    who = web.choice_param(params, "worker", ("me", "all"), errors, default="me")
    within = web.int_param(params, "within", errors, default=visits.DUE_WINDOW_DAYS, lo=0,
                           hi=366)
    return {"who": who, "worker": user.id if who == "me" else None,
            "within_days": within if within is not None else visits.DUE_WINDOW_DAYS}


@page
async def visits_due(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = due_filters(ctx.request.query_params, ctx.user, errors)
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await visits.due(conn, ctx.user, worker=f["worker"],
                                within_days=f["within_days"])
    return render(ctx.request, "visits.html", 422 if errors else 200, w=ctx.w, rows=rows, f=f,
                  errors=errors)


@page
async def record_visit(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    form = await ctx.request.form()
    try:
        await visits.record(ctx, home_id, form)
    except Invalid as e:
        return await _home_page(ctx, home_id, status=422, errors=e.errors, form="visit")
    return RedirectResponse(safe_next(str(form.get("next") or ""), f"/homes/{home_id}#visits"),
                            303)


@page
async def set_schedule(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    form = await ctx.request.form()
    try:
        await visits.set_schedule(ctx, home_id, form)
    except Invalid as e:
        return await _home_page(ctx, home_id, status=422, errors=e.errors, form="schedule")
    return RedirectResponse(f"/homes/{home_id}#visits", 303)


# -- reports and the audit log ---------------------------------------------------------


@page
async def report(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = reports.filters(ctx.user, ctx.request.query_params, errors)
    async with ctx.request.app.state.pool.connection() as conn:
        r = await reports.build(conn, ctx.user, **f)
        comms = await data.communities(conn, ctx.user)
    return render(ctx.request, "reports.html", 422 if errors else 200, w=ctx.w, r=r, f=f,
                  errors=errors, communities=comms, query=ctx.request.url.query)


def _csv(section: str) -> Any:
    @page
    async def handler(ctx: Ctx) -> Response:
        errors: dict[str, str] = {}
        f = reports.filters(ctx.user, ctx.request.query_params, errors)
        if errors:
            return Response("; ".join(f"{k}: {v}" for k, v in errors.items()), 422)
        async with ctx.request.app.state.pool.connection() as conn:
            r = await reports.build(conn, ctx.user, **f)
        name = f"anju-{section}-{r['since']:%Y%m%d}-{r['until']:%Y%m%d}.csv"
        return Response(reports.to_csv(section, r[section]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    handler.__name__ = f"report_{section}_csv"
    return handler


report_response_csv = _csv("response")
report_kinds_csv = _csv("kinds")
report_devices_csv = _csv("devices")


@page
async def audit(ctx: Ctx) -> Response:
    errors: dict[str, str] = {}
    f = reports.audit_filters(ctx.user, ctx.request.query_params, errors)
    async with ctx.request.app.state.pool.connection() as conn:
        rows = await reports.audit_log(conn, ctx.user, f)
    return render(ctx.request, "audit.html", 422 if errors else 200, w=ctx.w, rows=rows, f=f,
                  errors=errors)


# -- managing a home ------------------------------------------------------------------


def _manage_form(name: str, action: Any) -> Any:
    @page
    async def handler(ctx: Ctx) -> Response:
        home_id = path_id(ctx.request)
        form = await ctx.request.form()
        try:
            await action(ctx, home_id, form)
        except Invalid as e:
            return await _home_page(ctx, home_id, status=422, errors=e.errors, form=name)
        return RedirectResponse(f"/homes/{home_id}#manage", 303)

    handler.__name__ = f"manage_{name}"
    return handler


set_away = _manage_form("away", manage.away)
set_detector = _manage_form("detector", manage.set_detector)
add_contact = _manage_form("contact", manage.add_contact)
set_policy = _manage_form("policy", manage.set_policy)


@page
async def remove_contact(ctx: Ctx) -> Response:
    home_id = path_id(ctx.request)
    await manage.remove_contact(ctx, home_id, path_id(ctx.request, "cid"))
    return RedirectResponse(f"/homes/{home_id}#manage", 303)


@page
async def add_device(ctx: Ctx) -> Response:
    """The device's broker password is on this response's page only (never stored plain)."""
    home_id = path_id(ctx.request)
    form = await ctx.request.form()
    try:
        dev = await manage.add_device(ctx, home_id, form)
    except Invalid as e:
        return await _home_page(ctx, home_id, status=422, errors=e.errors, form="device")
    resp = await _home_page(ctx, home_id, status=201, new_device=dev)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- homes and duty rotas ------------------------------------------------------------


@page
async def create_home(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    try:
        h = await admin.create_home(ctx, form)
    except Invalid as e:
        errors: dict[str, str] = {}
        f = home_filters({}, errors)
        async with ctx.request.app.state.pool.connection() as conn:
            rows = await data.homes(conn, ctx.user, **f)
            comms = await data.communities(conn, ctx.user)
            managed = await admin.managed_communities(conn, ctx.user)
        return render(ctx.request, "homes.html", 422, w=ctx.w, homes=rows, communities=comms,
                      f=f, errors={}, statuses=HOME_STATUSES, managed=managed,
                      new_errors=e.errors, new=dict(form))
    return RedirectResponse(f"/homes/{h['id']}", 303)


edit_home = _manage_form("edit", admin.edit_home)


async def _workers_page(ctx: Ctx, community_id: int, *, status: int = 200,
                        errors: dict[str, str] | None = None) -> Response:
    async with ctx.request.app.state.pool.connection() as conn:
        c = await admin.community(ctx, conn, community_id=community_id)
        rows = await admin.workers(conn, c["id"])
    return render(ctx.request, "workers.html", status, w=ctx.w, c=c, workers=rows,
                  errors=errors or {})


@page
async def workers(ctx: Ctx) -> Response:
    return await _workers_page(ctx, path_id(ctx.request))


@page
async def add_shift(ctx: Ctx) -> Response:
    community_id = path_id(ctx.request)
    form = await ctx.request.form()
    try:
        await admin.add_shift(ctx, community_id, form)
    except Invalid as e:
        return await _workers_page(ctx, community_id, status=422, errors=e.errors)
    return RedirectResponse(f"/communities/{community_id}/workers", 303)


@page
async def remove_shift(ctx: Ctx) -> Response:
    community_id = path_id(ctx.request)
    await admin.remove_shift(ctx, community_id, path_id(ctx.request, "sid"))
    return RedirectResponse(f"/communities/{community_id}/workers", 303)
