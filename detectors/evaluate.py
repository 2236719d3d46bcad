"""The evaluation harness (`anju eval`): the live HomeMonitor against known incidents.

Two sources:
- simulated homes (simulators/): their ground truth says what happened when;
- a recorded log (generic CSV, CASAS, van Kasteren): collapses are injected at
  seeded random times T by removing every event in (T, T + 24 h]. As in the
  simulator, a collapse strikes someone who is up and at home: T is drawn
  uniformly and redrawn until a sign of life (motion, contact, mat, button)
  lies in the hour before it, so T never falls in a night's sleep, an outing
  seen as silence, or a gap in the recording.

Protocol: learn on the first 7 full local days, evaluate on the rest. The
monitor is driven as the service drives it: learn(history) at the start and
again every day (with the history as it then stands), observe() every event,
advance() to every deadline. An injected collapse is run as a restart: a new
monitor learns the history up to the day boundary before T, replays the day
up to T and then sees nothing more.

A false alarm is an inactivity-type finding (inactivity, not_back) opened on
data with no incident (on simulated homes: not within an incident's span or
the 12 h after it). An incident is detected when a finding of a matching kind
opens between its start and 12 h later; the delay is from its start.
"""

from __future__ import annotations

import bisect
import json
import random
import sys
import time
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Iterable, Sequence

from detectors.config import DetectorConfig
from detectors.events import DeviceInfo, Event, Finding, HomeInfo
from detectors.monitor import HomeMonitor

DAY = 86400
WINDOW = 12 * 3600
# Incidents that are a state lasting days rather than an event: found while they last (a
# sustained fall in activity cannot show within 12 h of its first midnight).
SUSTAINED = frozenset({"illness"})
LEARN_DAYS = 7
INACTIVITY_TYPE = frozenset({"inactivity", "not_back"})
# What a false alarm is: an inactivity alert with nothing wrong. `not_back` (a door rule: out
# longer than usual) on a real absence is counted apart, and reported next to it.
FALSE_ALARM_KINDS = frozenset({"inactivity"})

# incident kind -> finding kinds that detect it
DETECTED_BY: dict[str, frozenset[str]] = {
    "collapse": INACTIVITY_TYPE,
    "illness": frozenset({"activity_decline", "inactivity"}),
    "water_running": frozenset({"water_running"}),
    "stove_left_on": frozenset({"power_high"}),
    "door_left_open": frozenset({"door_left_open"}),
    "night_wandering": frozenset({"night_wandering"}),
    "not_returning": frozenset({"not_back"}),
    "device_offline": frozenset({"device_offline"}),
    "home_silent": frozenset({"home_silent"}),
    "battery_low": frozenset({"battery_low"}),
    "smoke": frozenset({"smoke"}),
    "gas": frozenset({"gas"}),
    "water_leak": frozenset({"leak"}),
    "button": frozenset({"button"}),
}
DEVICE_KINDS = frozenset({"device_offline", "battery_low"})


@dataclass
class Truth:
    kind: str
    start: float
    end: float
    device: str | None = None     # uid, for device-level incidents


@dataclass
class HomeRun:
    home: str
    label: str                    # persona or file
    days: float
    false_alarms: int = 0
    other_alerts: dict[str, int] = field(default_factory=dict)
    outcomes: list[tuple[str, float | None]] = field(default_factory=list)   # (kind, delay s)
    events: int = 0


