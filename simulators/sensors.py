"""Sensors: from a resident's plan to the readings the installed devices would send.

- PIR (motion): each device covers one room. Being in the room produces
  triggers at a rate that depends on what the resident does (walking in
  almost always triggers; reading in an armchair rarely). After a reported
  detection the sensor is blind for `blind` seconds; it reports 0 (clear)
  when nothing was detected for `CLEAR_S` seconds.
- Contacts (entrance door, fridge, cupboard) and the bed mat report 1 on
  open/occupied and 0 on close/empty.
- Meters report every minute at their own second (tick_offset): the water
  meter its cumulative litres (0.1 L resolution, a few per cent of
  measurement noise); the power meter the power over the last minute in W
  (standby, fridge compressor cycles and appliances, with noise) and its
  cumulative energy in Wh.
- Every device sends a heartbeat every 15 minutes (at its own offset) whose
  value is its battery level (100 for mains-powered meters); batteries drain.

Events are tuples (ts epoch seconds, device index, kind label, value text),
sorted by time; the value is already formatted as it appears in the CSV and
in MQTT payloads.
"""

from __future__ import annotations

import math
import random

from simulators.homes import HomeProfile
from simulators.resident import DayPlan

CLEAR_S = 120
HEARTBEAT_S = 900
TICK_S = 60

Event = tuple  # (ts:int, device:int, kind:str, value:str)


