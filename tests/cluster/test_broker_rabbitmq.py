"""A 3-node RabbitMQ 3.10 cluster under the device contract: per-device permissions, the
quorum queue that captures the devices' topics, and no acknowledged reading lost when
the queue's leader node is killed under load."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from anju.cluster.rabbitmq import QUEUE, RabbitCluster
from tests.cluster.broker_support import DeviceProbe, puback_from_lone_node

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = RabbitCluster(tmp_path_factory.mktemp("rabbitmq"), 3)
    try:
        c.up()
        c.add_devices({"t-d1": "pw-d1", "t-d2": "pw-d2"})
        yield c
    finally:
        c.down()


async def drain(c: RabbitCluster, seconds: float = 3.0) -> list[tuple[str, dict[str, object]]]:
    """(routing key, payload) of everything in the capture queue, acknowledged."""
    import aiormq

    out: list[tuple[str, dict[str, object]]] = []
    conn = await aiormq.connect(c.amqp_urls()[0])
    try:
        ch = await conn.channel()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = await ch.basic_get(QUEUE)
            if m.delivery_tag is None:   # Basic.GetEmpty
                await asyncio.sleep(0.1)
                continue
            out.append((m.routing_key or "", json.loads(m.body)))
            await ch.basic_ack(m.delivery_tag)
    finally:
        await conn.close()
    return out


def node_port(c: RabbitCluster, i: int) -> int:
    return c.mqtt_addresses()[i][1]


async def test_a_permitted_device_publishes_and_a_consumer_gets_it(cluster: RabbitCluster) -> None:
    await drain(cluster, 0.5)
    d = DeviceProbe(node_port(cluster, 1), "t-d1", "pw-d1")
    assert d.connect() == 0
    d.publish("anju/v1/devices/t-d1/motion", b'{"ts": 1, "seq": 4711, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = await drain(cluster)
    assert ("anju.v1.devices.t-d1.motion", {"ts": 1, "seq": 4711, "value": 1}) in got


async def test_publishing_outside_its_topic_closes_the_connection(cluster: RabbitCluster) -> None:
    await drain(cluster, 0.5)
    d = DeviceProbe(node_port(cluster, 0), "t-d1", "pw-d1")
    assert d.connect() == 0
    d.publish("anju/v1/devices/t-d2/motion", b'{"ts": 1, "seq": 99, "value": 1}')
    # 3.10 closes the connection on a refused topic permission (no PUBACK)
    assert d.wait_for("disconnect") is not None
    assert "puback" not in d.kinds()
    d.close()
    assert not any(key.endswith("t-d2.motion") for key, _ in await drain(cluster, 1.5))



async def test_a_gateway_publishes_for_the_devices_behind_it(cluster: RabbitCluster) -> None:
    cluster.add_gateway("t-gw", "pw-gw")
    await asyncio.sleep(1.0)  # NATS: every node reloaded
    await drain(cluster, 0.5)
    d = DeviceProbe(node_port(cluster, 1), "t-gw", "pw-gw")
    assert d.connect() == 0
    d.publish("anju/v1/gateways/t-gw/door-1/door", b'{"ts": 3, "seq": 1, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = await drain(cluster)
    assert ("anju.v1.gateways.t-gw.door-1.door", {"ts": 3, "seq": 1, "value": 1}) in got

async def test_a_subscription_is_refused(cluster: RabbitCluster) -> None:
    d = DeviceProbe(node_port(cluster, 2), "t-d1", "pw-d1")
    assert d.connect() == 0
    d.c.subscribe("anju/v1/devices/t-d1/#", 1)
    # the subscription queue cannot be declared (no configure permission): disconnected
    assert d.wait_for("disconnect") is not None
    assert "suback" not in d.kinds()
    d.close()


def test_a_wrong_password_is_refused(cluster: RabbitCluster) -> None:
    d = DeviceProbe(node_port(cluster, 0), "t-d1", "not-the-password")
    assert d.connect() == 134  # 3.1.1 CONNACK 4 "bad user name or password", as paho names it
    d.close()

def test_devices_provisioned_in_the_registry_reach_the_cluster(
        cluster: RabbitCluster, stack, conn, unique: str) -> None:  # type: ignore[no-untyped-def]
    """Production provisioning: `anju device add` with ANJU_RABBITMQ_API puts the device's
    user on the cluster from the registry's hash (no plain password kept); `anju broker
    sync --rabbitmq` changes nothing when nothing changed and deletes a retired device's
    user, never a service account."""
    import os
    import subprocess
    import sys

    from anju import registry

    cfg = cluster.config()
    api = ",".join(f"http://anju-admin:{cfg.admin_password}@127.0.0.1:{n.mgmt_port}"
                   for n in cfg.nodes)
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir), ANJU_RABBITMQ_API=api)
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)

    def anju(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "anju.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    registry.add_home(conn, code=f"rq-{unique}", community="c-rq", resident="测试")
    r = anju("device", "add", "--home", f"rq-{unique}", "--kind", "motion", "--room", "bedroom",
             "--uid", f"rq-{unique}-m")
    assert r.returncode == 0, r.stderr
    password = r.stdout.split("password:")[1].split()[0]
    assert cfg.admin_password not in r.stdout + r.stderr

    d = DeviceProbe(node_port(cluster, 2), f"rq-{unique}-m", password)
    assert d.connect() == 0
    d.publish(f"anju/v1/devices/rq-{unique}-m/motion", b'{"ts": 5, "seq": 1, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = asyncio.run(drain(cluster))
    assert (f"anju.v1.devices.rq-{unique}-m.motion", {"ts": 5, "seq": 1, "value": 1}) in got
    wrong = DeviceProbe(node_port(cluster, 0), f"rq-{unique}-m", password + "x")
    assert wrong.connect() != 0
    wrong.close()

    r = anju("broker", "sync", "--rabbitmq")
    assert r.returncode == 0, r.stderr
    assert "0 added, 0 updated, 0 deleted" in r.stdout

    conn.execute("UPDATE devices SET active = false WHERE uid = %s", (f"rq-{unique}-m",))
    r = anju("broker", "sync", "--rabbitmq")
    assert r.returncode == 0 and "1 deleted" in r.stdout, r.stdout + r.stderr
    gone = DeviceProbe(node_port(cluster, 1), f"rq-{unique}-m", password)
    assert gone.connect() != 0
    gone.close()
    names = {u["name"] for u in cluster.api("GET", "users")}  # type: ignore[union-attr]
    assert {"anju-ingest", "anju-admin", "t-d1"} <= names   # not the registry's: left alone

    env["ANJU_RABBITMQ_API"] = "amqp://127.0.0.1:5672"
    r = anju("broker", "sync", "--rabbitmq")
    assert r.returncode == 2 and "ANJU_RABBITMQ_API: expected http(s)://" in r.stderr



def test_killing_the_queue_leader_under_load_loses_no_acknowledged_reading(
        cluster: RabbitCluster) -> None:
    """Last in the module: the leader node stays down."""
    from devtools.bench_broker_cluster import run

    asyncio.run(drain(cluster, 0.5))
    leader = cluster.leader_index()
    r = run("rabbitmq", devices=6, messages=6000, publishers=1, consumers=2, cluster=cluster,
            drain_timeout=60)
    assert r["killed_node"] == leader
    assert r["acknowledged"] == r["published"] == 6000
    assert r["lost"] == 0, r["lost_examples"]
    assert r["devices_reconnected"] >= 2   # those on the killed node moved to another
    assert cluster.pid(leader) is None and len(cluster.node_pids()) == 2


async def test_the_killed_node_comes_back_and_takes_readings(cluster: RabbitCluster) -> None:
    """After the kill above: the node started again rejoins, and a device on it is
    acknowledged and consumed."""
    dead = next(i for i in range(3) if cluster.pid(i) is None)
    t0 = time.monotonic()
    cluster.start_node(dead)
    d = DeviceProbe(node_port(cluster, dead), "t-d2", "pw-d2")
    assert d.connect() == 0
    d.publish("anju/v1/devices/t-d2/motion", b'{"ts": 2, "seq": 8, "value": 1}')
    assert d.wait_for("puback", 30) is not None
    print(f"node {dead} back and acknowledging in {time.monotonic() - t0:.1f} s")
    d.close()
    got = await drain(cluster)
    assert ("anju.v1.devices.t-d2.motion", {"ts": 2, "seq": 8, "value": 1}) in got
    assert len(cluster.node_pids()) == 3


def test_a_lone_node_acknowledges_nothing(cluster: RabbitCluster) -> None:
    """Two nodes killed: the quorum queue has no majority left, so
    the last node must not send a PUBACK (it would be a reading on one disk only)."""
    alive = list(cluster.node_pids())
    assert len(alive) == 3
    cluster.kill_node(alive[0])
    cluster.kill_node(alive[1])
    assert not puback_from_lone_node(node_port(cluster, alive[2]), "t-d1", "pw-d1")

