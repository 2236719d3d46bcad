"""`anju bench midnight`: the CPU a home's midnight costs the detector service.

At each home's local midnight the detectors close the day: its routine features,
the fits of the home's usual day, every routine check, the baseline relearned.
Homes sharing a time zone all do this at the same minute, so the cost is paid in
one burst (`anju bench detect` times the stillness deadlines and holds no
midnight). In process, no servers: `--sample` simulated homes of the four
personas live 28 days, then each crosses the next midnight `--repeat` times (a
copy of its monitor each time). Printed: the CPU a home's midnight takes
(median, p99) and what that is at `--homes` homes in one time zone, on one core.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from detectors.config import DetectorConfig
from detectors.monitor import HomeMonitor
from devtools.evaluation import simulated
from devtools.stacks import percentile, report
from simulators.generate import FleetSpec
from simulators.homes import HomeProfile

DAY = 86400
PERSONAS = ("early_riser", "night_owl", "frail", "dementia")


def _before_midnight(home: HomeProfile, start: int, end: int) -> tuple[HomeMonitor, float]:
    """A monitor that learned the home's first 28 days and lived through the last one, with
    that day's midnight (the end) still to come."""
    info, evs = simulated(home, start, end)
    last = end - DAY
    m = HomeMonitor(info, DetectorConfig())
    m.learn((e for e in evs if e.ts < last), last)
    for e in evs:
        if e.ts >= last:
            m.observe(e)
    m.advance(end - 60)
    return m, float(end)


def run_bench(args: argparse.Namespace) -> int:
    spec = FleetSpec(homes=args.sample, days=29, seed=0, personas=PERSONAS)
    start, end = spec.span()
    took: list[float] = []
    findings = 0
    for home in spec.make_homes():
        m, midnight = _before_midnight(home, start, end)
        for _ in range(args.repeat):
            c = copy.deepcopy(m)
            t0 = time.process_time()
            findings += len(c.advance(midnight + 1))
            took.append(time.process_time() - t0)
    per_home = statistics.median(took)
    report({
        "homes_sampled": args.sample,
        "midnights_timed": len(took),
        "findings_per_midnight": round(findings / len(took), 3),
        "cpu_per_home_midnight_ms_p50": round(per_home * 1000, 3),
        "cpu_per_home_midnight_ms_p99": round(percentile(took, 99) * 1000, 3),
        f"cpu_at_{args.homes}_homes_s": round(per_home * args.homes, 1),
    }, args.json)
    return 0
