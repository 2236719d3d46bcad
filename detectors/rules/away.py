"""Away and return: the resident went out (the entrance door, then silence) and is not
back by the learned usual, or an explicit away period ended without anybody coming home.

Coming back (a sign of life at home after being away) ends not_back and a night's
wandering out (rules/doors.py opens that one); a sign of life half an hour or more into
an explicit away period ends the period.
"""

from __future__ import annotations

from typing import Iterable

from detectors.activity import AWAY, LEFT
from detectors.clock import DAY_S
from detectors.events import Event, Finding
from detectors.rules.base import Deadline, Due, Rule
from detectors.state import HomeState
from detectors.stillness import recheck_later, still


class Away(Rule):
    kinds = ("not_back",)
    dues = (Due.NOT_BACK, Due.NOT_BACK_EXPLICIT)

    def moved(self, s: HomeState, t: float, room: str, ctx0: int) -> list[Finding]:
        out: list[Finding] = []
        if ctx0 == AWAY:
            s.left_home_at = max(s.left_home_at or t, t)
            out += s.ended_by("not_back", t, "back_home", room)
            out += s.ended_by("night_wandering", t, "back_home", room)
        e = s.explicit
        if e is not None and t > e.start + 1800 and (e.end is None or t < e.end + DAY_S):
            # somebody is at home again: the explicit away is over
            s.explicit = None
            out += s.clear_finding("not_back", t, "back_home", room=room)
        return out

    def door(self, s: HomeState, ev: Event, seen: int) -> list[Finding]:
        if seen == LEFT and s.pres.last_act is not None:
            s.left_home_at = ev.ts
        return []

    def deadlines(self, s: HomeState) -> Iterable[Deadline]:
        if "not_back" in s.open or not s.cfg.on("not_back"):
            return ()
        out: list[Deadline] = []
        if s.silent_since is None and s.pres.context() == AWAY:
            st = still(s)
            if st is not None:
                out.append((st[2], Due.NOT_BACK))
        e = s.explicit
        if e is not None and e.end is not None:
            out.append((e.end + s.cfg.away.explicit_grace_min * 60, Due.NOT_BACK_EXPLICIT))
        return out

    def fire(self, s: HomeState, t: float, due: Due) -> list[Finding]:
        if due is Due.NOT_BACK:
            if s.explicit is not None:
                recheck_later(s, t)
                return []
            p = s.pres
            left = p.left if p.left is not None else t
            return s.raise_finding("not_back", t, "high", left,
                                   left_at=s.hm(left), away_min=int((t - left) // 60),
                                   usual_max_min=s.base.away_thr[s.clock.slot(t)],
                                   learned=s.base.learned)
        e = s.explicit
        assert e is not None and e.end is not None
        return s.raise_finding("not_back", t, "high", e.start, reason=e.reason,
                               expected_back=s.hm(e.end),
                               grace_min=s.cfg.away.explicit_grace_min)
