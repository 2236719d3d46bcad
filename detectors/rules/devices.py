"""The devices themselves: offline (missed heartbeats), the whole home silent, a low
battery, and a PIR that has stopped seeing anybody (dead)."""

from __future__ import annotations

from typing import Iterable

from detectors.activity import HOME
from detectors.clock import DAY_S
from detectors.events import Event, Finding
from detectors.rules.base import Deadline, Due, Rule
from detectors.state import Device, HomeState

WATCHED_DEAD = frozenset({"motion"})    # device kinds that must fire while someone lives there


class Devices(Rule):
    """A device that missed `missed_heartbeats` heartbeats is offline; every device silent
    for `silent_min` is the home silent (which supersedes the devices' own findings and
    holds inactivity: a silent home says nothing about its resident). Any message from a
    device clears them."""

    kinds = ("home_silent", "device_offline")
    dues = (Due.OFFLINE, Due.SILENT)

    def heard(self, s: HomeState, ev: Event) -> list[Finding]:
        out: list[Finding] = []
        t = ev.ts
        if s.silent_since is not None:
            out += s.clear_finding("home_silent", t, "devices_back",
                                   silent_min=int((t - s.silent_since) // 60))
            # we lost sight of the home: stillness is counted from when it came back
            p = s.pres
            if p.last_act is not None and p.context() == HOME:
                p.last_act = max(p.last_act, t)
            s.silent_since = None
            s.still_cache = None
        if s.open and f"device_offline:{ev.device}" in s.open:
            out += s.clear_finding("device_offline", t, "device_back", device=ev.device)
        return out

    def deadlines(self, s: HomeState) -> Iterable[Deadline]:
        out: list[Deadline] = []
        cfg = s.cfg
        latest = 0.0
        watched = False
        offline = cfg.on("device_offline") and s.silent_since is None
        k = cfg.devices.missed_heartbeats
        is_open = s.open
        # (this runs after every event, for every device: attributes are read once, and the
        # open findings' keys made only when some are open)
        for uid, d in s.devs.items():
            seen = d.last_seen
            if seen > latest:
                latest = seen
            hb = d.hb_s
            if hb:
                watched = True
                if offline and seen and (not is_open or f"device_offline:{uid}" not in is_open):
                    out.append((seen + k * hb, Due.OFFLINE))
        if watched and s.silent_since is None:
            out.append((latest + cfg.devices.silent_min * 60, Due.SILENT))
        return out

    def fire(self, s: HomeState, t: float, due: Due) -> list[Finding]:
        if due is Due.SILENT:
            latest = max(d.last_seen for d in s.devs.values())
            s.silent_since = latest
            # device_offline findings are superseded by the whole home being silent
            return s.raise_finding("home_silent", t, "high", latest, since_time=s.hm(latest),
                                   devices=len(s.devs))
        out: list[Finding] = []
        k = s.cfg.devices.missed_heartbeats
        others = 0
        for d in s.devs.values():
            if d.hb_s and d.last_seen and t - d.last_seen < k * d.hb_s:
                others += 1
        for uid, d in s.devs.items():
            if d.hb_s and d.last_seen and d.last_seen + k * d.hb_s <= t:
                out += s.raise_finding("device_offline", d.last_seen + k * d.hb_s, "medium",
                                       d.last_seen, uid, last_seen=s.hm(d.last_seen),
                                       missed_heartbeats=k, others_reporting=others)
        return out


class Battery(Rule):
    """A heartbeat's battery level under `battery_pct` opens; 5 points above it clears."""

    kinds = ("battery_low",)

    def heartbeat(self, s: HomeState, ev: Event, dev: Device) -> list[Finding]:
        v = ev.value
        dev.battery = v
        lim = s.cfg.devices.battery_pct
        if v < lim:
            return s.raise_finding("battery_low", ev.ts, "low", ev.ts, ev.device,
                                   battery_pct=round(v), limit_pct=lim)
        if v >= lim + 5:
            return s.clear_finding("battery_low", ev.ts, "battery_replaced", device=ev.device,
                                   battery_pct=round(v))
        return []


class SensorDead(Rule):
    """At midnight: a PIR that has not fired through `dead_days` days on which the resident
    lived at home and moved (seen by the others) is dead. Its next detection clears it."""

    kinds = ("sensor_dead",)

    def sign(self, s: HomeState, ev: Event) -> list[Finding]:
        if ev.kind == "motion" and s.open and f"sensor_dead:{ev.device}" in s.open:
            return s.clear_finding("sensor_dead", ev.ts, "triggered", device=ev.device)
        return []

    def midnight(self, s: HomeState, t: float) -> list[Finding]:
        out: list[Finding] = []
        clock = s.clock
        k = s.cfg.devices.dead_days
        p = s.pres
        life = s.day.life
        for uid, d in s.devs.items():
            if d.kind in WATCHED_DEAD and d.last_trigger and t - d.last_trigger >= k * DAY_S and \
                    p.last_act is not None and t - p.last_act < DAY_S and p.last_device != uid \
                    and not s.explicit_at(t):
                # the days after the one it last fired on on which the resident moved at home
                after = clock.day(d.last_trigger) + DAY_S / 2
                lived = sum(1 for x in life if x > after)
                if lived >= k:
                    out += s.raise_finding("sensor_dead", t, "low", d.last_trigger, uid,
                                           last_trigger=clock.hhmm(d.last_trigger),
                                           days=int((t - d.last_trigger) // DAY_S),
                                           days_with_life=lived)
        return out
