"""A local NATS cluster (Debian's nats-server 2.9 with JetStream and its MQTT 3.1.1
listener) of N nodes on loopback ports under a state directory.

Devices keep the device contract (docs/device-contract.md): MQTT, their id as user name and
client id, QoS 1 under `anju/v1/devices/{id}/…`. nats-server turns the topic into a NATS
subject (`/` -> `.`; a `.` in a topic is refused, see docs/cluster-broker.md) and, for QoS 1,
publishes it to the subject's subscribers and then stores it in the account's
`$MQTT_msgs` stream as `$MQTT.msgs.<subject>`, waiting for that store (a JetStream
request, answered once the stream's Raft group has it) before the PUBACK
(server/mqtt.go mqttProcessPub in 2.9.10). A stream of anju's own capturing
`anju.v1.devices.>` gets the message as an ordinary core-NATS publish with no reply:
nothing waits for it.

So two captures are offered (`capture`):
- "stream": anju's own stream ANJU_READINGS (replicas = cluster size, work-queue
  retention) on the devices' subjects, consumed by one durable pull consumer;
- "mqtt": a durable pull consumer of anju's on the `$MQTT_msgs` stream itself, filtered to
  the devices' subjects; that stream (interest retention, replicas 3 here) is the one
  the PUBACK waits for, and it keeps a message until every consumer interested in it
  has acknowledged it.

Per-device credentials and permissions are users of the ANJU account in each node's
configuration (2.9 has no callout to an external authenticator): a device may publish
only `anju.v1.devices.<id>.*` and subscribe to nothing. add_device() rewrites the
account file of every node and reloads them (SIGHUP).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from anju.broker import new_password
from anju.cluster.procs import wait_gone
from anju.host import StackError, free_ports, wait_port

NATS_SERVER = os.environ.get("ANJU_NATS_SERVER", "/usr/sbin/nats-server")
ACCOUNT = "ANJU"
INGEST_USER = "anju-ingest"
ADMIN_USER = "anju-admin"   # the system account: monitoring and server requests
STREAM = "ANJU_READINGS"
SUBJECTS = ("anju.v1.devices.>", "anju.v1.gateways.>")
MQTT_STREAM = "$MQTT_msgs"
MQTT_PREFIX = "$MQTT.msgs."
CONSUMER = "anju-ingest"
CAPTURES = ("stream", "mqtt")


def _quote(s: str) -> str:
    return json.dumps(s)  # a NATS config string is a JSON string


@dataclass
class Node:
    index: int
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    http_port: int


@dataclass
class Config:
    nodes: list[Node]
    ingest_password: str
    admin_password: str
    devices: dict[str, str] = field(default_factory=dict)   # device id -> password
    gateways: dict[str, str] = field(default_factory=dict)  # gateway id -> password

    @staticmethod
    def load(path: Path) -> "Config":
        raw = json.loads(path.read_text())
        raw["nodes"] = [Node(**n) for n in raw["nodes"]]
        return Config(**raw)


@dataclass
class NatsCluster:
    """N nats-server nodes with JetStream, clustered on loopback under state_dir."""

    state_dir: Path
    size: int = 3
    capture: str = "mqtt"

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).absolute()
        self.config_file = self.state_dir / "nats.json"
        if self.capture not in CAPTURES:
            raise ValueError(f"capture must be one of {CAPTURES}")

    # -- configuration -------------------------------------------------------
    def config(self) -> Config:
        if not self.config_file.exists():
            raise StackError(f"no NATS cluster in {self.state_dir}")
        return Config.load(self.config_file)

    def _save(self, cfg: Config) -> None:
        self.config_file.write_text(json.dumps(asdict(cfg), indent=2))
        os.chmod(self.config_file, 0o600)

    def _create(self) -> Config:
        ports = free_ports(4 * self.size)
        nodes = [Node(i, f"anju{i}", *ports[4 * i:4 * i + 4]) for i in range(self.size)]
        cfg = Config(nodes=nodes, ingest_password=secrets.token_urlsafe(18),
                     admin_password=secrets.token_urlsafe(18))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._save(cfg)
        for n in nodes:
            self.node_dir(n.index).mkdir(exist_ok=True)
            self._write_node_conf(cfg, n)
        self._write_accounts(cfg)
        return cfg

    def node_dir(self, i: int) -> Path:
        return self.state_dir / f"node{i}"

    def _write_node_conf(self, cfg: Config, n: Node) -> None:
        d = self.node_dir(n.index)
        routes = ", ".join(f"nats-route://127.0.0.1:{m.cluster_port}"
                           for m in cfg.nodes if m.index != n.index)
        replicas = min(3, self.size)
        conf = f"""\
