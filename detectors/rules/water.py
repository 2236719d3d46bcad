"""Water: water left running, and no water used for hours while the resident is at home."""

from __future__ import annotations

from array import array

from detectors.activity import ACT, HOME, Meter
from detectors.events import Event, Finding
from detectors.rules.base import Rule
from detectors.state import NEVER, HomeState


def sample_hourly(ring: array, t: float, total: float, hours: int) -> None:
    """Keep (t, total) pairs about an hour apart, enough to look `hours` back."""
    if not ring or t - ring[-2] >= 3600:
        ring.extend((t, total))
        keep = 2 * (hours + 2)
        if len(ring) > keep:
            del ring[:len(ring) - keep]


def sample_before(ring: array, t: float, window: float) -> int | None:
    """Index of the latest sample at least `window` before t (None: none that old)."""
    for i in range(len(ring) - 2, -1, -2):
        if t - ring[i] >= window:
            return i
    return None


class Water(Rule):
    kinds = ("water_running", "no_water")
    reads = frozenset({"water"})

    def reading(self, s: HomeState, ev: Event, meter: Meter | None, c: int,
                device_ts: float) -> list[Finding]:
        assert meter is not None
        t, cfg = ev.ts, s.cfg.water
        out: list[Finding] = []
        if c == ACT:
            s.last_water = t
            out += s.clear_finding("no_water", t, "water_used")
        if meter.flowing:
            run = t - meter.run_start
            if run >= cfg.running_min * 60:
                out += s.raise_finding("water_running", t, "high", meter.run_start, ev.device,
                                       running_min=int(run // 60),
                                       since_time=s.hm(meter.run_start))
        else:
            out += s.clear_finding("water_running", t, "stopped", device=ev.device)
        # no_water: hourly samples of the total over `low_hours`
        ring = s.water_ring
        sample_hourly(ring, t, ev.value, cfg.low_hours)
        old = sample_before(ring, t, cfg.low_hours * 3600)
        if old is not None and s.pres.context() == HOME and not s.explicit_at(t):
            since = ring[old]
            if (s.left_home_at is None or s.left_home_at < since) and \
                    (s.explicit is None or (s.explicit.end or NEVER) < since):
                used = ev.value - ring[old + 1]
                lim = cfg.low_litres
                if s.base.water_min_l >= 0:
                    lim = min(lim, 0.5 * s.base.water_min_l)
                if used < lim:
                    out += s.raise_finding("no_water", t, "medium", s.last_water, ev.device,
                                           litres=round(used, 1), hours=cfg.low_hours,
                                           limit_l=round(lim, 1), last_water=s.hm(s.last_water))
        return out
