"""Who is told at an escalation step: the contacts of its roles for one home.

Pure: the caller reads the candidate contacts (every active contact of the
step's roles for the home and its community) and passes them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from alerts.contacts import Shift, on_duty


@dataclass(frozen=True, kw_only=True)
class Candidate:
    id: int
    role: str
    name: str
    urls: tuple[str, ...]
    lang: str
    own_home: bool                     # belongs to the home, not to its whole community
    shifts: tuple[Shift, ...] = ()     # community workers' rota


def step_label(roles: Sequence[str]) -> str:
    return "+".join(roles)


def choose(candidates: Sequence[Candidate], roles: Sequence[str], now: datetime,
           tz: str) -> tuple[list[Candidate], str]:
    """The contacts to tell, in role order, each once, and a note on any gap.

    Property management of the home itself is told rather than the
    community's; of the community workers, those on duty (in the home's
    local time), or all of them when nobody is.
    """
    chosen: list[Candidate] = []
    notes = []
    for role in roles:
        of_role = [c for c in candidates if c.role == role]
        if role == "property" and any(c.own_home for c in of_role):
            of_role = [c for c in of_role if c.own_home]
        if role == "community_worker" and of_role:
            duty = [c for c in of_role if on_duty(c.shifts, now, tz)]
            if duty:
                of_role = duty
            else:
                notes.append("no community worker on duty: all of them told")
        if not of_role:
            notes.append(f"no {role} contact")
        for c in of_role:
            if all(t.id != c.id for t in chosen):
                chosen.append(c)
    return chosen, "; ".join(notes)
