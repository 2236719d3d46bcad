"""The demo's scripted homes: three residents whose incidents come in the demo's first minutes.

Each home is a simulated resident (simulators/: a persona's day, the sensors of
a "standard" installation, an incident from simulators/incidents.py), published
by simulators.fleet as its devices would: status at connect, heartbeats every
15 minutes, readings on change, meters every minute, all over MQTT with each
device's own credentials.

The detectors' limits are long on purpose (an hour of stillness at the least), so
the demo starts each home's story a few hours back: the devices' past readings
(backlog) are published at once when the demo starts, with their real past
timestamps, and the rest in real time. What makes the incidents come quickly:

- inactivity: 王秀英 stopped moving `still_from` before the start (a collapse:
  no sign of life, meters at standby); her home's `inactivity.default_min` is
  60 minutes (the shortest allowed; the default is 12 h before 7 days of
  history), so the alert comes about a minute or three into the demo;
- water_running: 李德华 left a tap running from `tap_from`; his home's
  `water.running_min` is 5 minutes (default 30);
- night_wandering: 张桂兰's entrance door opens at night `door_at` after the
  start. "Night" is the home's own night (doors.night_from..night_to, 23:00 to
  05:00, unchanged): her home is in Asia/Shanghai when the demo runs at night
  there, else in a time zone where it is night now (`night_zone`). The
  banner says which.

`Schedule` holds those times (seconds from the start), so a test runs them
compressed.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from anju import registry
from simulators import fleet, incidents
from simulators.generate import home_events
from simulators.homes import HomeProfile, make_home

DEFAULT_TZ = "Asia/Shanghai"
# Zones tried for the night home, Asia/Shanghai first; between them every hour
# of the day is night (00:00..04:00) in one of them.
NIGHT_ZONES = ("Asia/Shanghai", "Europe/London", "Atlantic/Azores", "America/Sao_Paulo",
               "America/Halifax", "America/New_York", "America/Chicago", "America/Denver",
               "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
               "Pacific/Pago_Pago", "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo",
               "Asia/Bangkok", "Asia/Dhaka", "Asia/Karachi", "Asia/Dubai", "Europe/Moscow",
               "Europe/Athens", "Europe/Paris", "Atlantic/South_Georgia", "Pacific/Kiritimati")


@dataclass(frozen=True)
class Schedule:
    """When the scripted incidents happen, in seconds from the demo's start."""
    still_from: int = -57 * 60     # the resident's last movement (inactivity at 60 min)
    tap_from: int = -2 * 60        # the tap is opened (water_running after 5 min)
    door_at: int = 150             # the entrance door opens at night
    # How far back the homes' published readings begin: a little before the stillness,
    # no more (an hour's limit would find the resident's ordinary still hours in a
    # longer past, an armchair no sensor sees).
    backlog_s: int = 75 * 60
    help_after_s: int = 20 * 60    # help arrives this long after the inactivity alert
    tap_for_s: int = 15 * 60
    out_for_s: int = 20 * 60       # the night walk


# How long the detectors wait, as set on the homes below.
STILL_LIMIT_S = 60 * 60
TAP_LIMIT_S = 5 * 60
DOOR_LEAD_S = 120


@dataclass(frozen=True)
class ScriptedHome:
    code: str
    community: str
    resident: str
    building: str
    persona: str
    incident: str                      # simulators.incidents kind
    alert: str                         # the alert kind it should raise
    settings: tuple[str, ...] = ()     # `anju detector set --home CODE` arguments
    # and the defaults put back once the incident is over, so the rest of the day's
    # ordinary stillness (a nap, the night) or a shower is not an alert
    restore: tuple[str, ...] = ()
    # who is called from the alert's page (made-up numbers): the resident, and the family
    # member told first, who may hold a key
    phone: str = ""
    family: str = ""
    family_phone: str = ""
    family_has_key: bool = False


HOMES = (
    ScriptedHome("demo-101", "南岸区·南坪街道", "王秀英", "1栋", "early_riser", "collapse",
                 "inactivity", (f"inactivity.default_min={STILL_LIMIT_S // 60}",),
                 ("inactivity.default_min=720",), "023-6288-0101", "王小明（儿子）",
                 "139-0000-0101", True),
    ScriptedHome("demo-102", "南岸区·南坪街道", "李德华", "1栋", "frail", "water_running",
                 "water_running", (f"water.running_min={TAP_LIMIT_S // 60}",),
                 ("water.running_min=30",), "023-6288-0102", "李芳（女儿）", "139-0000-0102"),
    ScriptedHome("demo-201", "渝中区·解放碑街道", "张桂兰", "3栋", "early_riser",
                 "night_wandering", "night_wandering", phone="023-6377-0201",
                 family="刘洋（外孙）", family_phone="139-0000-0201"),
)


