"""`anju soak`: the command line of the soak run (see soak/run.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from anju.cli import CommandLine, positive_int
from anju.settings import Settings
from soak import plan as plan_mod
from soak import report
from soak.options import Options


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def cmd_soak(args: argparse.Namespace, s: Settings) -> int:
    from soak.run import run  # lazy: the run loads the servers' clients and the console

    if not s.embedded:
        print("anju soak stops and starts the servers it runs on: it runs on the embedded "
              "servers only; unset ANJU_DATABASE_URL and ANJU_MQTT_URL", file=sys.stderr)
        return 2
    fault_text = None
    if args.faults not in ("default", "none"):
        try:
            fault_text = Path(args.faults).read_text()
        except OSError as e:
            print(f"--faults {args.faults}: {e.strerror}; expected default, none or a fault "
                  "file (lines 'MM:SS kind [seconds]')", file=sys.stderr)
            return 2
    # Check the plan before anything starts: a bad fault file is an error, not a wasted run.
    try:
        plan_mod.make_plan([{"button", "motion"}], args.minutes, args.seed, args.faults,
                           fault_text)
    except plan_mod.PlanError as e:
        print(f"--faults: {e}", file=sys.stderr)
        return 2
    o = Options(homes=args.homes, minutes=args.minutes, speed=args.speed, faults=args.faults,
                fault_text=fault_text, seed=args.seed, state_dir=s.state_dir,
                out_dir=Path(args.out) if args.out else None, progress=not args.quiet)
    figures = run(o)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        print(report.render_table(figures))
        print(f"\nreport, figures and timeline in {figures['out_dir']}")
    return 0 if figures.get("lost") == 0 and figures.get("duplicates") == 0 else 1


def register(cli: CommandLine) -> None:
    p = cli.command("soak", cmd_soak, "N simulated homes through the whole service while faults "
                    "are done to it; prints what was lost and how fast emergencies reached a person")
    p.add_argument("--homes", type=positive_int, default=100, help="simulated homes (default 100)")
    p.add_argument("--minutes", type=positive_float, default=10,
                   help="how long the load runs (default 10)")
    p.add_argument("--speed", type=positive_float, default=1.0,
                   help="simulated seconds per real second (default 1: real time)")
    p.add_argument("--faults", default="default",
                   help="default (each fault at least once, spaced out), none, or a fault file")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same plan")
    p.add_argument("--json", action="store_true", help="print one JSON object of the figures")
    p.add_argument("--out", help="directory for the report, figures.json and timeline.svg "
                   "(default STATE/soak/<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
