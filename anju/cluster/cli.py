"""`anju cluster up|down|status` (anju/cluster/local.py)."""

from __future__ import annotations

import argparse
import json

from anju.settings import Settings

DEFAULT_STATE = ".anju-cluster"


def _cluster(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from anju.cluster.local import LocalCluster
    return LocalCluster(args.state)


def cmd_up(args: argparse.Namespace, s: Settings) -> int:
    c = _cluster(args)
    layout = c.up(engine=args.engine, brokers=args.brokers, pg_nodes=args.pg_nodes,
                  ingest=args.ingest, detectors=args.detectors, routers=args.routers, partitions=args.partitions,
                  console=not args.no_console)
    b = c.broker(layout.engine, layout.brokers)
    print(f"anju cluster is up (state in {c.state_dir}):")
    print(f"  broker: {layout.engine}, {layout.brokers} nodes; devices connect to any of "
          + ", ".join(f"{h}:{p}" for h, p in b.mqtt_addresses()))
    pg = c.postgres(layout.pg_nodes)
    print(f"  PostgreSQL: {layout.pg_nodes} nodes under Patroni with 3 etcd members; leader "
          f"{pg.leader()}")
    for sv in layout.services:
        print(f"  {sv.name:10} pid {sv.pid}  anju {' '.join(sv.argv)}")
    if not args.no_console:
        print(f"  console: http://127.0.0.1:{layout.console_port}/")
    print(f"  logs in {c.log_dir}; `anju cluster status --state {args.state}` for more")
    return 0


def cmd_down(args: argparse.Namespace, s: Settings) -> int:
    _cluster(args).down(purge=args.purge)
    print("anju cluster stopped" + (" and its data deleted" if args.purge else ""))
    return 0


def cmd_status(args: argparse.Namespace, s: Settings) -> int:
    st = _cluster(args).status()
    if args.json:
        print(json.dumps(st, indent=1, default=str))
        return 0
    if not st.get("initialised"):
        print(f"no cluster under {st['state_dir']} (anju cluster up)")
        return 1
    print(f"state {st['state_dir']}, broker engine {st['engine']}")
    for name, sv in st["services"].items():  # type: ignore[union-attr]
        print(f"  {name:10} {'running' if sv['running'] else 'stopped'}  pid {sv['pid']}")
    print(f"  console {st['console']} {'healthy' if st['console_healthy'] else 'not answering'}")
    print(json.dumps({"broker": st["broker"], "postgres": st["postgres"]}, indent=1,
                     default=str))
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    g = cli.group("cluster", "a local multi-node anju for tests and trials (make setup-cluster)")
    for name, handler, help in (
            ("up", cmd_up, "start a clustered broker, PostgreSQL under Patroni and the services"),
            ("down", cmd_down, "stop everything the cluster's state directory started"),
            ("status", cmd_status, "what runs where in the cluster")):
        p = cli.command(name, handler, help, g)
        p.add_argument("--state", default=DEFAULT_STATE,
                       help=f"the cluster's state directory (default {DEFAULT_STATE})")
        if name == "up":
            p.add_argument("--engine", choices=("rabbitmq", "nats"), default="rabbitmq",
                           help="the clustered broker (default rabbitmq: docs/cluster-broker.md)")
            p.add_argument("--brokers", type=int, default=3, help="broker nodes (default 3)")
            p.add_argument("--pg-nodes", type=int, default=2,
                           help="PostgreSQL nodes: a primary and replicas (default 2)")
            p.add_argument("--ingest", type=int, default=2,
                           help="ingest workers on the capture queue (default 2; RabbitMQ only)")
            p.add_argument("--detectors", type=int, default=2,
                           help="detector processes sharing the partitions (default 2)")
            p.add_argument("--routers", type=int, default=2, help="routers (default 2)")
            p.add_argument("--partitions", type=int, default=64)
            p.add_argument("--no-console", action="store_true")
        elif name == "down":
            p.add_argument("--purge", action="store_true", help="also delete the data")
        else:
            p.add_argument("--json", action="store_true")
