"""The evaluation's sources: simulated homes with their ground truth, and recorded logs.

The scoring itself (drive, the truths, the report) is detectors.evaluate; this
module feeds it from the simulators and from files.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from typing import Sequence

from detectors.config import DetectorConfig
from detectors.evaluate import DAY, LEARN_DAYS, HomeRun, Report, Truth, drive, score
from detectors.events import DeviceInfo, Event, HomeInfo
from simulators import formats
from simulators import incidents as inc_mod
from simulators.generate import FleetSpec, home_events
from simulators.homes import HomeProfile


# -- simulated homes -----------------------------------------------------------------------------

def simulated(home: HomeProfile, start: int, end: int, incs: Sequence[inc_mod.Incident] = ()
              ) -> tuple[HomeInfo, list[Event]]:
    """A simulated home as the detectors see it, and its events from start to end."""
    evs: list[Event] = []
    devs = home.devices
    uid = [d.uid for d in devs]
    room = [d.room for d in devs]
    for chunk in home_events(home, start, end, list(incs)):
        evs.extend(Event(float(t), uid[i], k, float(v), room[i]) for t, i, k, v in chunk)
    info = HomeInfo(home.code, home.tz, tuple(DeviceInfo(d.uid, d.kind, d.room) for d in devs))
    return info, evs


def _sim_home(job: tuple) -> HomeRun:
    home, start, end, eval_start, incs, cfg = job
    info, evs = simulated(home, start, end, incs)
    ts = [e.ts for e in evs]
    findings = drive(info, evs, ts, eval_start, end, cfg)
    truths = [Truth(i.kind, float(i.start), float(i.end), i.details.get("uid")) for i in incs]
    run = HomeRun(home.code, home.persona, (end - eval_start) / DAY, events=len(evs))
    score(findings, truths, eval_start, run, end)
    return run


def draw_incidents(home: HomeProfile, seed: int, eval_start: float, end: float,
                   per_week: float, kinds: Sequence[str]) -> list[inc_mod.Incident]:
    """The home's incidents in the evaluated span: the same for a seed whichever way the
    homes are then run (in process, or live through the servers)."""
    if per_week <= 0:
        return []
    rng = random.Random(f"eval:{seed}:{home.code}")
    return inc_mod.random_for_home(home, rng, eval_start, end, per_week, list(kinds) or None)


def evaluate_simulated(homes: int = 8, days: int = 28, seed: int = 0,
                       cfg: DetectorConfig | None = None, *, personas: Sequence[str] = (),
                       per_week: float = 1.0, kinds: Sequence[str] = (),
                       workers: int = 1) -> Report:
    cfg = cfg or DetectorConfig()
    t0 = time.perf_counter()
    spec = FleetSpec(homes=homes, days=days, seed=seed, personas=tuple(personas))
    start, end = spec.span()
    eval_start = start + LEARN_DAYS * DAY
    jobs = [(h, start, end, eval_start, draw_incidents(h, seed, eval_start, end, per_week, kinds),
             cfg) for h in spec.make_homes()]
    runs = _map(_sim_home, jobs, workers)
    return Report(f"simulated {homes} homes x {days} days, seed {seed}", runs,
                  time.perf_counter() - t0, cfg.sensitivity)


def _map(fn, jobs: list, workers: int) -> list:  # type: ignore[no-untyped-def]
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    with mp.get_context("fork").Pool(min(workers, len(jobs))) as pool:
        return pool.map(fn, jobs)


# -- recorded logs -------------------------------------------------------------------------------

def load_log(path: str, fmt: str = "generic", *, map_path: str | None = None,
             names: str | None = None, tz: str | None = None) -> tuple[HomeInfo, list[Event]]:
    mapping = formats.read_map(map_path) if map_path else None
    zone = tz or (mapping.tz if mapping else None)
    if fmt == "kasteren" and zone is None:
        zone = "Europe/Amsterdam"
    raw = formats.read_log(path, fmt, tz=zone, names=names)
    mapped, _ = formats.apply_map(raw, mapping, skip_unmapped=mapping is not None, source=path)
    evs = [Event(e.ts.timestamp(), e.device, e.kind or "", e.value, e.room or "other")
           for e in mapped]
    evs.sort(key=lambda e: e.ts)
    kinds: dict[str, tuple[str, str]] = {}
    for e in evs:
        kinds.setdefault(e.device, (e.kind, e.room))
    code = (mapping.home if mapping and mapping.home else None) or path.rsplit("/", 1)[-1]
    devices = tuple(DeviceInfo(uid, k, r) for uid, (k, r) in sorted(kinds.items()))
    return HomeInfo(code, zone or "UTC", devices), evs
