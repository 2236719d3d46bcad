"""`anju bench cluster`: simulated homes living through the whole cluster while its parts
are killed in turn.

On a fresh `anju cluster up` (anju/cluster/local.py) in a temporary directory — a 3-node
RabbitMQ broker, PostgreSQL primary + replica under Patroni with 3 etcd members, ingest
workers competing for the capture queue, detectors sharing the partitions under leases,
routers — `--homes` homes each get a motion sensor and an emergency button, provisioned as
an installer would (registry rows, per-device broker users), and a family contact whose
channel is a local HTTP receiver (apprise json://).

Publishing processes run every device as the contract has it (paho-mqtt, user name =
client id = device id, a last will, QoS 1; a device whose connection drops tries the next
broker address). The motion sensors publish `--rate` readings per second in all; each
home's button is pressed once, the presses spread over the run. Every PUBACK is recorded.

After a warm-up, every `--phase` seconds one part is SIGKILLed, in this order:

1. the broker node leading the capture queue (restarted at the end of its phase);
2. the PostgreSQL primary with its Patroni (the host dies; Patroni promotes the replica;
   the old node is started again at the end of its phase and rejoins as a replica);
3. an ingest worker, holding deliveries it had not acknowledged;
4. a detector, holding partition leases.

Then the devices stop, the ingest catches up, and the bench counts, from the database:
published, acknowledged, stored (distinct device and sequence number), `lost`
(acknowledged, never stored), `duplicates` (stored rows beyond one per reading); per kill
the failover seconds (broker: the longest a device was without a connection; PostgreSQL:
until a write commits through the multi-host URL; ingest: until every reading sent before
the kill is stored; detector: until the living detectors hold every partition) and
`caught_up_s`, when every reading a device sent before the kill was in the database
(sampled every 0.25 s: the readings stored with a device time before the kill, against
their number at the end of the run);
emergencies pressed, delivered, and their latency from the press to the webhook (p50, p99,
max, and the worst per phase); msg/s in all and per broker node.

Targets (the exit status is 1 when one is missed): lost 0, duplicates 0, every emergency
delivered, PostgreSQL writable again within 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import psycopg

from alerts.manage import ContactSpec, add_contact
from anju import registry
from anju.cluster.local import LocalCluster
from anju.mqtt_async import Will
from devtools.bench_broker_cluster import Device
from devtools.sinks import HttpSink
from devtools.stacks import percentile, report

PG_FAILOVER_TARGET_S = 30.0
DELIVERY_TIMEOUT_S = 120.0   # an emergency not at the webhook by then counts as not delivered
WINDOW = 50                  # unacknowledged readings a device may hold (as a device buffers)
KILLS = ("broker_node", "postgres_primary", "ingest_worker", "detector")


# -- the devices (publishing processes) --------------------------------------------------

class BenchDevice(Device):
    """A device that also counts its acknowledgements per broker node."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.per_node: dict[int, int] = {}

    def _on_publish(self, client, userdata, mid, reason,  # type: ignore[no-untyped-def]
                    properties) -> None:
        self.per_node[self._addr] = self.per_node.get(self._addr, 0) + 1
        super()._on_publish(client, userdata, mid, reason, properties)


@dataclass
class Plan:
    """What one publishing process does."""
    addresses: list[tuple[str, int]]
    sensors: list[tuple[str, str]]            # (device id, password)
    buttons: list[tuple[str, str, str, float]]  # (home, device id, password, press at)
    rate: float                               # readings/s from this process's sensors
    start_at: float
    offset: int                               # first broker address of this process's devices


