"""Acknowledging and resolving from the console: the scope check, the router's API, the audit."""

from __future__ import annotations

from datetime import datetime, timezone

from alerts import store as alert_store
from alerts.lifecycle import TransitionError

from console import data, i18n, visits
from console.web import Ctx, Invalid


def actor(ctx: Ctx) -> str:
    return f"{ctx.user.name} ({ctx.user.username})"


async def acknowledge(ctx: Ctx, alert_id: int, note: str | None) -> alert_store.AckResult:
    async with ctx.request.app.state.pool.connection() as conn:
        a = await data.alert(conn, ctx.user, alert_id)         # NotFound outside the scope
        result = await alert_store.acknowledge(conn, alert_id, actor=actor(ctx),
                                             channel="console", note=note)
        await data.audit(conn, ctx.user, "acknowledge", home_id=a["home_id"], alert_id=alert_id,
                         detail={"changed": result.changed, "note": note}, remote=ctx.remote)
        return result


async def resolve(ctx: Ctx, alert_id: int, outcome: str | None,
                  note: str | None) -> alert_store.AckResult:
    if outcome not in i18n.PERSON_OUTCOMES:
        raise Invalid({"outcome": f"expected one of {', '.join(i18n.PERSON_OUTCOMES)}"})
    async with ctx.request.app.state.pool.connection() as conn:
        a = await data.alert(conn, ctx.user, alert_id)
        try:
            result = await alert_store.resolve(conn, alert_id, actor=actor(ctx), outcome=outcome,
                                             channel="console", note=note)
        except TransitionError as e:
            raise Invalid({"outcome": str(e)}) from None
        if result.changed and outcome in visits.ALERT_OUTCOME_VISIT:
            # Resolved by a home visit: it is recorded as one (and counts for the schedule).
            await visits.insert_visit(conn, home_id=a["home_id"], user=ctx.user,
                                      outcome=visits.ALERT_OUTCOME_VISIT[outcome],
                                      at=datetime.now(timezone.utc), note=note, alert_id=alert_id)
        await data.audit(conn, ctx.user, "resolve", home_id=a["home_id"], alert_id=alert_id,
                         detail={"changed": result.changed, "outcome": outcome, "note": note},
                         remote=ctx.remote)
        return result