def night_zone(at: float) -> str:
    """A zone where `at` is between 00:00 and 04:00: well inside the detectors' default
    night (23:00..05:00) with an hour to spare either side."""
    for name in NIGHT_ZONES:
        if datetime.fromtimestamp(at, ZoneInfo(name)).hour < 4:
            return name
    raise AssertionError("NIGHT_ZONES leaves an hour of the day uncovered")


@dataclass
class Plan:
    """The scripted homes of one demo run: profiles, incidents, the time span."""
    start: int                         # the demo's start (epoch seconds)
    first: int                         # the first published reading's time
    end: int
    profiles: dict[str, HomeProfile]
    incidents: dict[str, list[incidents.Incident]]

    def tz(self, code: str) -> str:
        return self.profiles[code].tz


def last_move(profile: HomeProfile, inc: incidents.Incident, first: int, end: int) -> int | None:
    """The resident's last sign of life (motion, a cupboard or the fridge) before the
    incident, when the entrance door was quiet for the 20 minutes before it (not just
    out); else None. The same span and incident as published: they decide the day."""
    t = inc.start
    last = None
    for chunk in home_events(profile, first, end, [replace(inc)]):
        for ts, _, kind, value in chunk:
            if ts >= t:
                return last
            if kind == "door" and ts > t - 20 * 60:
                return None
            if kind in ("motion", "contact") and value == "1":
                last = ts
    return last


def _incident(h: ScriptedHome, profile: HomeProfile, s: Schedule, start: int,
              first: int, end: int) -> incidents.Incident:
    rng = random.Random(0)
    if h.incident == "collapse":
        return incidents.make("collapse", profile, rng, start + s.still_from, first, end,
                              duration=STILL_LIMIT_S + s.help_after_s,
                              room="living_room")
    if h.incident == "water_running":
        return incidents.make("water_running", profile, rng, start + s.tap_from, first, end,
                              duration=s.tap_for_s, litres_per_min=6.0)
    # the simulated walk gets up DOOR_LEAD_S before the door opens (simulators/incidents.py)
    return incidents.make(h.incident, profile, rng, start + s.door_at - DOOR_LEAD_S, first, end,
                          duration=s.out_for_s)


def plan(start: int, schedule: Schedule = Schedule(), *, days: float = 1.0) -> Plan:
    """Profiles and incidents for a demo starting at `start`.

    A resident's day is random: the seed of each home is the first (of 50) whose
    day has the resident up and at home before the incident, so the collapse is
    an inactivity at home (not an outing) and the door at night is somebody going
    out of a home they slept in.
    """
    first = start - schedule.backlog_s
    end = int(start + days * 86400)
    profiles: dict[str, HomeProfile] = {}
    incs: dict[str, list[incidents.Incident]] = {}
    for h in HOMES:
        tz = night_zone(start + schedule.door_at) if h.alert == "night_wandering" else DEFAULT_TZ
        chosen = None
        best = -1
        for seed in range(50):
            p = make_home(random.Random(f"demo:{h.code}:{seed}"), h.code, tz=tz,
                          persona=h.persona, profile="standard")
            inc = _incident(h, p, schedule, start, first, end)
            if h.incident != "collapse":
                chosen = (p, inc)
                break
            # the seed whose resident moved last closest before the stillness begins
            moved = last_move(p, inc, first, end)
            if moved is not None and moved > best:
                chosen, best = (p, inc), moved
                if moved > inc.start - 180:
                    break
            chosen = chosen or (p, inc)
        assert chosen
        profiles[h.code], inc = chosen
        incs[h.code] = [inc]
    return Plan(start, first, end, profiles, incs)


def restore_at(p: Plan, code: str) -> float:
    """When a home's incident is over (a minute after its end): its defaults go back then."""
    return p.incidents[code][0].end + 60.0


