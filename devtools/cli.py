"""`anju eval`, `anju bench ingest|detect|midnight|alert|console|broker|cluster` and `anju demo`.

The benchmarks, the demo and the live evaluation load their modules only when they run:
they pull in the servers' clients, the console and the detector service, and every `anju`
invocation registers these commands.
"""

from __future__ import annotations

import argparse
import json
import sys

from anju.cli import positive_int
from anju.settings import Settings
from detectors import evaluate
from detectors.config import ConfigError, DetectorConfig, from_dict
from devtools import evaluation
from simulators.formats import FormatError


def cmd_bench_console(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_console import run_bench  # lazy: see the module's docstring

    return run_bench(args)


def cmd_bench_detect(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_detect import run_bench  # lazy: see the module's docstring

    return run_bench(args)


def cmd_bench_midnight(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_midnight import run_bench  # lazy: see the module's docstring

    return run_bench(args)


def cmd_bench_ingest(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_ingest import run_bench  # lazy: see the module's docstring

    return run_bench(args, s)


def cmd_bench_alert(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_alert import run_bench  # lazy: see the module's docstring

    return run_bench(args, s)


def cmd_bench_broker(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_broker_cluster import run_bench  # lazy: see the module's docstring

    return run_bench(args)


def cmd_bench_cluster(args: argparse.Namespace, s: Settings) -> int:
    from devtools.bench_cluster import run_bench  # lazy: see the module's docstring

    return run_bench(args)


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
    register_eval(cli)

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
    p.add_argument("--midnight", action="store_true",
                   help="every home with a learned routine, and the window across its midnight")
    p.add_argument("--sample", type=positive_int, default=12,
                   help="with --midnight: simulated homes whose routines are given out "
                        "(default 12)")
    p.add_argument("--spread", type=positive_int, default=None,
                   help="with --midnight: seconds over which the homes' days are closed "
                        "(default: the service's, 600)")
    p.add_argument("--json", action="store_true")

    p = cli.command("midnight", cmd_bench_midnight,
                    "the CPU a home's midnight (routine features, fits, checks) costs", cli.bench)
    p.add_argument("--homes", type=positive_int, default=100_000,
                   help="homes in one time zone the figure is given for (default 100000)")
    p.add_argument("--sample", type=positive_int, default=12,
                   help="simulated homes timed (default 12)")
    p.add_argument("--repeat", type=positive_int, default=20,
                   help="midnights timed a home (default 20)")
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

    p = cli.command("broker", cmd_bench_broker,
                    "a clustered broker (RabbitMQ or NATS): loss when a node is killed, "
                    "consumers added and removed, msg/s and CPU per message", cli.bench)
    p.add_argument("--engine", choices=("rabbitmq", "nats"), required=True)
    p.add_argument("--nodes", type=positive_int, default=3)
    p.add_argument("--devices", type=positive_int, default=60)
    p.add_argument("--messages", type=positive_int, default=60_000)
    p.add_argument("--publishers", type=positive_int, default=2,
                   help="publishing processes (default 2)")
    p.add_argument("--consumers", type=positive_int, default=2)
    p.add_argument("--window", type=positive_int, default=50,
                   help="unacknowledged messages per device (default 50)")
    p.add_argument("--capture", choices=("stream", "mqtt"), default="mqtt",
                   help="NATS: a consumer on the $MQTT_msgs stream the PUBACK waits for "
                        "(default), or anju's own stream, which nothing waits for")
    p.add_argument("--no-kill", action="store_true", help="kill no node")
    p.add_argument("--no-churn", action="store_true", help="add and remove no consumer")
    p.add_argument("--crash-consumer", action="store_true",
                   help="remove the consumer by SIGKILL rather than a clean stop")
    p.add_argument("--json", action="store_true")

    p = cli.command("cluster", cmd_bench_cluster,
                    "homes living through `anju cluster up` while a broker node, the "
                    "PostgreSQL primary, an ingest worker and a detector are killed in turn: "
                    "lost, duplicates, failover seconds, emergencies", cli.bench)
    p.add_argument("--homes", type=positive_int, default=60,
                   help="homes, each with a motion sensor and a button pressed once (default 60)")
    p.add_argument("--rate", type=positive_int, default=300,
                   help="motion readings per second in all (default 300)")
    p.add_argument("--warmup", type=positive_int, default=15, help="seconds before the first kill")
    p.add_argument("--phase", type=positive_int, default=40,
                   help="seconds between kills (default 40; the detector's lease is 30 s)")
    p.add_argument("--ingest", type=positive_int, default=2, help="ingest workers (default 2)")
    p.add_argument("--detectors", type=positive_int, default=2,
                   help="detector processes (default 2)")
    p.add_argument("--routers", type=positive_int, default=2, help="routers (default 2)")
    p.add_argument("--partitions", type=positive_int, default=64)
    p.add_argument("--publishers", type=positive_int, default=2,
                   help="publishing processes (default 2)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (logs) afterwards")
    p.add_argument("--json", action="store_true")


SWEEP = (0.5, 0.7, 1.0, 1.4, 2.0)


def register_eval(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("eval", cmd_eval, "evaluate the detectors on simulated homes or a recorded "
                    "log (false alarms per home-day, recall and delay per incident kind)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--simulate", action="store_true", help="simulated homes with ground truth")
    src.add_argument("--events", metavar="FILE", help="a recorded log")
    src.add_argument("--ampds2", metavar="FILE", help="anju's water rules on an AMPds2 water "
                     "meter file (false alarms per day of each water finding)")
    p.add_argument("--homes", type=positive_int, default=8)
    p.add_argument("--days", type=positive_int, default=28,
                   help=f"simulated days, the first {evaluate.LEARN_DAYS} to learn "
                        "(default 28)")
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
                   help="detector settings as a JSON object, "
                        "e.g. '{\"inactivity.floor_min\": 120}'")
    p.add_argument("--sweep", action="store_true",
                   help=f"repeat at sensitivities {', '.join(map(str, SWEEP))}")
    p.add_argument("--baseline", choices=("wilhelm2024",),
                   help="run the published peer (Wilhelm & Wahl 2024) instead; with --sweep "
                        "both trade-off curves side by side")
    p.add_argument("--k", help="the peer's threshold factor (default 1.1); with --sweep a "
                               "comma-separated list (default 0.8 .. 3)")
    p.add_argument("--plot", metavar="FILE", help="with --baseline and --sweep: an SVG plot")
    p.add_argument("--workers", type=positive_int, default=1)
    p.add_argument("--live", action="store_true",
                   help="with --simulate: end to end through a real broker, the ingest, the "
                        "database and the detector service (on a temporary stack)")
    p.add_argument("--json", action="store_true")


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.plot and not (args.baseline and args.sweep):
        print("anju eval: --plot FILE draws both curves: it needs --baseline wilhelm2024 "
              "and --sweep", file=sys.stderr)
        return 2
    try:
        base = (from_dict(json.loads(args.detector_config)) if args.detector_config
                else DetectorConfig())
        if args.sensitivity is not None:
            base = from_dict({"sensitivity": args.sensitivity}, base)
        if args.ampds2 or args.baseline:
            from detectors import peer_eval  # lazy: numpy only when the peer or AMPds2 runs
        if args.ampds2:
            return peer_eval.cli_ampds2(args, base)
        sens = SWEEP if args.sweep else (base.sensitivity,)
        if args.baseline and not args.sweep:
            sens = ()
        loaded = None
        if args.events:
            loaded = evaluation.load_log(args.events, args.format, map_path=args.map,
                                         names=args.names, tz=args.tz)
        reports = []
        for s in sens:
            cfg = from_dict({"sensitivity": s}, base)
            if args.live:
                if not args.simulate or args.sweep:
                    raise ValueError("--live works with --simulate, one sensitivity at a time")
                if args.detector_config or args.sensitivity is not None:
                    raise ValueError("--live uses the stored default settings; drop --config "
                                     "and --sensitivity")
                # lazy: the live run needs psycopg and the detector service
                from devtools.evaluate_live import evaluate_live
                rep = evaluate_live(
                    args.homes, args.days, args.seed, cfg,
                    personas=[x for x in args.personas.split(",") if x],
                    per_week=args.incidents_per_home_week,
                    kinds=[x for x in args.incident_kinds.split(",") if x],
                    say=(lambda *a: None) if args.json else
                    (lambda *a: print(*a, file=sys.stderr)))
            elif loaded is not None:
                rep = evaluate.evaluate_log(*loaded, incidents=args.incidents, seed=args.seed,
                                            cfg=cfg, label=args.events.rsplit("/", 1)[-1])
            else:
                rep = evaluation.evaluate_simulated(
                    args.homes, args.days, args.seed, cfg,
                    personas=[x for x in args.personas.split(",") if x],
                    per_week=args.incidents_per_home_week,
                    kinds=[x for x in args.incident_kinds.split(",") if x], workers=args.workers)
            reports.append(rep.as_dict())
        if args.baseline:
            return peer_eval.cli_baseline(args, loaded, reports, base.sensitivity)
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
    print(evaluate.table(reports[0]))
    return 0
