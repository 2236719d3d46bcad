"""Momentary emergencies: smoke, gas and leak alarms, and the emergency button."""

from __future__ import annotations

from detectors.activity import Meter
from detectors.events import Event, Finding
from detectors.rules.base import Rule
from detectors.state import HomeState, iso

ALARMS = {"smoke": "smoke", "gas": "gas", "leak": "leak"}   # reading kind -> finding kind


def two_clocks(s: HomeState, device_ts: float, arrived: float | None) -> dict[str, object]:
    """An immediate finding's evidence of when: the device's clock and anju's (and the
    device's time in words when the reading came a minute or more late)."""
    if arrived is None:
        return {}
    ev: dict[str, object] = {"device_time": iso(device_ts), "arrived_at": iso(arrived),
                             "late_s": round(arrived - device_ts, 1)}
    if arrived - device_ts >= 60:
        ev["device_hhmm"] = s.clock.hhmm(device_ts)
    return ev


class Alarms(Rule):
    """A smoke, gas or leak detector's alarm opens at once, whatever the reading's time;
    its reset clears it."""

    kinds = ("smoke", "gas", "leak")
    reads = frozenset(ALARMS)

    def reading(self, s: HomeState, ev: Event, meter: Meter | None, c: int,
                device_ts: float) -> list[Finding]:
        kind = ALARMS[ev.kind]
        if ev.value >= 1:
            return s.raise_finding(kind, ev.ts, "critical", ev.ts, ev.device, room=ev.room,
                                   **two_clocks(s, device_ts, ev.arrived))
        return s.clear_finding(kind, ev.ts, "alarm_reset", device=ev.device)


class Button(Rule):
    """The emergency button: a finding of its own at each press; while a pre-alarm waits
    (rules/inactivity.py), a press cancels it instead."""

    kinds = ("button",)
    reads = frozenset({"button"})

    def reading(self, s: HomeState, ev: Event, meter: Meter | None, c: int,
                device_ts: float) -> list[Finding]:
        if ev.value < 1:
            return []
        if s.pre_at is not None:
            s.pre_at = None
            return s.clear_finding("prealarm", ev.ts, "cancelled_by_resident")
        return s.raise_finding("button", ev.ts, "critical", ev.ts, ev.device, room=ev.room,
                               **two_clocks(s, device_ts, ev.arrived))
