"""The entrance door: left open, and opened at night (the resident wandering out).

Coming home late is not wandering; coming back ends a night's wandering (rules/away.py).
"""

from __future__ import annotations

from typing import Iterable

from detectors.activity import BACK, PASSAGE
from detectors.events import Event, Finding
from detectors.rules.base import Deadline, Due, Rule
from detectors.state import HomeState


class Doors(Rule):
    kinds = ("door_left_open", "night_wandering")
    dues = (Due.DOOR,)

    def door(self, s: HomeState, ev: Event, seen: int) -> list[Finding]:
        t = ev.ts
        if ev.value >= 1:
            if s.door_open_since is None:
                s.door_open_since = t
            c = s.cfg.doors
            h = s.clock.minute(t) // 60
            night = (c.night_from <= h or h < c.night_to) if c.night_from > c.night_to \
                else c.night_from <= h < c.night_to
            if night and seen != BACK and seen != PASSAGE:   # coming home late is not wandering
                return s.raise_finding("night_wandering", t, "high", t, at_time=s.hm(t),
                                       door=ev.device)
            return []
        out: list[Finding] = []
        if s.door_open_since is not None:
            out = s.clear_finding("door_left_open", t, "closed",
                                  open_min=int((t - s.door_open_since) // 60))
        s.door_open_since = None
        return out

    def deadlines(self, s: HomeState) -> Iterable[Deadline]:
        if s.door_open_since is not None and "door_left_open" not in s.open and \
                s.cfg.on("door_left_open"):
            return ((s.door_open_since + s.cfg.doors.open_min * 60, Due.DOOR),)
        return ()

    def fire(self, s: HomeState, t: float, due: Due) -> list[Finding]:
        return s.raise_finding("door_left_open", t, "medium", s.door_open_since,
                               since_time=s.hm(s.door_open_since),
                               open_min=int((t - (s.door_open_since or t)) // 60))