server_name: {n.name}
listen: 127.0.0.1:{n.client_port}
http: 127.0.0.1:{n.http_port}
pid_file: {_quote(str(d / 'pid'))}
log_file: {_quote(str(d / 'server.log'))}
max_payload: 1MB
jetstream {{
  store_dir: {_quote(str(d / 'js'))}
  max_memory_store: 256MB
  max_file_store: 4GB
}}
cluster {{
  name: anju
  listen: 127.0.0.1:{n.cluster_port}
  routes: [{routes}]
}}
mqtt {{
  listen: 127.0.0.1:{n.mqtt_port}
  # the $MQTT_ streams (sessions, messages, retained) on {replicas} nodes, not on
  # as many as the routes happen to name
  stream_replicas: {replicas}
}}
system_account: SYS
include "accounts.conf"
"""
        (d / "nats.conf").write_text(conf)

    def _write_accounts(self, cfg: Config) -> None:
        users = [f"      {{user: {_quote(INGEST_USER)}, password: {_quote(cfg.ingest_password)}}}"]
        subjects = [(dev, pw, device_subject(dev)) for dev, pw in cfg.devices.items()]
        subjects += [(gw, pw, gateway_subject(gw)) for gw, pw in cfg.gateways.items()]
        for dev, pw, subject in sorted(subjects):
            users.append(
                f"      {{user: {_quote(dev)}, password: {_quote(pw)}, permissions: {{"
                f"publish: {{allow: [{_quote(subject)}]}}, "
                f"subscribe: {{deny: [\">\"]}}}}}}")
        text = (
            "accounts {\n"
            f"  {ACCOUNT} {{\n    jetstream: enabled\n    users: [\n"
            + ",\n".join(users) + "\n    ]\n  }\n"
            f"  SYS {{ users: [{{user: {_quote(ADMIN_USER)}, "
            f"password: {_quote(cfg.admin_password)}}}] }}\n"
            "}\n")
        for n in cfg.nodes:
            f = self.node_dir(n.index) / "accounts.conf"
            tmp = f.with_suffix(".tmp")
            tmp.write_text(text)
            os.chmod(tmp, 0o600)
            tmp.replace(f)

    # -- processes -------------------------------------------------------------
    def pid(self, i: int) -> int | None:
        try:
            pid = int((self.node_dir(i) / "pid").read_text().strip())
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return None
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def start_node(self, i: int, *, wait: bool = True) -> None:
        cfg = self.config()
        if self.pid(i):
            return
        d = self.node_dir(i)
        with (d / "stdout.log").open("ab") as out:
            subprocess.Popen([NATS_SERVER, "-c", str(d / "nats.conf")], stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",
                             start_new_session=True)
        if wait:
            wait_port(cfg.nodes[i].mqtt_port, what=f"NATS node {i} (MQTT)",
                      log=d / "server.log", timeout=30)

    def kill_node(self, i: int) -> None:
        pid = self.pid(i)
        if pid:
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid)

    def stop_node(self, i: int) -> None:
        pid = self.pid(i)
        if pid:
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid, 30)
            if self.pid(i):
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid)

    def reload(self) -> None:
        for i in range(self.size):
            if pid := self.pid(i):
                os.kill(pid, signal.SIGHUP)

    def up(self) -> Config:
        """Start (creating on first use) the cluster and the capture of the devices' topics."""
        cfg = self.config() if self.config_file.exists() else self._create()
        for i in range(self.size):
            self.start_node(i, wait=False)
        for i in range(self.size):
            wait_port(cfg.nodes[i].mqtt_port, what=f"NATS node {i} (MQTT)",
                      log=self.node_dir(i) / "server.log", timeout=30)
        self.wait_meta_leader()
        asyncio.run(self.setup_capture())
        return cfg

    def down(self) -> None:
        for i in range(self.size):
            self.stop_node(i)

    def jsz(self, i: int) -> dict[str, object]:
        port = self.config().nodes[i].http_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/jsz", timeout=5) as r:
            return json.loads(r.read())

    def wait_meta_leader(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(self.size):
                if not self.pid(i):
                    continue
                try:
                    meta = self.jsz(i).get("meta_cluster") or {}
                except OSError:
                    continue
                if isinstance(meta, dict) and meta.get("leader"):
                    return
            time.sleep(0.5)
        raise StackError("NATS JetStream has no meta leader")

    def leader_index(self, stream: str | None = None) -> int:
        """The node that leads the capture stream's Raft group (the consumer's stream)."""
        stream = stream or self.consumer_target()[0]
        for i in range(self.size):
            if not self.pid(i):
                continue
            port = self.config().nodes[i].http_port
            url = f"http://127.0.0.1:{port}/jsz?accounts=1&streams=1"
            with urllib.request.urlopen(url, timeout=5) as r:
                jsz = json.loads(r.read())
            for acc in jsz.get("account_details") or []:
                for st in acc.get("stream_detail") or []:
                    leader = (st.get("cluster") or {}).get("leader")
                    if st.get("name") == stream and leader:
                        return next(n.index for n in self.config().nodes if n.name == leader)
        raise StackError(f"stream {stream} has no leader")

    def stream_state(self, stream: str | None = None) -> dict[str, object]:
        """A stream's state (messages, first and last sequence) and its consumers' pending
        counts, as one live node reports them."""
        stream = stream or self.consumer_target()[0]
        for i in range(self.size):
            if not self.pid(i):
                continue
            port = self.config().nodes[i].http_port
            url = f"http://127.0.0.1:{port}/jsz?accounts=1&streams=1&consumers=1"
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    jsz = json.loads(r.read())
            except OSError:
                continue
            for acc in jsz.get("account_details") or []:
                for st in acc.get("stream_detail") or []:
                    if st.get("name") == stream:
                        state = st.get("state") or {}
                        return {"messages": state.get("messages"),
                                "last_seq": state.get("last_seq"),
                                "consumers": {c["name"]: {"pending": c.get("num_pending"),
                                                          "ack_pending": c.get("num_ack_pending"),
                                                          "redelivered": c.get("num_redelivered")}
                                              for c in st.get("consumer_detail") or []}}
        return {}

    def node_pids(self) -> dict[int, int]:
        return {i: p for i in range(self.size) if (p := self.pid(i))}

    def status(self) -> dict[str, object]:
        out: dict[str, object] = {"alive": [i for i in range(self.size) if self.pid(i)]}
        for i in out["alive"]:  # type: ignore[attr-defined]
            try:
                out["meta_cluster"] = self.jsz(i).get("meta_cluster")
                break
            except OSError:
                continue
        out["mqtt"] = self.mqtt_addresses()
        return out

    # -- devices -------------------------------------------------------------------
    def add_devices(self, devices: dict[str, str]) -> None:
        """Provision devices (id -> password) on every node: rewrite the account, reload."""
        cfg = self.config()
        cfg.devices.update(devices)
        self._save(cfg)
        self._write_accounts(cfg)
        self.reload()

    def add_device(self, device_id: str, password: str | None = None) -> str:
        password = password or new_password()
        self.add_devices({device_id: password})
        return password

    def add_gateway(self, gateway_id: str, password: str | None = None) -> str:
        """Provision a home gateway (anju/v1/gateways/{id}/{name}/{kind}); returns its password."""
        password = password or new_password()
        cfg = self.config()
        cfg.gateways[gateway_id] = password
        self._save(cfg)
        self._write_accounts(cfg)
        self.reload()
        return password

    # -- addresses and the capture -------------------------------------------------------
    def mqtt_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.config().nodes]

    def nats_urls(self, user: str = INGEST_USER) -> list[str]:
        cfg = self.config()
        pw = cfg.ingest_password if user == INGEST_USER else cfg.admin_password
        return [f"nats://{user}:{pw}@127.0.0.1:{n.client_port}" for n in cfg.nodes]

    def consumer_target(self) -> tuple[str, str]:
        """(stream, filter subject) the ingest's durable consumer reads."""
        if self.capture == "mqtt":
            return MQTT_STREAM, MQTT_PREFIX + "anju.v1.>"
        return STREAM, ">"

    async def setup_capture(self, timeout: float = 60) -> None:
        """The stream (capture "stream") and the ingest's durable pull consumer.

        With capture "mqtt" the `$MQTT_msgs` stream exists only once an MQTT client has
        connected to the account, so one connects first (anju's ingest user may).
        """
        import nats
        from nats.js.api import (AckPolicy, ConsumerConfig, RetentionPolicy, StorageType,
                                 StreamConfig)

        deadline = time.monotonic() + timeout
        while True:
            try:
                nc = await nats.connect(servers=self.nats_urls(), connect_timeout=5,
                                        max_reconnect_attempts=3)
                break
            except Exception:  # noqa: BLE001 - JetStream not ready yet: retried until deadline
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        try:
            js = nc.jetstream(timeout=10)
            if self.capture == "mqtt":
                await asyncio.to_thread(self._touch_mqtt)
            else:
                await _retry(lambda: js.add_stream(StreamConfig(
                    name=STREAM, subjects=list(SUBJECTS), retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE, num_replicas=min(3, self.size))), deadline)
            stream, subject = self.consumer_target()
            await _retry(lambda: js.add_consumer(stream, ConsumerConfig(
                durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, filter_subject=subject,
                ack_wait=30, max_ack_pending=20_000, max_deliver=-1)), deadline)
        finally:
            await nc.close()

    def _touch_mqtt(self) -> None:
        """Connect one MQTT client so nats-server creates the account's $MQTT_ streams."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        cfg = self.config()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=INGEST_USER + "-setup",
                        protocol=mqtt.MQTTv311)
        c.username_pw_set(INGEST_USER, cfg.ingest_password)
        rc = c.connect("127.0.0.1", cfg.nodes[0].mqtt_port, 30)
        c.loop_start()
        time.sleep(1)
        c.disconnect()
        c.loop_stop()
        if rc != 0:
            raise StackError(f"MQTT set-up connection refused: {rc}")


def device_subject(device_id: str) -> str:
    """The NATS subjects a device may publish: one level below its name."""
    return f"anju.v1.devices.{device_id}.*"


def gateway_subject(gateway_id: str) -> str:
    """A gateway publishes for the devices behind it: their external name, then the kind."""
    return f"anju.v1.gateways.{gateway_id}.*.*"


async def _retry(fn, deadline: float):  # type: ignore[no-untyped-def]
    while True:
        try:
            return await fn()
        except Exception:  # noqa: BLE001 - no stream leader yet, during start-up
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


def main(argv: list[str] | None = None) -> int:
    """up / status / down / add-device; for engineers, in plain English."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m anju.cluster.nats", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("up", "status", "down", "add-device"))
    ap.add_argument("--state-dir", default=".anju-cluster/nats")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--capture", choices=CAPTURES, default="mqtt")
    ap.add_argument("--device", help="add-device: the device id (its password is printed)")
    a = ap.parse_args(argv)
    cluster = NatsCluster(Path(a.state_dir), a.nodes, capture=a.capture)
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
