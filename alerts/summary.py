"""A family's daily summary: how the day went, from the home's readings.

`summarise` is pure: (local time, kind, room, value) activations in, a
DaySummary out. `for_day` reads them from raw readings, or from the
15-minute rollups when the raw ones are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

import psycopg

from alerts.messages import KIND, DaySummary, lang_of

MEALS = ((time(6), time(10)), (time(10, 30), time(14)), (time(16, 30), time(20, 30)))
WAKE_FROM = time(5)
OUTING_MIN_S = 20 * 60        # gone at least this long after the door: an outing
ACTIVE = {"motion", "door", "contact", "presence", "water", "power", "button"}


@dataclass(frozen=True)
class Sample:
    at: datetime        # local time
    kind: str           # contract kind label
    room: str
    value: float


def summarise(samples: Iterable[Sample], day: date, *, unusual: tuple[str, ...] = (),
              power_on_w: float = 50) -> DaySummary:
    ordered = sorted(samples, key=lambda s: s.at)
    acts: list[Sample] = []
    water = 0.0
    last_meter: dict[str, float] = {}
    for s in ordered:
        if s.kind == "water":
            prev = last_meter.get(s.room)
            last_meter[s.room] = s.value
            if prev is not None and s.value > prev:
                water += s.value - prev
                acts.append(s)
            continue
        if s.kind == "power":
            if s.value >= power_on_w:
                acts.append(s)
            continue
        if s.kind in ACTIVE and s.value > 0:
            acts.append(s)
    up = next((a.at for a in acts if a.at.time() >= WAKE_FROM), None)
    meals = sum(1 for lo, hi in MEALS
                if any(a.room == "kitchen" and lo <= a.at.time() < hi for a in acts))
    # an outing: the entrance door, then no activity at all for a while
    outings, away = 0, 0.0
    for i, a in enumerate(acts):
        if a.kind != "door":
            continue
        nxt = next((b for b in acts[i + 1:] if b.kind != "door"), None)
        if nxt is not None and (nxt.at - a.at).total_seconds() >= OUTING_MIN_S:
            outings += 1
            away += (nxt.at - a.at).total_seconds()
    hours = {a.at.replace(minute=0, second=0, microsecond=0) for a in acts}
    return DaySummary(day=day.isoformat(), up_at=up, outings=outings,
                      away_minutes=round(away / 60), meals=meals,
                      water_l=round(water, 1) if water else None, active_hours=len(hours),
                      unusual=unusual)


async def for_day(conn: psycopg.AsyncConnection, home_id: int, tz: str, day: date,
                  now: datetime, lang: str) -> DaySummary:
    """The summary of `day` (local) in `home_id` up to `now`."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = min(start + timedelta(days=1), now)
    cur = await conn.execute(
        "SELECT r.ts, k.name, d.room, r.value FROM readings r"
        " JOIN devices d ON d.id = r.device_id JOIN reading_kinds k ON k.code = r.kind"
        " WHERE d.home_id = %s AND r.ts >= %s AND r.ts < %s", (home_id, start, end))
    rows = await cur.fetchall()
    samples = [Sample(ts.astimezone(zone), kind, room, value) for ts, kind, room, value in rows]
    if not samples:   # raw readings expired: 15-minute rollups (activations, meter ranges)
        cur = await conn.execute(
            "SELECT b.bucket, k.name, b.room, b.n_on, b.vmin, b.vmax FROM readings_15m b"
            " JOIN reading_kinds k ON k.code = b.kind"
            " WHERE b.home_id = %s AND b.bucket >= %s AND b.bucket < %s",
            (home_id, start, end))
        for bucket, kind, room, n_on, vmin, vmax in await cur.fetchall():
            at = bucket.astimezone(zone)
            if kind == "water":
                samples += [Sample(at, kind, room, vmin), Sample(at, kind, room, vmax)]
            elif kind == "power":
                samples.append(Sample(at, kind, room, vmax))
            elif n_on:
                samples.append(Sample(at, kind, room, 1))
    lang = lang_of(lang)
    cur = await conn.execute(
        "SELECT kind, opened_at FROM alerts WHERE home_id = %s AND opened_at >= %s"
        " AND opened_at < %s ORDER BY opened_at", (home_id, start, end))
    unusual = [f"{t.astimezone(zone):%H:%M} {KIND[lang].get(k, k.replace('_', ' '))}"
               for k, t in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT kind, room, online, battery_pct FROM devices WHERE home_id = %s AND active"
        " AND (online = false OR battery_pct < 20)", (home_id,))
    for kind, room, online, battery in await cur.fetchall():
        what = (KIND[lang]["device_offline"] if online is False
                else f"{KIND[lang]['battery_low']} {battery:.0f}%")
        unusual.append(f"{kind}/{room}: {what}")
    return summarise(samples, day, unusual=tuple(unusual))
