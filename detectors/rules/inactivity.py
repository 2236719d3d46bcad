"""Inactivity: the resident at home and still for longer than the learned threshold.

The deadline is stillness.still()'s (the time of day's threshold, the room's
own limit, or the end of the night in bed). With a pre-alarm configured,
reaching it first raises a "prealarm" the resident may cancel with the
button; `prealarm.minutes` later, inactivity opens. A sign of life clears
either. Under an explicit away, nothing is raised until it ends.
"""

from __future__ import annotations

from typing import Iterable

from detectors.activity import GROUPS, HOME, room_group
from detectors.events import Finding
from detectors.rules.base import Deadline, Due, Rule
from detectors.state import HomeState
from detectors.stillness import recheck_later, still


def still_evidence(s: HomeState, t: float) -> dict[str, object]:
    """What a stillness at t is told with: when and where the last activity was, and the
    threshold it went past (and which: the time of day's, the room's, the night's)."""
    p = s.pres
    b = s.base
    slot = s.clock.slot(t)
    ev: dict[str, object] = {
        "last_activity": s.hm(p.last_act), "last_room": p.last_room,
        "last_device": p.last_device, "still_min": int((t - (p.last_act or t)) // 60),
        "threshold_min": b.home_thr[slot], "learned": b.learned, "days_learned": b.days}
    last = s.devs.get(p.last_device)
    if last is not None and last.kind == "door":
        ev["came_home"] = True          # the last sign of life: the door, coming in
    c = s.still_cache
    if c is not None and c.basis and c.ref == p.last_act and c.deadline <= t:
        if c.basis > 0:     # the room's own limit was reached first
            ev["threshold_min"] = c.basis
            ev["threshold_room"] = GROUPS[room_group(p.last_room)]
        else:               # in bed at night: waited for the latest usual getting-up time
            ev["threshold_min"] = int((c.deadline - c.ref) // 60)
            ev["asleep_until"] = f"{b.sleep_to // 60:02d}:{b.sleep_to % 60:02d}"
    if b.wake_mean >= 0:
        ev["usual_up"] = f"{b.wake_mean // 60:02d}:{b.wake_mean % 60:02d}"
        ev["usual_up_sd_min"] = b.wake_sd
    if s.last_water is not None:
        ev["last_water"] = s.hm(s.last_water)
    return ev


class Inactivity(Rule):
    kinds = ("inactivity", "prealarm")
    dues = (Due.STILL, Due.INACTIVITY)

    def moved(self, s: HomeState, t: float, room: str, ctx0: int) -> list[Finding]:
        out: list[Finding] = []
        if s.pre_at is not None:
            f = s.open.get("prealarm")
            if f is None or f.since is None or t > f.since:
                out += s.clear_finding("prealarm", t, "moved", room=room)
                s.pre_at = None
        out += s.ended_by("inactivity", t, "moved", room)
        return out

    def deadlines(self, s: HomeState) -> Iterable[Deadline]:
        if s.silent_since is not None or s.pres.context() != HOME or \
                "inactivity" in s.open or not s.cfg.on("inactivity"):
            return ()
        st = still(s)     # (also worked out with a pre-alarm: its evidence reads the cache)
        if st is None:
            return ()
        if s.pre_at is not None:
            return ((s.pre_at + s.cfg.prealarm.minutes * 60, Due.INACTIVITY),)
        return ((st[2], Due.STILL),)

    def fire(self, s: HomeState, t: float, due: Due) -> list[Finding]:
        cfg = s.cfg
        if due is Due.STILL:
            e = s.explicit
            if s.explicit_at(t) or (e is not None and e.start >= (s.pres.last_act or 0)):
                recheck_later(s, t)
                return []
            if cfg.prealarm.minutes and cfg.on("inactivity"):
                s.pre_at = t
                return s.raise_finding("prealarm", t, "low", s.pres.last_act,
                                       minutes=cfg.prealarm.minutes, **still_evidence(s, t))
            return self._inactivity(s, t)
        # Due.INACTIVITY: the pre-alarm ran out
        s.pre_at = None
        s.open.pop("prealarm", None)
        if s.explicit_at(t):
            return []
        return self._inactivity(s, t)

    @staticmethod
    def _inactivity(s: HomeState, t: float) -> list[Finding]:
        ev = still_evidence(s, t)
        p = s.pres
        b = s.base
        collapse = p.last_room not in ("bedroom",) or (
            b.wake_mean >= 0 and s.clock.minute(t) > b.wake_mean + 3 * b.wake_sd + 60)
        return s.raise_finding("inactivity", t, "critical" if collapse else "high", p.last_act,
                               **ev)
