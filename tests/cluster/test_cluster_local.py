"""`anju cluster up|down|status` (anju/cluster/local.py): the whole multi-node anju on
loopback — a 3-node RabbitMQ broker, PostgreSQL under Patroni with etcd, ingest workers on
the capture queue, detectors sharing the partitions, routers, the console — started, looked
at, faulted and stopped from the command line as an operator would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import psycopg
import pytest

from anju import registry
from anju.cluster.local import LocalCluster
from tests.cluster.broker_support import DeviceProbe
from tests.support import reading

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]


def _anju(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anju.cli", *args], capture_output=True,
                          text=True, timeout=300)


def _until(what: str, fn: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(scope="module")
def state() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="anju-cluster-"))
    os.chmod(base, 0o711)
    st = base / "state"
    try:
        yield st
    finally:
        LocalCluster(st).down(purge=True)
        shutil.rmtree(base, ignore_errors=True)


def _holders(url: str) -> dict[str, int]:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return dict(conn.execute(
            "SELECT holder, count(*) FROM detector_leases WHERE expires_at > now()"
            " GROUP BY holder").fetchall())


def test_up_status_a_detector_killed_and_down(state: Path) -> None:
    r = _anju("cluster", "up", "--state", str(state), "--engine", "rabbitmq", "--detectors", "2",
              "--routers", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "anju cluster is up" in r.stdout
    st = json.loads(_anju("cluster", "status", "--state", str(state), "--json").stdout)
    assert st["engine"] == "rabbitmq" and sorted(st["broker"]["alive"]) == [0, 1, 2]
    assert all(s["running"] for s in st["services"].values()), st["services"]
    assert set(st["services"]) == {"ingest-1", "ingest-2", "detect-1", "detect-2", "route-1",
                                   "console"}
    _until("the console answers", lambda: json.loads(_anju(
        "cluster", "status", "--state", str(state), "--json").stdout)["console_healthy"], 30)
    assert st["postgres"]["database_url"].count("127.0.0.1:") == 2        # multi-host
    assert "target_session_attrs=read-write" in st["postgres"]["database_url"]

    c = LocalCluster(state)
    url = c.postgres(2).database_url()
    # a device on the second node: its acknowledged readings are stored once by the
    # ingest workers competing for the capture queue
    with psycopg.connect(url, autocommit=True) as conn:
        registry.add_home(conn, code="h-cl-1", community="c-cl", resident="测试")
        dev = registry.add_device(conn, home="h-cl-1", kind="motion", room="bedroom")
    b = c.broker("rabbitmq")
    probe = DeviceProbe(b.mqtt_addresses()[1][1], dev.uid, b.add_device(dev.uid))
    assert probe.connect() == 0
    try:
        for seq in range(200):
            probe.publish(f"anju/v1/devices/{dev.uid}/motion", reading(seq, seq & 1))
        _until("200 PUBACKs", lambda: probe.kinds().count("puback") == 200, 30)
    finally:
        probe.close()

    def rows() -> tuple[int, int]:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute("SELECT count(*), count(DISTINCT seq) FROM readings"
                                " WHERE device_id = %s", (dev.id,)).fetchone()  # type: ignore
    _until("the 200 readings stored", lambda: rows() == (200, 200), 30)
    # the two detectors share the 64 partitions between them
    shared = _until("both detectors hold partitions",
                    lambda: (lambda h: h if len(h) == 2 and sum(h.values()) == 64 else None)(
                        _holders(url)), 60)
    assert min(shared.values()) >= 1
    # one dies: the other holds every partition once the dead one's leases run out (30 s)
    c.kill_service("detect-1")
    _until("the other detector holds all 64 partitions",
           lambda: list(_holders(url).values()) == [64], 75)
    st = json.loads(_anju("cluster", "status", "--state", str(state), "--json").stdout)
    assert not st["services"]["detect-1"]["running"] and st["services"]["detect-2"]["running"]
    # a second `up` starts what is not running and leaves the rest alone
    pid2 = st["services"]["detect-2"]["pid"]
    r = _anju("cluster", "up", "--state", str(state), "--engine", "rabbitmq", "--detectors", "2",
              "--routers", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    st = json.loads(_anju("cluster", "status", "--state", str(state), "--json").stdout)
    assert st["services"]["detect-1"]["running"] and st["services"]["detect-2"]["pid"] == pid2
    r = _anju("cluster", "up", "--state", str(state), "--engine", "nats")
    assert r.returncode == 2 and "holds a rabbitmq cluster" in r.stderr

    r = _anju("cluster", "down", "--state", str(state))
    assert r.returncode == 0, r.stderr[-2000:]
    st = json.loads(_anju("cluster", "status", "--state", str(state), "--json").stdout)
    assert not any(s["running"] for s in st["services"].values())
    left = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True).stdout
    assert left.strip() == "", left