class HomeRenderer:
    """Renders consecutive plans of one home into events; keeps the sensors' state."""

    def __init__(self, home: HomeProfile, start: int, end: int, rng: random.Random) -> None:
        self.home, self.start, self.end, self.rng = home, start, end, rng
        self.pirs: dict[str, list[int]] = {}
        self.roles: dict[str, int] = {}
        self.alarm_dev: dict[str, int] = {}
        self.blind: dict[int, int] = {}
        self.water_dev = self.power_dev = -1
        self.bed_dev = self.door_dev = -1
        for i, d in enumerate(home.devices):
            if d.kind == "motion":
                self.pirs.setdefault(d.room, []).append(i)
                self.blind[i] = 30 + d.hb_offset % 61
            elif d.kind == "door":
                self.door_dev = i
            elif d.kind == "contact":
                self.roles[d.role] = i
            elif d.kind == "presence":
                self.bed_dev = i
            elif d.kind == "water":
                self.water_dev = i
            elif d.kind == "power":
                self.power_dev = i
            elif d.kind in ("smoke", "button", "leak", "gas"):
                self.alarm_dev[d.kind] = i
        if self.door_dev >= 0:
            self.roles["entrance"] = self.door_dev
        # carried state
        self.pir_last: dict[int, int] = {}     # last reported detection
        self.carry: list[Event] = []           # events due after the last window
        self.water_total = home.base_water_l
        self.energy_total = home.base_energy_wh
        self.spill_w: dict[int, float] = {}    # tick index -> watt-seconds beyond the window
        self.spill_l: dict[int, float] = {}
        r = random.Random(home.seed ^ 0x5EED)
        self.fridge_period = r.randint(38, 55)
        self.fridge_on = r.randint(10, 18)
        self.fridge_phase = r.randrange(60)
        self.noise = [r.gauss(0, 1) for _ in range(4096)]
        # battery-drain overrides set by incidents: device -> (t0, level at t0, per day)
        self.battery_override: dict[int, tuple[int, float, float]] = {}

    # -- public --------------------------------------------------------------
    def render(self, plan: DayPlan) -> list[Event]:
        w0, w1 = plan.w0, min(plan.w1, self.end)
        ev: list[Event] = [e for e in self.carry if e[0] < w1]
        self.carry = [e for e in self.carry if e[0] >= w1]
        self._pir(plan, w0, w1, ev)
        self._contacts(plan, ev)
        for t, kind, value in plan.alarms:
            dev = self.alarm_dev.get(kind)
            if dev is not None:
                ev.append((t, dev, kind, value))
        self._meters(plan, w0, w1, ev)
        self._heartbeats(w0, w1, ev)
        out = []
        for e in ev:
            if e[0] >= w1:
                if e[0] < self.end:
                    self.carry.append(e)
            elif e[0] >= self.start:
                out.append(e)
        out.sort()
        return out

    def battery(self, dev: int, t: int) -> float:
        d = self.home.devices[dev]
        if d.mains:
            return 100.0
        o = self.battery_override.get(dev)
        if o is not None and t >= o[0]:
            return max(1.0, o[1] - (t - o[0]) / 86400 * o[2])
        return max(1.0, d.battery0 - (t - self.start) / 86400 * d.drain_per_day)

    # -- sensors -------------------------------------------------------------
    def _pir(self, plan: DayPlan, w0: int, w1: int, ev: list[Event]) -> None:
        if not self.pirs:
            return
        rng = self.rng
        triggers: dict[str, list[float]] = {room: [] for room in self.pirs}
        for s, e, room, rate, entry in plan.stays:
            tl = triggers.get(room)
            if tl is None or e <= s:
                continue
            if entry and rng.random() < 0.95:
                tl.append(s + rng.uniform(0.5, 3.0))
            if rate > 0:
                mean_gap = 60.0 / rate
                t = s + rng.expovariate(1.0 / mean_gap)
                while t < e:
                    tl.append(t)
                    t += rng.expovariate(1.0 / mean_gap)
        for room, devs in self.pirs.items():
            tl = triggers[room]
            tl.sort()
            for dev in devs:
                blind = self.blind[dev]
                last = self.pir_last.get(dev, -10**9)
                for x in tl:
                    t = int(x)
                    if t < last + blind:
                        continue
                    if last > 0 and t > last + CLEAR_S:
                        ev.append((last + CLEAR_S, dev, "motion", "0"))
                    ev.append((t, dev, "motion", "1"))
                    last = t
                if last > 0 and last + CLEAR_S < w1:
                    ev.append((last + CLEAR_S, dev, "motion", "0"))
                    last = -10**9
                self.pir_last[dev] = last

    def _contacts(self, plan: DayPlan, ev: list[Event]) -> None:
        roles = self.roles
        for t, role, dur in plan.contacts:
            dev = roles.get(role)
            if dev is None:
                continue
            kind = "door" if role == "entrance" else "contact"
            ev.append((t, dev, kind, "1"))
            if dur > 0:
                ev.append((t + dur, dev, kind, "0"))
        if self.bed_dev >= 0:
            for s, e in plan.in_bed:
                if e - s >= 60:
                    ev.append((s + self.rng.randint(2, 20), self.bed_dev, "presence", "1"))
                    ev.append((e - self.rng.randint(1, 10), self.bed_dev, "presence", "0"))

    def _meters(self, plan: DayPlan, w0: int, w1: int, ev: list[Event]) -> None:
        rng = self.rng
        for dev, is_water in ((self.water_dev, True), (self.power_dev, False)):
            if dev < 0:
                continue
            base = self.start + self.home.devices[dev].tick_offset
            k0 = max(0, -(-(w0 - base) // TICK_S))        # first tick >= w0
            k1 = -(-(w1 - base) // TICK_S)                # first tick >= w1
            n = k1 - k0
            if n <= 0 and not is_water:
                continue
            spill = self.spill_l if is_water else self.spill_w
            bins = [0.0] * max(n, 0)
            for k in [k for k in spill if k < k1]:
                if k >= k0:
                    bins[k - k0] += spill.pop(k)
                else:
                    spill.pop(k)
            items = plan.water if is_water else [(a, b - a, w * (b - a)) for a, b, w, _ in plan.loads]
            for s, dur, amount in items:
                if dur <= 0:
                    continue
                per_s = amount / dur
                e = s + dur
                k = max(k0, -(-(s - base) // TICK_S))
                lo = s
                while lo < e:
                    tick = base + k * TICK_S
                    hi = min(e, tick)
                    if hi > lo:
                        if k < k1:
                            bins[k - k0] += per_s * (hi - lo)
                        else:
                            spill[k] = spill.get(k, 0.0) + per_s * (hi - lo)
                    lo = max(lo, tick)
                    k += 1
            if n <= 0:
                continue
            if is_water:
                total = self.water_total
                last_txt = None
                noise, j = self.noise, rng.randrange(4096)
                for i in range(n):
                    b = bins[i]
                    if b:
                        total += b * (1.0 + 0.03 * noise[(j + i) & 4095])
                    t = base + (k0 + i) * TICK_S
                    txt = f"{math.floor(total * 10) / 10:.1f}" if b or last_txt is None else last_txt
                    last_txt = txt
                    ev.append((t, dev, "water", txt))
                self.water_total = total
            else:
                h = self.home
                standby, fw = h.standby_w, h.fridge_w
                period, on, phase = self.fridge_period, self.fridge_on, self.fridge_phase
                energy = self.energy_total
                noise, j = self.noise, rng.randrange(4096)
                for i in range(n):
                    k = k0 + i
                    w = standby + bins[i] / TICK_S + (fw if (k + phase) % period < on else 0.0)
                    w *= 1.0 + 0.015 * noise[(j + i) & 4095]
                    energy += w / 60.0
                    t = base + k * TICK_S
                    ev.append((t, dev, "power", f"{w:.1f}"))
                    ev.append((t, dev, "energy", f"{energy:.1f}"))
                self.energy_total = energy

    def _heartbeats(self, w0: int, w1: int, ev: list[Event]) -> None:
        for dev, d in enumerate(self.home.devices):
            base = self.start + d.hb_offset
            k = max(0, -(-(w0 - base) // HEARTBEAT_S))
            t = base + k * HEARTBEAT_S
            mains = d.mains and dev not in self.battery_override
            while t < w1:
                ev.append((t, dev, "heartbeat", "100" if mains else str(round(self.battery(dev, t)))))
                t += HEARTBEAT_S
