"""The alert board, alert lists, one alert, acknowledging and resolving; and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import msgspec
from starlette.responses import Response

from alerts.messages import evidence_facts
from anju import i18n as catalog
from console import actions, data, fields, visits
from console.action import Action, Api, Args, Op, Page
from console.actions import Acknowledgement, AckResult, Resolution, ack_result, outcomes_for
from console.i18n import Words
from console.web import Ctx, Invalid, redirect, render, safe_next

STATES = ("open", "acknowledged", "resolved")
BOARD_STATES = ("open", "acknowledged")
SEVERITIES = ("critical", "high", "medium", "low")
Short = Annotated[str, msgspec.Meta(max_length=64)]
# Actors that are a service, not a person: the timeline names them by their channel's words.
SERVICE_ACTORS = ("detector", "router", "system", "watchdog")
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


class BoardQuery(msgspec.Struct, kw_only=True):
    community: Short | None = None                        # a community's code
    severity: Literal[SEVERITIES] | None = None           # type: ignore[valid-type]
    state: Literal[BOARD_STATES] | None = None            # type: ignore[valid-type]
    q: Short | None = None                                # resident, address or home code


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


def _filters(args: Args) -> dict[str, Any]:
    q: BoardQuery | None = args.query
    if q is None:
        return {}
    return {"community": q.community, "severity": q.severity, "state": q.state,
            "q": (q.q or "").strip() or None}


async def board(ctx: Ctx, args: Args) -> dict[str, Any]:
    async with ctx.pool.connection() as conn:
        rows = await data.board(conn, ctx.user, **_filters(args))
        overdue = await visits.due(conn, ctx.user, worker=None, overdue_only=True, limit=50)
        communities = await data.communities(conn, ctx.user)
    return {"alerts": rows, "overdue": overdue, "communities": communities}


async def board_rows(ctx: Ctx, args: Args) -> list[dict[str, Any]]:
    async with ctx.pool.connection() as conn:
        return await data.board(conn, ctx.user, **_filters(args))


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
        people = await data.home_people(conn, a)
        last = await data.last_activity(conn, a["home_id"])
        await data.audit(conn, ctx.user, "view_alert", home_id=a["home_id"], alert_id=alert_id,
                         detail={"via": "api"} if ctx.via_api else None, remote=ctx.remote)
    return {"a": a, **timeline, "people": people, "last_activity": last}


# -- the action panel: what the person on duty does next ---------------------------------


@dataclass(frozen=True)
class Call:
    """One tel: link of the panel."""
    role: str          # the role's words
    name: str
    phone: str | None
    key_holder: bool


@dataclass(frozen=True)
class Panel:
    calls: list[Call]
    key_holder: str | None           # whom to ask for the door's key
    activity: str                    # 最后活动：卧室，2 小时 10 分钟前
    usual: list[str]                 # the evidence's usual pattern, in sentences
    next_step: str                   # 10:24 将通知：物业 / 已由 … 接手，不再通知


def _key_holders(people: list[data.Person]) -> list[data.Person]:
    """Who holds a key: those the home's contacts say do, else its property contacts."""
    marked = [p for p in people if p.has_key]
    return marked or [p for p in people if p.role == "property"]


def _role_words(w: Words, role: str) -> str:
    return w("panel.resident") if role == "resident" else w.role(role)


def _activity(w: Words, a: dict[str, Any], last: data.LastActivity | None,
              now: datetime) -> str:
    if last is None:
        return w("panel.no_activity")
    ago = catalog.duration(w.lang, (now - last.at).total_seconds())
    return w("panel.last_activity", room=w.room(last.room), ago=ago,
             at=w.time(last.at, a["tz"]))


def _usual(w: Words, evidence: dict[str, Any], tz: str, now: datetime) -> list[str]:
    """The resident's usual pattern as the detector saw it (evidence usual_up, asleep_until,
    threshold_min), in sentences."""
    out = []
    up = evidence.get("usual_up")
    if isinstance(up, str) and up:
        late = catalog.local(now, tz).strftime("%H:%M") > up
        out.append(w("panel.usual_up_passed" if late else "panel.usual_up", at=up))
    until = evidence.get("asleep_until")
    if isinstance(until, str) and until:
        out.append(w("panel.asleep_until", at=until))
    limit = evidence.get("threshold_min")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        out.append(w("panel.threshold", d=catalog.duration(w.lang, float(limit) * 60)))
    return out


def _next_step(w: Words, a: dict[str, Any], esc: dict[str, Any] | None) -> str:
    if a["state"] != "open":
        who = a.get("acknowledged_by") or a.get("resolved_by") or ""
        return w("panel.taken_by", who=who)
    if esc is None:
        return w("panel.not_started")
    if esc["state"] == "running" and esc.get("due_at"):
        steps = (esc.get("policy") or {}).get("steps") or []
        i = esc.get("next_step") or 0
        roles = steps[i].get("notify", []) if i < len(steps) else []
        return w("panel.next_step", at=w.time(esc["due_at"], a["tz"]),
                 who=w.join(w.role(r) for r in roles) or "—")
    return w("panel.chain_done")


def action_panel(w: Words, result: dict[str, Any], now: datetime) -> Panel:
    a = result["a"]
    people: list[data.Person] = result.get("people", [])
    holders = _key_holders(people)
    calls = [Call(_role_words(w, p.role), p.name, p.phone, p in holders) for p in people]
    return Panel(calls=calls,
                 key_holder=w.join(p.name for p in holders) or None,
                 activity=_activity(w, a, result.get("last_activity"), now),
                 usual=_usual(w, a.get("evidence") or {}, a["tz"], now),
                 next_step=_next_step(w, a, result.get("escalation")))


