"""Power: a high load running far longer than usual (the stove left on), and nothing
switched on at all for a day while the resident is at home."""

from __future__ import annotations

from typing import Iterable

from detectors.activity import ACT, AWAY, Meter
from detectors.events import Event, Finding
from detectors.rules.base import Deadline, Due, Rule
from detectors.state import HomeState


class Power(Rule):
    kinds = ("power_high", "power_flat")
    reads = frozenset({"power"})
    dues = (Due.POWER_FLAT,)

    def reading(self, s: HomeState, ev: Event, meter: Meter | None, c: int,
                device_ts: float) -> list[Finding]:
        assert meter is not None
        t, cfg = ev.ts, s.cfg.power
        out: list[Finding] = []
        if c == ACT:
            s.last_power_edge = t
            out += s.clear_finding("power_flat", t, "switched_on")
        base_w = s.base.base_w if s.base.base_w >= 0 else 100.0
        if ev.value > base_w + cfg.high_w:
            if not meter.high_start:
                meter.high_start = t
            usual = s.base.high_load_min
            lim = (max(cfg.high_floor_min, cfg.high_factor * usual) if usual >= 0
                   else 2 * cfg.high_floor_min)
            run = t - meter.high_start
            if run >= lim * 60:
                out += s.raise_finding("power_high", t, "high", meter.high_start, ev.device,
                                       watts=round(ev.value), running_min=int(run // 60),
                                       usual_max_min=usual if usual >= 0 else None,
                                       since_time=s.hm(meter.high_start))
        else:
            meter.high_start = 0.0
            out += s.clear_finding("power_high", t, "load_off", device=ev.device)
        return out

    def deadlines(self, s: HomeState) -> Iterable[Deadline]:
        if s.last_power_edge is not None and "power_flat" not in s.open and \
                s.cfg.on("power_flat"):
            return ((s.last_power_edge + s.cfg.power.flat_hours * 3600, Due.POWER_FLAT),)
        return ()

    def fire(self, s: HomeState, t: float, due: Due) -> list[Finding]:
        if s.explicit_at(t) or s.pres.context() == AWAY:
            s.last_power_edge = t   # look again a full period later
            return []
        return s.raise_finding("power_flat", t, "medium", s.last_power_edge,
                               hours=s.cfg.power.flat_hours, last_switch=s.hm(s.last_power_edge))
