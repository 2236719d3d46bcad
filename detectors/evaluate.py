"""The evaluation harness (`anju eval`): the live HomeMonitor against known incidents.

Pure: events and truths in, a report out. The sources are fed in by devtools/
(devtools.evaluation reads simulated homes and recorded logs, devtools.evaluate_live
runs the same through the real servers, devtools.cli is `anju eval`):
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
import random
import time
from dataclasses import dataclass, field
from statistics import median
from typing import Iterable, Sequence

from detectors.clock import LocalClock
from detectors.config import DetectorConfig
from detectors.events import Event, Finding, HomeInfo
from detectors.monitor import HomeMonitor

DAY = 86400
WINDOW = 12 * 3600
# Incidents that are a state lasting days rather than an event: found while they last (a
# sustained fall in activity cannot show within 12 h of its first midnight).
SUSTAINED = frozenset({"illness", "decline", "dementia_progression", "skipped_meals"})
# Routine incidents are also scored by whether they were found within 48 h of onset.
ROUTINE_INCIDENTS = SUSTAINED
ROUTINE_WINDOW = 48 * 3600
ROUTINE_FINDINGS = frozenset({"routine_activity", "routine_night_toilet",
                              "routine_night_out_of_bed", "routine_wandering", "routine_meals",
                              "routine_shower"})
LEARN_DAYS = 7
INACTIVITY_TYPE = frozenset({"inactivity", "not_back"})
# What a false alarm is: an inactivity alert with nothing wrong. `not_back` (a door rule: out
# longer than usual) on a real absence is counted apart, and reported next to it.
FALSE_ALARM_KINDS = frozenset({"inactivity"})

# incident kind -> finding kinds that detect it
DETECTED_BY: dict[str, frozenset[str]] = {
    "collapse": INACTIVITY_TYPE,
    "illness": frozenset({"activity_decline", "inactivity"}) | ROUTINE_FINDINGS,
    "decline": frozenset({"activity_decline"}) | ROUTINE_FINDINGS,
    "dementia_progression": frozenset({"routine_wandering", "routine_night_out_of_bed",
                                       "night_wandering"}),
    "skipped_meals": frozenset({"routine_meals", "routine_activity"}),
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
    # outcomes (by index) of routine incidents whose first 48 h ran past the end of the run:
    # whether they were found within 48 h cannot be known, so recall_48h leaves them out
    cut_48h: set[int] = field(default_factory=set)
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
            if k in ROUTINE_INCIDENTS and delays:
                whole = [d for r in self.runs for j, (kk, d) in enumerate(r.outcomes)
                         if kk == k and j not in r.cut_48h]
                inc[k]["n_48h"] = len(whole)
                inc[k]["recall_48h"] = round(sum(1 for d in whole if d is not None
                                                 and d <= ROUTINE_WINDOW) / len(whole), 3) \
                    if whole else None
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
                "routine_per_home_day": round(sum(v for k, v in other.items()
                                                  if k in ROUTINE_FINDINGS) / days, 4)
                if days else None,
                "incidents": inc, "runtime_s": round(self.runtime_s, 2)}


def _pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return 0.0
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return sorted(xs)[i]


# -- driving a monitor like the service does --------------------------------------------------

def drive(info: HomeInfo, events: Sequence[Event], ts: Sequence[float], start: float, end: float,
          cfg: DetectorConfig, *, learn_from: float | None = None, stop_at: float | None = None,
          monitor: HomeMonitor | None = None) -> list[Finding]:
    """Run a monitor (a new one, or `monitor`, not yet fed) over events in [start, end):
    learn the history before `start`, then observe, advance and re-learn once a day. `ts` are
    the events' times (for bisecting)."""
    m = monitor if monitor is not None else HomeMonitor(info, cfg)
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


def score(findings: list[Finding], truths: list[Truth], eval_start: float,
          run: HomeRun, end: float | None = None) -> None:
    """Count into `run` the false alarms and other alerts after eval_start that no truth
    explains, and each truth's outcome (its delay, or None when nothing matching opened).
    `end`: when the evaluated span ends (routine incidents begun within 48 h of it are not
    scored for recall_48h)."""
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
        if end is not None and t.kind in ROUTINE_INCIDENTS and t.start + ROUTINE_WINDOW > end:
            run.cut_48h.add(len(run.outcomes))
        run.outcomes.append((t.kind, hit))


# -- recorded logs: collapses injected -----------------------------------------------------

def log_window(info: HomeInfo, events: list[Event], *, check: bool = True
               ) -> tuple[list[float], float, float]:
    """A recorded log's event times and its evaluated span: from the first local midnight
    after LEARN_DAYS full days to the last event. `check` refuses a log too short to score."""
    if not events:
        raise ValueError("the log has no events")
    ts = [e.ts for e in events]
    clock = LocalClock(info.tz)
    first = clock.day(ts[0])
    if first < ts[0]:
        first = clock.hi
    eval_start = first + LEARN_DAYS * DAY
    end = ts[-1]
    if check and end - eval_start < DAY:
        raise ValueError(f"the log spans {(end - ts[0]) / DAY:.1f} days: need more than "
                         f"{LEARN_DAYS + 1} to learn on {LEARN_DAYS} and evaluate on the rest")
    return ts, eval_start, end


def evaluate_log(info: HomeInfo, events: list[Event], *, incidents: int = 20, seed: int = 0,
                 cfg: DetectorConfig | None = None, label: str = "") -> Report:
    cfg = cfg or DetectorConfig()
    t0 = time.perf_counter()
    ts, eval_start, end = log_window(info, events)
    run = HomeRun(info.home, label or info.home, (end - eval_start) / DAY, events=len(events))
    score(drive(info, events, ts, eval_start, end, cfg, learn_from=ts[0]), [], eval_start, run)
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
    if rep.get("routine_per_home_day") is not None:
        lines.append(f"routine findings outside incidents: {rep['routine_per_home_day']} "
                     "per home-day")
    lines.append(f"{'incident':16} {'n':>4} {'found':>5} {'recall':>7} {'median min':>11} "
                 f"{'p90 min':>8}")
    for k, v in rep["incidents"].items():
        med = "-" if v["median_delay_min"] is None else f"{v['median_delay_min']:.1f}"
        p90 = "-" if v["p90_delay_min"] is None else f"{v['p90_delay_min']:.1f}"
        lines.append(f"{k:16} {v['n']:>4} {v['detected']:>5} {v['recall']:>7.2f} {med:>11} "
                     f"{p90:>8}" + (f"  within 48 h {v['recall_48h']:.2f} (of {v['n_48h']} "
                                    "begun 48 h before the end)"
                                    if v.get("recall_48h") is not None else ""))
    lines.append(f"runtime {rep['runtime_s']} s")
    return "\n".join(lines)

