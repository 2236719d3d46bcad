"""HomeMonitor: one home's detectors, fed events and time, answering with Findings.

Pure and deterministic: the same events and the same `now`s give the same
findings; nothing reads the wall clock. The live service and the evaluation
harness drive the same class.

- observe(ev): first lets time run up to ev.ts (deadlines that passed before
  the event fire, stamped with their own time), then applies the event.
- advance(now): fires every deadline <= now.
- next_deadline(): the earliest time advance() could return a finding.
- learn(history, now): re-learns the baselines (detectors/baseline.py) and
  merges the end state of the history (last activity, last door, devices'
  last messages), so that a new monitor after a restart knows a stillness
  that began long before the replayed day.

A finding kind is opened once and cleared once; `open_findings()` lists what
holds now. Device-level kinds are keyed by kind and device.
"""

from __future__ import annotations

from array import array
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterable

from detectors import texts
from detectors.activity import ACT, AWAY, BACK, BED, DOOR, GROUPS, HOME, LEFT, PASSAGE, Meter, \
    Presence, classify, room_group
from detectors.baseline import DAY_S, LIVED_AT_HOME, SLOT_S, SLOTS, Baseline, LocalClock, Tail, \
    learn
from detectors.config import DetectorConfig
from detectors.events import Event, Finding, HomeInfo, Severity

IMMEDIATE = {"smoke": "smoke", "gas": "gas", "leak": "leak"}
_WATCHED_DEAD = frozenset({"motion"})
_LIFE_DAYS = 31                # days with signs of life kept (devices.dead_days is at most 30)
MOMENTARY = frozenset({"button"})    # a finding of its own each time; nothing to clear
_NEVER = float("inf")
_UTC = timezone.utc


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, _UTC).isoformat(timespec="milliseconds")


def _two_clocks(device_ts: float, arrived: float | None) -> dict[str, object]:
    """An immediate finding's evidence of when: the device's clock and anju's."""
    if arrived is None:
        return {}
    return {"device_time": _iso(device_ts), "arrived_at": _iso(arrived),
            "late_s": round(arrived - device_ts, 1)}


class _Dev:
    __slots__ = ("last_seen", "hb_s", "last_trigger", "kind", "battery")

    def __init__(self, kind: str, hb_s: int) -> None:
        self.last_seen = 0.0
        self.hb_s = hb_s            # heartbeat period; 0 until a heartbeat is seen (not watched)
        self.last_trigger = 0.0     # PIRs: last detection
        self.kind = kind
        self.battery = -1.0


