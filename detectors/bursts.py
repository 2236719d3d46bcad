"""Many homes of one community losing devices at once: one incident, not one alert each.

A building's power cut or a failed gateway takes the devices of many homes
off at the same minute. Told home by home, that is dozens of families woken
for one fault none of them can fix; the operators and the property manager
(who holds the keys and the fuse box) are the people to tell, once. So an
"open" device_offline or home_silent finding waits `window_s`; if by then
`min_homes` homes of its community have such findings waiting (or an incident
of that community is open), they become one community incident and no alert
each; otherwise it is raised as usual, `window_s` late (going offline is never
an emergency in itself). A finding's clear takes its device out of the
incident; the incident closes when none is left. Anchor: Alertmanager's
grouping (group_wait) and inhibition. Pure: the detector service feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.events import Finding

BURST_KINDS = frozenset({"device_offline", "home_silent"})
Key = tuple[int, str, "str | None"]     # home id, kind, device


@dataclass
class Incident:
    community_id: int
    opened_at: float
    members: dict[Key, Finding] = field(default_factory=dict)
    changed: bool = True            # to be written

    @property
    def homes(self) -> int:
        return len({k[0] for k in self.members})


@dataclass
class Bursts:
    window_s: float = 300.0
    min_homes: int = 3
    waiting: dict[Key, tuple[int, Finding, float]] = field(default_factory=dict)  # -> community
    incidents: dict[int, Incident] = field(default_factory=dict)
    closed: list[Incident] = field(default_factory=list)

    def filter(self, findings: list[tuple[int, Finding]], community_of: dict[int, int],
               now: float) -> list[tuple[int, Finding]]:
        """What to write now; burst-kind opens wait, clears update what waits or is grouped."""
        out = []
        for hid, f in findings:
            if f.kind not in BURST_KINDS:
                out.append((hid, f))
                continue
            key = (hid, f.kind, f.device)
            community = community_of.get(hid, -1)
            if f.state == "open":
                inc = self.incidents.get(community)
                if inc is not None:
                    inc.members.setdefault(key, f)
                    inc.changed = True
                else:
                    self.waiting.setdefault(key, (community, f, now))
                continue
            if self.waiting.pop(key, None) is not None:
                continue            # came back within the window: nothing to say
            inc = self.incidents.get(community)
            if inc is not None and inc.members.pop(key, None) is not None:
                inc.changed = True
                if not inc.members:
                    self.closed.append(self.incidents.pop(community))
                continue
            out.append((hid, f))
        return out

    def due(self, now: float) -> list[tuple[int, Finding]]:
        """Findings whose window has passed: grouped into incidents, or released alone."""
        by_community: dict[int, set[int]] = {}
        for (hid, _, _), (community, _, _) in self.waiting.items():
            by_community.setdefault(community, set()).add(hid)
        out = []
        for key, (community, f, since) in list(self.waiting.items()):
            if now - since < self.window_s:
                continue
            del self.waiting[key]
            inc = self.incidents.get(community)
            if inc is None and community >= 0 and \
                    len(by_community.get(community, ())) >= self.min_homes:
                inc = self.incidents[community] = Incident(community, since)
            if inc is not None:
                inc.members.setdefault(key, f)
                inc.changed = True
            else:
                out.append((key[0], f))
        return out

    def to_write(self) -> tuple[list[Incident], list[Incident]]:
        """Incidents opened or changed, and those closed, since the last call."""
        changed = [i for i in self.incidents.values() if i.changed]
        for i in changed:
            i.changed = False
        closed, self.closed = self.closed, []
        return changed, closed
