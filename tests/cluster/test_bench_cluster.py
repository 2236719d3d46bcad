"""`anju bench cluster`: homes living through the whole cluster while a broker node, the
PostgreSQL primary, an ingest worker and a detector are killed in turn — the issue's
targets checked on the figures the command prints."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devtools.bench_cluster import Kill

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


def test_caught_up_is_the_first_sample_counting_everything_sent_before_the_kill() -> None:
    k = Kill("ingest_worker", at=100.0, acked_at_kill=0,
             samples=[(100.2, 10), (100.5, 14), (101.0, 15), (101.2, 15)])
    k.caught_up(15)
    assert k.caught_up_s == pytest.approx(1.0)
    k.caught_up(16)                     # never all there while sampled
    assert k.caught_up_s is None


def test_every_kill_in_turn_loses_nothing_and_every_emergency_arrives() -> None:
    r = subprocess.run([sys.executable, "-m", "anju.cli", "bench", "cluster", "--json",
                        "--homes", "24", "--rate", "120", "--warmup", "10", "--phase", "35"],
                       capture_output=True, text=True, timeout=560)
    assert r.stdout.strip(), r.stderr[-3000:]
    out = json.loads(r.stdout)
    # the targets
    assert out["lost"] == 0, out["lost_examples"]
    assert out["duplicates"] == 0
    assert out["emergencies"]["pressed"] == 24
    assert out["emergencies"]["delivered"] == 24, out["emergencies"]
    kills = {k["what"]: k for k in out["kills"]}
    assert list(kills) == ["broker_node", "postgres_primary", "ingest_worker", "detector"]
    assert kills["postgres_primary"]["failover_s"] <= 30, kills["postgres_primary"]
    assert kills["postgres_primary"]["new_primary"] not in kills["postgres_primary"]["detail"]
    assert r.returncode == 0 and out["targets_met"] is True
    # the load went through while the parts died
    assert out["acknowledged"] >= 0.95 * out["published"] > 0.8 * 120 * out["seconds"]
    assert out["stored"] >= out["acknowledged"]
    # devices on the killed node moved to the others; a dead detector's partitions were
    # taken once its leases ran out (30 s)
    assert kills["broker_node"]["devices_reconnected"] >= 1
    assert kills["detector"]["partitions_moved"] >= 1
    assert kills["detector"]["failover_s"] <= 45, kills["detector"]
    for k in kills.values():
        assert k["caught_up_s"] is not None, k    # all sent before each kill, stored in its phase
    nodes = out["msgs_per_s_per_node"]
    assert len(nodes) == 3
    assert sum(nodes.values()) == pytest.approx(out["msgs_per_s"], rel=0.02)
