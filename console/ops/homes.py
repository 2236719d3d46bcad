"""Homes: the list, creating one, a home with its charts, its activity and usage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from starlette.responses import Response

from console import admin, charts, data, i18n, manage, visits
from console.action import Action, Api, Args, Op, Page
from console.errors import Sent
from console.manage import MANAGE_ROLES
from console.ops.alerts import alert_json
from console.web import Ctx, Invalid, redirect, render

HOME_STATUSES = ("alert", "offline", "away", "no_devices", "ok")
Short = Annotated[str, msgspec.Meta(max_length=64)]


class HomeQuery(msgspec.Struct, kw_only=True):
    community: Short | None = None
    building: Short | None = None
    status: Literal[HOME_STATUSES] | None = None      # type: ignore[valid-type]
    q: Short | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    offset: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 0


class WindowQuery(msgspec.Struct, kw_only=True):
    window: Literal[tuple(data.WINDOWS)] = "24h"     # type: ignore[valid-type]


class ActivityQuery(WindowQuery, kw_only=True):
    # Anything but svg is answered as JSON, as it always was: not validated.
    format: Annotated[Literal["json", "svg"] | None,
                      msgspec.Meta(extra={"unchecked": True})] = None


# -- the actions ------------------------------------------------------------------------


async def home_list(ctx: Ctx, args: Args) -> list[dict[str, Any]]:
    async with ctx.pool.connection() as conn:
        return await data.homes(conn, ctx.user, **msgspec.structs.asdict(args.query))


async def create_home(ctx: Ctx, args: Args) -> dict[str, Any]:
    return await admin.create_home(ctx, args.body)


async def show_home(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    return await _home(ctx, args.id)


async def _home(ctx: Ctx, home_id: int) -> dict[str, Any]:
    async with ctx.pool.connection() as conn:
        h = await data.home(conn, ctx.user, home_id)
        details = await data.home_details(conn, h)
        history = await data.alerts(conn, ctx.user, home=home_id, limit=50)
        await data.audit(conn, ctx.user, "view_home", home_id=home_id,
                         detail={"via": "api"} if ctx.via_api else None, remote=ctx.remote)
    return {"h": h, "details": details, "history": history}


async def activity(ctx: Ctx, args: Args) -> Any:
    """Activations per room and step; `?format=svg` draws it."""
    assert args.id is not None
    win = data.WINDOWS[args.query.window]
    since, until = data.window_bounds(win)
    async with ctx.pool.connection() as conn:
        h = await data.home(conn, ctx.user, args.id)
    async with ctx.read_pool.connection() as conn:
        rows = await data.activity(conn, args.id, since)
        usual = await data.normal(conn, args.id, h["tz"], since)
    if args.query.format == "svg":
        svg = charts.activity(rows, since=since, until=until, tz=h["tz"], step=win.step,
                              room_name=ctx.w.room, title=ctx.w(f"activity_{win.name}"),
                              empty=ctx.w("no_data"), normal=usual,
                              normal_label=ctx.w("usual"))
        return Response(svg, media_type="image/svg+xml")
    return {"window": win.name, "since": since, "until": until,
            "step_s": int(win.step.total_seconds()),
            "points": [{"room": r, "bucket": b, "activations": n} for r, b, n in rows],
            "normal": [{"room": r, "slot": slot, "share": round(share, 3)}
                       for (r, slot), share in sorted(usual.items())]}


async def usage(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    win = data.WINDOWS[args.query.window]
    since, until = data.window_bounds(win)
    async with ctx.pool.connection() as conn:
        await data.home(conn, ctx.user, args.id)
    async with ctx.read_pool.connection() as conn:
        use = await data.usage(conn, args.id, since)
    return {"window": win.name, "since": since, "until": until,
            "water_litres": [{"bucket": b, "value": v} for b, v in use["water"]],
            "power_watts": [{"bucket": b, "value": v} for b, v in use["power"]]}


# -- the pages ---------------------------------------------------------------------------


async def homes_page(ctx: Ctx, query: HomeQuery, rows: list[dict[str, Any]], *,
                     status: int = 200, errors: dict[str, str] | None = None,
                     new_errors: dict[str, str] | None = None,
                     new: dict[str, Any] | None = None) -> Response:
    async with ctx.pool.connection() as conn:
        comms = await data.communities(conn, ctx.user)
        managed = await admin.managed_communities(conn, ctx.user)
    return render(ctx.request, "homes.html", status, w=ctx.w, homes=rows, communities=comms,
                  f=query, errors=errors or {}, statuses=HOME_STATUSES, managed=managed,
                  new_errors=new_errors or {}, new=new or {})


async def home_list_page(ctx: Ctx, args: Args, rows: list[dict[str, Any]]) -> Response:
    return await homes_page(ctx, args.query, rows, status=422 if args.errors else 200,
                            errors=args.errors)


async def new_home_again(ctx: Ctx, args: Args, e: Invalid) -> Response:
    """The home list (unfiltered) again, with the new home's form and what was wrong in it."""
    query = HomeQuery()
    async with ctx.pool.connection() as conn:
        rows = await data.homes(conn, ctx.user, **msgspec.structs.asdict(query))
    return await homes_page(ctx, query, rows, status=422, new_errors=e.errors,
                            new=dict(args.body))


