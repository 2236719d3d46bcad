"""`anju bench detect`: deadline lag and memory of the live detector service at scale.

On a fresh embedded stack in a temporary directory: N homes (three sensors
each) are provisioned in bulk, the detector service starts and rebuilds all
of them from the database, then every home gets one motion reading, all
committed at once, timed so that its inactivity deadline falls due during a
window of `--seconds` seconds that opens `LEAD_S` later. The service runs in
this process; the figures are how late each deadline was handled
(deadline_lag_*), how long the service took to read and observe the burst of
N readings (burst_read_s: a backlog, as after an ingest outage, delays every
deadline behind it; the window opens after it so that the lag measures the
scheduler), the process's peak RSS, and the start-up time.

With `--midnight` the window also holds the homes' local midnight, each home's day
closed at its own point of the service's spread (`--spread`, the service's 600 s by
default): every home is given the routine memory (35 days of features and their scores,
and the day under way) of one of `--sample` simulated homes of the four personas that
lived five weeks as the service runs them, and the service runs on a clock set so that
its midnight falls in the window. Then the figures are also how late each day was closed (midnight_lag_*), next to
the stillness deadlines' lag while the days are closed, and the memory of homes with a
learned routine.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import io
import random
import resource
import sys
import time

import psycopg

from detectors.config import merge
from detectors.events import DeviceInfo, Event, HomeInfo
from detectors.monitor import HomeMonitor
from detectors.service import MIDNIGHT_SPREAD_S, DetectorService, midnight_late
from devtools.stacks import percentile, report, temporary_stack

DEVICES = (("motion", "bedroom"), ("motion", "kitchen"), ("door", "entrance"))
LEAD_S = 40   # from the burst of readings to the window in which their deadlines fall due
DAY = 86400
PAD_S = 30    # --midnight: the window's part before the midnight, and after the last close


def _lead(homes: int) -> float:
    # the burst of 100,000 readings is read in about 5 s; a few hundred homes need no wait
    return min(LEAD_S, 2 + homes / 2500)


def _pad(homes: int) -> float:
    return min(PAD_S, 2 + homes / 3500)


def _routines(sample: int) -> tuple[list[object], float]:
    """The routine memories of `sample` simulated homes that lived five weeks as the
    service runs them, up to a minute before a midnight, and that midnight."""
    from devtools.bench_midnight import PERSONAS, before_midnight
    from simulators.generate import FleetSpec

    # 35 days kept, as a home has after five weeks
    spec = FleetSpec(homes=sample, days=36, seed=0, personas=PERSONAS)
    start, end = spec.span()
    return [before_midnight(h, start, end)[0].state.routine for h in spec.make_homes()], \
        float(end)


def _provision(url: str, n: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO communities (code, name) VALUES ('bench', 'bench')")
        conn.execute(
            "INSERT INTO homes (code, community_id, resident_name, tz)"
            " SELECT 'b' || i, (SELECT id FROM communities WHERE code = 'bench'), 'r',"
            " 'Asia/Shanghai' FROM generate_series(1, %s) i", (n,))
        for j, (kind, room) in enumerate(DEVICES):
            conn.execute(
                "INSERT INTO devices (uid, home_id, kind, room)"
                " SELECT code || '-' || %s, id, %s, %s FROM homes", (j, kind, room))
        conn.commit()


def _start_times(n: int, window_start: float, seconds: float, rnd: random.Random) -> list[float]:
    """For each home, when its one reading must be, so its deadline falls in the window.

    Every bench home has the same sensors and no history, so one probe
    monitor (the same code the service runs) answers for all of them.
    """
    info = HomeInfo("probe", "Asia/Shanghai", tuple(DeviceInfo(f"p-{j}", k, r)
                                                    for j, (k, r) in enumerate(DEVICES)))
    cache: dict[int, float] = {}

    def delay(t0: float) -> float:
        key = int(t0 // 60)
        if key not in cache:
            m = HomeMonitor(info, merge({}, {}))
            m.learn([], t0)
            m.observe(Event(key * 60.0, "p-0", "motion", 1.0, "bedroom"))
            # the stillness deadline itself, not the day's book-keeping at midnight
            still = [d for d, what in m.deadlines() if what == "still"]
            if not still:
                raise SystemExit("the detectors set no stillness deadline after motion")
            cache[key] = still[0] - key * 60.0
        return cache[key]

    out = []
    for _ in range(n):
        target = window_start + rnd.uniform(0, seconds)
        t0 = target - delay(target)
        for _ in range(3):
            t0 += target - (t0 + delay(t0))
        out.append(t0)
    return out


def run_bench(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    if args.spread is None:
        args.spread = MIDNIGHT_SPREAD_S
    with temporary_stack("detect") as stack:
        url = stack.database_url()
        t = time.perf_counter()
        _provision(url, args.homes)
        say(f"{args.homes} homes provisioned in {time.perf_counter() - t:.1f} s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        shift = [0.0]
        routines: list[object] = []
        midnight = 0.0
        if args.midnight:
            t = time.perf_counter()
            routines, midnight = _routines(args.sample)
            say(f"{len(routines)} simulated homes' routines learned in "
                f"{time.perf_counter() - t:.1f} s")
            # the service starts an hour before the midnight, by its clock
            shift[0] = midnight - 3600 - time.time()
        service = DetectorService(url, record_lags=True, refresh_s=30,
                                  clock=lambda: time.time() + shift[0],
                                  midnight_spread_s=args.spread)
        result = asyncio.run(_drive(service, url, args, say, shift, routines, midnight))
        result["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        result["rss_before_service_mb"] = round(rss_before)
        report(result, args.json)
        return 0 if result["deadlines_missed"] == 0 else 1


async def _drive(service, url: str, args: argparse.Namespace, say, shift: list[float],  # type: ignore[no-untyped-def]
                 routines: list[object], midnight: float) -> dict[str, object]:
    stop = asyncio.Event()
    t_start = time.perf_counter()
    task = asyncio.create_task(service.run(stop))
    while not service.homes or len(service.homes) < args.homes or not service.ready.is_set():
        if task.done():
            task.result()
        await asyncio.sleep(0.2)
    # the rebuild has finished once the loop has committed its first pass
    while service._changed is None:
        await asyncio.sleep(0.1)
    startup = time.perf_counter() - t_start
    say(f"service watching {len(service.homes)} homes after {startup:.1f} s")
    rnd = random.Random(7)
    lead = _lead(args.homes)
    seconds = args.seconds
    if routines:
        for i, home in enumerate(service.homes.values()):
            r = routines[i % len(routines)]
            # what the service's homes share (the kit's capabilities), shared here too
            home.monitor.state.routine = copy.deepcopy(r, {id(r.has): r.has})
        # the clock moves on to just before the midnight (nothing is due in between: the
        # homes have heard nothing yet), and the window holds every home's day's close
        pad = _pad(args.homes)
        shift[0] += midnight - pad - lead - service.clock()
        seconds = max(seconds, int(2 * pad + args.spread))
        say(f"each home given a learned routine; the window of {seconds} s holds the "
            f"midnight {pad:.0f} s after it opens")
    window_start = service.clock() + lead
    starts = _start_times(args.homes, window_start, seconds, rnd)
    service.stats.deadline_lags.clear()

    def feed() -> None:
        buf = io.StringIO()
        with psycopg.connect(url) as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT d.id FROM devices d JOIN homes h ON h.id = d.home_id"
                " WHERE d.uid LIKE '%%-0' ORDER BY h.id")]
            for did, t0 in zip(ids, starts):
                buf.write(f"{int(t0 * 1e6)}\t0\t1\t{did}\t1\n")
            with conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE s (ts_us bigint, seq bigint, value float8,"
                            " device_id int, kind smallint)")
                with cur.copy("COPY s FROM STDIN") as copy:
                    copy.write(buf.getvalue())
                cur.execute("INSERT INTO readings (ts, seq, value, device_id, kind)"
                            " SELECT timestamptz 'epoch' + ts_us * interval '1 microsecond',"
                            " seq, value, device_id, kind FROM s")
                for i in range(0, len(ids), 800):
                    cur.execute("SELECT pg_notify('anju_readings', %s)",
                                (",".join(map(str, ids[i:i + 800])),))
            conn.commit()

    events0 = service.stats.events
    await asyncio.to_thread(feed)
    fed = time.time()
    while service.stats.events - events0 < args.homes and service.clock() < window_start:
        await asyncio.sleep(0.05)
    burst = time.time() - fed
    say(f"one reading per home stored and read in {burst:.1f} s; deadlines fall due over "
        f"{seconds} s")
    if service.stats.events - events0 < args.homes:
        say("the burst was not read before the window opened: the lags include it")
    end = window_start + seconds + min(15, _pad(args.homes))
    while service.clock() < end:
        await asyncio.sleep(1)

    def behind() -> bool:
        nxt = service.deadlines.next()
        return nxt is not None and nxt <= window_start + seconds

    # a loaded machine may still be working through the window's last deadlines: they are
    # late, not missed (a minute more at most)
    while service.clock() < end + 60 and behind():
        await asyncio.sleep(0.2)
    stop.set()
    service.wake.set()
    await asyncio.wait_for(task, 60)
    # a home's day's close is its midnight at its own point of the spread; the rest are the
    # stillness deadlines
    closes = {hid: midnight + midnight_late(hid, args.spread) for hid in service.homes} \
        if routines else {}
    lags, day_lags = [], []
    for hid, at, lag in service.stats.deadline_lags:
        (day_lags if closes and abs(at - closes[hid]) < 1e-3 else lags).append(lag)
    fired = len(lags)
    out: dict[str, object] = {}
    if routines:
        out = {"midnights": len(day_lags),
               "midnight_lag_p50_s": round(percentile(day_lags, 50), 3),
               "midnight_lag_p99_s": round(percentile(day_lags, 99), 3),
               "midnight_lag_max_s": round(max(day_lags), 3) if day_lags else None,
               "spread_s": args.spread,
               # the day closed, at its own point or first by a stillness deadline past it
               "days_closed": sum(h.monitor.state.routine.days.score_of(midnight - DAY)
                                  is not None for h in service.homes.values())}
    return out | {
        "homes": args.homes,
        "deadlines": fired,
        "deadlines_missed": max(0, args.homes - fired),
        "deadline_lag_p50_s": round(percentile(lags, 50), 3),
        "deadline_lag_p99_s": round(percentile(lags, 99), 3),
        "deadline_lag_max_s": round(max(lags), 3) if lags else None,
        "alerts_opened": service.stats.alerts_opened,
        "burst_read_s": round(burst, 1),
        "burst_readings_per_s": round(args.homes / burst) if burst > 0 else None,
        "startup_s": round(startup, 1),
    }
