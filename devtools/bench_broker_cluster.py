"""`anju bench broker --engine rabbitmq|nats`: a clustered broker under the device contract,
with a node killed and consumers added and removed mid-run.

On a fresh local cluster of `--nodes` nodes (anju.cluster.rabbitmq / anju.cluster.nats) in
a temporary directory:

- `--devices` simulated devices, each its own paho-mqtt connection (anju.mqtt_async, on
  one event loop per publishing process), user name = client id = device id, a last will,
  publish QoS 1 readings of the contract (`{"ts":…,"seq":…,"value":…}`) with at most
  `--window` unacknowledged each. Device i starts on node i mod N and, when its connection
  drops, tries the next node in the list; what paho had in flight is sent again (DUP).
  Every PUBACK is recorded as (device, seq): the "acknowledged" set.
- `--consumers` ingest workers (processes) take the capture queue (RabbitMQ: the quorum
  queue over AMQP with aio-pika; NATS: the durable pull consumer with nats-py) and, per
  batch, append (device, seq) to their own file, fsync it (the commit), and only then
  acknowledge the batch.
- When 30% of the messages are acknowledged the node leading the capture's Raft group is
  SIGKILLed (and stays down); at 50% a consumer is added; at 70% one is removed (it stops
  taking messages, commits and acknowledges what it holds, then leaves; with
  `--crash-consumer` it is SIGKILLed instead, holding deliveries it never acknowledged).

Printed: published, acknowledged, consumed (distinct), lost (acknowledged, never
consumed), duplicates, the devices' reconnect seconds, the longest stall of
acknowledgements after the kill, msg/s overall, before the kill and per node, and CPU
seconds per message of the brokers, the publishers and the consumers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from anju.mqtt_async import Client, Will
from devtools.stacks import percentile, report

SEQ = re.compile(rb'"seq":(\d+)')
FLUSH_S = 0.02    # a consumer commits what it holds at least this often
BATCH = 500       # ... or when it holds this many
PREFETCH = 1000   # unacknowledged deliveries a consumer may hold (AMQP prefetch / NATS fetch)


# -- devices ----------------------------------------------------------------------------

class Device(Client):
    """A device's connection that remembers which sequence numbers were acknowledged and
    moves to the next broker address when its connection drops."""

    def __init__(self, addresses: list[tuple[str, int]], first: int, **kw: object) -> None:
        self.addresses, self._addr = addresses, first
        host, port = addresses[first]
        super().__init__(host, port, **kw)  # type: ignore[arg-type]
        self.mids: dict[int, int] = {}      # paho message id -> seq
        self.acked: list[int] = []
        self.space = asyncio.Event()
        self.down_at: float | None = None
        self.outages: list[tuple[float, float]] = []   # (disconnected, connected again)

    def send(self, topic: str, payload: bytes, seq: int) -> None:
        info = self._c.publish(topic, payload, 1)
        self.mids[info.mid] = seq
        self._sent += 1

    def _on_publish(self, client, userdata, mid, reason,  # type: ignore[no-untyped-def]
                    properties) -> None:
        self._acked += 1
        seq = self.mids.pop(mid, None)
        if seq is not None:
            self.acked.append(seq)
        self.space.set()

    def _on_connect(self, client, userdata, flags, reason,  # type: ignore[no-untyped-def]
                    properties) -> None:
        super()._on_connect(client, userdata, flags, reason, properties)
        if not reason.is_failure and self.down_at is not None:
            self.outages.append((self.down_at, time.time()))
            self.down_at = None

    def _on_disconnect(self, client, userdata, flags, reason,  # type: ignore[no-untyped-def]
                       properties) -> None:
        if self.down_at is None and not self._closing:
            self.down_at = time.time()
        super()._on_disconnect(client, userdata, flags, reason, properties)

    def _reconnect(self) -> None:
        self._retry = None
        if self._closing:
            return
        self._addr = (self._addr + 1) % len(self.addresses)
        host, port = self.addresses[self._addr]
        try:
            self._c.connect_async(host, port, self.keepalive)
            self._c.reconnect()
        except OSError:
            self._schedule_reconnect()


def _publisher(addresses: list[tuple[str, int]], devices: list[tuple[int, str, str]],
               per_device: int, window: int, start_at: float, acked: "mp.Value",
               out: "mp.Queue[dict[str, object]]") -> None:
    async def device_run(d: Device, dev: str) -> None:
        topic = f"anju/v1/devices/{dev}/motion"
        for seq in range(per_device):
            while d.inflight >= window:
                d.space.clear()
                await d.space.wait()
            d.send(topic, b'{"ts":%d,"seq":%d,"value":%d}' % (time.time_ns() // 1_000_000,
                                                               seq, seq & 1), seq)
            if seq % 32 == 31:
                await asyncio.sleep(0)  # let paho write and read between bursts
        await d.wait_inflight_below(0)

    async def count(ds: list[Device]) -> None:
        while True:
            acked.value = sum(len(d.acked) for d in ds)
            await asyncio.sleep(0.1)

    async def main() -> dict[str, object]:
        ds = []
        for i, dev, pw in devices:
            d = Device(addresses, i % len(addresses), client_id=dev, username=dev, password=pw,
                       keepalive=30, max_inflight=0, backoff=(0.2, 2.0),
                       will=Will(f"anju/v1/devices/{dev}/status", b'{"status":"offline"}'))
            await d.start(timeout=30)
            ds.append(d)
        counter = asyncio.ensure_future(count(ds))
        await asyncio.sleep(max(0.0, start_at - time.time()))
        t0 = time.time()
        await asyncio.gather(*(device_run(d, dev) for d, (_, dev, _) in zip(ds, devices)))
        t1 = time.time()
        counter.cancel()
        acked.value = sum(len(d.acked) for d in ds)
        for d in ds:
            await d.close()
        return {"t0": t0, "t1": t1,
                "acked": {dev: d.acked for d, (_, dev, _) in zip(ds, devices)},
                "outages": [o for d in ds for o in d.outages], "cpu": time.process_time()}

    out.put(asyncio.run(main()))


# -- consumers ----------------------------------------------------------------------------

@dataclass
class Sink:
    """The consumer's commit: (device, seq) lines appended and fsynced before the ack."""

    path: Path

    def __post_init__(self) -> None:
        self.f = open(self.path, "ab")

    def commit(self, rows: list[bytes]) -> None:
        self.f.write(b"".join(rows))
        self.f.flush()
        os.fsync(self.f.fileno())