async def to_new_home(ctx: Ctx, args: Args, h: dict[str, Any]) -> Response:
    return redirect(f"/homes/{h['id']}")


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


async def home_page(ctx: Ctx, result: dict[str, Any], *, status: int = 200,
                    errors: dict[str, str] | None = None, form: str = "",
                    values: Any = None, new_device: dict[str, Any] | None = None) -> Response:
    """A home's page: what show_home read, with its charts, visits and (for those who may
    manage it) its detector settings and escalation policies. After a form on it failed
    (`form`, its `errors` in the reader's words, the `values` sent), that form keeps what
    was typed and shows each error beside its field (`sent` in the template)."""
    h = result["h"]
    async with ctx.read_pool.connection() as conn:
        svgs = await home_charts(conn, h, ctx.w)
    async with ctx.pool.connection() as conn:
        v = await visits.for_home(conn, h["id"])
        detector = policies = None
        if manage.may_manage(ctx.user):
            detector = await manage.detector_settings(conn, h)
            policies = (await manage.policies(conn, h))["policies"]
    return render(ctx.request, "home.html", status, w=ctx.w, h=h, history=result["history"],
                  charts=svgs, errors=errors or {}, form=form,
                  sent=Sent(form, values, errors),
                  visit_outcomes=visits.OUTCOMES, schedule_kinds=visits.SCHEDULE_KINDS,
                  may_record=visits.may_record(ctx.user),
                  may_schedule=visits.may_schedule(ctx.user),
                  may_manage=manage.may_manage(ctx.user), detector=detector,
                  device_kinds=manage.DEVICE_KIND_CHOICES, rooms=manage.ROOMS,
                  policies=policies, new_device=new_device, **v, **result["details"])


async def home_again(ctx: Ctx, home_id: int, **kw: Any) -> Response:
    """A home's page again (after a form on it), read anew."""
    return await home_page(ctx, await _home(ctx, home_id), **kw)


async def show_home_page(ctx: Ctx, args: Args, result: dict[str, Any]) -> Response:
    return await home_page(ctx, result)


def _home_json(result: dict[str, Any]) -> dict[str, Any]:
    return {"home": result["h"], **result["details"],
            "alerts": [alert_json(a) for a in result["history"]]}


OPS = [
    Op(Action(run=home_list, summary="Homes in scope, with status", query=HomeQuery),
       page=Page(path="/homes", render=home_list_page),
       api=Api(path="/homes", json=lambda rows: {"homes": rows, "statuses": HOME_STATUSES})),
    Op(Action(run=create_home, roles=MANAGE_ROLES, body=admin.NewHome,
              summary="Create a home in a community you manage (admin; operator of it)"),
       page=Page(path="/homes", method="POST", render=to_new_home, invalid=new_home_again),
       api=Api(path="/homes", method="POST", status=201)),
    Op(Action(run=show_home,
              summary="A home: resident, contacts, devices, away periods, alert history"),
       page=Page(path="/homes/{id}", render=show_home_page),
       api=Api(path="/homes/{id}", json=_home_json)),
    Op(Action(run=activity, query=ActivityQuery,
              summary="Activations per room and 15 min (24h) or hour (7d)"),
       api=Api(path="/homes/{id}/activity")),
    Op(Action(run=usage, query=WindowQuery,
              summary="Water (litres) and power (mean W) per 15 min"),
       api=Api(path="/homes/{id}/usage")),
]
