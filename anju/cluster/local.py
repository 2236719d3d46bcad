"""`anju cluster up|down|status`: a whole multi-node anju on this machine, for tests and trials.

Under one state directory, on loopback ports:

- the clustered broker (`broker/`): N RabbitMQ or NATS nodes (anju/cluster/rabbitmq.py,
  anju/cluster/nats.py), the device topics captured in a replicated queue or stream;
- PostgreSQL that fails over (`postgres/`): 3 etcd members and a primary with its
  streaming replica(s) under Patroni (anju/cluster/patroni.py), TimescaleDB and anju's
  migrations on the primary;
- the services as processes of their own, connected the way production connects them
  (libpq's multi-host URL with target_session_attrs=read-write): N ingest workers competing
  for RabbitMQ's capture queue (ingest/amqp.py), M detectors sharing the homes' partitions
  under leases, R routers sharing deliveries, the console.

What it started is written to `cluster.json` (pids, ports, the engine), so `down` and
`status` work from another shell. The servers keep their data across `down`/`up`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Union
from urllib.parse import quote

from anju.cluster.nats import NatsCluster
from anju.cluster.patroni import PostgresCluster
from anju.cluster.procs import pid_alive, stop_pid
from anju.cluster.rabbitmq import RabbitCluster
from anju.host import StackError, free_port

Engine = Literal["rabbitmq", "nats"]
ENGINES: tuple[Engine, ...] = ("rabbitmq", "nats")
Broker = Union[RabbitCluster, NatsCluster]


@dataclass
class Service:
    name: str                     # detect-1, route-1, console
    argv: list[str]               # after `anju`
    pid: int = 0


@dataclass
class Layout:
    """What `up` asked for and started (cluster.json)."""
    engine: Engine
    brokers: int
    pg_nodes: int
    partitions: int
    console_port: int
    services: list[Service] = field(default_factory=list)

    @staticmethod
    def load(path: Path) -> "Layout":
        raw = json.loads(path.read_text())
        raw["services"] = [Service(**s) for s in raw.get("services", [])]
        return Layout(**raw)


def _stop(pid: int) -> None:
    """SIGTERM (the services stop cleanly: leases released, work committed), then SIGKILL."""
    if pid_alive(pid):
        stop_pid(pid, signal.SIGTERM, timeout=15.0)


class LocalCluster:
    """The parts of a multi-node anju under one state directory."""

    def __init__(self, state_dir: Path | str) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.layout_file = self.state_dir / "cluster.json"
        self.log_dir = self.state_dir / "logs"

    # -- parts -----------------------------------------------------------------------
    def layout(self) -> Layout | None:
        return Layout.load(self.layout_file) if self.layout_file.exists() else None

    def _save(self, layout: Layout) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.layout_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(layout), indent=1))
        tmp.replace(self.layout_file)

    def broker(self, engine: Engine, size: int = 3) -> Broker:
        d = self.state_dir / "broker"
        return RabbitCluster(d, size) if engine == "rabbitmq" else NatsCluster(d, size)

    def postgres(self, nodes: int = 2) -> PostgresCluster:
        return PostgresCluster(self.state_dir / "postgres", nodes)

    def service_env(self, layout: Layout) -> dict[str, str]:
        """The services' settings: every address is the cluster's, none on a command line."""
        pg = self.postgres(layout.pg_nodes)
        b = self.broker(layout.engine, layout.brokers)
        host, port = b.mqtt_addresses()[0]
        ingest_pw = b.config().ingest_password
        user = "anju-ingest"
        return dict(os.environ,
                    ANJU_DATABASE_URL=pg.database_url("read-write"),
                    ANJU_DATABASE_READ_URL=pg.database_url("prefer-standby"),
                    ANJU_MQTT_URL=f"mqtt://{user}:{quote(ingest_pw, safe='')}@{host}:{port}",
                    ANJU_STATE_DIR=str(self.state_dir))

    # -- up / down ---------------------------------------------------------------------
    def up(self, *, engine: Engine = "rabbitmq", brokers: int = 3, pg_nodes: int = 2,
           ingest: int = 2, detectors: int = 2, routers: int = 2, partitions: int = 64,
           console: bool = True) -> Layout:
        """Start what is not running; a second `up` leaves running parts alone."""
        if engine not in ENGINES:
            raise StackError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
        old = self.layout()
        if old is not None and old.engine != engine:
            raise StackError(f"{self.state_dir} holds a {old.engine} cluster: "
                             f"give --engine {old.engine}, or `anju cluster down --purge` first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.broker(engine, brokers).up()
        self.postgres(pg_nodes).up()
        port = old.console_port if old else free_port(8760)
        layout = Layout(engine, brokers, pg_nodes, partitions, port,
                        old.services if old else [])
        # ingest workers compete for RabbitMQ's capture queue (ingest/amqp.py), each
        # starting on another node; on NATS there is no such consumer yet
        wanted = [Service(f"ingest-{i}", ["ingest", "--worker", f"cluster-ingest-{i}",
                                          "--metrics-port", "0"])
                  for i in range(1, (ingest if engine == "rabbitmq" else 0) + 1)]
        wanted += [Service(f"detect-{i}", ["detect", "--partitions", str(partitions)])
                   for i in range(1, detectors + 1)]
        wanted += [Service(f"route-{i}", ["route", "--worker", f"cluster-route-{i}"])
                   for i in range(1, routers + 1)]
        if console:
            wanted.append(Service("console", ["console", "--port", str(port)]))
        running = {s.name: s for s in layout.services if pid_alive(s.pid)}
        env = self.service_env(layout)
        urls = (self.broker(engine, brokers).amqp_urls()  # type: ignore[union-attr]
                if engine == "rabbitmq" else [])
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = []
        for s in wanted:
            if s.name in running:
                started.append(running[s.name])
                continue
            own = dict(env)
            if s.name.startswith("ingest-") and urls:
                k = int(s.name.split("-")[1]) - 1
                own["ANJU_AMQP_URLS"] = ",".join(urls[k % len(urls):] + urls[:k % len(urls)])
            with (self.log_dir / f"{s.name}.log").open("ab") as log:
                p = subprocess.Popen([sys.executable, "-m", "anju.cli", *s.argv], env=own,
                                     stdout=subprocess.DEVNULL, stderr=log,
                                     start_new_session=True)
            s.pid = p.pid
            started.append(s)
        layout.services = started
        self._save(layout)
        return layout

    def down(self, purge: bool = False) -> None:
        """Services first (they let go of their leases and finish their writes), then the
        broker and PostgreSQL with etcd. Data stays unless `purge`."""
        layout = self.layout()
        if layout is None:
            if purge:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            return
        for s in layout.services:
            _stop(s.pid)
        layout.services = [Service(s.name, s.argv, 0) for s in layout.services]
        self._save(layout)
        self.broker(layout.engine, layout.brokers).down()
        pg = self.postgres(layout.pg_nodes)
        pg.down()
        if purge:
            shutil.rmtree(pg.server_dir, ignore_errors=True)
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def kill_service(self, name: str) -> int:
        """SIGKILL one service (a crash, for fault tests); returns its pid."""
        layout = self.layout()
        s = next((s for s in layout.services if s.name == name), None) if layout else None
        if s is None or not pid_alive(s.pid):
            raise StackError(f"service {name!r} is not running here")
        os.kill(s.pid, signal.SIGKILL)
        return s.pid

    # -- status ------------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        layout = self.layout()
        if layout is None:
            return {"state_dir": str(self.state_dir), "initialised": False}
        out: dict[str, object] = {"state_dir": str(self.state_dir), "initialised": True,
                                  "engine": layout.engine}
        try:
            out["broker"] = self.broker(layout.engine, layout.brokers).status()
        except Exception as e:      # a node down is a status, not a failure of `status`
            out["broker"] = {"error": str(e)}
        try:
            out["postgres"] = self.postgres(layout.pg_nodes).status()
        except Exception as e:
            out["postgres"] = {"error": str(e)}
        out["services"] = {s.name: {"pid": s.pid, "running": pid_alive(s.pid),
                                    "command": "anju " + " ".join(s.argv)}
                           for s in layout.services}
        out["console"] = f"http://127.0.0.1:{layout.console_port}/"
        out["console_healthy"] = _healthy(layout.console_port)
        return out


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False
