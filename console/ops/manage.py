"""Managing a home (away, detector settings, contacts, devices, escalation policies, its
details) and a community's duty rota: admins, and operators of the community."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from console import admin, data, manage
from console.action import Action, Api, Args, Op, Page
from console.errors import Sent
from console.manage import MANAGE_ROLES
from console.ops.homes import home_again
from console.web import Ctx, Invalid, redirect, render

# -- a home -------------------------------------------------------------------------------


def _change(fn: Any) -> Any:
    """An action that changes a home through fn(ctx, home_id, body)."""
    async def run(ctx: Ctx, args: Args) -> Any:
        assert args.id is not None
        return await fn(ctx, args.id, args.body)
    run.__name__ = fn.__name__
    return run


def _read(fn: Any) -> Any:
    """An action that reads fn(conn, home) of a home in scope."""
    async def run(ctx: Ctx, args: Args) -> Any:
        assert args.id is not None
        async with ctx.pool.connection() as conn:
            h = await data.home(conn, ctx.user, args.id)
            return await fn(conn, h)
    run.__name__ = fn.__name__
    return run


async def remove_contact(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None and args.sub is not None
    return await manage.remove_contact(ctx, args.id, args.sub)


async def _devices(conn: Any, h: dict[str, Any]) -> dict[str, Any]:
    return {"devices": await manage.list_devices(conn, h["id"])}


def _form(name: str) -> Any:
    """The home's page again with the named form's errors."""
    async def again(ctx: Ctx, args: Args, e: Invalid) -> Response:
        assert args.id is not None
        return await home_again(ctx, args.id, status=422, errors=e.errors, form=name,
                                values=args.body)
    return again


async def to_manage(ctx: Ctx, args: Args, result: Any) -> Response:
    return redirect(f"/homes/{args.id}#manage")


async def new_device_page(ctx: Ctx, args: Args, dev: dict[str, Any]) -> Response:
    """The device's broker password is on this response's page only (never stored plain)."""
    assert args.id is not None
    resp = await home_again(ctx, args.id, status=201, new_device=dev)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _home_form(run: Any, name: str, page: str, api: str, summary: str, body: type, *,
               status: int = 200) -> Op:
    return Op(Action(run=_change(run), roles=MANAGE_ROLES, body=body, summary=summary),
              page=Page(path=page, method="POST", render=to_manage, invalid=_form(name)),
              api=Api(path=api, method="POST", status=status))


HOME_OPS = [
    _home_form(manage.away, "away", "/homes/{id}/away", "/homes/{id}/away",
               "Mark the resident away (set) or back (clear); admin, operator", manage.Away),
    Op(Action(run=_read(manage.detector_settings),
              summary="Detector settings: the home's, the community's, effective"),
       api=Api(path="/homes/{id}/detector")),
    _home_form(manage.set_detector, "detector", "/homes/{id}/detector", "/homes/{id}/detector",
               "Change the home's detector settings (validated; merged unless replace); "
               "admin, operator", manage.DetectorChange),
    _home_form(manage.add_contact, "contact", "/homes/{id}/contacts", "/homes/{id}/contacts",
               "Add a family or property contact; admin, operator", manage.NewContact,
               status=201),
    Op(Action(run=remove_contact, roles=MANAGE_ROLES, sub="cid",
              summary="Remove (deactivate) one of the home's contacts"),
       page=Page(path="/homes/{id}/contacts/{cid}/remove", method="POST", render=to_manage),
       api=Api(path="/homes/{id}/contacts/{cid}/remove", method="POST")),
    Op(Action(run=_read(_devices), summary="A home's devices"),
       api=Api(path="/homes/{id}/devices")),
    Op(Action(run=_change(manage.add_device), roles=MANAGE_ROLES, body=manage.NewDevice,
              summary="Provision a device; its MQTT password is in this response only; "
                      "admin, operator"),
       page=Page(path="/homes/{id}/devices", method="POST", render=new_device_page,
                 invalid=_form("device")),
       api=Api(path="/homes/{id}/devices", method="POST", status=201,
               headers={"Cache-Control": "no-store"})),
    Op(Action(run=_read(manage.policies),
              summary="The escalation policy per severity and where it comes from"),
       api=Api(path="/homes/{id}/policies")),
    _home_form(manage.set_policy, "policy", "/homes/{id}/policies", "/homes/{id}/policies",
               "Set this home's escalation policy for a severity", manage.PolicyChange),
    _home_form(admin.edit_home, "edit", "/homes/{id}/edit", "/homes/{id}",
               "Edit a home's resident, address, building or time zone (absent fields stay); "
               "admin, operator", admin.HomeEdit),
]

# -- a community's duty rota --------------------------------------------------------------


async def workers(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    async with ctx.pool.connection() as conn:
        c = await admin.community(ctx, conn, community_id=args.id)
        return {"community": c, "workers": await admin.workers(conn, c["id"])}


async def add_shift(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    return await admin.add_shift(ctx, args.id, args.body)


async def remove_shift(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None and args.sub is not None
    return await admin.remove_shift(ctx, args.id, args.sub)


def workers_page(ctx: Ctx, result: dict[str, Any], *, status: int = 200,
                 errors: dict[str, str] | None = None, values: Any = None) -> Response:
    """The rota; after a refused shift, its form keeps what was typed, errors beside."""
    return render(ctx.request, "workers.html", status, w=ctx.w, c=result["community"],
                  workers=result["workers"], errors=errors or {},
                  sent=Sent("shift" if errors else "", values, errors))


async def show_workers(ctx: Ctx, args: Args, result: dict[str, Any]) -> Response:
    return workers_page(ctx, result)


async def workers_again(ctx: Ctx, args: Args, e: Invalid) -> Response:
    return workers_page(ctx, await workers(ctx, args), status=422, errors=e.errors,
                        values=args.body)


async def to_workers(ctx: Ctx, args: Args, result: Any) -> Response:
    return redirect(f"/communities/{args.id}/workers")


ROTA_OPS = [
    Op(Action(run=workers, roles=MANAGE_ROLES,
              summary="A community's workers and their weekly on-duty shifts; admin, "
                      "operator of it"),
       page=Page(path="/communities/{id}/workers", render=show_workers),
       api=Api(path="/communities/{id}/workers")),
    Op(Action(run=add_shift, roles=MANAGE_ROLES, body=admin.NewShift,
              summary="Add a worker's weekly shift (one per day)"),
       page=Page(path="/communities/{id}/shifts", method="POST", render=to_workers,
                 invalid=workers_again),
       api=Api(path="/communities/{id}/shifts", method="POST", status=201)),
    Op(Action(run=remove_shift, roles=MANAGE_ROLES, sub="sid", summary="Remove one shift"),
       page=Page(path="/communities/{id}/shifts/{sid}/remove", method="POST",
                 render=to_workers),
       api=Api(path="/communities/{id}/shifts/{sid}/remove", method="POST")),
]

OPS = HOME_OPS + ROTA_OPS
