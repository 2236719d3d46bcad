"""What a rule is: one detector over a home's state (detectors/state.py).

A rule is a stateless object; what it remembers lives in `HomeState`. The
monitor (detectors/monitor.py) calls each rule's hooks, in the order of
`detectors.rules.RULES`, and only the hooks a rule defines:

- heard(s, ev): any message from a device, heartbeats included (after the device's
  last_seen is updated).
- heartbeat(s, ev, dev): a heartbeat (its value is the battery level, NaN: none).
- reading(s, ev, meter, c, device_ts): a reading of one of the kinds in `reads`;
  `c` is activity.classify's answer, `meter` the meter's memory for water and power,
  `device_ts` the device's own time (ev.ts is never ahead of its arrival).
- sign(s, ev): a reading that is a sign of life or the door (c != 0).
- moved(s, t, room, ctx0): the resident showed life at home at t (ctx0: where they
  were taken to be before it, activity.HOME or AWAY).
- door(s, ev, seen): an entrance-door event; `seen` is activity.Presence.door's answer.
- midnight(s, t): local midnight at t, after the day's tally is closed.
- deadlines(s): the (time, Due) at which the rule must be asked again; fire(s, t, due)
  is then called for each due entry, earliest first (ties in Due order).

Each hook returns the findings it makes (HomeState.raise_finding/clear_finding). Adding a
detector is writing a rule and listing it in RULES; its kinds go in config.DETECTORS and its
words in detectors/texts.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Iterable

from detectors.activity import Meter
from detectors.events import Event, Finding
from detectors.state import Device, HomeState


class Due(StrEnum):
    """What a deadline is for. Entries due at the same time fire in the order of these
    values (as text), so the values are part of the behaviour."""

    DAY = "day"                             # local midnight: close the day (the monitor's own)
    DOOR = "door"                           # the entrance door left open
    INACTIVITY = "inactivity"               # the pre-alarm ran out without the button
    NOT_BACK = "not_back"                   # away longer than usual
    NOT_BACK_EXPLICIT = "not_back_explicit"   # an explicit away ended, nobody back
    OFFLINE = "offline"                     # a device missed its heartbeats
    POWER_FLAT = "power_flat"               # nothing switched on for hours
    SILENT = "silent"                       # every device of the home silent
    STILL = "still"                         # stillness at home past the threshold


Deadline = tuple[float, Due]


class Rule:
    """Base of every rule: hooks that do nothing. Subclasses define the hooks they need."""

    kinds: ClassVar[tuple[str, ...]] = ()    # finding kinds it raises (documentation, tests)
    reads: ClassVar[frozenset[str]] = frozenset()   # reading kinds its `reading` hook wants
    dues: ClassVar[tuple[Due, ...]] = ()     # the deadlines it fires

    def heard(self, s: HomeState, ev: Event) -> list[Finding]:
        return []

    def heartbeat(self, s: HomeState, ev: Event, dev: Device) -> list[Finding]:
        return []

    def reading(self, s: HomeState, ev: Event, meter: Meter | None, c: int,
                device_ts: float) -> list[Finding]:
        return []

    def sign(self, s: HomeState, ev: Event) -> list[Finding]:
        return []

    def moved(self, s: HomeState, t: float, room: str, ctx0: int) -> list[Finding]:
        return []

    def door(self, s: HomeState, ev: Event, seen: int) -> list[Finding]:
        return []

    def midnight(self, s: HomeState, t: float) -> list[Finding]:
        return []

    def deadlines(self, s: HomeState) -> Iterable[Deadline]:
        return ()

    def fire(self, s: HomeState, t: float, due: Due) -> list[Finding]:
        return []
