"""Acknowledging and resolving from the console: the scope check, the router's API, the audit."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

import msgspec

from alerts import store as alert_store
from alerts.lifecycle import TransitionError

from console import data, i18n, visits
from console.errors import Choices, Label, Msg
from console.web import Ctx, Invalid


NoteText = Annotated[str, msgspec.Meta(max_length=1000)]


class Acknowledgement(msgspec.Struct, kw_only=True):
    note: NoteText | None = None


class Resolution(msgspec.Struct, kw_only=True):
    note: NoteText | None = None
    outcome: Literal[i18n.PERSON_OUTCOMES]     # type: ignore[valid-type]


class AckResult(msgspec.Struct):
    """What acknowledging or resolving did (changed: false when it was already so)."""
    id: int
    changed: bool
    state: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None


def ack_result(r: alert_store.AckResult) -> dict[str, object]:
    return {"id": r.alert_id, "changed": r.changed, "state": r.state,
            "acknowledged_by": r.acknowledged_by, "acknowledged_at": r.acknowledged_at,
            "resolved_by": r.resolved_by}


def transition_msg(e: TransitionError) -> Msg:
    """The lifecycle's refusal in the catalog's words."""
    if "already resolved" in str(e):
        return Msg("invalid.already_resolved")
    return Msg("invalid.transition", detail=str(e))


# Who may say what happened. A resolving outcome is a claim about what the person did:
# "visited" means someone was at the door (and is recorded as a home visit, counted
# for the community's visit schedule), so it is for those who go: community workers
# (operator), property staff and admins. Property staff call nobody on the home's
# behalf (they are sent to open the door), so "reached by phone" is not theirs. Family
# members reach the resident by phone or know it was a false alarm; their own visits
# are not the community's visits, and a device fault is for staff to judge.
OUTCOMES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "admin": i18n.PERSON_OUTCOMES,
    "operator": i18n.PERSON_OUTCOMES,
    "property": ("visited_all_well", "visited_help_called", "false_alarm", "device_fault"),
    "family": ("reached_by_phone", "false_alarm"),
}


def outcomes_for(role: str) -> tuple[str, ...]:
    """The outcomes a user of `role` may record on resolving (see OUTCOMES_BY_ROLE)."""
    return OUTCOMES_BY_ROLE.get(role, ())


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
        raise Invalid({"outcome": Msg("invalid.choice",
                                      choices=Choices(i18n.PERSON_OUTCOMES, "outcome"))})
    if outcome not in outcomes_for(ctx.user.role):
        raise Invalid({"outcome": Msg("invalid.outcome_for_role",
                                      role=Label("role", ctx.user.role),
                                      choices=Choices(outcomes_for(ctx.user.role), "outcome"))})
    async with ctx.request.app.state.pool.connection() as conn:
        a = await data.alert(conn, ctx.user, alert_id)
        try:
            result = await alert_store.resolve(conn, alert_id, actor=actor(ctx), outcome=outcome,
                                             channel="console", note=note)
        except TransitionError as e:
            raise Invalid({"outcome": transition_msg(e)}) from None
        if result.changed and outcome in visits.ALERT_OUTCOME_VISIT:
            # Resolved by a home visit: it is recorded as one (and counts for the schedule).
            await visits.insert_visit(conn, home_id=a["home_id"], user=ctx.user,
                                      outcome=visits.ALERT_OUTCOME_VISIT[outcome],
                                      at=datetime.now(timezone.utc), note=note, alert_id=alert_id)
        await data.audit(conn, ctx.user, "resolve", home_id=a["home_id"], alert_id=alert_id,
                         detail={"changed": result.changed, "outcome": outcome, "note": note},
                         remote=ctx.remote)
        return result
