"""`anju ingest`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket

from anju.endpoints import resolve
from anju.settings import Settings


def cmd_ingest(args: argparse.Namespace, s: Settings) -> int:
    # lazy: prometheus_client and the worker are loaded by `anju ingest` only, not by every
    # `anju` command
    from prometheus_client import start_http_server

    from ingest.metrics import IngestMetrics
    from ingest.service import IngestWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ep = resolve(s)
    metrics = IngestMetrics()
    port = args.metrics_port if args.metrics_port is not None else s.ingest.metrics_port
    if port:
        start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
        logging.getLogger("anju.ingest").info("metrics on http://127.0.0.1:%d/metrics", port)
    trace = os.environ.get("ANJU_BENCH_TRACE")  # benchmarks: per-reading latency
    # URLs with a password belong in the environment (ANJU_AMQP_URLS, as the units' env
    # file), not on a command line that `ps` shows
    given = args.amqp or [os.environ.get("ANJU_AMQP_URLS", "")]
    amqp = [u.strip() for arg in given for u in arg.split(",") if u.strip()]
    worker: IngestWorker
    if amqp:    # the clustered broker's capture queue (ingest.amqp), not MQTT
        from ingest.amqp import QueueIngestWorker
        worker = QueueIngestWorker(ep.database_url, amqp, s.ingest, queue=args.queue,
                                   worker=args.worker, metrics=metrics,
                                   trace_latency=bool(trace), retention_days=s.retention_days,
                                   rollup_retention_days=s.rollup_retention_days)
    else:
        worker = IngestWorker(ep.database_url, ep.mqtt, s.ingest, worker=args.worker,
                              metrics=metrics, trace_latency=bool(trace),
                              retention_days=s.retention_days,
                              rollup_retention_days=s.rollup_retention_days)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    asyncio.run(main())
    if trace:
        with open(trace, "w") as f:
            json.dump({"latencies_ms": list(worker.latencies_ms or ()),
                       "seqs": list(worker.latency_seqs or ()),
                       "committed_at": list(worker.commit_times or ())}, f)
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("ingest", cmd_ingest, "store MQTT readings in the database (a worker)")
    p.add_argument("--worker", default=os.environ.get("ANJU_WORKER", socket.gethostname()),
                   help="this worker's name, stable across restarts (keeps its broker session)")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    p.add_argument("--amqp", action="append", metavar="URL",
                   help="consume the clustered broker's capture queue at these AMQP URLs "
                        "(repeatable, or a comma list) instead of MQTT; better in "
                        "ANJU_AMQP_URLS, which ps does not show")
    p.add_argument("--queue", default="anju.readings", help="the capture queue (with --amqp)")
    from ingest import bench   # `anju contract test`: the device's counterpart on a bench
    bench.register(cli)
    from ingest import conformance_live   # `anju device check`: one device, live
    conformance_live.register(cli)
