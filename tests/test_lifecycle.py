"""The alert state machine, without a database."""

from datetime import datetime, timezone

import pytest

from alerts.lifecycle import AlertState, State, TransitionError, acknowledge, condition_cleared, resolve

T = datetime(2025, 3, 4, 6, 0, tzinfo=timezone.utc)


def test_acknowledge_then_resolve_records_who_and_how() -> None:
    """open → acknowledged → resolved, each transition saying who, through what, when."""
    a, t1 = acknowledge(AlertState(), actor="张伟", channel="link", at=T, note="on my way")
    assert a.state is State.ACKNOWLEDGED and a.acknowledged_by == "张伟"
    assert (t1.action, t1.from_state, t1.to_state, t1.channel) == (
        "acknowledge", State.OPEN, State.ACKNOWLEDGED, "link")
    b, t2 = resolve(a, actor="张伟", channel="console", at=T, outcome="visited_all_well")
    assert b.state is State.RESOLVED and b.outcome == "visited_all_well"
    assert t2.from_state is State.ACKNOWLEDGED


def test_only_an_open_alert_can_be_acknowledged() -> None:
    """A second acknowledgement is refused, and so is one of a resolved alert."""
    a, _ = acknowledge(AlertState(), actor="x", channel="api", at=T)
    with pytest.raises(TransitionError):
        acknowledge(a, actor="y", channel="api", at=T)
    r, _ = resolve(AlertState(), actor="x", channel="api", at=T, outcome="false_alarm")
    with pytest.raises(TransitionError):
        acknowledge(r, actor="y", channel="api", at=T)


def test_resolved_is_final_and_outcomes_are_checked() -> None:
    """A resolved alert never changes; an unknown outcome is refused."""
    r, _ = resolve(AlertState(), actor="x", channel="api", at=T, outcome="device_fault")
    with pytest.raises(TransitionError):
        resolve(r, actor="x", channel="api", at=T, outcome="false_alarm")
    with pytest.raises(TransitionError, match="outcome"):
        resolve(AlertState(), actor="x", channel="api", at=T, outcome="shrug")


def test_condition_cleared_keeps_the_reason() -> None:
    """The detector resolves with outcome condition_cleared and the reason as the note."""
    r, t = condition_cleared(AlertState(), at=T, reason="motion in the kitchen")
    assert r.outcome == "condition_cleared" and r.resolved_by == "detector"
    assert t.note == "motion in the kitchen" and t.channel == "system"