@dataclass
class Report:
    source: str
    runs: list[HomeRun]
    runtime_s: float
    sensitivity: float

    def as_dict(self) -> dict:
        days = sum(r.days for r in self.runs)
        fa = sum(r.false_alarms for r in self.runs)
        other: dict[str, int] = {}
        for r in self.runs:
            for k, v in r.other_alerts.items():
                other[k] = other.get(k, 0) + v
        inc: dict[str, dict] = {}
        kinds = sorted({k for r in self.runs for k, _ in r.outcomes},
                       key=lambda k: (k != "collapse", k))
        for k in kinds:
            delays = [d for r in self.runs for kk, d in r.outcomes if kk == k]
            hit = sorted(d for d in delays if d is not None)
            inc[k] = {"n": len(delays), "detected": len(hit),
                      "recall": round(len(hit) / len(delays), 3) if delays else None,
                      "median_delay_min": round(median(hit) / 60, 1) if hit else None,
                      "p90_delay_min": round(_pct(hit, 0.9) / 60, 1) if hit else None}
        return {"source": self.source, "sensitivity": self.sensitivity, "homes": len(self.runs),
                "home_days": round(days, 1),
                "false_alarms": fa,
                "false_alarms_per_home_day": round(fa / days, 4) if days else None,
                "not_back_per_home_day": round(other.get("not_back", 0) / days, 4)
                if days else None,
                "false_alarms_with_not_back_per_home_day":
                    round((fa + other.get("not_back", 0)) / days, 4) if days else None,
                "other_alerts_per_home_day": {k: round(v / days, 4) for k, v in sorted(other.items())}
                if days else {},
                "incidents": inc, "runtime_s": round(self.runtime_s, 2)}


def _pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return 0.0
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return sorted(xs)[i]


# -- driving a monitor like the service does --------------------------------------------------

def drive(info: HomeInfo, events: Sequence[Event], ts: Sequence[float], start: float, end: float,
          cfg: DetectorConfig, *, learn_from: float | None = None, stop_at: float | None = None,
          ) -> list[Finding]:
    """Run a new monitor over events in [start, end): learn the history before `start`, then
    observe, advance and re-learn once a day. `ts` are the events' times (for bisecting)."""
    m = HomeMonitor(info, cfg)
    span = cfg.inactivity.learn_days * DAY

    def history(now: float) -> Iterable[Event]:
        lo = bisect.bisect_left(ts, max(now - span, learn_from if learn_from is not None else -1e18))
        hi = bisect.bisect_left(ts, now)
        return (events[i] for i in range(lo, hi))

    m.learn(history(start), start)
    out: list[Finding] = []
    i = bisect.bisect_left(ts, start)
    n = len(events)
    boundary = start + DAY
    stop = min(end, stop_at) if stop_at is not None else end
    while True:
        nxt = events[i].ts if i < n and events[i].ts < stop else None
        if nxt is None or nxt >= boundary:
            if boundary >= stop and nxt is None:
                out += m.advance(stop)
                break
            if boundary < stop:
                out += m.advance(boundary)
                m.learn(history(boundary), boundary)
                boundary += DAY
                continue
        out += m.observe(events[i])
        i += 1
    return out


def _score(findings: list[Finding], truths: list[Truth], eval_start: float,
           run: HomeRun) -> None:
    explained = [(t.start - 60, max(t.end, t.start) + WINDOW) for t in truths]
    for f in findings:
        if f.state != "open" or f.at < eval_start:
            continue
        if any(a <= f.at <= b for a, b in explained):
            continue
        if f.kind in FALSE_ALARM_KINDS:
            run.false_alarms += 1
        else:
            run.other_alerts[f.kind] = run.other_alerts.get(f.kind, 0) + 1
    for t in truths:
        kinds = DETECTED_BY.get(t.kind, frozenset())
        hit = None
        win = max(WINDOW, t.end - t.start) if t.kind in SUSTAINED else WINDOW
        for f in findings:
            if f.state == "open" and f.kind in kinds and t.start - 60 <= f.at <= t.start + win \
                    and (t.device is None or t.kind not in DEVICE_KINDS or f.device == t.device):
                hit = max(0.0, f.at - t.start)
                break
        run.outcomes.append((t.kind, hit))


# -- simulated homes -----------------------------------------------------------------------------

