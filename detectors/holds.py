"""Absence findings held while anju's own data pipeline is interrupted.

While readings are known to be missing (anju.pipeline: the broker, the ingest
or the way to them is down), a home's silence says nothing about its resident:
an "open" finding of an absence kind (inactivity, home_silent, device_offline,
no_water, not_back, sensor_dead) is held instead of raised, and the operators
hear of the outage once from the watchdog. When data flows again, and has
flowed for `settle_s` (the broker's backlog drains and late readings correct
the homes' pictures), what is still true is raised: a held finding whose
condition cleared meanwhile (the resident moved, the device spoke) is dropped.
Pure: the detector service feeds it findings and the pipeline's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from anju.pipeline import ABSENCE_KINDS
from detectors.events import Finding

Key = tuple[int, str, "str | None"]


@dataclass
class Holds:
    settle_s: float = 60.0
    held: dict[Key, tuple[int, Finding]] = field(default_factory=dict)
    since: float | None = None            # the episode: first seen interrupted
    restored_at: float | None = None      # seen flowing again since then

    def pipeline(self, interrupted: bool, now: float) -> None:
        if interrupted:
            if self.since is None:
                self.since = now
            self.restored_at = None
        elif self.since is not None and self.restored_at is None:
            self.restored_at = now

    @property
    def holding(self) -> bool:
        return self.since is not None

    def filter(self, findings: list[tuple[int, Finding]], now: float) -> list[tuple[int, Finding]]:
        """What to write now: absence opens are kept back while holding; a clear drops
        whatever it clears from the held ones, and is written as usual."""
        out = []
        for hid, f in findings:
            key = (hid, f.kind, f.device)
            if f.state == "open" and self.holding and f.kind in ABSENCE_KINDS:
                self.held.setdefault(key, (hid, f))
                continue
            if f.state != "open":
                self.held.pop(key, None)
            out.append((hid, f))
        return out

    def release(self, now: float) -> list[tuple[int, Finding]]:
        """Once data has flowed for settle_s: the held findings still true, marked as judged
        again after the outage; holding ends."""
        if self.restored_at is None or now - self.restored_at < self.settle_s:
            return []
        out = [(hid, replace(f, evidence={**f.evidence, "held_during_outage_since": self.since}))
               for hid, f in self.held.values()]
        self.held.clear()
        self.since = self.restored_at = None
        return out
