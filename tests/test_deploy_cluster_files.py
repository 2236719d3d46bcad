"""deploy/cluster/: the production configuration of the clustered broker and of
PostgreSQL under Patroni says what the local cluster runs and measured
(anju/cluster/rabbitmq.py, anju/cluster/patroni.py): a change to one without the
other fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from anju.cluster.patroni import ClusterCredentials, PgNode, PostgresCluster
from anju.cluster.rabbitmq import BINDINGS, INGEST_USER, QUEUE, RabbitCluster
from anju.rabbitmq_users import EXCHANGE, VHOST

DEPLOY = Path(__file__).parent.parent / "deploy" / "cluster"


def _conf(text: str) -> dict[str, str]:
    return dict(tuple(x.strip() for x in line.split("=", 1))  # type: ignore[misc]
                for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_rabbitmq_production_config_keeps_the_local_clusters_rules(tmp_path: Path) -> None:
    local = RabbitCluster(tmp_path / "rq", 3)
    local._create()                 # writes the nodes' files; starts nothing
    mine = _conf((local.node_dir(0) / "rabbitmq.conf").read_text())
    prod = _conf((DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text())
    for key in ("mqtt.allow_anonymous", "mqtt.vhost", "mqtt.exchange",
                "cluster_partition_handling", "cluster_formation.peer_discovery_backend"):
        assert prod[key] == mine[key], key
    assert prod["mqtt.exchange"] == EXCHANGE and prod["mqtt.vhost"] == VHOST
    assert prod["mqtt.listeners.tcp"] == "none"       # devices over TLS only
    peers = [k for k in prod if k.startswith("cluster_formation.classic_config.nodes.")]
    assert len(peers) == 3
    assert ((DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
            == (local.node_dir(0) / "enabled_plugins").read_text())


def test_rabbitmq_definitions_are_the_capture_queue_and_the_ingest_permission() -> None:
    d = json.loads((DEPLOY / "rabbitmq" / "anju-definitions.json").read_text())
    (q,) = d["queues"]
    assert q["name"] == QUEUE and q["durable"] and q["vhost"] == VHOST
    assert q["arguments"]["x-queue-type"] == "quorum"
    assert {b["routing_key"] for b in d["bindings"]} == set(BINDINGS)
    assert all(b["source"] == EXCHANGE and b["destination"] == QUEUE for b in d["bindings"])
    (p,) = d["permissions"]
    assert p["user"] == INGEST_USER and p["write"] == "^$"
    assert p["read"] == p["configure"] == "^" + re.escape(QUEUE) + "$"


def test_patroni_production_config_is_the_measured_one(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pc = PostgresCluster(tmp_path / "pg")
    monkeypatch.setattr(pc.etcd, "hosts", lambda: ["127.0.0.1:2379"])
    mine = pc._config(PgNode("pg0", 5432, 8008), ClusterCredentials([], "s", "r", "a"))
    prod = yaml.safe_load((DEPLOY / "patroni" / "config.yml").read_text())
    assert prod["scope"] == mine["scope"]
    assert prod["bootstrap"]["dcs"] == mine["bootstrap"]["dcs"]   # type: ignore[index]
    assert prod["bootstrap"]["initdb"] == mine["bootstrap"]["initdb"]  # type: ignore[index]
    dcs = prod["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    for key in ("shared_preload_libraries", "timescaledb.telemetry_level"):
        assert (prod["postgresql"]["parameters"][key]
                == mine["postgresql"]["parameters"][key])     # type: ignore[index]


def test_the_patroni_drop_in_kills_what_a_crashed_patroni_left() -> None:
    text = (DEPLOY / "patroni" / "patroni.service.d" / "anju.conf").read_text()
    conf = _conf(text)
    assert conf["KillMode"] == "mixed" and text.count("[Service]") == 1
    assert int(conf["TimeoutStopSec"]) <= 30
