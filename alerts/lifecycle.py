"""An alert's lifecycle: one state, a few transitions, pure code.

    open ──acknowledge──▶ acknowledged ──resolve──▶ resolved
      └──────────────────resolve──────────────────────▶┘

- "resolve" is done by a person (with an outcome) or by the system when the
  condition clears (outcome "condition_cleared", the reason kept).
- A resolved alert never changes again. If the condition comes back, a new
  alert opens (linked to the old one through `reopens`): dedup holds only
  while an alert of that home and kind is unresolved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum


class State(str, Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OUTCOMES = ("visited_all_well", "visited_help_called", "reached_by_phone", "false_alarm",
            "device_fault", "condition_cleared")


class TransitionError(ValueError):
    """The transition is not allowed from the alert's current state."""


@dataclass(frozen=True)
class AlertState:
    state: State = State.OPEN
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Transition:
    action: str
    from_state: State
    to_state: State
    actor: str
    channel: str
    at: datetime
    note: str | None = None


def acknowledge(a: AlertState, *, actor: str, channel: str, at: datetime,
                note: str | None = None) -> tuple[AlertState, Transition]:
    if a.state is not State.OPEN:
        raise TransitionError(f"cannot acknowledge an alert that is {a.state.value}")
    new = replace(a, state=State.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=actor)
    return new, Transition("acknowledge", a.state, new.state, actor, channel, at, note)


def resolve(a: AlertState, *, actor: str, channel: str, at: datetime, outcome: str,
            note: str | None = None) -> tuple[AlertState, Transition]:
    if a.state is State.RESOLVED:
        raise TransitionError("the alert is already resolved")
    if outcome not in OUTCOMES:
        raise TransitionError(f"outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    new = replace(a, state=State.RESOLVED, resolved_at=at, resolved_by=actor, outcome=outcome)
    return new, Transition("resolve", a.state, new.state, actor, channel, at, note)


def condition_cleared(a: AlertState, *, at: datetime, reason: str) -> tuple[AlertState, Transition]:
    """The detector saw the condition go away: resolve, keeping the reason."""
    return resolve(a, actor="detector", channel="system", at=at, outcome="condition_cleared",
                   note=reason)