def provision(conn: psycopg.Connection, p: Plan, credentials: Path) -> list[fleet.ProvisionedHome]:
    """Register the scripted homes and their devices, or reuse them (passwords are in
    `credentials`, mode 0600). A home's time zone follows the plan (the night home's
    moves with the hour); devices of an older demo that the plan has not are retired,
    so no silent device makes the home "offline". The caller syncs the broker."""
    known = fleet.load_credentials(credentials)
    out = []
    for h in HOMES:
        profile = p.profiles[h.code]
        row = conn.execute("SELECT id FROM homes WHERE code = %s", (h.code,)).fetchone()
        if row is None:
            registry.add_home(conn, code=h.code, community=h.community, resident=h.resident,
                              building=h.building, address=f"{h.community} {h.building}",
                              tz=profile.tz, phone=h.phone or None)
        else:
            conn.execute("UPDATE homes SET tz = %s WHERE id = %s", (profile.tz, row[0]))
            registry.set_home_phone(conn, h.code, h.phone or None)
        passwords = dict(known[h.code].passwords) if h.code in known else {}
        uids = [d.uid for d in profile.devices]
        conn.execute("UPDATE devices SET active = false, updated_at = now() WHERE active"
                     " AND home_id = (SELECT id FROM homes WHERE code = %s)"
                     " AND NOT uid = ANY(%s)", (h.code, uids))
        for d in profile.devices:
            if d.uid in passwords:
                continue
            new = registry.add_device(conn, home=h.code, kind=d.kind, room=d.room, uid=d.uid,
                                      vendor="anju-demo", model=d.kind, heartbeat_s=900)
            passwords[d.uid] = new.password or ""
        known[h.code] = fleet.ProvisionedHome(profile, None, passwords)
        out.append(known[h.code])
    conn.commit()
    fleet.save_credentials(credentials, known)
    return out


def last_readings(conn: psycopg.Connection) -> dict[str, float]:
    """Each scripted home's newest stored reading (epoch seconds), from an earlier run."""
    rows = conn.execute(
        "SELECT h.code, extract(epoch FROM max(d.last_reading_at)) FROM homes h"
        " JOIN devices d ON d.home_id = h.id WHERE h.code = ANY(%s) GROUP BY h.code",
        ([h.code for h in HOMES],)).fetchall()
    return {code: float(t) for code, t in rows if t is not None}


def streams(homes: list[fleet.ProvisionedHome], p: Plan,
            after: dict[str, float] | None = None) -> list[fleet.Stream]:
    """The homes' events from the plan's first reading (or after what an earlier run
    published, so no reading is published twice with different values)."""
    after = after or {}
    out = []
    for h in homes:
        code = h.profile.code
        cut = after.get(code, 0.0)
        chunks = home_events(h.profile, p.first, p.end, p.incidents[code])
        kept = ([e for e in c if e[0] > cut] for c in chunks) if cut > p.first else chunks
        out.append(fleet.Stream(code, list(h.profile.devices), None, h.passwords, kept))
    return out


def replan_after(p: Plan, after: dict[str, float]) -> bool:
    """True when an earlier run published readings past the backlog's start: its
    readings then stand and the incidents come later than scheduled."""
    return any(t > p.first for t in after.values())


async def publish(endpoint, homes: list[fleet.ProvisionedHome], p: Plan, stop,
                  after: dict[str, float] | None = None) -> fleet.Stats:
    """The backlog at once (timestamps in the past), then real time until `stop`."""
    # t_first is the real now: what is older is due at once, the rest as its time comes
    return await fleet.publish_streams(endpoint, streams(homes, p, after), t_first=time.time(),
                                       speed=1.0, end=p.end, stop=stop, announce=True)


def story(p: Plan, lang_zone: str = DEFAULT_TZ) -> list[str]:
    """What happens when, for the banner (times in each home's zone)."""
    lines = []
    for h in HOMES:
        inc = p.incidents[h.code][0]
        z = ZoneInfo(p.tz(h.code))
        at = datetime.fromtimestamp(inc.start, z)
        if h.alert == "inactivity":
            moved = last_move(p.profiles[h.code], inc, p.first, p.end) or inc.start
            at = datetime.fromtimestamp(moved, z)
            due = datetime.fromtimestamp(moved + STILL_LIMIT_S, z)
            what = (f"{h.resident} last moved at {at:%H:%M} and lies still; "
                    f"inactivity.default_min=60 for this home: alert at about {due:%H:%M}")
        elif h.alert == "water_running":
            due = datetime.fromtimestamp(inc.start + TAP_LIMIT_S, z)
            what = (f"{h.resident} left a tap running at {at:%H:%M}; water.running_min=5 "
                    f"for this home: alert at about {due:%H:%M}")
        else:
            at = datetime.fromtimestamp(inc.start + DOOR_LEAD_S, z)
            where = ("" if p.tz(h.code) == lang_zone else
                     f" (this home is placed in {p.tz(h.code)}, where it is night now, so a "
                     "door at night can be shown at any hour)")
            what = (f"{h.resident} opens the entrance door at {at:%H:%M} local time, "
                    f"at night{where}")
        lines.append(f"{h.code} {what}")
    return lines
