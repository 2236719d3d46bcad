"""Generation: a home's events over a span, and a fleet written to files fast.

`home_events()` yields the home's events plan by plan (each chunk sorted,
chunks consecutive), so a publisher can stream thousands of homes without
holding their weeks in memory. `write_fleet()` writes `events.csv`,
`incidents.jsonl` and `homes.json` using every core, byte-identical for the
same arguments whatever the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from simulators import incidents as inc_mod
from simulators import personas
from simulators.homes import HomeProfile, make_fleet
from simulators.progress import Progress
from simulators.resident import plan_day
from simulators.sensors import HomeRenderer

CSV_HEADER = "ts,home,device,kind,value,room\n"


def local_midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def home_events(home: HomeProfile, start: int, end: int,
                incidents: list[inc_mod.Incident] = ()) -> Iterator[list[tuple]]:
    """Events of `home` in [start, end) as sorted chunks of (ts, device index, kind, value).

    Incidents are applied as the plans are made; their start/end may be moved
    to a sensible moment (see incidents.py): read their ground truth after
    the iterator is exhausted.
    """
    rng = random.Random(home.seed)
    tz = ZoneInfo(home.tz)
    persona = personas.get(home.persona)
    renderer = HomeRenderer(home, start, end, rng)
    heater = bool(home.seed & 1)
    incs = sorted(incidents, key=lambda i: i.start)
    day = datetime.fromtimestamp(start, tz).date()
    w0 = start
    while w0 < end:
        day0 = local_midnight(day, tz)
        p = inc_mod.persona_for_day(persona, incs, day0)
        plan = plan_day(rng, p, day0, w0, day.weekday(), heater)
        for i in incs:
            if i.kind in inc_mod.ROUTINE or i.kind in ("device_offline", "home_silent"):
                continue
            if i.start < plan.w1 and (i.end >= plan.w0 or not i._placed):
                inc_mod.apply(i, plan, rng, renderer, end)
        ev = renderer.render(plan)
        ev = inc_mod.filter_silent(ev, inc_mod.silenced(incs, home))
        yield ev
        w0 = plan.w1
        day += timedelta(days=1)


@dataclass
class FleetSpec:
    homes: int
    days: int
    seed: int
    start: str = "2024-03-04"          # a Monday
    tz: str = "Asia/Shanghai"
    prefix: str = "sim"
    incidents_per_home_week: float = 0.0
    personas: tuple[str, ...] = ()
    incident_kinds: tuple[str, ...] = ()
    inject: tuple[str, ...] = ()      # "kind[@ISO][:home]" specs

    def span(self) -> tuple[int, int]:
        d = date.fromisoformat(self.start)
        z = ZoneInfo(self.tz)
        return local_midnight(d, z), local_midnight(d + timedelta(days=self.days), z)

    def make_homes(self) -> list[HomeProfile]:
        return make_fleet(self.homes, self.seed, prefix=self.prefix, tz=self.tz,
                          persona_names=list(self.personas) or None)


def parse_inject(spec: str, default_home: str) -> tuple[str, str, int | None, int | None]:
    """KIND[@ISO-TIME][~DURATION][/HOME], e.g. collapse@2024-03-05T14:00+08:00~3h/sim-00002.

    Without a time the incident gets a random one; without a home, the first home.
    """
    home = default_home
    rest = spec
    if "/" in rest:
        rest, home = rest.split("/", 1)
    duration = None
    if "~" in rest:
        rest, d = rest.split("~", 1)
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(d[-1:])
        try:
            duration = int(float(d[:-1]) * unit) if unit else int(d)
        except ValueError:
            raise ValueError(f"--inject {spec!r}: duration {d!r}: expected e.g. 90m, 3h, 2d") from None
    kind, _, when = rest.partition("@")
    if kind not in inc_mod.KINDS:
        raise ValueError(f"--inject {spec!r}: unknown kind {kind!r}; expected one of "
                         f"{', '.join(inc_mod.KINDS)}")
    start = None
    if when:
        try:
            dt = datetime.fromisoformat(when)
        except ValueError:
            raise ValueError(f"--inject {spec!r}: {when!r} is not an ISO 8601 time "
                             "(e.g. 2024-03-05T14:00+08:00)") from None
        if dt.tzinfo is None:
            raise ValueError(f"--inject {spec!r}: the time needs an offset, e.g. +08:00")
        start = int(dt.timestamp())
    return kind, home, start, duration


def fleet_incidents(spec: FleetSpec, homes: list[HomeProfile]) -> dict[str, list[inc_mod.Incident]]:
    start, end = spec.span()
    out: dict[str, list[inc_mod.Incident]] = {h.code: [] for h in homes}
    by_code = {h.code: h for h in homes}
    for h in homes:
        rng = random.Random(f"incidents:{spec.seed}:{h.code}")
        if spec.incidents_per_home_week > 0:
            out[h.code] = inc_mod.random_for_home(h, rng, start, end, spec.incidents_per_home_week,
                                                  list(spec.incident_kinds) or None)
    for n, s in enumerate(spec.inject):
        kind, code, t, duration = parse_inject(s, homes[0].code if homes else "")
        if code not in by_code:
            raise ValueError(f"--inject {s!r}: no home {code!r} in this fleet")
        rng = random.Random(f"inject:{spec.seed}:{n}")
        out[code].append(inc_mod.make(kind, by_code[code], rng, t, start, end, duration))
    return out


def _fmt_cache(tz: str, start: int, end: int):
    """Per-minute 'YYYY-MM-DDTHH:MM:' prefixes and offset suffixes for fast ISO formatting."""
    z = ZoneInfo(tz)
    prefixes, suffixes = [], []
    t = start - start % 60
    while t < end + 86400:
        dt = datetime.fromtimestamp(t, z)
        s = dt.isoformat()            # 2024-03-04T00:00:00+08:00
        prefixes.append(s[:17])
        suffixes.append(s[19:])
        t += 60
    return start - start % 60, prefixes, suffixes


_SECS = [f"{i:02d}" for i in range(60)]


def home_csv(home: HomeProfile, start: int, end: int, incs: list[inc_mod.Incident],
             cache=None) -> tuple[str, int]:
    """One home's CSV rows (no header) and the row count."""
    base, prefixes, suffixes = cache or _fmt_cache(home.tz, start, end)
    code = home.code
    labels = [f",{code},{d.uid}," for d in home.devices]
    rooms = [f",{d.room}\n" for d in home.devices]
    parts = []
    n = 0
    secs = _SECS
    for chunk in home_events(home, start, end, incs):
        n += len(chunk)
        parts.append("".join([
            prefixes[m] + secs[s] + suffixes[m] + labels[dev] + kind + "," + value + rooms[dev]
            for t, dev, kind, value in chunk
            for m, s in (divmod(t - base, 60),)]))
    return "".join(parts), n