def _devices(plan: Plan, stop: "mp.Event", acked: "mp.Value",
             out: "mp.Queue[dict[str, object]]") -> None:
    logging.basicConfig(level=logging.CRITICAL)

    def dev(uid: str, pw: str, i: int) -> BenchDevice:
        return BenchDevice(plan.addresses, i % len(plan.addresses), client_id=uid,
                           username=uid, password=pw, keepalive=30, max_inflight=0,
                           backoff=(0.2, 2.0),
                           will=Will(f"anju/v1/devices/{uid}/status", b'{"status":"offline"}'))

    async def sensors(ds: list[BenchDevice], uids: list[str]) -> None:
        k, t0 = 0, time.time()
        seqs = [0] * len(ds)
        while not stop.is_set():
            due = t0 + k / plan.rate
            now = time.time()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:
                t0, k = now, 0       # after a stall: go on at the rate, no burst
            j = k % len(ds)
            k += 1
            d = ds[j]
            if d.inflight >= WINDOW:  # the device's buffer is full: it waits
                continue
            seqs[j] += 1
            d.send(f"anju/v1/devices/{uids[j]}/motion",
                   b'{"ts":%d,"seq":%d,"value":%d}' % (time.time_ns() // 1_000_000, seqs[j],
                                                        seqs[j] & 1), seqs[j])

    async def press(d: BenchDevice, uid: str, at: float) -> float:
        await asyncio.sleep(max(0.0, at - time.time()))
        now = time.time()
        d.send(f"anju/v1/devices/{uid}/button",
               b'{"ts":%d,"seq":1,"value":1}' % int(now * 1000), 1)
        return now

    async def count(ds: list[BenchDevice]) -> None:
        while True:
            acked.value = sum(len(d.acked) for d in ds)
            await asyncio.sleep(0.1)

    async def main() -> dict[str, object]:
        ds = [dev(uid, pw, plan.offset + i) for i, (uid, pw) in enumerate(plan.sensors)]
        bs = [dev(uid, pw, plan.offset + i) for i, (_, uid, pw, _) in enumerate(plan.buttons)]
        for d in ds + bs:
            await d.start(timeout=60)
        counter = asyncio.ensure_future(count(ds))
        await asyncio.sleep(max(0.0, plan.start_at - time.time()))
        t0 = time.time()
        load = asyncio.ensure_future(sensors(ds, [u for u, _ in plan.sensors]))
        pressed = await asyncio.gather(*(press(d, uid, at) for d, (_, uid, _, at)
                                         in zip(bs, plan.buttons)))
        while not stop.is_set():
            await asyncio.sleep(0.1)
        load.cancel()
        t1 = time.time()
        # what is in flight is the device's to deliver: it waits (as a device would)
        await asyncio.gather(*(d.wait_inflight_below(0, 60) for d in ds + bs),
                             return_exceptions=True)
        counter.cancel()
        acked.value = sum(len(d.acked) for d in ds)
        per_node: dict[int, int] = {}
        for d in ds:
            for n, c in d.per_node.items():
                per_node[n] = per_node.get(n, 0) + c
        result = {"t0": t0, "t1": t1,
                  "sent": {uid: d._sent for d, (uid, _) in zip(ds, plan.sensors)},
                  "acked": {uid: d.acked for d, (uid, _) in zip(ds, plan.sensors)},
                  "per_node": per_node,
                  "outages": [o for d in ds + bs for o in d.outages],
                  "pressed": {home: at for (home, *_), at in zip(plan.buttons, pressed)},
                  "unacked_buttons": sum(d.inflight for d in bs)}
        for d in ds + bs:
            await d.close()
        return result

    out.put(asyncio.run(main()))


# -- the run ------------------------------------------------------------------------------

@dataclass
class Kill:
    what: str
    at: float                     # time.time() of the SIGKILL
    acked_at_kill: int
    detail: str = ""
    failover_s: float | None = None
    caught_up_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, stored before at)

    def caught_up(self, final: int) -> None:
        """When every reading a device sent before the kill was in the database: the first
        sample that counts as many as the end of the run does."""
        self.caught_up_s = next((t - self.at for t, n in self.samples if n >= final), None)

    def as_dict(self, t0: float) -> dict[str, object]:
        return {"what": self.what, "detail": self.detail, "at_s": round(self.at - t0, 1),
                "acknowledged_before": self.acked_at_kill,
                "failover_s": None if self.failover_s is None else round(self.failover_s, 2),
                "caught_up_s": None if self.caught_up_s is None else round(self.caught_up_s, 2),
                **self.extra}


def _sent_before(conn: psycopg.Connection, at: float) -> int:
    """Motion readings stored with a device time before `at`."""
    row = conn.execute("SELECT count(*) FROM readings WHERE kind = 1 AND ts < to_timestamp(%s)",
                       (at,)).fetchone()
    return int(row[0]) if row else 0