def _sim_home(job: tuple) -> HomeRun:
    from simulators.generate import home_events
    home, start, end, eval_start, incs, cfg = job
    evs: list[Event] = []
    devs = home.devices
    uid = [d.uid for d in devs]
    room = [d.room for d in devs]
    for chunk in home_events(home, start, end, incs):
        evs.extend(Event(float(t), uid[i], k, float(v), room[i]) for t, i, k, v in chunk)
    ts = [e.ts for e in evs]
    info = HomeInfo(home.code, home.tz, tuple(DeviceInfo(d.uid, d.kind, d.room) for d in devs))
    findings = drive(info, evs, ts, eval_start, end, cfg)
    truths = [Truth(i.kind, float(i.start), float(i.end), i.details.get("uid")) for i in incs]
    run = HomeRun(home.code, home.persona, (end - eval_start) / DAY, events=len(evs))
    _score(findings, truths, eval_start, run)
    return run


def evaluate_simulated(homes: int = 8, days: int = 28, seed: int = 0, cfg: DetectorConfig | None = None,
                       *, personas: Sequence[str] = (), per_week: float = 1.0,
                       kinds: Sequence[str] = (), workers: int = 1) -> Report:
    from simulators import incidents as inc_mod
    from simulators.generate import FleetSpec
    cfg = cfg or DetectorConfig()
    t0 = time.perf_counter()
    spec = FleetSpec(homes=homes, days=days, seed=seed, personas=tuple(personas))
    start, end = spec.span()
    eval_start = start + LEARN_DAYS * DAY
    jobs = []
    for h in spec.make_homes():
        rng = random.Random(f"eval:{seed}:{h.code}")
        incs = inc_mod.random_for_home(h, rng, eval_start, end, per_week, list(kinds) or None) \
            if per_week > 0 else []
        jobs.append((h, start, end, eval_start, incs, cfg))
    runs = _map(_sim_home, jobs, workers)
    return Report(f"simulated {homes} homes x {days} days, seed {seed}", runs,
                  time.perf_counter() - t0, cfg.sensitivity)


def _map(fn, jobs: list, workers: int) -> list:
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    import multiprocessing as mp
    with mp.get_context("fork").Pool(min(workers, len(jobs))) as pool:
        return pool.map(fn, jobs)


# -- recorded logs -------------------------------------------------------------------------------

def load_log(path: str, fmt: str = "generic", *, map_path: str | None = None,
             names: str | None = None, tz: str | None = None) -> tuple[HomeInfo, list[Event]]:
    from simulators import formats
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


