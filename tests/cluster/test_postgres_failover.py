"""PostgreSQL that fails over (anju/cluster/patroni.py): a primary and a streaming replica
under Patroni, a 3-member etcd, TimescaleDB and anju's migrations; the primary's host
killed, the replica promoted, no acknowledged write lost, the old primary back as a
replica. Real servers on loopback ports under a temporary directory."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from anju import db, registry
from anju.cluster.failover import kill_once
from anju.cluster.patroni import PostgresCluster
from anju.embedded import Stack
from anju.endpoints import Endpoints, MqttEndpoint
from tests.conftest import fresh_stack
from tests.support import as_device, publish_series, running_worker, stored, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    base = Path(tempfile.mkdtemp(prefix="anju-pgcluster-"))
    os.chmod(base, 0o711)
    c = PostgresCluster(base / "state", synchronous=True)
    try:
        c.up()
        yield c
    finally:
        c.down()
        shutil.rmtree(c.server_dir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def broker() -> Iterator[Stack]:
    """An embedded stack of its own, for its Mosquitto: the ingest reads from it and writes
    to the cluster (its own PostgreSQL stays idle)."""
    yield from fresh_stack("anju-pgcluster-mqtt-")


def _poll(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = fn()
            if got:
                return got
        except psycopg.Error:
            pass
        if time.monotonic() > deadline:
            return fn()
        time.sleep(0.2)


def _port(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT inet_server_port()").fetchone()[0]


def _other(cluster: PostgresCluster, name: str) -> str:
    return next(n.name for n in cluster.nodes() if n.name != name)


def test_bootstraps_with_timescaledb_and_migrations(cluster):
    latest = db.migrations()[-1].version
    leader = cluster.leader()
    with psycopg.connect(cluster.database_url(), autocommit=True) as conn:
        assert _port(conn) == cluster.node(leader).pg_port
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
        assert "timescaledb" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        assert conn.execute("SELECT extversion FROM pg_extension "
                            "WHERE extname = 'timescaledb'").fetchone()
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == latest
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables").fetchone()[0] > 0
    # The replica has it all by streaming, and is the synchronous standby.
    replica = _other(cluster, leader)
    roles = {m["name"]: m["role"] for m in cluster.members()}
    assert roles == {leader: "leader", replica: "sync_standby"}
    with psycopg.connect(cluster.node_url(replica), autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == latest
    # A read URL over the same hosts prefers the standby; a read-write one never takes it.
    with psycopg.connect(cluster.database_url("prefer-standby"), autocommit=True) as conn:
        assert _port(conn) == cluster.node(replica).pg_port
    with psycopg.connect(cluster.node_url(replica), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE nowhere (x int)")


def test_primary_killed_replica_promoted_nothing_lost_old_primary_rejoins(cluster):
    assert cluster.synchronous
    old = cluster.leader()
    replica = _other(cluster, old)
    k = asyncio.run(kill_once(cluster, how="node", writers=4, settle_s=2.0, timeout=45.0))

    assert (k.old_leader, k.new_leader) == (old, replica)
    assert k.writable_s < 30, k
    assert len(k.writers_back_s) == 4 and max(k.writers_back_s) < 40, k  # each reconnected
    assert k.acknowledged > 100, k
    assert k.lost == 0, k          # synchronous_mode: an acknowledged write is on both nodes

    # A multi-host read-write connection lands on the promoted node and writes there.
    with psycopg.connect(cluster.database_url(), autocommit=True) as conn:
        assert _port(conn) == cluster.node(replica).pg_port
        conn.execute("CREATE TABLE IF NOT EXISTS after_failover (x int)")
        conn.execute("INSERT INTO after_failover VALUES (42)")

    # The old primary came back as a replica of the new one and streams what it missed.
    assert k.rejoined_s is not None
    roles = {m["name"]: m["role"] for m in cluster.members()}
    assert roles == {replica: "leader", old: "sync_standby"}
    with psycopg.connect(cluster.node_url(old), autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert _poll(lambda: conn.execute(
            "SELECT count(*) FROM failover_probe").fetchone()[0] >= k.acknowledged)
        assert _poll(lambda: conn.execute("SELECT to_regclass('after_failover') IS NOT NULL "
                                          "AND EXISTS (SELECT 1 FROM after_failover "
                                          "WHERE x = 42)").fetchone()[0])


def test_patroni_killed_its_orphaned_primary_acknowledges_nothing_that_is_lost(cluster):
    """Patroni alone dies; its PostgreSQL, still a primary, holds commits waiting for the
    standby that is promoted meanwhile. Patroni is started again 5 s after the promotion
    and must not let those commits be acknowledged and then rewound away."""
    old = cluster.leader()
    k = asyncio.run(kill_once(cluster, how="patroni", writers=4, restart_s=5.0, timeout=45.0))
    assert (k.old_leader, k.new_leader) == (old, _other(cluster, old))
    assert k.acknowledged > 100 and len(k.writers_back_s) == 4, k
    assert k.lost == 0, k
    assert k.rejoined_s is not None
    roles = {m["name"]: m["role"] for m in cluster.members()}
    assert roles == {k.new_leader: "leader", old: "sync_standby"}


async def test_ingest_stores_every_reading_through_a_failover(cluster, broker):
    """anju's ingest, given the multi-host URL, writes to the primary; its host is killed
    mid-stream; the ingest reconnects to the promoted replica by itself and every reading
    the broker took from the device is stored once."""
    url = cluster.database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        tag = secrets.token_hex(3)
        registry.add_home(conn, code=f"h-fo-{tag}", community=f"c-fo-{tag}", resident="测试",
                          tz="Asia/Shanghai")
        dev = registry.add_device(conn, home=f"h-fo-{tag}", kind="motion", room="bedroom")
        broker.write_broker_files(registry.broker_user_hashes(conn))
    broker.reload_broker()
    await asyncio.sleep(0.3)

    def count() -> tuple[int, int]:
        with psycopg.connect(url, autocommit=True) as c:
            return stored(c, [dev.id])

    def count_or_none() -> tuple[int, int] | None:
        try:
            return count()
        except psycopg.OperationalError:
            return None                     # no primary yet

    n = 3000
    ep = Endpoints(url, MqttEndpoint.from_url(broker.mqtt_url()), broker)
    old = cluster.leader()
    async with running_worker(ep, worker=f"fo-{tag}"):
        device = await as_device(broker, dev)
        publishing = asyncio.create_task(publish_series(device, dev.uid, n, pace=0.003,
                                                        window=200))
        await wait_until(lambda: count()[0] >= 300, timeout=30)
        await asyncio.to_thread(cluster.kill_node, old)
        await publishing                    # the broker took every reading meanwhile
        await device.disconnect()
        await wait_until(lambda: (count_or_none() or (0, 0))[0] >= n, timeout=90)
        await asyncio.sleep(0.5)
        assert count() == (n, n)            # none lost, none twice
    assert cluster.leader() != old
    cluster.start_node(old)
    cluster.wait_replicas(120)
