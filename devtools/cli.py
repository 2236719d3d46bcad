"""`anju bench ingest|detect|alert|console` and `anju demo`.

Each command loads its module only when it runs: they pull in the servers' clients, the
console and the detector service, and every `anju` invocation registers these commands.
"""

from __future__ import annotations

import argparse
import sys

from anju.cli import positive_int
from anju.settings import Settings


def cmd_bench_console(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_console import run_bench  # lazy: see the module's docstring

    return run_bench(args)


def cmd_bench_detect(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_detect import run_bench  # lazy: see the module's docstring

    return run_bench(args)


def cmd_bench_ingest(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_ingest import run_bench  # lazy: see the module's docstring

    return run_bench(args, s)


def cmd_bench_alert(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_alert import run_bench  # lazy: see the module's docstring

    return run_bench(args, s)


def cmd_demo(args: argparse.Namespace, s: Settings) -> int:
    from devtools import demo  # lazy: see the module's docstring

    if not s.embedded:
        print("the demo runs on the embedded servers; unset ANJU_DATABASE_URL and ANJU_MQTT_URL",
              file=sys.stderr)
        return 2
    return demo.run(s.state_dir, args.duration)


def register(cli) -> None:  # type: ignore[no-untyped-def]
    cli.command("demo", cmd_demo, "run everything on the embedded servers with demo homes"
                ).add_argument("--duration", type=positive_int, help="stop after this many seconds")

    # In the order `anju bench --help` has always listed them.
    p = cli.command("console", cmd_bench_console,
                    "server time of the board, home list, a home and its chart at 100,000 homes",
                    cli.bench)
    p.add_argument("--homes", type=positive_int, default=100_000)
    p.add_argument("--alerts", type=positive_int, default=1_000_000)
    p.add_argument("--requests", type=positive_int, default=100,
                   help="requests per page and user (default 100)")
    p.add_argument("--json", action="store_true")

    p = cli.command("detect", cmd_bench_detect, "deadline lag and memory at many homes", cli.bench)
    p.add_argument("--homes", type=positive_int, default=100_000)
    p.add_argument("--seconds", type=positive_int, default=60,
                   help="how long deadlines keep falling due (default 60)")
    p.add_argument("--json", action="store_true")

    p = cli.command("ingest", cmd_bench_ingest, "ingest throughput, latency, loss and storage",
                    cli.bench)
    p.add_argument("--messages", type=positive_int, default=200_000)
    p.add_argument("--devices", type=positive_int, default=200)
    p.add_argument("--publishers", type=positive_int, default=2,
                   help="publishing processes (default 2)")
    p.add_argument("--workers", type=positive_int, default=1, help="ingest workers (default 1)")
    p.add_argument("--rate", type=positive_int, default=10_000,
                   help="paced rate for the latency phase, msg/s (default 10000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = cli.command("alert", cmd_bench_alert,
                    "button press to notification: latency and loss through the whole stack",
                    cli.bench)
    p.add_argument("--json", action="store_true")
    p.add_argument("--presses", type=positive_int, default=200,
                   help="button presses, one home each")
    p.add_argument("--load-homes", type=positive_int, default=200,
                   help="homes publishing background readings")
    p.add_argument("--load-rate", type=positive_int, default=500,
                   help="background readings per second")
    p.add_argument("--interval", type=float, default=0.25, help="seconds between presses")