def evaluate_log(info: HomeInfo, events: list[Event], *, incidents: int = 20, seed: int = 0,
                 cfg: DetectorConfig | None = None, label: str = "") -> Report:
    from detectors.baseline import LocalClock
    cfg = cfg or DetectorConfig()
    t0 = time.perf_counter()
    if not events:
        raise ValueError("the log has no events")
    ts = [e.ts for e in events]
    clock = LocalClock(info.tz)
    first = clock.day(ts[0])
    if first < ts[0]:
        first = clock.hi
    eval_start = first + LEARN_DAYS * DAY
    end = ts[-1]
    if end - eval_start < DAY:
        raise ValueError(f"the log spans {(end - ts[0]) / DAY:.1f} days: need more than "
                         f"{LEARN_DAYS + 1} to learn on {LEARN_DAYS} and evaluate on the rest")
    run = HomeRun(info.home, label or info.home, (end - eval_start) / DAY, events=len(events))
    _score(drive(info, events, ts, eval_start, end, cfg, learn_from=ts[0]), [], eval_start, run)
    rng = random.Random(f"collapse:{seed}:{info.home}")
    signs = [e for e in events if _is_sign(e)]
    acts = [e.ts for e in signs]
    doors = [e.ts for e in events if e.kind == "door"]
    for _ in range(incidents):
        for _ in range(1000):
            T = rng.uniform(eval_start, end - WINDOW)
            if _at_home(T, signs, acts, doors):
                break
        cut_lo = bisect.bisect_right(ts, T)
        cut_hi = bisect.bisect_right(ts, T + DAY)
        evs = events[:cut_lo] + events[cut_hi:]
        tss = ts[:cut_lo] + ts[cut_hi:]
        # restart the day before: a new monitor learns, replays up to T, then nothing more
        b = eval_start + int((T - eval_start) // DAY) * DAY
        if T - b < 3 * 3600 and b - DAY >= eval_start:
            b -= DAY
        f = drive(info, evs, tss, b, end, cfg, learn_from=ts[0], stop_at=T + WINDOW + 1)
        hit = None
        for x in f:
            if x.state == "open" and x.kind in INACTIVITY_TYPE and x.at >= T:
                hit = x.at - T
                break
        run.outcomes.append(("collapse", hit if hit is not None and hit <= WINDOW else None))
    return Report(f"{label or info.home}: {len(events)} events", [run],
                  time.perf_counter() - t0, cfg.sensitivity)


def _at_home(T: float, signs: list[Event], acts: list[float], doors: list[float]) -> bool:
    """Whether the resident is up and at home at T, by the sensors: signs of life from at
    least two different devices in the hour before T, none of them before the last
    entrance-door event. A collapse strikes someone at home: someone who has just gone out
    (or a pet or the sun on a PIR while the home is empty) is not a resident to lose."""
    k = bisect.bisect_right(acts, T)
    d = bisect.bisect_right(doors, T)
    lo = max(T - 3600, doors[d - 1] if d else -1.0)
    devices = set()
    while k and acts[k - 1] > lo:
        devices.add(signs[k - 1].device)
        if len(devices) >= 2:
            return True
        k -= 1
    return False


def _is_sign(e: Event) -> bool:
    return (e.kind in ("motion", "button") and e.value >= 1) or e.kind in ("contact", "presence")


# -- output ----------------------------------------------------------------------------------------

def table(rep: dict) -> str:
    lines = [f"{rep['source']}  (sensitivity {rep['sensitivity']:g})",
             f"home-days {rep['home_days']}, inactivity false alarms {rep['false_alarms']} "
             f"= {rep['false_alarms_per_home_day']} per home-day; not_back outside incidents "
             f"{rep['not_back_per_home_day']} per home-day (together "
             f"{rep['false_alarms_with_not_back_per_home_day']})"]
    if rep["other_alerts_per_home_day"]:
        lines.append("other alerts outside incidents per home-day: " + ", ".join(
            f"{k} {v}" for k, v in rep["other_alerts_per_home_day"].items()))
    lines.append(f"{'incident':16} {'n':>4} {'found':>5} {'recall':>7} {'median min':>11} "
                 f"{'p90 min':>8}")
    for k, v in rep["incidents"].items():
        med = "-" if v["median_delay_min"] is None else f"{v['median_delay_min']:.1f}"
        p90 = "-" if v["p90_delay_min"] is None else f"{v['p90_delay_min']:.1f}"
        lines.append(f"{k:16} {v['n']:>4} {v['detected']:>5} {v['recall']:>7.2f} {med:>11} "
                     f"{p90:>8}")
    lines.append(f"runtime {rep['runtime_s']} s")
    return "\n".join(lines)


SWEEP = (0.5, 0.7, 1.0, 1.4, 2.0)


def register(cli) -> None:  # type: ignore[no-untyped-def]
    from anju.cli import positive_int
    p = cli.command("eval", cmd_eval, "evaluate the detectors on simulated homes or a recorded "
                    "log (false alarms per home-day, recall and delay per incident kind)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--simulate", action="store_true", help="simulated homes with ground truth")
    src.add_argument("--events", metavar="FILE", help="a recorded log")
    p.add_argument("--homes", type=positive_int, default=8)
    p.add_argument("--days", type=positive_int, default=28,
                   help=f"simulated days, the first {LEARN_DAYS} to learn (default 28)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--personas", default="", help="comma-separated, cycled over the homes")
    p.add_argument("--incidents-per-home-week", type=float, default=1.0)
    p.add_argument("--incident-kinds", default="", help="comma-separated subset")
    p.add_argument("--format", choices=("generic", "casas", "kasteren"), default="generic")
    p.add_argument("--map", help="mapping file (JSON or CSV)")
    p.add_argument("--names", help="van Kasteren sensor names file (default: beside FILE)")
    p.add_argument("--tz", help="zone of local timestamps (default: the map's)")
    p.add_argument("--incidents", type=int, default=40, help="collapses injected into a log")
    p.add_argument("--sensitivity", type=float, default=None)
    p.add_argument("--config", dest="detector_config", metavar="JSON",
                   help="detector settings as a JSON object, e.g. '{\"inactivity.floor_min\": 120}'")
    p.add_argument("--sweep", action="store_true",
                   help=f"repeat at sensitivities {', '.join(map(str, SWEEP))}")
    p.add_argument("--workers", type=positive_int, default=1)
    p.add_argument("--live", action="store_true",
                   help="with --simulate: end to end through a real broker, the ingest, the "
                        "database and the detector service (on a temporary stack)")
    p.add_argument("--json", action="store_true")


def cmd_eval(args, settings) -> int:  # type: ignore[no-untyped-def]
    from detectors.config import ConfigError, from_dict
    from simulators.formats import FormatError
    try:
        base = from_dict(json.loads(args.detector_config)) if args.detector_config else DetectorConfig()
        if args.sensitivity is not None:
            base = from_dict({"sensitivity": args.sensitivity}, base)
        sens = SWEEP if args.sweep else (base.sensitivity,)
        loaded = None
        if args.events:
            loaded = load_log(args.events, args.format, map_path=args.map, names=args.names,
                              tz=args.tz)
        reports = []
        for s in sens:
            cfg = replace(base, sensitivity=s)
            if args.live:
                if not args.simulate or args.sweep:
                    raise ValueError("--live works with --simulate, one sensitivity at a time")
                if args.detector_config or args.sensitivity is not None:
                    raise ValueError("--live uses the stored default settings; drop --config "
                                     "and --sensitivity")
                from devtools.evaluate_live import evaluate_live
                rep = evaluate_live(
                    args.homes, args.days, args.seed, cfg,
                    personas=[x for x in args.personas.split(",") if x],
                    per_week=args.incidents_per_home_week,
                    kinds=[x for x in args.incident_kinds.split(",") if x],
                    say=(lambda *a: None) if args.json else
                    (lambda *a: print(*a, file=sys.stderr)))
            elif loaded is not None:
                rep = evaluate_log(*loaded, incidents=args.incidents, seed=args.seed, cfg=cfg,
                                   label=args.events.rsplit("/", 1)[-1])
            else:
                rep = evaluate_simulated(
                    args.homes, args.days, args.seed, cfg,
                    personas=[x for x in args.personas.split(",") if x],
                    per_week=args.incidents_per_home_week,
                    kinds=[x for x in args.incident_kinds.split(",") if x], workers=args.workers)
            reports.append(rep.as_dict())
    except (ConfigError, FormatError, ValueError) as e:
        print(f"anju eval: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"sweep": reports}))
        return 0
    if args.sweep:
        print(f"{'sensitivity':>11} {'FA/home-day':>12} {'collapse recall':>16} {'median min':>11} "
              f"{'p90 min':>8}")
        for r in reports:
            c = r["incidents"].get("collapse", {})
            print(f"{r['sensitivity']:>11g} {r['false_alarms_per_home_day']:>12} "
                  f"{c.get('recall', '-')!s:>16} {c.get('median_delay_min', '-')!s:>11} "
                  f"{c.get('p90_delay_min', '-')!s:>8}")
        return 0
    print(table(reports[0]))
    return 0