class HomeMonitor:
    __slots__ = ("home", "cfg", "clock", "base", "pres", "meters", "devs", "open", "explicit",
                 "door_open_since", "last_water", "last_power_edge", "water_ring",
                 "left_home_at", "day_lo", "day_count", "recent", "last_day", "silent_since",
                 "still_cache", "pre_at", "last_ts", "_dl", "started", "day_away", "away_mark",
                 "life")

    def __init__(self, home: HomeInfo, config: DetectorConfig) -> None:
        self.home = home
        self.cfg = config
        self.clock = LocalClock(home.tz)
        self.base = Baseline()
        self.base.home_thr = array("H", [config.inactivity.default_min] * (2 * SLOTS))
        self.base.away_thr = array("H", [max(config.inactivity.default_min,
                                             config.away.floor_min)] * (2 * SLOTS))
        self.pres = Presence(config, sum(1 for d in home.devices if d.kind == "motion"))
        self.meters: dict[str, Meter] = {}
        self.devs: dict[str, _Dev] = {}
        for d in home.devices:
            self.devs[d.uid] = _Dev(d.kind, 0)
        self.open: dict[str, Finding] = {}
        self.explicit: tuple[float, float | None, str] | None = None
        self.door_open_since: float | None = None
        self.last_water: float | None = None      # last time water started to flow
        self.last_power_edge: float | None = None
        self.water_ring = array("d")              # (t, total) pairs about an hour apart
        self.left_home_at: float | None = None    # last time the resident was away
        self.day_lo = 0.0
        self.day_count = 0
        self.recent = array("H")
        self.day_away = 0.0                       # seconds of today spent away (so far)
        self.away_mark: float | None = None       # away since (counted into day_away later)
        self.last_day = 0.0
        # local midnights of the last days with signs of life at home: a PIR silent for days is
        # dead only if the resident was at home and moving on them (not away on a trip)
        self.life = array("d")
        self.silent_since: float | None = None
        # (reference, context, room limit applied (min, 0: none), deadline, last room)
        self.still_cache: tuple[float, int, int, float, str] | None = None
        self.pre_at: float | None = None          # pre-alarm raised at (waiting for the button)
        self.last_ts = 0.0
        self._dl: float | None = None
        self.started: float | None = None

    # -- learning --------------------------------------------------------------------------
    def learn(self, history: Iterable[Event], now: float) -> None:
        base, tail = learn(history, now, self.home.tz, self.cfg, self.pres.pirs)
        self.base = base
        self._merge(tail)
        if base.last_day > self.last_day:
            self.recent = array("H", [min(65535, c) for c in base.recent])
            self.last_day = base.last_day
        if not self.day_lo:
            # a new monitor counts today's activity from what it observes (the replay)
            self.day_lo = self.clock.day(now)
            self.last_day = max(self.last_day, self.day_lo - DAY_S)
        self.still_cache = None
        self._dl = None

    def _merge(self, tail: Tail) -> None:
        if tail.pres is not None and tail.pres.latest() > self.pres.latest():
            # the history knows of later signs of life (a new monitor after a restart)
            self.pres = tail.pres
        for uid, t in tail.last_seen.items():
            d = self._dev(uid)
            d.last_seen = max(d.last_seen, t)
            if uid in tail.heartbeats and not d.hb_s:
                d.hb_s = self._hb_period(uid)
        for uid, t in tail.last_trigger.items():
            d = self._dev(uid)
            d.last_trigger = max(d.last_trigger, t)
        if tail.first_ts is not None and (self.started is None or tail.first_ts < self.started):
            self.started = tail.first_ts
        if tail.life_days:
            self.life = array("d", sorted(set(self.life) | set(tail.life_days))[-_LIFE_DAYS:])

    def _hb_period(self, uid: str) -> int:
        for d in self.home.devices:
            if d.uid == uid:
                return d.heartbeat_s
        return 900

    def _dev(self, uid: str) -> _Dev:
        d = self.devs.get(uid)
        if d is None:
            d = self.devs[uid] = _Dev("", 0)
        return d

    # -- away --------------------------------------------------------------------------------
    def set_away(self, start: float, end: float | None, reason: str) -> None:
        self.explicit = (start, end, reason)
        self.still_cache = None
        self._dl = None

    def clear_away(self, now: float) -> list[Finding]:
        self.explicit = None
        self.still_cache = None
        self._dl = None
        return self._clear("not_back", now, "away_cleared")

    def _explicit_at(self, t: float) -> bool:
        e = self.explicit
        return e is not None and e[0] <= t and (e[1] is None or t < e[1])

    # -- findings ----------------------------------------------------------------------------
    def open_findings(self) -> list[Finding]:
        return sorted(self.open.values(), key=lambda f: (f.at, f.kind, f.device or ""))

    def _open(self, kind: str, at: float, severity: Severity, since: float | None = None,
              device: str | None = None, **evidence: object) -> list[Finding]:
        if not self.cfg.on(kind) and kind != "prealarm":
            return []
        key = f"{kind}:{device}" if device else kind
        if key in self.open:
            return []
        ev = {k: v for k, v in evidence.items() if v is not None}
        f = Finding(kind, "open", at, severity, since, device, ev,
                    texts.render(kind, "open", ev))
        if kind not in MOMENTARY:
            self.open[key] = f
        self._dl = None
        return [f]

    def _clear(self, kind: str, at: float, reason: str, device: str | None = None,
               **evidence: object) -> list[Finding]:
        key = f"{kind}:{device}" if device else kind
        f = self.open.pop(key, None)
        if f is None:
            return []
        ev = {"reason": reason, "at_time": self.clock.hhmm(at),
              **{k: v for k, v in evidence.items() if v is not None}}
        if at < f.at:
            # What ends the condition happened before the alert was raised and arrived only
            # now: the alert should not have opened. It is resolved as of now (the monitor's
            # clock, never moved back), saying when the late reading was stamped.
            ev["reason"], ev["seen_reason"] = "late_data", reason
            at = max(f.at, self.last_ts)
        self._dl = None
        return [Finding(kind, "clear", at, f.severity, f.since, device, ev,
                        texts.render(kind, "clear", ev))]

    def _hm(self, t: float | None) -> str | None:
        return None if t is None else self.clock.hhmm(t)

    # -- events --------------------------------------------------------------------------------
    def observe(self, ev: Event) -> list[Finding]:
        device_ts = ev.ts
        if ev.arrived is not None and ev.ts > ev.arrived:
            # a device clock ahead of anju's: it cannot have happened after it was stored
            ev = replace(ev, ts=ev.arrived)
        t = ev.ts
        out = self._advance(t, strict=True) if t > self.last_ts else []
        if t > self.last_ts:
            self.last_ts = t
        if self.started is None:
            self.started = t
        self._dl = None
        kind = ev.kind
        d = self._dev(ev.device)
        if not d.kind:
            d.kind = kind if kind != "heartbeat" else ""
        was_silent = self.silent_since is not None
        d.last_seen = max(d.last_seen, t)
        if was_silent:
            out += self._clear("home_silent", t, "devices_back", silent_min=int(
                (t - self.silent_since) // 60))
            # we lost sight of the home: stillness is counted from when it came back
            if self.pres.last_act is not None and self.pres.context() == HOME:
                self.pres.last_act = max(self.pres.last_act, t)
            self.silent_since = None
            self.still_cache = None
        if f"device_offline:{ev.device}" in self.open:
            out += self._clear("device_offline", t, "device_back", device=ev.device)
        if kind == "heartbeat":
            if not d.hb_s:
                d.hb_s = self._hb_period(ev.device)
            return out + self._battery(ev, d)
        imm = IMMEDIATE.get(kind)
        if imm is not None:
            if ev.value >= 1:
                return out + self._open(imm, t, "critical", t, ev.device, room=ev.room,
                                        **self._when(device_ts, ev.arrived))
            return out + self._clear(imm, t, "alarm_reset", device=ev.device)
        meter = None
        if kind == "water" or kind == "power":
            meter = self.meters.get(ev.device)
            if meter is None:
                meter = self.meters[ev.device] = Meter()
            elif t < meter.t:
                # a meter's late reading: its newer readings already told the story (totals
                # are cumulative), and taking it as the latest would count flow twice
                return out
        c = classify(kind, ev.value, t, meter, self.cfg)
        if kind == "water":
            out += self._water(ev, meter, c)
        elif kind == "power":
            out += self._power(ev, meter, c)
        if kind == "button" and ev.value >= 1:
            if self.pre_at is not None:
                out += self._clear("prealarm", t, "cancelled_by_resident")
                self.pre_at = None
            else:
                out += self._open("button", t, "critical", t, ev.device, room=ev.room,
                                  **self._when(device_ts, ev.arrived))
        if c == 0:
            return out
        if kind == "motion":
            d.last_trigger = t
            if f"sensor_dead:{ev.device}" in self.open:
                out += self._clear("sensor_dead", t, "triggered", device=ev.device)
        ctx0 = self.pres.context()
        if c == DOOR:
            out += self._door(ev)
        elif self.pres.act(t, ev.room, ev.device, kind):
            if t >= self.day_lo:
                self.day_count += 1
            out += self._moved(t, ev, ctx0)
        if self.pres.context() != ctx0:
            if ctx0 == HOME:
                self.away_mark = t
            elif self.away_mark is not None:
                self.day_away += t - max(self.away_mark, self.day_lo)
                self.away_mark = None
        self.still_cache = None
        return out

    def _when(self, device_ts: float, arrived: float | None) -> dict[str, object]:
        ev = _two_clocks(device_ts, arrived)
        if arrived is not None and arrived - device_ts >= 60:
            ev["device_hhmm"] = self.clock.hhmm(device_ts)   # said in words when late
        return ev

    def _ended_by(self, kind: str, t: float, reason: str, room: str) -> list[Finding]:
        """A sign of life at t ends the stillness or absence `kind` stands for, unless it
        came before that began (a late reading from earlier says nothing against it)."""
        f = self.open.get(kind)
        if f is None or (f.since is not None and t <= f.since):
            return []
        return self._clear(kind, t, reason, room=room)

    def _moved(self, t: float, ev: Event, ctx0: int) -> list[Finding]:
        out: list[Finding] = []
        room = ev.room
        if self.pre_at is not None:
            f = self.open.get("prealarm")
            if f is None or f.since is None or t > f.since:
                out += self._clear("prealarm", t, "moved", room=room)
                self.pre_at = None
        out += self._ended_by("inactivity", t, "moved", room)
        if ctx0 == AWAY:
            self.left_home_at = max(self.left_home_at or t, t)
            out += self._ended_by("not_back", t, "back_home", room)
            out += self._ended_by("night_wandering", t, "back_home", room)
        e = self.explicit
        if e is not None and t > e[0] + 1800 and (e[1] is None or t < e[1] + DAY_S):
            # somebody is at home again: the explicit away is over
            self.explicit = None
            out += self._clear("not_back", t, "back_home", room=room)
        return out

    def _door(self, ev: Event) -> list[Finding]:
        t = ev.ts
        out: list[Finding] = []
        if self.pres.last_door is not None and t < self.pres.last_door:
            return out   # a late door event: the door's later events already said where it is
        ctx0 = self.pres.context()
        seen = self.pres.door(t, ev.value >= 1, ev.room, ev.device)
        if seen == LEFT and self.pres.last_act is not None:
            self.left_home_at = t
        elif seen == BACK:
            if t >= self.day_lo:
                self.day_count += 1
            out += self._moved(t, ev, ctx0)
        if ev.value >= 1:
            if self.door_open_since is None:
                self.door_open_since = t
            c = self.cfg.doors
            m = self.clock.minute(t) // 60
            night = (c.night_from <= m or m < c.night_to) if c.night_from > c.night_to \
                else c.night_from <= m < c.night_to
            if night and seen != BACK and seen != PASSAGE:   # coming home late is not wandering
                out += self._open("night_wandering", t, "high", t, at_time=self._hm(t),
                                  door=ev.device)
        else:
            if self.door_open_since is not None:
                out += self._clear("door_left_open", t, "closed",
                                   open_min=int((t - self.door_open_since) // 60))
            self.door_open_since = None
        return out

    def _battery(self, ev: Event, d: _Dev) -> list[Finding]:
        v = ev.value
        d.battery = v
        lim = self.cfg.devices.battery_pct
        if v < lim:
            return self._open("battery_low", ev.ts, "low", ev.ts, ev.device, battery_pct=round(v),
                              limit_pct=lim)
        if v >= lim + 5:
            return self._clear("battery_low", ev.ts, "battery_replaced", device=ev.device,
                               battery_pct=round(v))
        return []

    def _water(self, ev: Event, m: Meter, c: int) -> list[Finding]:
        t, cfg = ev.ts, self.cfg.water
        out: list[Finding] = []
        if c == ACT:
            self.last_water = t
            out += self._clear("no_water", t, "water_used")
        if m.flowing:
            run = t - m.run_start
            if run >= cfg.running_min * 60:
                out += self._open("water_running", t, "high", m.run_start, ev.device,
                                  running_min=int(run // 60), since_time=self._hm(m.run_start))
        else:
            out += self._clear("water_running", t, "stopped", device=ev.device)
        # no_water: hourly samples of the total over `low_hours`
        ring = self.water_ring
        if not ring or t - ring[-2] >= 3600:
            ring.extend((t, ev.value))
            keep = 2 * (cfg.low_hours + 2)
            if len(ring) > keep:
                del ring[:len(ring) - keep]
        window = cfg.low_hours * 3600
        old = None
        for i in range(len(ring) - 2, -1, -2):
            if t - ring[i] >= window:
                old = i
                break
        if old is not None and self.pres.context() == HOME and not self._explicit_at(t):
            since = ring[old]
            if (self.left_home_at is None or self.left_home_at < since) and \
                    (self.explicit is None or (self.explicit[1] or _NEVER) < since):
                used = ev.value - ring[old + 1]
                lim = cfg.low_litres
                if self.base.water_min_l >= 0:
                    lim = min(lim, 0.5 * self.base.water_min_l)
                if used < lim:
                    out += self._open("no_water", t, "medium", self.last_water, ev.device,
                                      litres=round(used, 1), hours=cfg.low_hours,
                                      limit_l=round(lim, 1), last_water=self._hm(self.last_water))
        return out

    def _power(self, ev: Event, m: Meter, c: int) -> list[Finding]:
        t, cfg = ev.ts, self.cfg.power
        out: list[Finding] = []
        if c == ACT:
            self.last_power_edge = t
            out += self._clear("power_flat", t, "switched_on")
        base_w = self.base.base_w if self.base.base_w >= 0 else 100.0
        if ev.value > base_w + cfg.high_w:
            if not m.high_start:
                m.high_start = t
            usual = self.base.high_load_min
            lim = (max(cfg.high_floor_min, cfg.high_factor * usual) if usual >= 0
                   else 2 * cfg.high_floor_min)
            run = t - m.high_start
            if run >= lim * 60:
                out += self._open("power_high", t, "high", m.high_start, ev.device,
                                  watts=round(ev.value), running_min=int(run // 60),
                                  usual_max_min=usual if usual >= 0 else None,
                                  since_time=self._hm(m.high_start))
        else:
            m.high_start = 0.0
            out += self._clear("power_high", t, "load_off", device=ev.device)
        return out

    # -- time ----------------------------------------------------------------------------------
    def _still(self) -> tuple[int, float, float] | None:
        """(context, reference, deadline) of the stillness / absence alarm.

        At home the deadline is the earlier of: the first moment the running stillness exceeds
        the time-of-day threshold of the slot it is in; and the last activity plus the limit
        learned for stillness after activity in that room group at that time of day."""
        p = self.pres
        ref = p.reference()
        if ref is None:
            return None
        ctx = p.context()
        c = self.still_cache
        if c is not None and c[0] == ref and c[1] == ctx and c[4] == p.last_room:
            return ctx, ref, c[3]
        dl = self._time_of_day_deadline(self.base.home_thr if ctx == HOME else self.base.away_thr,
                                        ref)
        basis = 0
        if ctx == HOME:
            basis = self._room_limit(ref)
            if basis and ref + basis * 60 < dl:
                dl = ref + basis * 60
            else:
                basis = 0
            up = self._asleep_until(ref)
            if up is not None and dl < up:
                dl, basis = up, -1
        self.still_cache = (ref, ctx, basis, dl, p.last_room)
        return ctx, ref, dl

    def _time_of_day_deadline(self, arr: array, ref: float) -> float:
        """The first moment a stillness begun at `ref` exceeds the threshold (`arr`, minutes
        per slot, weekdays then weekends) of the slot it is in. This runs for every new last
        activity in every home."""
        # (compared as bytes: min() and max() of an array take longer than the walk they save)
        if arr and arr.tobytes() == arr[:1].tobytes() * len(arr):
            return ref + arr[0] * 60   # one threshold all day (the defaults): no slots to walk
        # Slot by slot: the local day (and with it the weekday and its half of the thresholds)
        # is looked up only when a slot runs past midnight.
        clock = self.clock
        last = SLOTS - 1
        t, lo, hi, s, off = ref, 0.0, 0.0, 0, 0
        for _ in range(4 * SLOTS):
            if t >= hi:
                lo = clock.day(t)
                hi = clock.hi
                off = SLOTS if clock.weekday >= 5 else 0
                s = min(last, int((t - lo) // SLOT_S))
            end = lo + (s + 1) * SLOT_S if s < last else hi
            d = ref + arr[s + off] * 60
            if d < end:
                return max(t, d)
            t = end
            s += 1
        return _NEVER

    def _asleep_until(self, ref: float) -> float | None:
        """Last activity in bed during this home's night (earliest bedtime .. latest getting-up
        seen): sleep, not alarming before the latest getting-up time plus the slack (and never
        later than the cap)."""
        b = self.base
        if b.sleep_from < 0 or room_group(self.pres.last_room) != BED:
            return None
        clock = self.clock
        day = clock.day(ref)
        m = (ref - day) / 60
        ic = self.cfg.inactivity
        # the less regular the getting-up, the longer a night may run past the latest one seen
        slack = max(ic.slack_min, 2 * b.wake_sd) / self.cfg.sensitivity
        # the night seen, widened by the slack at both ends
        lo, hi = (b.sleep_from - slack - 720) % 1440, (b.sleep_to - 720) % 1440
        if not lo <= (m - 720) % 1440 < hi:
            return None
        up = day + b.sleep_to * 60
        if up <= ref:
            up = clock.hi + b.sleep_to * 60     # (a DST day is an hour off; harmless here)
        return min(up + slack * 60, ref + ic.cap_min * 60)

    def _room_limit(self, ref: float) -> int:
        """The learned limit (minutes) on stillness after activity in the last activity's room
        group at the time of day it happened; 0 when not learned."""
        rt = self.base.room_thr
        if not rt:
            return 0
        s = self.clock.slot(ref) % SLOTS
        return rt[room_group(self.pres.last_room) * SLOTS + s]

    def _deadlines(self) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        cfg = self.cfg
        st = self._still()
        if st is not None and self.silent_since is None:
            ctx, ref, dl = st
            if ctx == HOME and "inactivity" not in self.open and cfg.on("inactivity"):
                if self.pre_at is not None:
                    out.append((self.pre_at + cfg.prealarm.minutes * 60, "inactivity"))
                else:
                    out.append((dl, "still"))
            elif ctx == AWAY and "not_back" not in self.open and cfg.on("not_back"):
                out.append((dl, "not_back"))
        e = self.explicit
        if e is not None and e[1] is not None and "not_back" not in self.open and \
                cfg.on("not_back"):
            out.append((e[1] + cfg.away.explicit_grace_min * 60, "not_back_explicit"))
        if self.door_open_since is not None and "door_left_open" not in self.open and \
                cfg.on("door_left_open"):
            out.append((self.door_open_since + cfg.doors.open_min * 60, "door"))
        if self.last_power_edge is not None and "power_flat" not in self.open and \
                cfg.on("power_flat"):
            out.append((self.last_power_edge + cfg.power.flat_hours * 3600, "power_flat"))
        latest = 0.0
        watched = False
        offline = cfg.on("device_offline") and self.silent_since is None
        k = cfg.devices.missed_heartbeats
        for uid, d in self.devs.items():
            if d.last_seen > latest:
                latest = d.last_seen
            if d.hb_s:
                watched = True
                if offline and d.last_seen and f"device_offline:{uid}" not in self.open:
                    out.append((d.last_seen + k * d.hb_s, "offline"))
        if watched and self.silent_since is None:
            out.append((latest + cfg.devices.silent_min * 60, "silent"))
        if self.started is not None:
            self.clock.day(max(self.day_lo, self.started))
            out.append((self.clock.hi, "day"))
        return out

    def next_deadline(self) -> float | None:
        if self._dl is None:
            dls = self._deadlines()
            self._dl = min((d for d, _ in dls), default=_NEVER)
        return None if self._dl == _NEVER else self._dl

    def advance(self, now: float) -> list[Finding]:
        return self._advance(now, strict=False)

    def _advance(self, now: float, strict: bool) -> list[Finding]:
        out: list[Finding] = []
        if self.started is None and self.day_lo and now >= self.day_lo + DAY_S:
            # nothing seen yet, so no day to close: today is the one being counted (else the
            # first reading, if older than now, would find a past midnight still to handle)
            self.day_lo = self.clock.day(now)
        for _ in range(1000):
            dl = self.next_deadline()
            if dl is None or dl > now or (strict and dl == now):
                break
            due = sorted(x for x in self._deadlines() if x[0] == dl)
            for t, what in due:
                out += self._fire(t, what)
            self._dl = None
        if now > self.last_ts:
            self.last_ts = now
        return out

    def _fire(self, t: float, what: str) -> list[Finding]:
        cfg = self.cfg
        if what == "still":
            e = self.explicit
            if self._explicit_at(t) or (e is not None and e[0] >= (self.pres.last_act or 0)):
                return self._recheck_later(t)
            if cfg.prealarm.minutes and cfg.on("inactivity"):
                self.pre_at = t
                self._dl = None
                return self._open("prealarm", t, "low", self.pres.last_act,
                                  minutes=cfg.prealarm.minutes, **self._still_evidence(t))
            return self._inactivity(t)
        if what == "inactivity":
            self.pre_at = None
            self.open.pop("prealarm", None)
            if self._explicit_at(t):
                return []
            return self._inactivity(t)
        if what == "not_back":
            if self.explicit is not None:
                return self._recheck_later(t)
            p = self.pres
            arr = self.base.away_thr
            left = p.left if p.left is not None else t
            return self._open("not_back", t, "high", left,
                              left_at=self._hm(left), away_min=int((t - left) // 60),
                              usual_max_min=arr[self.clock.slot(t)], learned=self.base.learned)
        if what == "not_back_explicit":
            e = self.explicit
            assert e is not None and e[1] is not None
            return self._open("not_back", t, "high", e[0], reason=e[2],
                              expected_back=self._hm(e[1]),
                              grace_min=cfg.away.explicit_grace_min)
        if what == "door":
            return self._open("door_left_open", t, "medium", self.door_open_since,
                              since_time=self._hm(self.door_open_since),
                              open_min=int((t - (self.door_open_since or t)) // 60))
        if what == "power_flat":
            if self._explicit_at(t) or self.pres.context() == AWAY:
                self.last_power_edge = t   # look again a full period later
                return []
            return self._open("power_flat", t, "medium", self.last_power_edge,
                              hours=cfg.power.flat_hours, last_switch=self._hm(self.last_power_edge))
        if what == "offline":
            return self._offline(t)
        if what == "silent":
            latest = max(d.last_seen for d in self.devs.values())
            self.silent_since = latest
            self._dl = None
            # device_offline findings are superseded by the whole home being silent
            return self._open("home_silent", t, "high", latest, since_time=self._hm(latest),
                              devices=len(self.devs))
        if what == "day":
            return self._day(t)
        return []

    def _recheck_later(self, t: float) -> list[Finding]:
        # explicit away: inactivity is not raised; look again when it ends
        e = self.explicit
        assert e is not None
        again = e[1] if e[1] is not None and e[1] > t and e[0] < (self.pres.last_act or 0) \
            else _NEVER
        self.still_cache = (self.pres.reference() or t, self.pres.context(), 0, again,
                            self.pres.last_room)
        self._dl = None
        return []

    def _still_evidence(self, t: float) -> dict[str, object]:
        p = self.pres
        b = self.base
        slot = self.clock.slot(t)
        ev: dict[str, object] = {
            "last_activity": self._hm(p.last_act), "last_room": p.last_room,
            "last_device": p.last_device, "still_min": int((t - (p.last_act or t)) // 60),
            "threshold_min": b.home_thr[slot], "learned": b.learned, "days_learned": b.days}
        last = self.devs.get(p.last_device)
        if last is not None and last.kind == "door":
            ev["came_home"] = True          # the last sign of life: the door, coming in
        c = self.still_cache
        if c is not None and c[2] and c[0] == p.last_act and c[3] <= t:
            if c[2] > 0:     # the room's own limit was reached first
                ev["threshold_min"] = c[2]
                ev["threshold_room"] = GROUPS[room_group(p.last_room)]
            else:            # in bed at night: waited for the latest usual getting-up time
                ev["threshold_min"] = int((c[3] - c[0]) // 60)
                ev["asleep_until"] = f"{b.sleep_to // 60:02d}:{b.sleep_to % 60:02d}"
        if b.wake_mean >= 0:
            ev["usual_up"] = f"{b.wake_mean // 60:02d}:{b.wake_mean % 60:02d}"
            ev["usual_up_sd_min"] = b.wake_sd
        if self.last_water is not None:
            ev["last_water"] = self._hm(self.last_water)
        return ev

    def _inactivity(self, t: float) -> list[Finding]:
        ev = self._still_evidence(t)
        p = self.pres
        collapse = p.last_room not in ("bedroom",) or (
            self.base.wake_mean >= 0 and
            self.clock.minute(t) > self.base.wake_mean + 3 * self.base.wake_sd + 60)
        return self._open("inactivity", t, "critical" if collapse else "high", p.last_act, **ev)

    def _offline(self, t: float) -> list[Finding]:
        out: list[Finding] = []
        k = self.cfg.devices.missed_heartbeats
        others = 0
        for uid, d in self.devs.items():
            if d.hb_s and d.last_seen and t - d.last_seen < k * d.hb_s:
                others += 1
        for uid, d in self.devs.items():
            if d.hb_s and d.last_seen and d.last_seen + k * d.hb_s <= t:
                out += self._open("device_offline", d.last_seen + k * d.hb_s, "medium",
                                  d.last_seen, uid, last_seen=self._hm(d.last_seen),
                                  missed_heartbeats=k, others_reporting=others)
        return out

    def _day(self, t: float) -> list[Finding]:
        """Local midnight: close the day's count, check decline and silent PIRs."""
        out: list[Finding] = []
        clock = self.clock
        day = clock.day(t - 1)
        if self.away_mark is not None:
            self.day_away += max(0.0, t - max(self.away_mark, self.day_lo))
            self.away_mark = t
        home = 1.0 - self.day_away / DAY_S
        self.day_away = 0.0
        if day > self.last_day:
            # activity per day at home: a day mostly out, or under an explicit away, says
            # nothing about how active the resident is
            if self.day_lo == day and home >= 0.5 and not self._explicit_at(t - 1) and \
                    not self._explicit_at(day):
                self.recent.append(min(65535, round(self.day_count / home)))
                n = self.cfg.decline.days
                if len(self.recent) > n:
                    del self.recent[:len(self.recent) - n]
            if self.day_lo == day and self.day_count and home >= LIVED_AT_HOME and \
                    (not self.life or self.life[-1] < day):
                self.life.append(day)
                if len(self.life) > _LIFE_DAYS:
                    del self.life[0]
            self.last_day = day
        self.day_lo = clock.day(t)
        self.day_count = 0
        out += self._decline(t)
        k = self.cfg.devices.dead_days
        p = self.pres
        for uid, d in self.devs.items():
            if d.kind in _WATCHED_DEAD and d.last_trigger and t - d.last_trigger >= k * DAY_S and \
                    p.last_act is not None and t - p.last_act < DAY_S and p.last_device != uid \
                    and not self._explicit_at(t):
                # the days after the one it last fired on on which the resident moved at home
                after = clock.day(d.last_trigger) + DAY_S / 2
                lived = sum(1 for x in self.life if x > after)
                if lived >= k:
                    out += self._open("sensor_dead", t, "low", d.last_trigger, uid,
                                      last_trigger=clock.hhmm(d.last_trigger),
                                      days=int((t - d.last_trigger) // DAY_S), days_with_life=lived)
        self._dl = None
        return out

    def _decline(self, t: float) -> list[Finding]:
        usual = self.base.daily_acts
        n = self.cfg.decline.days
        if usual < 20 or len(self.recent) < n:
            return []
        mean = sum(self.recent[-n:]) / n
        if mean < self.cfg.decline.fraction * usual:
            return self._open("activity_decline", t, "low", None, days=n,
                              mean_per_day=round(mean), usual_per_day=usual)
        if mean >= 0.8 * usual:
            return self._clear("activity_decline", t, "recovered", mean_per_day=round(mean),
                               usual_per_day=usual)
        return []
