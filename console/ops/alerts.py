"""The alert board, alert lists, one alert, acknowledging and resolving; and who is signed in."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from starlette.responses import Response

from console import actions, data, fields, i18n, visits
from console.action import Action, Api, Args, Op, Page
from console.actions import Acknowledgement, AckResult, Resolution, ack_result
from console.web import Ctx, Invalid, redirect, render, safe_next

STATES = ("open", "acknowledged", "resolved")
ALERT_FIELDS = (
    "id", "kind", "severity", "state", "opened_at", "since", "condition_at", "summary_zh",
    "summary_en", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
    "outcome", "note", "evidence", "home_id", "home_code", "resident_name", "building", "tz",
    "community_code", "community_name", "unreached_at", "unreached_reason",
    "unreached_detail")


def alert_json(a: dict[str, Any]) -> dict[str, Any]:
    return {k: a[k] for k in ALERT_FIELDS}


class AlertQuery(msgspec.Struct, kw_only=True):
    state: Literal[STATES] | None = None          # type: ignore[valid-type]
    home: Annotated[int, msgspec.Meta(ge=1, le=fields.INT_HI)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


class Grant(msgspec.Struct):
    community_id: int | None
    building: str | None
    home_id: int | None


class Me(msgspec.Struct):
    username: str
    name: str
    role: str
    csrf_token: str
    scope: list[Grant]


# -- the actions ------------------------------------------------------------------------


async def me(ctx: Ctx, args: Args) -> dict[str, Any]:
    u = ctx.user
    return {"username": u.username, "name": u.name, "role": u.role, "csrf_token": u.csrf,
            "scope": [g.__dict__ for g in u.grants]}


async def board(ctx: Ctx, args: Args) -> dict[str, Any]:
    async with ctx.pool.connection() as conn:
        rows = await data.board(conn, ctx.user)
        overdue = await visits.due(conn, ctx.user, worker=None, overdue_only=True, limit=50)
    return {"alerts": rows, "overdue": overdue}


async def board_rows(ctx: Ctx, args: Args) -> list[dict[str, Any]]:
    async with ctx.pool.connection() as conn:
        return await data.board(conn, ctx.user)


async def alert_list(ctx: Ctx, args: Args) -> list[dict[str, Any]]:
    q: AlertQuery = args.query
    async with ctx.pool.connection() as conn:
        return await data.alerts(conn, ctx.user, state=q.state, home=q.home, limit=q.limit)


async def show_alert(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    return await _alert(ctx, args.id)


async def _alert(ctx: Ctx, alert_id: int) -> dict[str, Any]:
    async with ctx.pool.connection() as conn:
        a = await data.alert(conn, ctx.user, alert_id)
        timeline = await data.alert_timeline(conn, alert_id)
        await data.audit(conn, ctx.user, "view_alert", home_id=a["home_id"], alert_id=alert_id,
                         detail={"via": "api"} if ctx.via_api else None, remote=ctx.remote)
    return {"a": a, **timeline}


async def acknowledge(ctx: Ctx, args: Args) -> Any:
    assert args.id is not None
    ack = fields.read_or_raise(Acknowledgement, args.body)
    return await actions.acknowledge(ctx, args.id, ack.note)


async def resolve(ctx: Ctx, args: Args) -> Any:
    assert args.id is not None
    r = fields.read_or_raise(Resolution, args.body)
    return await actions.resolve(ctx, args.id, r.outcome, r.note)


# -- the pages ---------------------------------------------------------------------------


async def board_page(ctx: Ctx, args: Args, result: dict[str, Any]) -> Response:
    return render(ctx.request, "board.html", w=ctx.w, alerts=result["alerts"],
                  outcomes=i18n.PERSON_OUTCOMES, overdue=result["overdue"])


async def board_rows_page(ctx: Ctx, args: Args, rows: list[dict[str, Any]]) -> Response:
    return render(ctx.request, "board_rows.html", w=ctx.w, alerts=rows)


def alert_page(ctx: Ctx, result: dict[str, Any], *, status: int = 200,
               errors: dict[str, str] | None = None) -> Response:
    return render(ctx.request, "alert.html", status, w=ctx.w, errors=errors or {},
                  outcomes=i18n.PERSON_OUTCOMES, **result)


async def show_alert_page(ctx: Ctx, args: Args, result: dict[str, Any]) -> Response:
    return alert_page(ctx, result)


async def alert_again(ctx: Ctx, args: Args, e: Invalid) -> Response:
    """The alert's page again, with what was wrong in its form."""
    assert args.id is not None
    return alert_page(ctx, await _alert(ctx, args.id), status=422, errors=e.errors)


async def back_to_alert(ctx: Ctx, args: Args, result: Any) -> Response:
    return redirect(safe_next(str(args.body.get("next") or ""), f"/alerts/{args.id}"))


def _alert_detail(result: dict[str, Any]) -> dict[str, Any]:
    return {"alert": alert_json(result["a"]), **{k: v for k, v in result.items() if k != "a"}}


OPS = [
    Op(Action(run=me, summary="The signed-in user, their scope and the CSRF token for POSTs"),
       api=Api(path="/me", response=Me)),
    Op(Action(run=board,
              summary="Unresolved alerts in scope, most severe and longest waiting first"),
       page=Page(path="/board", render=board_page),
       api=Api(path="/board", json=lambda r: {"alerts": [alert_json(a) for a in r["alerts"]],
                                              "overdue_visits": r["overdue"]})),
    Op(Action(run=board_rows, summary="The board's rows, for the live page"),
       page=Page(path="/board/rows", render=board_rows_page)),
    Op(Action(run=alert_list, summary="Alerts in scope, newest first", query=AlertQuery),
       api=Api(path="/alerts", json=lambda rows: {"alerts": [alert_json(a) for a in rows]})),
    Op(Action(run=show_alert,
              summary="An alert with its events, escalation, deliveries and attempts"),
       page=Page(path="/alerts/{id}", render=show_alert_page),
       api=Api(path="/alerts/{id}", json=_alert_detail)),
    Op(Action(run=acknowledge, summary="Acknowledge: stops the escalation",
              body=Acknowledgement),
       page=Page(path="/alerts/{id}/acknowledge", method="POST", render=back_to_alert,
                 invalid=alert_again),
       api=Api(path="/alerts/{id}/acknowledge", method="POST", json=ack_result,
               response=AckResult)),
    Op(Action(run=resolve, summary="Resolve with an outcome", body=Resolution),
       page=Page(path="/alerts/{id}/resolve", method="POST", render=back_to_alert,
                 invalid=alert_again),
       api=Api(path="/alerts/{id}/resolve", method="POST", json=ack_result,
               response=AckResult)),
]