def _until(fn: Callable[[], Any], timeout: float, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
        except (psycopg.Error, OSError):
            v = None
        if v:
            return v
        time.sleep(step)
    return None


class Bench:
    def __init__(self, args: argparse.Namespace, say: Callable[..., None]) -> None:
        self.args, self.say = args, say
        self.tmp = Path(tempfile.mkdtemp(prefix="anju-bench-cluster-"))
        os.chmod(self.tmp, 0o711)    # PostgreSQL runs as its own user under this directory
        self.c = LocalCluster(self.tmp / "state")
        self.sink = HttpSink()
        self.ctx = mp.get_context("spawn")
        self.stop = self.ctx.Event()
        self.procs: list[mp.process.BaseProcess] = []

    # the database, through the multi-host URL as the services reach it
    def url(self) -> str:
        return self.c.postgres(2).database_url(connect_timeout=2)

    def stored(self) -> int:
        with psycopg.connect(self.url()) as conn:
            return int(conn.execute("SELECT count(*) FROM readings WHERE kind = 1"
                                    ).fetchone()[0])  # type: ignore[index]

    def holders(self) -> dict[str, int]:
        with psycopg.connect(self.url()) as conn:
            return dict(conn.execute("SELECT holder, count(*) FROM detector_leases"
                                     " WHERE expires_at > now() GROUP BY holder").fetchall())

    def provision(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
        a = self.args
        sensors, buttons = [], []
        creds: dict[str, str] = {}
        with psycopg.connect(self.url()) as conn:
            for i in range(a.homes):
                home = f"bc{i:04d}"
                registry.add_home(conn, code=home, community="bench-cluster",
                                  resident=f"住户{i}", building=f"{i // 50 + 1}栋")
                m = registry.add_device(conn, home=home, kind="motion", room="living_room")
                b = registry.add_device(conn, home=home, kind="button", room="bedroom")
                assert m.password and b.password
                sensors.append((m.uid, m.password))
                buttons.append((home, b.uid, b.password))
                creds[m.uid], creds[b.uid] = m.password, b.password
                add_contact(conn, ContactSpec(role="family", name=f"家属{i}", home=home,
                                              urls=[self.sink.url(f"/{home}")]))
            conn.commit()
        self.c.broker("rabbitmq").add_devices(creds)     # type: ignore[union-attr]
        return sensors, buttons

    def services_ready(self, layout_ingest: int) -> None:
        a = self.args
        b = self.c.broker("rabbitmq")
        ok = _until(lambda: (int(b.queue_info().get("consumers", 0)) >= layout_ingest  # type: ignore[union-attr, call-overload]
                             and sum(self.holders().values()) == a.partitions
                             and len(self.holders()) == a.detectors), 120, 0.5)
        if not ok:
            raise RuntimeError("the cluster's services did not become ready in 120 s; logs in "
                               f"{self.c.log_dir}")
        for i in range(1, a.routers + 1):
            log = self.c.log_dir / f"route-{i}.log"
            if not _until(lambda: "running" in log.read_text(errors="replace"), 60):
                raise RuntimeError(f"route-{i} not running: {log}")

    @contextlib.contextmanager
    def phase(self, kills: list[Kill], what: str, detail: str,
              acked: Callable[[], int]) -> Iterator[Kill]:
        """One kill and the `--phase` seconds after it: the readings stored with a device
        time before the kill are counted every 0.25 s meanwhile (see caught_up_s)."""
        end = time.time() + self.args.phase
        k = Kill(what, time.time(), acked(), detail)
        kills.append(k)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    with psycopg.connect(self.url()) as conn:
                        k.samples.append((time.time(), _sent_before(conn, k.at)))
                except psycopg.Error:
                    pass
                done.wait(0.25)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        self.say(f"killing {detail}")
        try:
            yield k
            time.sleep(max(0.0, end - time.time()))
        finally:
            done.set()
            sampler.join()

    def run(self) -> dict[str, object]:
        a = self.args
        self.sink.start()
        self.say(f"starting the cluster under {self.tmp} (3 RabbitMQ nodes, etcd, "
                 "PostgreSQL under Patroni)")
        t_up = time.monotonic()
        # servers first, homes provisioned, then the services (which find the homes)
        self.c.up(ingest=0, detectors=0, routers=0, console=False, partitions=a.partitions)
        sensors, buttons = self.provision()
        layout = self.c.up(ingest=a.ingest, detectors=a.detectors, routers=a.routers,
                           console=False, partitions=a.partitions)
        self.services_ready(a.ingest)
        up_s = time.monotonic() - t_up
        b = self.c.broker("rabbitmq")
        pg = self.c.postgres(layout.pg_nodes)
        addresses = b.mqtt_addresses()

        run_s = a.warmup + a.phase * len(KILLS)
        start_at = time.time() + 5 + 0.05 * len(sensors + buttons)
        press_at = [start_at + (k + 0.5) * run_s / len(buttons) for k in range(len(buttons))]
        n = a.publishers
        plans = [Plan(addresses, sensors[j::n],
                      [(h, u, p, at) for (h, u, p), at in
                       list(zip(buttons, press_at))[j::n]],
                      a.rate / n, start_at, j) for j in range(n)]
        counters = [self.ctx.Value("q", 0) for _ in plans]
        q: mp.Queue[dict[str, object]] = self.ctx.Queue()
        for plan, cnt in zip(plans, counters):
            p = self.ctx.Process(target=_devices, args=(plan, self.stop, cnt, q), daemon=True)
            p.start()
            self.procs.append(p)
        self.say(f"{len(sensors)} homes: {a.rate} readings/s, {len(buttons)} button presses "
                 f"over {run_s} s; a kill every {a.phase} s after {a.warmup} s")

        def acked() -> int:
            return sum(c.value for c in counters)

        time.sleep(max(0.0, start_at - time.time()) + a.warmup)
        kills: list[Kill] = []

        # 1. the broker node leading the capture queue
        leader = b.leader_index()
        with self.phase(kills, "broker_node", f"RabbitMQ node {leader} (queue leader)",
                        acked) as k:
            b.kill_node(leader)
        t = time.monotonic()
        b.start_node(leader)
        k.extra["rejoined_s"] = round(time.monotonic() - t, 1)

        # 2. the PostgreSQL primary's host
        old = pg.leader() or ""
        with self.phase(kills, "postgres_primary", f"PostgreSQL + Patroni on {old}",
                        acked) as k:
            pg.kill_node(old)
            try:
                k.failover_s = pg.wait_writable(60)
                k.extra["new_primary"] = pg.wait_leader(30, not_=old)
            except Exception as e:  # noqa: BLE001 - a failover that did not happen is a figure
                k.extra["error"] = str(e)[:300]
        pg.start_node(old)          # rejoins as a replica (Patroni rewinds it if it must)

        # 3. an ingest worker, holding deliveries it has not acknowledged
        with self.phase(kills, "ingest_worker", "ingest-1", acked):
            self.c.kill_service("ingest-1")

        # 4. a detector, holding leases
        before = self.holders()
        with self.phase(kills, "detector", "detect-1", acked) as k:
            self.c.kill_service("detect-1")

            def taken() -> bool:
                h = self.holders()
                return len(h) == a.detectors - 1 and sum(h.values()) == a.partitions
            if _until(taken, a.phase + 45, 0.5):
                k.failover_s = time.time() - k.at
                k.extra["partitions_moved"] = sum(v for h, v in before.items()
                                                  if h not in self.holders())

        # the devices stop; what they hold is theirs to deliver, then the ingest catches up
        self.stop.set()
        results = [q.get(timeout=120) for _ in plans]
        total_acked = sum(len(v) for r in results for v in r["acked"].values())  # type: ignore[union-attr]
        _until(lambda: self.stored() >= total_acked, 120, 0.5)
        pressed: dict[str, float] = {}
        for r in results:
            pressed.update(r["pressed"])  # type: ignore[arg-type]
        last_press = max(pressed.values(), default=time.time())
        _until(lambda: len({x.path for x in self.sink.received}) >= len(pressed),
               max(1.0, last_press + DELIVERY_TIMEOUT_S - time.time()), 0.5)
        return self.figures(results, kills, pressed, up_s, b.size)

    def figures(self, results: list[dict[str, Any]], kills: list[Kill],
                pressed: dict[str, float], up_s: float, nodes: int) -> dict[str, object]:
        t0 = min(r["t0"] for r in results)
        t1 = max(r["t1"] for r in results)
        acked = {(dev, s) for r in results for dev, seqs in r["acked"].items() for s in seqs}
        published = sum(n for r in results for n in r["sent"].values())
        with psycopg.connect(self.url()) as conn:
            rows = conn.execute(
                "SELECT d.uid, r.seq, count(*) FROM readings r JOIN devices d"
                " ON d.id = r.device_id WHERE r.kind = 1 GROUP BY d.uid, r.seq").fetchall()
            for k in kills:
                k.caught_up(_sent_before(conn, k.at))
                if k.what == "ingest_worker":
                    k.failover_s = k.caught_up_s
        stored = {(uid, int(seq)) for uid, seq, _ in rows}
        duplicates = sum(int(c) - 1 for *_, c in rows)
        lost = acked - stored
        # emergencies: the first notification at each home's path
        first: dict[str, float] = {}
        for x in self.sink.received:
            first.setdefault(x.path.split("?")[0].lstrip("/"), x.at)
        lat = {h: first[h] - at for h, at in pressed.items()
               if h in first and first[h] - at <= DELIVERY_TIMEOUT_S}
        ms = [v * 1000 for v in lat.values()]
        worst: dict[str, float] = {}
        edges = [(k.what, k.at) for k in kills]
        for h, at in pressed.items():
            phase = "warm-up"
            for what, when in edges:
                if at >= when:
                    phase = what
            if h in lat:
                worst[phase] = max(worst.get(phase, 0.0), lat[h])
        per_node: dict[int, int] = {}
        for r in results:
            for n, c in r["per_node"].items():
                per_node[int(n)] = per_node.get(int(n), 0) + c
        span = max(1e-9, t1 - t0)
        for k in kills:
            if k.what == "broker_node":
                outs = [b - a for r in results for a, b in r["outages"] if a >= k.at - 1]
                k.failover_s = max(outs) if outs else 0.0
                k.extra["devices_reconnected"] = len(outs)
        pg_kill = next((k for k in kills if k.what == "postgres_primary"), None)
        out: dict[str, object] = {
            "homes": self.args.homes, "cluster_up_s": round(up_s, 1),
            "seconds": round(span, 1), "published": published, "acknowledged": len(acked),
            "stored": len(stored), "lost": len(lost),
            "lost_examples": sorted(lost)[:5], "duplicates": duplicates,
            "stored_unacknowledged": len(stored - acked),
            "kills": [k.as_dict(t0) for k in kills],
            "emergencies": {"pressed": len(pressed), "delivered": len(lat),
                            "p50_ms": round(percentile(ms, 50), 1) if ms else None,
                            "p99_ms": round(percentile(ms, 99), 1) if ms else None,
                            "max_ms": round(max(ms), 1) if ms else None,
                            "worst_s_by_phase": {p: round(v, 2) for p, v in worst.items()}},
            "msgs_per_s": round(len(acked) / span, 1),
            "msgs_per_s_per_node": {str(n): round(per_node.get(n, 0) / span, 1)
                                    for n in range(nodes)},
        }
        pg_s = pg_kill.failover_s if pg_kill else None
        out["targets_met"] = bool(
            out["lost"] == 0 and duplicates == 0 and len(lat) == len(pressed)
            and pg_s is not None and pg_s <= PG_FAILOVER_TARGET_S)
        return out

    def close(self) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
        try:
            self.c.down(purge=True)
        finally:
            self.sink.stop()
            if not self.args.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)


def run_bench(args: argparse.Namespace) -> int:
    if args.detectors < 2 or args.ingest < 2:
        print("anju bench cluster: --ingest and --detectors need at least 2 (one of each is "
              "killed and the others take over)", file=sys.stderr)
        return 2
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    bench = Bench(args, say)
    try:
        out = bench.run()
    finally:
        bench.close()
    report(out, args.json)
    return 0 if out["targets_met"] else 1