def _row(subject: str, payload: bytes) -> bytes:
    # anju.v1.devices.<id>.<kind> (NATS capture "mqtt": after the $MQTT.msgs. prefix);
    # a last will (kind status) has no seq
    *_, dev, kind = subject.split(".")
    m = SEQ.search(payload)
    return b"%s %s %s\n" % (dev.encode(), m.group(1) if m else b"-1", kind.encode())


async def _consume_rabbit(urls: list[str], first: int, sink: Sink, stop: "mp.Event",
                          count: "mp.Value") -> None:
    # aiormq (aio-pika's protocol layer) directly: aio-pika's message objects cost the
    # consumer about twice the CPU per message, and the consumers share the bench's cores
    import aiormq
    from aiormq.abc import DeliveredMessage

    from anju.cluster.rabbitmq import QUEUE

    i = first
    while not stop.is_set():
        url = urls[i % len(urls)]
        i += 1
        try:
            conn = await aiormq.connect(url)
        except Exception:  # noqa: BLE001 - that node is down: the next one
            await asyncio.sleep(0.2)
            continue
        held: list[DeliveredMessage] = []
        try:
            ch = await conn.channel()
            await ch.basic_qos(prefetch_count=PREFETCH)

            async def on_message(m: DeliveredMessage) -> None:
                held.append(m)

            tag = (await ch.basic_consume(QUEUE, on_message, no_ack=False)).consumer_tag
            cancelled = False
            while not conn.is_closed and not ch.is_closed:
                if stop.is_set() and not cancelled:
                    await ch.basic_cancel(tag)   # no new deliveries; what we hold is ours
                    cancelled = True
                    await asyncio.sleep(0.2)
                if not held:
                    if cancelled:
                        break
                    await asyncio.sleep(FLUSH_S)
                    continue
                batch, held[:] = held[:BATCH], held[BATCH:]
                sink.commit([_row(m.routing_key or "", m.body) for m in batch])
                await ch.basic_ack(batch[-1].delivery_tag, multiple=True)
                count.value += len(batch)
            await conn.close()
        except Exception:  # noqa: BLE001 - connection lost: unacknowledged ones come again
            held.clear()
            try:
                await conn.close()
            except Exception:  # noqa: BLE001
                pass
            await asyncio.sleep(0.2)


