"""A local RabbitMQ cluster (Debian's 3.10 with its MQTT 3.1.1 plugin) of N nodes on
loopback ports under a state directory.

Devices keep the device contract (docs/device-contract.md): they connect over MQTT with
their id as user name and client id, and publish QoS 1 under `anju/v1/devices/{id}/…`.
The MQTT plugin turns each publish into an AMQP publish on `amq.topic` (topic `/` becomes
`.`), on a channel in confirm mode, and sends the PUBACK only when the broker confirms it
(rabbit_mqtt_processor:amqp_pub/2 and amqp_callback/2 in 3.10.8). The readings are captured
by one quorum queue bound to `anju.v1.devices.#` and `anju.v1.gateways.#`: a quorum queue
confirms a message once a majority of its Raft members has it on disk, so a PUBACK means
the reading survives the loss of any one of three nodes. Ingest workers consume that
queue over AMQP as competing consumers and acknowledge after their commit.

Per-device credentials: a user per device with no configure or read permission (so a
SUBSCRIBE, which must declare a queue, is refused) and a topic permission on `amq.topic`
that lets it write only routing keys under its own name. Users are added through the
management plugin's HTTP API (one rabbitmqctl call costs an Erlang VM start, about a
second); see add_device().

The nodes run as the invoking user (root is fine for RabbitMQ) from Debian's scripts under
/usr/lib/rabbitmq/bin, with their own EPMD port and Erlang cookie so they never meet a
system RabbitMQ or another cluster.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

from anju.broker import new_password
from anju.cluster.procs import wait_gone
from anju.host import StackError, free_ports, wait_port
from anju.rabbitmq_users import EXCHANGE, VHOST, ApiError, ManagementApi, put_device

RABBIT_BIN = Path(os.environ.get("ANJU_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
QUEUE = "anju.readings"
# The routing keys the MQTT plugin makes of the contract's topics (`/` -> `.`).
BINDINGS = ("anju.v1.devices.#", "anju.v1.gateways.#")
ADMIN_USER = "anju-admin"
INGEST_USER = "anju-ingest"


@dataclass
class Node:
    index: int
    name: str
    amqp_port: int
    mqtt_port: int
    dist_port: int
    mgmt_port: int


@dataclass
class Config:
    nodes: list[Node]
    epmd_port: int
    cookie: str
    admin_password: str
    ingest_password: str
    devices: dict[str, str] = field(default_factory=dict)  # device id -> password
    gateways: dict[str, str] = field(default_factory=dict)  # gateway id -> password

    @staticmethod
    def load(path: Path) -> "Config":
        raw = json.loads(path.read_text())
        raw["nodes"] = [Node(**n) for n in raw["nodes"]]
        return Config(**raw)


@dataclass
class RabbitCluster:
    """N RabbitMQ nodes clustered on loopback under state_dir (one directory per node)."""

    state_dir: Path
    size: int = 3

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).absolute()
        self.config_file = self.state_dir / "rabbitmq.json"
        self.home = self.state_dir / "home"   # the Erlang cookie of nodes and CLI tools

    # -- configuration -------------------------------------------------------
    def config(self) -> Config:
        if not self.config_file.exists():
            raise StackError(f"no RabbitMQ cluster in {self.state_dir}")
        return Config.load(self.config_file)

    def _save(self, cfg: Config) -> None:
        self.config_file.write_text(json.dumps(asdict(cfg), indent=2))
        os.chmod(self.config_file, 0o600)

    def _create(self) -> Config:
        ports = free_ports(4 * self.size + 1)
        nodes = [Node(i, f"anju{i}@localhost", *ports[4 * i:4 * i + 4]) for i in range(self.size)]
        cfg = Config(nodes=nodes, epmd_port=ports[-1], cookie=secrets.token_hex(20).upper(),
                     admin_password=secrets.token_urlsafe(18),
                     ingest_password=secrets.token_urlsafe(18))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(cfg.cookie)
        os.chmod(cookie, 0o400)
        for n in nodes:
            self._write_node_files(cfg, n)
        self._save(cfg)
        return cfg

    def node_dir(self, i: int) -> Path:
        return self.state_dir / f"node{i}"

    def _write_node_files(self, cfg: Config, n: Node) -> None:
        d = self.node_dir(n.index)
        (d / "log").mkdir(parents=True, exist_ok=True)
        (d / "enabled_plugins").write_text("[rabbitmq_mqtt,rabbitmq_management].\n")
        (d / "rabbitmq-env.conf").write_text("")  # not Debian's /etc/rabbitmq one
        peers = "".join(f"cluster_formation.classic_config.nodes.{m.index + 1} = {m.name}\n"
                        for m in cfg.nodes)
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{n.amqp_port}\n"
            f"mqtt.listeners.tcp.1 = 127.0.0.1:{n.mqtt_port}\n"
            "mqtt.allow_anonymous = false\n"
            f"mqtt.vhost = {VHOST}\n"
            f"mqtt.exchange = {EXCHANGE}\n"
            "management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {n.mgmt_port}\n"
            f"default_user = {ADMIN_USER}\n"
            f"default_pass = {cfg.admin_password}\n"
            "default_user_tags.administrator = true\n"
            "loopback_users = none\n"
            # a minority node stops serving rather than confirm what the majority never saw
            "cluster_partition_handling = pause_minority\n"
            "cluster_formation.peer_discovery_backend = classic_config\n"
            + peers +
            "log.console = false\n"
            "log.file.level = info\n"
            # the machine's disk, not RabbitMQ's 50 MB default alarm, is the limit in a trial
            "disk_free_limit.absolute = 200MB\n"
        )

    def _env(self, cfg: Config, n: Node | None = None) -> dict[str, str]:
        env = dict(os.environ, HOME=str(self.home), ERL_EPMD_PORT=str(cfg.epmd_port),
                   RABBITMQ_USE_LONGNAME="false", LC_ALL="C.UTF-8")
        if n is not None:
            d = self.node_dir(n.index)
            env.update(
                RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
                RABBITMQ_NODENAME=n.name,
                RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                RABBITMQ_NODE_PORT=str(n.amqp_port),
                RABBITMQ_DIST_PORT=str(n.dist_port),
                RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
                RABBITMQ_LOG_BASE=str(d / "log"),
                RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
                RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
                RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
                RABBITMQ_PID_FILE=str(d / "pid"),
            )
        return env

    # -- processes -------------------------------------------------------------
    def pid(self, i: int) -> int | None:
        try:
            pid = int((self.node_dir(i) / "pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def ctl(self, node: int, *args: str, timeout: float = 60) -> str:
        cfg = self.config()
        r = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", cfg.nodes[node].name, *args],
                           env=self._env(cfg), capture_output=True, text=True, timeout=timeout,
                           cwd="/")
        if r.returncode != 0:
            raise StackError(f"rabbitmqctl {' '.join(args)} on node {node}: "
                             f"{(r.stderr or r.stdout).strip()[-1500:]}")
        return r.stdout

    def start_node(self, i: int, *, wait: bool = True) -> None:
        cfg = self.config()
        n = cfg.nodes[i]
        if self.pid(i):
            return
        log = self.node_dir(i) / "log" / "server.out"
        with log.open("ab") as out:
            # its own session: a Ctrl-C of the caller must not take the node down half-way
            subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self._env(cfg, n),
                             stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd="/", start_new_session=True)
        if wait:
            self.wait_node(i)

    def wait_node(self, i: int, timeout: float = 120) -> None:
        cfg = self.config()
        log = self.node_dir(i) / "log" / "server.out"
        wait_port(cfg.nodes[i].mqtt_port, what=f"RabbitMQ node {i} (MQTT)", log=log,
                  timeout=timeout)
        self.ctl(i, "await_startup", timeout=timeout)

    def kill_node(self, i: int) -> None:
        """SIGKILL the node's Erlang VM (a crash, no goodbye to its peers)."""
        pid = self.pid(i)
        if pid:
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid)

    def stop_node(self, i: int) -> None:
        pid = self.pid(i)
        if not pid:
            return
        try:
            self.ctl(i, "stop", timeout=60)
        except (StackError, subprocess.TimeoutExpired):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid)

    def up(self) -> Config:
        """Start (creating on first use) the cluster, and the capture queue and service users."""
        cfg = self.config() if self.config_file.exists() else self._create()
        # The first node alone, then the others join it (classic peer discovery).
        self.start_node(0)
        for i in range(1, self.size):
            self.start_node(i, wait=False)
        for i in range(1, self.size):
            self.wait_node(i)
        self._wait_members(self.size)
        self._setup(cfg)
        return cfg

    def down(self) -> None:
        for i in reversed(range(self.size)):
            self.stop_node(i)
        self._stop_epmd()

    def _stop_epmd(self) -> None:
        # EPMD is started by the first node and outlives the cluster; ours has its own port.
        cfg = self.config()
        subprocess.run(["epmd", "-port", str(cfg.epmd_port), "-kill"], capture_output=True,
                       env=self._env(cfg), timeout=10)

    def _wait_members(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            running = self.status().get("running_nodes", [])
            if len(running) >= n:
                return
            if time.monotonic() > deadline:
                raise StackError(f"RabbitMQ cluster has {len(running)} running nodes, not {n}")
            time.sleep(1)

    def status(self, via: int | None = None) -> dict[str, object]:
        cfg = self.config()
        alive = [i for i in range(self.size) if self.pid(i)]
        out: dict[str, object] = {"alive": alive}
        for i in ([via] if via is not None else alive):
            try:
                st = json.loads(self.ctl(i, "cluster_status", "--formatter", "json"))
                out["running_nodes"] = st.get("running_nodes", [])
                break
            except StackError:
                continue
        out["mqtt"] = [("127.0.0.1", n.mqtt_port) for n in cfg.nodes]
        return out

    # -- management API ----------------------------------------------------------
    def api(self, method: str, path: str, body: object | None = None) -> object:
        """One call of the management HTTP API, through the first live node that answers."""
        cfg = self.config()
        pw = urllib.parse.quote(cfg.admin_password, safe="")
        urls = [f"http://{ADMIN_USER}:{pw}@127.0.0.1:{n.mgmt_port}" for n in cfg.nodes
                if self.pid(n.index)]
        try:
            return ManagementApi(urls)(method, path, body)
        except ApiError as e:
            raise StackError(str(e)) from None

    def _setup(self, cfg: Config) -> None:
        v = urllib.parse.quote(VHOST, safe="")
        self.api("PUT", f"users/{INGEST_USER}", {"password": cfg.ingest_password, "tags": ""})
        # the ingest may only consume (read) the capture queue and declare it (configure)
        q = "^" + re.escape(QUEUE) + "$"
        self.api("PUT", f"permissions/{v}/{INGEST_USER}",
                 {"configure": q, "write": "^$", "read": q})
        self.api("PUT", f"queues/{v}/{QUEUE}",
                 {"durable": True, "auto_delete": False,
                  "arguments": {"x-queue-type": "quorum",
                                # every member, not the default 3 of a bigger cluster
                                "x-quorum-initial-group-size": self.size}})
        for key in BINDINGS:
            self.api("POST", f"bindings/{v}/e/{urllib.parse.quote(EXCHANGE)}/q/{QUEUE}",
                     {"routing_key": key})
        for dev, pw in cfg.devices.items():
            self._put_device(dev, pw)
        for gw, pw in cfg.gateways.items():
            self._put_device(gw, pw, gateway=True)

    def _put_device(self, device_id: str, password: str, gateway: bool = False) -> None:
        # added by hand (tests, trials), not from the registry: untagged, so that
        # `anju broker sync --rabbitmq` leaves it alone
        put_device(self.api, device_id, password=password, gateway=gateway, tags="")

    def add_device(self, device_id: str, password: str | None = None) -> str:
        """Provision a device's user, permissions and topic permission; returns its password.

        Kept in the state directory too, so a cluster brought up again has its devices."""
        cfg = self.config()
        password = password or new_password()
        self._put_device(device_id, password)
        cfg.devices[device_id] = password
        self._save(cfg)
        return password

    def add_gateway(self, gateway_id: str, password: str | None = None) -> str:
        """Provision a home gateway (anju/v1/gateways/{id}/{name}/{kind}); returns its password."""
        cfg = self.config()
        password = password or new_password()
        self._put_device(gateway_id, password, gateway=True)
        cfg.gateways[gateway_id] = password
        self._save(cfg)
        return password

    def add_devices(self, devices: dict[str, str]) -> None:
        cfg = self.config()
        for dev, pw in devices.items():
            self._put_device(dev, pw)
        cfg.devices.update(devices)
        self._save(cfg)

    # -- addresses -----------------------------------------------------------------
    def mqtt_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.config().nodes]

    def amqp_urls(self, user: str = INGEST_USER) -> list[str]:
        cfg = self.config()
        pw = cfg.ingest_password if user == INGEST_USER else cfg.admin_password
        return [f"amqp://{urllib.parse.quote(user)}:{urllib.parse.quote(pw)}@127.0.0.1:"
                f"{n.amqp_port}/" for n in cfg.nodes]

    def queue_info(self) -> dict[str, object]:
        v = urllib.parse.quote(VHOST, safe="")
        info = self.api("GET", f"queues/{v}/{QUEUE}")
        assert isinstance(info, dict)
        return info

    def queue_counts(self) -> dict[str, int]:
        """The capture queue's messages (ready, unacknowledged) now, from a live node (the
        management API's figures are up to 5 s old)."""
        for i in self.node_pids():
            try:
                out = self.ctl(i, "list_queues", "-q", "--formatter", "json", "name", "messages",
                               "messages_ready", "messages_unacknowledged")
            except StackError:
                continue
            for q in json.loads(out):
                if q.get("name") == QUEUE:
                    return {k: int(v) for k, v in q.items() if k != "name"}
        return {}

    def leader_index(self) -> int:
        """The node that leads the capture queue's Raft group."""
        leader = self.queue_info().get("leader")
        return next(n.index for n in self.config().nodes if n.name == leader)

    def node_pids(self) -> dict[int, int]:
        return {i: p for i in range(self.size) if (p := self.pid(i))}


def main(argv: list[str] | None = None) -> int:
    """up / status / down / add-device; for engineers, in plain English."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m anju.cluster.rabbitmq", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("up", "status", "down", "add-device"))
    ap.add_argument("--state-dir", default=".anju-cluster/rabbitmq")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--device", help="add-device: the device id (its password is printed)")
    a = ap.parse_args(argv)
    cluster = RabbitCluster(Path(a.state_dir), a.nodes)
    if a.command == "up":
        cluster.up()
        print(json.dumps(cluster.status(), indent=2))
    elif a.command == "status":
        print(json.dumps(cluster.status(), indent=2))
    elif a.command == "down":
        cluster.down()
    else:
        if not a.device:
            ap.error("add-device needs --device")
        print(cluster.add_device(a.device))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