def _work(args) -> tuple[bytes, bytes, int]:
    spec, homes, incs = args
    start, end = spec.span()
    key = (homes[0].tz, start, end) if homes else None
    cache = _CACHE.get(key) if homes else None
    if homes and cache is None:
        _CACHE.clear()
        cache = _CACHE[key] = _fmt_cache(homes[0].tz, start, end)
    out, gt, rows = [], [], 0
    for h in homes:
        text, n = home_csv(h, start, end, incs.get(h.code, []), cache if h.tz == homes[0].tz else None)
        out.append(text)
        rows += n
        for i in sorted(incs.get(h.code, []), key=lambda i: (i.start, i.kind)):
            gt.append(json.dumps(i.ground_truth(h.tz), ensure_ascii=False, sort_keys=True) + "\n")
    return "".join(out).encode(), "".join(gt).encode(), rows


_CACHE: dict = {}


def write_fleet(spec: FleetSpec, out_dir: Path, *, workers: int | None = None,
                progress: bool = True) -> dict:
    """Write DIR/events.csv, DIR/incidents.jsonl and DIR/homes.json; returns stats."""
    out_dir.mkdir(parents=True, exist_ok=True)
    homes = spec.make_homes()
    incs = fleet_incidents(spec, homes)
    start, end = spec.span()
    meta = {
        "format": "anju-sim/1", "seed": spec.seed, "start": datetime.fromtimestamp(
            start, ZoneInfo(spec.tz)).isoformat(),
        "end": datetime.fromtimestamp(end, ZoneInfo(spec.tz)).isoformat(), "days": spec.days,
        "incidents_per_home_week": spec.incidents_per_home_week,
        "homes": [h.to_json() for h in homes]}
    (out_dir / "homes.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    chunk = 8
    jobs = [(spec, homes[i:i + chunk], {h.code: incs[h.code] for h in homes[i:i + chunk]})
            for i in range(0, len(homes), chunk)]
    workers = workers or min(os.cpu_count() or 1, max(1, len(jobs)))
    bar = Progress(len(homes) * spec.days / 7, unit="home-weeks", enabled=progress)
    t0 = time.perf_counter()
    rows = 0
    with open(out_dir / "events.csv", "wb") as f, open(out_dir / "incidents.jsonl", "wb") as g:
        f.write(CSV_HEADER.encode())
        if workers <= 1:
            results = map(_work, jobs)
            pool = None
        else:
            pool = mp.get_context("fork").Pool(workers)
            results = pool.imap(_work, jobs)
        try:
            for (text, gt, n), job in zip(results, jobs):
                f.write(text)
                g.write(gt)
                rows += n
                bar.advance(len(job[1]) * spec.days / 7)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    bar.close()
    elapsed = time.perf_counter() - t0
    return {"homes": len(homes), "days": spec.days, "rows": rows, "seconds": elapsed,
            "home_weeks_per_s": len(homes) * spec.days / 7 / elapsed if elapsed else 0.0,
            "incidents": sum(len(v) for v in incs.values())}
