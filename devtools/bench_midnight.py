"""`anju bench midnight`: the CPU a home's midnight costs the detector service.

At each home's local midnight the detectors close the day: its routine features,
the fits of the home's usual day, every routine check, the baseline relearned.
Homes sharing a time zone all do this at the same minute, so the cost is paid in
one burst (the service spreads it over ten minutes: `anju bench detect
--midnight` times that in the service). In process, no servers: `--sample`
simulated homes of the four personas learn a week and live four more as the
service runs them (35 days kept, as after five weeks), then each crosses the next
midnight `--repeat` times (a copy of its monitor each time). Printed: the CPU a
home's midnight takes (median, p99) and what that is at `--homes` homes in one time
zone, on one core.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from detectors.config import DetectorConfig
from detectors.evaluate import LEARN_DAYS, drive
from detectors.monitor import HomeMonitor
from devtools.evaluation import simulated
from devtools.stacks import percentile, report
from simulators.generate import FleetSpec
from simulators.homes import HomeProfile

DAY = 86400
PERSONAS = ("early_riser", "night_owl", "frail", "dementia")


def before_midnight(home: HomeProfile, start: int, end: int) -> tuple[HomeMonitor, float]:
    """A monitor that learned the home's first week and lived through the days after it as
    the service does (each day closed and judged at its midnight), with the last day's
    midnight (the end) still to come."""
    info, evs = simulated(home, start, end)
    m = HomeMonitor(info, DetectorConfig())
    drive(info, evs, [e.ts for e in evs], start + LEARN_DAYS * DAY, end, DetectorConfig(),
          stop_at=end - 60, monitor=m)
    return m, float(end)


def run_bench(args: argparse.Namespace) -> int:
    spec = FleetSpec(homes=args.sample, days=36, seed=0, personas=PERSONAS)
    start, end = spec.span()
    took: list[float] = []
    findings = 0
    for home in spec.make_homes():
        m, midnight = before_midnight(home, start, end)
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