async def _consume_nats(urls: list[str], stream: str, durable: str, sink: Sink,
                        stop: "mp.Event", count: "mp.Value") -> None:
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    nc = await nats.connect(servers=urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2,
                            connect_timeout=2, allow_reconnect=True)
    js = nc.jetstream(timeout=5)
    sub = None
    prefix = len("$MQTT.msgs.")
    while not stop.is_set():
        try:
            if sub is None:
                sub = await js.pull_subscribe_bind(durable, stream)
            msgs = await sub.fetch(BATCH, timeout=0.5)
        except (NatsTimeout, asyncio.TimeoutError):
            continue
        except Exception:  # noqa: BLE001 - no leader or no connection for a moment
            await asyncio.sleep(0.2)
            continue
        sink.commit([_row(m.subject[prefix:] if m.subject.startswith("$MQTT") else m.subject,
                          m.data) for m in msgs])
        for m in msgs:
            await m.ack()
        await nc.flush(timeout=5)
        count.value += len(msgs)
    await nc.drain()


def _consumer(engine: str, urls: list[str], first: int, target: tuple[str, str], path: str,
              stop: "mp.Event", count: "mp.Value") -> None:
    # a lost connection is expected here (a node is killed) and handled: no tracebacks
    logging.basicConfig(level=logging.CRITICAL)
    for name in ("aiormq", "aio_pika", "nats", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    sink = Sink(Path(path))
    if engine == "rabbitmq":
        asyncio.run(_consume_rabbit(urls, first, sink, stop, count))
    else:
        asyncio.run(_consume_nats(urls, target[0], target[1], sink, stop, count))


class SinkReader:
    """The consumers' sink files read as they grow: (device, seq) -> times committed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}
        self.rows: dict[tuple[str, int], int] = {}
        self.keys: set[tuple[str, int]] = set()
        self.wills = 0

    def read(self) -> int:
        """Reads what was appended since the last call; returns the rows read."""
        n = 0
        for f in sorted(self.folder.glob("c*.log")):
            with f.open("rb") as fh:
                fh.seek(self.offsets.get(f, 0))
                data = fh.read()
            end = data.rfind(b"\n") + 1   # a line being written is read next time
            self.offsets[f] = self.offsets.get(f, 0) + end
            for line in data[:end].splitlines():
                dev, seq, kind = line.split()
                n += 1
                if kind == b"status":   # a last will: no seq
                    self.wills += 1
                    continue
                key = (dev.decode(), int(seq))
                self.rows[key] = self.rows.get(key, 0) + 1
                self.keys.add(key)
        return n


# -- the run ---------------------------------------------------------------------------------

def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for q in procs:
            try:
                t = q.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
    return total


def make_cluster(engine: str, state_dir: Path, nodes: int,  # type: ignore[no-untyped-def]
                 capture: str):
    if engine == "rabbitmq":
        from anju.cluster.rabbitmq import RabbitCluster
        return RabbitCluster(state_dir, nodes)
    from anju.cluster.nats import NatsCluster
    return NatsCluster(state_dir, nodes, capture=capture)


def run(engine: str, *, nodes: int = 3, devices: int = 60, messages: int = 60_000,
        publishers: int = 2, consumers: int = 2, window: int = 50, kill: bool = True,
        churn: bool = True, capture: str = "mqtt", state_dir: Path | None = None,
        drain_timeout: float = 90.0, crash_consumer: bool = False,
        cluster=None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """One run on a fresh cluster, or on `cluster` (up already, and left up, less the node
    killed); returns the figures (see the module docstring)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"anju-bench-{engine}-", dir=state_dir))
    own = cluster is None
    if own:
        cluster = make_cluster(engine, tmp / "cluster", nodes, capture)
    nodes = cluster.size
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = []
    try:
        if own:
            cluster.up()
        per_device = max(1, messages // devices)
        creds = {f"bench-d{i:04d}": f"pw-{i}-{os.getpid()}" for i in range(devices)}
        cluster.add_devices(creds)
        time.sleep(1.0)  # NATS: every node has reloaded its accounts
        addresses = cluster.mqtt_addresses()
        if engine == "rabbitmq":
            urls, target = cluster.amqp_urls(), ("", "")
        else:
            urls, target = cluster.nats_urls(), cluster.consumer_target()
            from anju.cluster.nats import CONSUMER
            target = (target[0], CONSUMER)

        sinks = tmp / "sinks"
        sinks.mkdir()
        consumer_procs: list[tuple[mp.process.BaseProcess, "mp.Event", "mp.Value"]] = []

        def add_consumer() -> None:
            k = len(consumer_procs)
            stop, count = ctx.Event(), ctx.Value("q", 0)
            p = ctx.Process(target=_consumer, daemon=True, name=f"consumer {k}",
                            args=(engine, urls, k, target, str(sinks / f"c{k}.log"), stop, count))
            p.start()
            procs.append(p)
            consumer_procs.append((p, stop, count))

        for _ in range(consumers):
            add_consumer()

        q: mp.Queue[dict[str, object]] = ctx.Queue()
        groups = [[(i, dev, pw) for i, (dev, pw) in enumerate(creds.items()) if i % publishers == j]
                  for j in range(publishers)]
        counters = [ctx.Value("q", 0) for _ in groups]
        start_at = time.time() + 3 + 0.05 * devices
        pubs = [ctx.Process(target=_publisher, daemon=True, name=f"publisher {j}",
                            args=(addresses, g, per_device, window, start_at, counters[j], q))
                for j, g in enumerate(groups) if g]
        for p in pubs:
            p.start()
        procs.extend(pubs)

        total = per_device * devices
        broker_pids = list(cluster.node_pids().values())
        cpu_dead = 0.0
        cpu0 = _cpu(broker_pids)
        timeline: list[tuple[float, int]] = []
        killed_at = added_at = removed_at = None
        pre_kill: tuple[float, int] | None = None
        killed_node = None
        cpu_gone = 0.0
        results: list[dict[str, object]] = []
        while len(results) < len(pubs):
            time.sleep(0.1)
            acked = sum(c.value for c in counters)
            now = time.time()
            if now >= start_at:
                timeline.append((now, acked))
            if kill and killed_at is None and acked >= 0.3 * total:
                killed_node = cluster.leader_index()
                pid = cluster.node_pids()[killed_node]
                cpu_dead = _cpu([pid])
                pre_kill = (now, acked)
                cluster.kill_node(killed_node)
                killed_at = time.time()
            if churn and added_at is None and acked >= 0.5 * total:
                add_consumer()
                added_at = time.time()
            if churn and removed_at is None and acked >= 0.7 * total:
                cpu_gone = _cpu([consumer_procs[0][0].pid])
                consumer_procs[0][1].set()
                if crash_consumer:
                    # a worker dying with deliveries it has not acknowledged
                    consumer_procs[0][0].kill()
                removed_at = time.time()
            while not q.empty():
                results.append(q.get())
            for p in pubs:
                if p.exitcode not in (None, 0):
                    raise RuntimeError(f"{p.name} failed ({p.exitcode})")
        t_acked = time.time()
        t_first = min(float(r["t0"]) for r in results)  # type: ignore[arg-type]

        acked_set = {(dev, s) for r in results
                     for dev, seqs in r["acked"].items()  # type: ignore[union-attr]
                     for s in seqs}
        n_acked = len(acked_set)
        # wait until the sinks hold every acknowledged reading, or stop growing
        sink_rows = SinkReader(sinks)
        last_change = time.time()
        while time.time() - last_change < drain_timeout:
            if sink_rows.read():
                last_change = time.time()
            if acked_set <= sink_rows.keys:
                break
            time.sleep(0.2)
        t_done = time.time()
        live_pids = list(cluster.node_pids().values())
        cpu_brokers = _cpu(live_pids) + cpu_dead - cpu0
        cpu_consumers = cpu_gone + _cpu([p.pid for p, stop, _ in consumer_procs
                                         if not stop.is_set()])
        if engine == "nats":
            left = cluster.stream_state()
        else:
            time.sleep(6)  # a quorum queue publishes its counts every 5 s (its tick)
            left = cluster.queue_counts()
        for _, stop, _ in consumer_procs:
            stop.set()
        for p, _, _ in consumer_procs:
            p.join(30)

        sink_rows.read()
        rows, wills = sink_rows.rows, sink_rows.wills
        consumed_keys = set(rows)
        lost = acked_set - consumed_keys
        t0 = min(float(r["t0"]) for r in results)  # type: ignore[arg-type]
        outages = [b - a for r in results for a, b in r["outages"]]  # type: ignore[union-attr]
        stall = 0.0
        if killed_at is not None:
            after = [(t, a) for t, a in timeline if t >= killed_at]
            prev_t, prev_a = killed_at, after[0][1] if after else 0
            for t, a in after:
                if a > prev_a:
                    stall = max(stall, t - prev_t)
                    prev_t, prev_a = t, a
        elapsed = t_done - t0
        consumed_n = len(consumed_keys)
        out: dict[str, object] = {
            "engine": engine + (f" (capture {cluster.capture})" if engine == "nats" else ""),
            "nodes": nodes, "devices": devices, "publishers": len(pubs),
            "consumers": (f"{consumers} (+1 at 50%, -1 at 70%"
                          f"{' by SIGKILL' if crash_consumer else ''})" if churn else consumers),
            "window_per_device": window,
            "published": total,
            "acknowledged": n_acked,
            "consumed": consumed_n,
            "lost": len(lost),
            "lost_examples": sorted(lost)[:5],
            "duplicates": sum(rows.values()) - consumed_n,
            "killed_node": killed_node,
            "last_wills_consumed": wills,
            "devices_reconnected": len(outages),
            "reconnect_s_median": round(percentile(outages, 50), 2) if outages else None,
            "reconnect_s_max": round(max(outages), 2) if outages else None,
            "ack_stall_after_kill_s": round(stall, 2) if killed_at else None,
            "seconds": round(elapsed, 1),
            "acked_msg_per_s": round(n_acked / (t_acked - t_first)),
            "msg_per_s": round(consumed_n / elapsed),
            "msg_per_s_per_node": round(consumed_n / elapsed / nodes),
            "broker_cpu_ms_per_msg": round(1000 * cpu_brokers / max(1, consumed_n), 3),
        }
        if pre_kill is not None:
            out["msg_per_s_before_kill"] = round(pre_kill[1] / (pre_kill[0] - t0))
        out["capture_at_end"] = left
        out["acked_to_consumed_s"] = round(t_done - t_acked, 1)
        cpu_pub = sum(float(r["cpu"]) for r in results)  # type: ignore[arg-type]
        out["publisher_cpu_ms_per_msg"] = round(1000 * cpu_pub / max(1, n_acked), 3)
        out["consumer_cpu_ms_per_msg"] = round(1000 * cpu_consumers / max(1, consumed_n), 3)
        return out
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        try:
            if own:
                cluster.down()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def run_bench(args: argparse.Namespace) -> int:
    result = run(args.engine, nodes=args.nodes, devices=args.devices, messages=args.messages,
                 publishers=args.publishers, consumers=args.consumers, window=args.window,
                 kill=not args.no_kill, churn=not args.no_churn, capture=args.capture,
                 crash_consumer=args.crash_consumer)
    report(result, args.json)
    return 0 if result["lost"] == 0 else 1

