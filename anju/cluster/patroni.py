"""PostgreSQL (with TimescaleDB) that fails over: a primary and a streaming replica, each
under Patroni 3.0 (Debian's package), their leader lock in a local etcd cluster, all on
loopback ports under a state directory (docs/cluster-postgres.md).

Patroni talks to etcd through its `etcd3` section: Debian's patroni speaks etcd's v3
gRPC gateway over HTTP itself (python3-etcd 0.4.5 only lends it exceptions), and etcd
3.4 serves no v2 API unless asked, so v3 it is.

As anju/embedded.py does for the single node: PostgreSQL runs as the `anju` system user
when anju runs as root (Patroni with it, since Patroni starts PostgreSQL), the superuser
is `anju` with a generated password, timescaledb is preloaded, and `up()` makes the
`anju` database and applies anju's migrations on the leader (the replica gets them by
streaming). Services connect with `database_url()`: libpq's host list with
target_session_attrs=read-write, so a new connection finds whichever node is primary.

    python -m anju.cluster.patroni up|status|down --state-dir DIR
    python -m anju.cluster.patroni failover --kills 3 --sync both --json
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from anju import db
from anju.cluster.etcd import EtcdCluster
from anju.cluster.procs import pid_alive, stop_pid
from anju.embedded import PG_BIN
from anju.host import (StackError, can_traverse, fallback_server_dir, free_port, service_user,
                       user_ids)

PATRONI = os.environ.get("ANJU_PATRONI", shutil.which("patroni") or "/usr/bin/patroni")
SCOPE = "anju"

# Patroni's timing. A dead leader's lock lapses after TTL; the replica then takes it on
# its next loop. Patroni requires loop_wait + 2 * retry_timeout <= ttl.
TTL_S = 10
LOOP_WAIT_S = 1
RETRY_TIMEOUT_S = 4


@dataclass(frozen=True)
class PgNode:
    name: str
    pg_port: int
    api_port: int


@dataclass
class ClusterCredentials:
    nodes: list[PgNode]
    superuser_password: str      # role `anju`, as in the embedded stack
    replication_password: str    # role `replicator`
    api_password: str            # Patroni's REST API, for changing the cluster's config


class PostgresCluster:
    """Primary + replica(s) under Patroni, with their etcd, under state_dir."""

    def __init__(self, state_dir: Path | str, nodes: int = 2, *,
                 synchronous: bool = True) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.size = nodes
        self.synchronous = synchronous    # at bootstrap; set_synchronous() changes it later
        self.etcd = EtcdCluster(self.state_dir)
        self.creds_file = self.state_dir / "postgres-cluster.json"
        self.user = service_user()
        self.server_dir = self._server_dir()

    def _server_dir(self) -> Path:
        """Where PostgreSQL's data goes: state_dir unless the service user cannot reach it."""
        if self.user is None or can_traverse(self.state_dir, *user_ids(self.user)):
            return self.state_dir / "pg"
        return fallback_server_dir(self.state_dir) / "pg"

    # -- credentials and layout -------------------------------------------
    def credentials(self) -> ClusterCredentials:
        if not self.creds_file.exists():
            raise StackError(f"no PostgreSQL cluster in {self.state_dir}: run `up` first")
        raw = json.loads(self.creds_file.read_text())
        raw["nodes"] = [PgNode(**n) for n in raw["nodes"]]
        return ClusterCredentials(**raw)

    def _create_credentials(self) -> ClusterCredentials:
        taken = {p for m in self.etcd.members() for p in (m.client_port, m.peer_port)}
        nodes = []
        for i in range(self.size):
            ports = []
            while len(ports) < 2:
                p = free_port()
                if p not in taken:
                    taken.add(p)
                    ports.append(p)
            nodes.append(PgNode(f"pg{i}", *ports))
        creds = ClusterCredentials(nodes, secrets.token_urlsafe(18), secrets.token_urlsafe(18),
                                   secrets.token_urlsafe(18))
        self.creds_file.write_text(json.dumps(asdict(creds), indent=2))
        os.chmod(self.creds_file, 0o600)
        return creds

    def nodes(self) -> list[PgNode]:
        return self.credentials().nodes

    def node(self, name: str) -> PgNode:
        return next(n for n in self.nodes() if n.name == name)

    def node_dir(self, name: str) -> Path:
        return self.server_dir / name

    def database_url(self, attrs: str = "read-write", dbname: str = "anju",
                     connect_timeout: int = 3) -> str:
        """libpq's multi-host URL over every node. read-write: the primary, wherever it is;
        prefer-standby / any: reads that may lag. connect_timeout bounds a host that does
        not answer (psycopg tries the hosts one after another, each up to this long)."""
        c = self.credentials()
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in c.nodes)
        return (f"postgresql://anju:{quote(c.superuser_password)}@{hosts}/{dbname}"
                f"?target_session_attrs={attrs}&connect_timeout={connect_timeout}")

    def node_url(self, name: str, dbname: str = "anju") -> str:
        c = self.credentials()
        return (f"postgresql://anju:{quote(c.superuser_password)}@127.0.0.1:"
                f"{self.node(name).pg_port}/{dbname}?connect_timeout=3")

    # -- Patroni's configuration --------------------------------------------
    def _config(self, n: PgNode, c: ClusterCredentials) -> dict[str, object]:
        home = self.node_dir(n.name)
        return {
            "scope": SCOPE,
            "namespace": "/service/",
            "name": n.name,
            "log": {"level": "INFO", "dir": str(home / "log"), "file_num": 2,
                    "file_size": 10_000_000},
            "restapi": {"listen": f"127.0.0.1:{n.api_port}",
                        "connect_address": f"127.0.0.1:{n.api_port}",
                        "authentication": {"username": "anju", "password": c.api_password}},
            "etcd3": {"hosts": self.etcd.hosts(), "protocol": "http"},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL_S, "loop_wait": LOOP_WAIT_S, "retry_timeout": RETRY_TIMEOUT_S,
                    # a replica further behind than this is never promoted (async mode)
                    "maximum_lag_on_failover": 1024 * 1024,
                    "synchronous_mode": self.synchronous,
                    # strict would stop every write while the standby is away
                    "synchronous_mode_strict": False,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "max_connections": 200,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_level": "replica",
                            "wal_log_hints": "on",    # pg_rewind, when the old primary rejoins
                            "hot_standby": "on",
                            "wal_keep_size": "256MB",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"},
                           {"auth-host": "scram-sha-256"}, {"auth-local": "scram-sha-256"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{n.pg_port}",
                "connect_address": f"127.0.0.1:{n.pg_port}",
                "data_dir": str(home / "data"),
                "bin_dir": str(PG_BIN),
                "pgpass": str(home / "pgpass"),
                "authentication": {
                    "superuser": {"username": "anju", "password": c.superuser_password},
                    "replication": {"username": "replicator",
                                    "password": c.replication_password},
                    "rewind": {"username": "anju", "password": c.superuser_password},
                },
                "parameters": {
                    "unix_socket_directories": str(home / "run"),
                    "shared_preload_libraries": "timescaledb",
                    "timescaledb.telemetry_level": "off",
                    "shared_buffers": "128MB",    # two servers on one small machine
                    "max_wal_size": "1GB",
                    "logging_collector": "off",
                },
                "pg_hba": [
                    "local all all scram-sha-256",
                    "host replication replicator 127.0.0.1/32 scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
            },
            "tags": {"nofailover": False, "noloadbalance": False},
        }

    def _own(self, path: Path) -> None:
        if self.user:
            shutil.chown(path, self.user, self.user)

    def _write_node_files(self, n: PgNode, c: ClusterCredentials) -> Path:
        home = self.node_dir(n.name)
        for d in (home, home / "run", home / "log"):
            d.mkdir(parents=True, exist_ok=True)
            self._own(d)
        os.chmod(home, 0o700)
        conf = home / "patroni.yml"
        conf.write_text(json.dumps(self._config(n, c), indent=2))  # JSON is YAML
        os.chmod(conf, 0o600)
        self._own(conf)
        return conf

    def _prepare_dirs(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.server_dir.parent == self.state_dir:
            if self.user:
                os.chmod(self.state_dir, 0o711)  # the service user passes through to pg/
        else:
            for p in (*reversed(self.server_dir.parents), self.server_dir):
                if not p.exists():
                    p.mkdir()
                    os.chmod(p, 0o755)
        self.server_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.server_dir, 0o711)
        self._own(self.server_dir)

    # -- processes ----------------------------------------------------------
    def _patroni_pid_file(self, name: str) -> Path:
        return self.state_dir / "patroni" / f"{name}.pid"

    def patroni_pid(self, name: str) -> int | None:
        try:
            pid = int(self._patroni_pid_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def postmaster_pid(self, name: str) -> int | None:
        try:
            pid = int((self.node_dir(name) / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def start_node(self, name: str) -> None:
        """Start a node's Patroni (which starts, or rejoins, its PostgreSQL).

        A PostgreSQL its dead Patroni left running is killed first, as if it had crashed
        with it. Patroni 3.0 starting beside a running primary that lost the leader lock
        rewrites its configuration as a replica's and reloads it before demoting it: the
        reload drops synchronous_standby_names, so the commits that were waiting for the
        standby (promoted meanwhile) are acknowledged, then rewound away (measured: 264
        and 155 acknowledged writes lost in two such restarts). Killed, they are never
        acknowledged. Debian's patroni.service has the same hazard (KillMode=process with
        Restart=on-failure); see docs/cluster-postgres.md.
        """
        if self.patroni_pid(name):
            return
        orphan = self.postmaster_pid(name)
        if orphan:
            _kill_group(orphan)
        c = self.credentials()
        conf = self._write_node_files(self.node(name), c)
        pid_file = self._patroni_pid_file(name)
        pid_file.parent.mkdir(exist_ok=True)
        with (self.node_dir(name) / "log" / "patroni.out").open("ab") as out:
            proc = subprocess.Popen(  # type: ignore[call-overload]
                [PATRONI, str(conf)], user=self.user, stdout=out, stderr=out,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.node_dir(name))
        pid_file.write_text(f"{proc.pid}\n")

    def stop_node(self, name: str) -> None:
        """Stop a node cleanly: Patroni stops its PostgreSQL (and hands over the lock)."""
        pid = self.patroni_pid(name)
        if pid:
            stop_pid(pid, signal.SIGTERM, timeout=60)
        self._patroni_pid_file(name).unlink(missing_ok=True)
        pm = self.postmaster_pid(name)  # left by a killed Patroni
        if pm:
            stop_pid(pm, signal.SIGINT, timeout=30)

    def kill_postgres(self, name: str) -> None:
        """SIGKILL the node's PostgreSQL, every backend with it (its postmaster leads a
        session of its own), as the OOM killer or a crash would; Patroni lives on."""
        pm = self.postmaster_pid(name)
        if pm:
            _kill_group(pm)

    def kill_patroni(self, name: str) -> None:
        """SIGKILL the node's Patroni; its PostgreSQL runs on without a supervisor."""
        pid = self.patroni_pid(name)
        if pid:
            stop_pid(pid, signal.SIGKILL)

    def kill_node(self, name: str) -> None:
        """The node's host dies: Patroni and PostgreSQL killed at once (SIGKILL)."""
        pid, pm = self.patroni_pid(name), self.postmaster_pid(name)
        for p in (pid, pm):
            if p:
                _kill_group(p)

    # -- the cluster as Patroni sees it ---------------------------------------
    def _api(self, n: PgNode, path: str, method: str = "GET",
             body: dict[str, object] | None = None) -> object:
        req = urllib.request.Request(f"http://127.0.0.1:{n.api_port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None)
        if method != "GET":
            token = base64.b64encode(f"anju:{self.credentials().api_password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read() or b"null")

    def members(self) -> list[dict[str, object]]:
        """Patroni's members (name, role, state, timeline, lag), from the first node that
        answers; [] when none does."""
        for n in self.nodes():
            try:
                found = self._api(n, "/cluster")
            except (OSError, ValueError):
                continue
            return list(found.get("members", [])) if isinstance(found, dict) else []
        return []

    def leader(self) -> str | None:
        """The member holding the leader lock and running, as Patroni reports it."""
        for m in self.members():
            if m.get("role") == "leader" and m.get("state") == "running":
                return str(m["name"])
        return None

    def set_synchronous(self, on: bool) -> None:
        """Switch synchronous_mode in the cluster's DCS config (applies within a loop)."""
        leader = self.leader() or self.nodes()[0].name
        self._api(self.node(leader), "/config", "PATCH",
                  {"synchronous_mode": on, "synchronous_mode_strict": False})
        self.synchronous = on

    def wait_sync_setting(self, on: bool, timeout: float = 30.0) -> None:
        """Until the leader's synchronous_standby_names says what synchronous_mode asks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader:
                try:
                    with psycopg.connect(self.node_url(leader, "postgres")) as c:
                        names = c.execute("SHOW synchronous_standby_names").fetchone()
                    if bool(names and names[0]) == on:
                        return
                except psycopg.Error:
                    pass
            time.sleep(0.2)
        raise StackError(f"synchronous_mode={on} not applied after {timeout:.0f} s")

    def wait_replicas(self, timeout: float = 90.0, *, sync: bool | None = None) -> None:
        """Until every other node streams from the leader (and, with sync, one is the
        synchronous standby in PostgreSQL and in Patroni's record of it)."""
        sync = self.synchronous if sync is None else sync
        deadline = time.monotonic() + timeout
        want = self.size - 1
        last: object = None
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader:
                try:
                    with psycopg.connect(self.node_url(leader, "postgres"), autocommit=True) as c:
                        rows = c.execute("SELECT application_name, sync_state FROM "
                                         "pg_stat_replication WHERE state = 'streaming'").fetchall()
                    last = rows
                    # With sync, Patroni must also have recorded the standby as synchronous
                    # in etcd: until it has, it would not promote that node (not "the
                    # healthiest"), and losing the primary then leaves no primary at all.
                    if len(rows) >= want and (not sync or (
                            any(r[1] == "sync" for r in rows) and
                            any(m.get("role") == "sync_standby" for m in self.members()))):
                        return
                except psycopg.Error as e:
                    last = e
            time.sleep(0.3)
        raise StackError(f"replicas not streaming after {timeout:.0f} s: {last}; "
                         f"members {self.members()}")

    def wait_leader(self, timeout: float = 60.0, *, not_: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader and leader != not_:
                return leader
            time.sleep(0.1)
        raise StackError(f"no leader after {timeout:.0f} s; members {self.members()}\n"
                         + self._log_tail())

    def wait_writable(self, timeout: float = 60.0) -> float:
        """Until a write through database_url() commits; returns the time it took."""
        t0 = time.monotonic()
        url = self.database_url(connect_timeout=2)
        last: Exception | None = None
        while time.monotonic() - t0 < timeout:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("CREATE TEMP TABLE IF NOT EXISTS probe (x int)")
                    conn.execute("INSERT INTO probe VALUES (1)")
                return time.monotonic() - t0
            except psycopg.Error as e:
                last = e
                time.sleep(0.05)
        raise StackError(f"no write committed through {self.database_url()} in "
                         f"{timeout:.0f} s: {last}")

    def _log_tail(self) -> str:
        out = []
        for n in self.nodes():
            f = self.node_dir(n.name) / "log" / "patroni.log"
            if f.exists():
                out.append(f"--- {n.name}\n" + f.read_text()[-1500:])
        return "\n".join(out)

    # -- whole cluster ------------------------------------------------------
    def up(self, timeout: float = 120.0) -> ClusterCredentials:
        """etcd, then every node's Patroni; the anju database and its migrations on the leader."""
        if not self.creds_file.exists() and self.server_dir.parent != self.state_dir:
            # data left outside by a state directory of the same name that was deleted:
            # its passwords went with it, so it cannot be used
            shutil.rmtree(self.server_dir, ignore_errors=True)
        self._prepare_dirs()
        self.etcd.up()
        c = self.credentials() if self.creds_file.exists() else self._create_credentials()
        for n in c.nodes:
            self.start_node(n.name)
        leader = self.wait_leader(timeout)
        with psycopg.connect(self.node_url(leader, "postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'anju'").fetchone():
                conn.execute("CREATE DATABASE anju")
        db.migrate(self.database_url())
        # a cluster bootstrapped before keeps its own mode (set_synchronous changes it)
        config = self._api(self.node(leader), "/config")
        self.synchronous = bool(isinstance(config, dict) and config.get("synchronous_mode"))
        self.wait_replicas(timeout)
        return c

    def down(self) -> None:
        if self.creds_file.exists():
            # replicas first, so the primary's clean stop does not wait on a sync standby
            leader = self.leader()
            for n in sorted(self.nodes(), key=lambda n: n.name == leader):
                self.stop_node(n.name)
        self.etcd.down()

    def status(self) -> dict[str, object]:
        if not self.creds_file.exists():
            return {"state_dir": str(self.state_dir), "initialised": False}
        return {"state_dir": str(self.state_dir), "initialised": True,
                "etcd": self.etcd.status(),
                "postgres": {n.name: {"address": f"127.0.0.1:{n.pg_port}",
                                      "rest_api": f"127.0.0.1:{n.api_port}",
                                      "patroni_running": bool(self.patroni_pid(n.name)),
                                      "postgres_running": bool(self.postmaster_pid(n.name))}
                             for n in self.nodes()},
                "members": self.members(),
                "database_url": self.database_url().replace(
                    quote(self.credentials().superuser_password), "***")}


def _kill_group(pid: int) -> None:
    """SIGKILL a process and the session it leads (a postmaster and its backends)."""
    try:
        pgid = os.getpgid(pid)
        os.killpg(pgid, signal.SIGKILL) if pgid == pid else os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    """up / status / down / failover; figures for engineers, in plain English."""
    import argparse
    import asyncio

    from anju.cluster import failover

    ap = argparse.ArgumentParser(prog="python -m anju.cluster.patroni", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("up", "status", "down", "failover"))
    ap.add_argument("--state-dir", default=".anju-cluster")
    ap.add_argument("--async", dest="asynchronous", action="store_true",
                    help="bootstrap with synchronous_mode off (up)")
    ap.add_argument("--kills", type=int, default=3, help="kills per synchronous mode (failover)")
    ap.add_argument("--sync", choices=("on", "off", "both"), default="both")
    ap.add_argument("--kill", choices=("node", "postgres", "patroni"), default="node",
                    help="node: Patroni and PostgreSQL SIGKILLed (a host dies); postgres: "
                         "PostgreSQL alone (Patroni restarts it in place); patroni: Patroni "
                         "alone, started again 5 s after the promotion")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="leave the cluster running (failover)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    cluster = PostgresCluster(a.state_dir, synchronous=not a.asynchronous)
    if a.command == "up":
        cluster.up()
        print(json.dumps(cluster.status(), indent=2))
    elif a.command == "status":
        print(json.dumps(cluster.status(), indent=2))
    elif a.command == "down":
        cluster.down()
    else:
        modes = {"on": (True,), "off": (False,), "both": (True, False)}[a.sync]
        t0 = time.monotonic()
        cluster.up()
        bootstrap_s = time.monotonic() - t0
        try:
            kills = asyncio.run(failover.measure(cluster, kills=a.kills, modes=modes,
                                                 how=a.kill, writers=a.writers))
        finally:
            if not a.keep:
                cluster.down()
        result = {"bootstrap_s": round(bootstrap_s, 1), "kill": a.kill,
                  "summary": failover.summary(kills), "kills": failover.as_dicts(kills)}
        if a.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"bootstrap {bootstrap_s:.1f} s; kill={a.kill}, {a.writers} writers")
            for k in kills:
                print(f"sync={'on ' if k.synchronous else 'off'} {k.old_leader}->{k.new_leader}"
                      f" writable {k.writable_s:5.2f} s, writers back {k.writers_back_s}"
                      f" acked {k.acknowledged} lost {k.lost} in-doubt kept"
                      f" {k.unacknowledged_kept} rejoined {k.rejoined_s} s,"
                      f" {k.commits_per_s:.0f} commits/s before")
            print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
