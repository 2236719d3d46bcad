"""Home visits: the visits due, a home's visits, recording one, setting a schedule."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from starlette.responses import Response

from console import data, visits
from console.action import Action, Api, Args, Op, Page
from console.errors import Sent
from console.ops.homes import home_again
from console.web import Ctx, Invalid, redirect, render, safe_next


class DueQuery(msgspec.Struct, kw_only=True):
    who: Literal["me", "all"] = msgspec.field(default="me", name="worker")
    within_days: Annotated[int, msgspec.Meta(ge=0, le=366)] = msgspec.field(
        default=visits.DUE_WINDOW_DAYS, name="within")


async def visits_due(ctx: Ctx, args: Args) -> dict[str, Any]:
    """Visits due within `within` days (overdue included): the user's own or all in scope."""
    q: DueQuery = args.query
    async with ctx.pool.connection() as conn:
        rows = await visits.due(conn, ctx.user, worker=ctx.user.id if q.who == "me" else None,
                                within_days=q.within_days)
    return {"worker": q.who, "within_days": q.within_days, "visits_due": rows}


async def home_visits(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    async with ctx.pool.connection() as conn:
        await data.home(conn, ctx.user, args.id)
        return await visits.for_home(conn, args.id)


async def record_visit(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    return await visits.record(ctx, args.id, args.body)


async def set_schedule(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    return await visits.set_schedule(ctx, args.id, args.body)


async def visits_due_page(ctx: Ctx, args: Args, result: dict[str, Any]) -> Response:
    return render(ctx.request, "visits.html", 422 if args.errors else 200, w=ctx.w,
                  rows=result["visits_due"], f=args.query, errors=args.errors,
                  sent=Sent("due" if args.errors else "", ctx.request.query_params,
                            args.errors))


def _home_form(form: str) -> Any:
    async def again(ctx: Ctx, args: Args, e: Invalid) -> Response:
        assert args.id is not None
        return await home_again(ctx, args.id, status=422, errors=e.errors, form=form,
                                values=args.body)
    return again


async def after_visit(ctx: Ctx, args: Args, result: Any) -> Response:
    return redirect(safe_next(str(args.body.get("next") or ""), f"/homes/{args.id}#visits"))


async def after_schedule(ctx: Ctx, args: Args, result: Any) -> Response:
    return redirect(f"/homes/{args.id}#visits")


OPS = [
    Op(Action(run=visits_due, query=DueQuery,
              summary="Visits due within `within` days, overdue included: mine or all in scope"),
       page=Page(path="/visits", render=visits_due_page),
       api=Api(path="/visits")),
    Op(Action(run=home_visits, summary="A home's visit schedules and recent visits"),
       api=Api(path="/homes/{id}/visits")),
    Op(Action(run=record_visit, body=visits.VisitInput,
              summary="Record a visit; outcome concern (with the concern) opens a "
                      "visit_concern alert"),
       page=Page(path="/homes/{id}/visits", method="POST", render=after_visit,
                 invalid=_home_form("visit")),
       api=Api(path="/homes/{id}/visits", method="POST", status=201)),
    Op(Action(run=set_schedule, body=visits.ScheduleInput,
              summary="Set (or stop, active false) a home's visit schedule"),
       page=Page(path="/homes/{id}/schedules", method="POST", render=after_schedule,
                 invalid=_home_form("schedule")),
       api=Api(path="/homes/{id}/schedules", method="POST")),
]