@dataclass(frozen=True)
class Entry:
    """One line of the timeline, in the reader's words."""
    at: datetime
    action: str
    actor: str
    channel: str
    note: str


def timeline(w: Words, a: dict[str, Any], events: list[dict[str, Any]]) -> list[Entry]:
    """Events as people read them: the open event says the alert's own sentence; notes the
    services write (English, for logs) are left out, a person's note is shown as typed."""
    summary = a["summary_zh"] if w.lang == "zh-CN" else a["summary_en"]
    out = []
    for e in events:
        if e["action"] == "open":
            note = summary
        elif e["action"] == "clear" and e.get("note") and w.has(f"cleared.{e['note']}"):
            note = w(f"cleared.{e['note']}")
        elif e["channel"] in ("console", "link", "api", "button") and e.get("note"):
            note = e["note"]
        else:
            note = ""
        # a service writes "router HOST:PID": the worker is for engineers (the audit keeps
        # it); a person reads which service it was
        service = (e["actor"] or "").split(" ", 1)[0]
        if service in SERVICE_ACTORS:
            actor, channel = w.channel(service), ""
        else:
            actor, channel = e["actor"], w.channel(e["channel"])
        out.append(Entry(e["at"], w.event(e["action"]), actor, channel, note))
    return out


def escalation_text(w: Words, a: dict[str, Any], esc: dict[str, Any] | None) -> str:
    """The escalation in a sentence: its state, steps done and whose policy it follows; a
    stopped chain says who took the alert instead of the router's reason."""
    if esc is None:
        return w("no_escalation")
    parts = [w("escalation_" + esc["state"])]
    if esc["state"] == "stopped" and (a.get("acknowledged_by") or a.get("resolved_by")):
        parts.append(w("panel.taken_by", who=a.get("acknowledged_by") or a.get("resolved_by")))
    parts.append(w("escalation.steps_done", n=esc["steps_done"]))
    source = str(esc.get("policy_source") or "default").split(":", 1)[0].split(" (", 1)[0]
    parts.append(w.label("policy_source", source))
    if esc.get("due_at"):
        parts.append(w("panel.next_at", at=w.time(esc["due_at"], a["tz"], seconds=True)))
    return " · ".join(parts)


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
                  overdue=result["overdue"], communities=result["communities"],
                  filters=_filters(args), severities=SEVERITIES, states=BOARD_STATES)


async def board_rows_page(ctx: Ctx, args: Args, rows: list[dict[str, Any]]) -> Response:
    return render(ctx.request, "board_rows.html", w=ctx.w, alerts=rows)


def alert_page(ctx: Ctx, result: dict[str, Any], *, status: int = 200,
               errors: dict[str, str] | None = None, form: str = "",
               sent: dict[str, str] | None = None) -> Response:
    now = datetime.now(timezone.utc)
    a = result["a"]
    return render(ctx.request, "alert.html", status, w=ctx.w, errors=errors or {},
                  form=form, sent=sent or {}, outcomes=outcomes_for(ctx.user.role),
                  panel=action_panel(ctx.w, result, now),
                  facts=evidence_facts(a.get("evidence") or {}, ctx.w.lang),
                  entries=timeline(ctx.w, a, result["events"]),
                  escalation_words=escalation_text(ctx.w, a, result["escalation"]), **result)


async def show_alert_page(ctx: Ctx, args: Args, result: dict[str, Any]) -> Response:
    return alert_page(ctx, result)


async def alert_again(ctx: Ctx, args: Args, e: Invalid) -> Response:
    """The alert's page again, with what was wrong beside its field and what was typed and
    chosen kept (the form that failed is the one the path names)."""
    assert args.id is not None
    form = ctx.request.url.path.rsplit("/", 1)[-1]
    sent = {k: str(v) for k, v in args.body.items() if k in ("note", "outcome")}
    return alert_page(ctx, await _alert(ctx, args.id), status=422,
                      errors=e.worded(ctx.w.lang), form=form, sent=sent)


async def back_to_alert(ctx: Ctx, args: Args, result: Any) -> Response:
    return redirect(safe_next(str(args.body.get("next") or ""), f"/alerts/{args.id}"))


def _alert_detail(result: dict[str, Any]) -> dict[str, Any]:
    last: data.LastActivity | None = result.get("last_activity")
    return {"alert": alert_json(result["a"]),
            **{k: v for k, v in result.items() if k not in ("a", "people", "last_activity")},
            "people": [p.__dict__ for p in result.get("people", [])],
            "last_activity": None if last is None else {"at": last.at, "room": last.room}}


OPS = [
    Op(Action(run=me, summary="The signed-in user, their scope and the CSRF token for POSTs"),
       api=Api(path="/me", response=Me)),
    Op(Action(run=board, query=BoardQuery,
              summary="Unresolved alerts in scope, most severe and longest waiting first"),
       page=Page(path="/board", render=board_page),
       api=Api(path="/board", json=lambda r: {"alerts": [alert_json(a) for a in r["alerts"]],
                                              "overdue_visits": r["overdue"]})),
    Op(Action(run=board_rows, query=BoardQuery, summary="The board's rows, for the live page"),
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
