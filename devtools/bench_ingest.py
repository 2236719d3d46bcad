"""`anju bench ingest`: throughput, latency, loss and storage of the ingest path.

Runs on a fresh embedded stack in a temporary state directory, so the
figures are not disturbed by anything else:

1. baseline: the publishers send N QoS 1 messages to a paho subscriber that
   only acknowledges them (the broker's, publishers' and paho's own ceiling on
   this machine);
2. ingest: the same messages to `anju ingest` worker processes; the clock
   stops when the last row is committed.

The publishers are devices as a vendor would write them: paho-mqtt clients
(anju.mqtt_async) with QoS 1, a persistent session and a last will, one
connection per device, driven by one event loop in each of a few publishing
processes. paho costs them far more CPU per message than the broker, so on a
small machine they are a good part of what the baseline measures. Each
message's device timestamp is its publish time, which gives publish-to-commit
latency per message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import queue
import signal
import subprocess
import sys
import time

import psycopg

from anju import registry
from anju.contract import device_topic
from anju.embedded import Stack
from anju.mqtt_async import Client, Message, Will, connect
from anju.settings import Settings
from devtools.stacks import percentile, report, temporary_stack
from ingest.service import TOPIC_FILTER

WINDOW = 2000  # unacknowledged messages per publishing connection
CHUNK = 50     # messages published together per device before the next device's turn
# paho's own in-flight limit, 0 = none: the window above bounds what is in flight, and
# with a limit paho walks its outgoing messages on every PUBACK looking for a queued one
# to send (10-15% more publisher CPU here, and the publishers are the bench's limit).
PAHO_INFLIGHT = 0


def _publisher(port: int, devices: list[tuple[str, str]], per_device: int, seq0: int,
               start_at: float, rate: float, out: "mp.Queue[dict[str, float]]") -> None:
    """Publish per_device messages from each device; rate > 0 paces them (msg/s)."""
    chunk = 1 if rate else CHUNK

    async def main() -> dict[str, float]:
        clients = [await connect("127.0.0.1", port, client_id=f"{uid}-bench", username=uid,
                                 password=pw, keepalive=120, max_inflight=PAHO_INFLIGHT,
                                 will=Will(device_topic(uid, "status"), b'{"status":"offline"}'))
                   for uid, pw in devices]
        topics = [device_topic(uid, "motion") for uid, _ in devices]
        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.time()
        sent = 0
        while sent < per_device:
            lag = t0 + sent * len(clients) / rate - time.time() if rate else 0.0
            # Every round yields to the loop, even when behind: paho writes what was
            # published only when the loop finds its socket writable.
            await asyncio.sleep(max(0.0, lag))
            n = min(chunk, per_device - sent)
            for client, topic in zip(clients, topics):
                await client.wait_inflight_below(WINDOW - n)
                ts = time.time_ns() // 1_000_000
                for seq in range(seq0 + sent, seq0 + sent + n):
                    client.publish(topic, b'{"ts":%d,"seq":%d,"value":%d}' % (ts, seq, seq & 1))
            sent += n
        for client in clients:
            await client.wait_inflight_below(0)
        t1 = time.time()
        for client in clients:
            await client.close()
        return {"t0": t0, "t1": t1, "sent": per_device * len(clients)}

    out.put(asyncio.run(main()))


def _null_subscriber(port: int, user: str, password: str, expect: int,
                     ready: "mp.Event", out: "mp.Queue[dict[str, float]]") -> None:
    """paho's do-nothing QoS 1 subscriber: acknowledges every message at once and counts."""

    async def main() -> dict[str, float]:
        done = asyncio.Event()
        state = {"n": 0, "last": 0.0}
        client: Client | None = None

        def on_messages(msgs: list[Message]) -> None:
            assert client is not None
            client.ack(m.packet_id for m in msgs)
            state["n"] += len(msgs)
            if state["n"] >= expect:
                state["last"] = time.time()
                done.set()

        # the ingest's subscription on the ingest's listener, with its own client id
        client = Client("127.0.0.1", port, client_id=f"{user}-bench-null", username=user,
                        password=password, keepalive=120, clean_session=True,
                        on_messages=on_messages, manual_ack=True, reconnect=False)
        await client.start()
        await client.subscribe([(TOPIC_FILTER, 1)])
        ready.set()
        finished = asyncio.ensure_future(done.wait())
        await asyncio.wait([finished, client.closed], timeout=600,
                           return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        if not done.is_set():
            if client.closed.done():
                client.closed.result()   # raises why the connection dropped
            raise RuntimeError(f"baseline subscriber got {state['n']} of {expect} messages")
        await client.close()
        return {"received": state["n"], "last": state["last"]}

    out.put(asyncio.run(main()))


def _run_publishers(port: int, creds: list[tuple[str, str]], per_device: int, procs: int,
                    seq0: int, rate: float = 0) -> list[dict[str, float]]:
    ctx = mp.get_context("spawn")
    q: mp.Queue[dict[str, float]] = ctx.Queue()
    start_at = time.time() + 1.5 + 0.02 * len(creds)
    groups = [creds[i::procs] for i in range(procs)]
    # daemons: should the bench fail, a publisher left reconnecting must not outlive it
    ps = [ctx.Process(name=f"publisher {i}", target=_publisher, daemon=True,
                      args=(port, g, per_device, seq0, start_at, rate / procs, q))
          for i, g in enumerate(groups) if g]
    for p in ps:
        p.start()
    results = _results(q, ps)
    for p in ps:
        p.join()
    return results


def _results(q: "mp.Queue[dict[str, float]]", procs: "list[mp.process.BaseProcess]",
             timeout: float = 900) -> list[dict[str, float]]:
    """One result from each of procs, or the failure of one as soon as it has died."""
    results: list[dict[str, float]] = []
    deadline = time.monotonic() + timeout
    while len(results) < len(procs):
        try:
            results.append(q.get(timeout=1))
        except queue.Empty:
            # each puts its result as its last act, so only a failed one leaves none
            for p in procs:
                if p.exitcode not in (None, 0):
                    raise RuntimeError(f"{p.name} exited with status {p.exitcode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(results)} of {len(procs)} results after {timeout:.0f} s")
    return results


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    n_dev = min(args.devices, args.messages)
    per_device = max(1, args.messages // n_dev)
    total = per_device * n_dev
    workers: list[subprocess.Popen[bytes]] = []
    with temporary_stack("ingest") as stack:
        try:
            return _run(stack, args, n_dev, per_device, total, workers)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()


def _run(stack: Stack, args: argparse.Namespace, n_dev: int, per_device: int, total: int,
         workers: "list[subprocess.Popen[bytes]]") -> int:
    base = stack.state_dir.parent
    creds_ = stack.credentials()
    url = stack.database_url()
    with psycopg.connect(url) as conn:
        registry.add_home(conn, code="bench", community="bench", resident="bench")
        creds = []
        for i in range(n_dev):
            d = registry.add_device(conn, home="bench", kind="motion", room="bedroom",
                                    uid=f"bench-{i:05d}")
            assert d.password
            creds.append((d.uid, d.password))
        stack.write_broker_files(registry.broker_user_hashes(conn))
        conn.commit()
    stack.reload_broker()
    time.sleep(0.3)
    port = creds_.mqtt_port
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))

    # 1. baseline: a subscriber that does nothing but acknowledge
    say(f"baseline: {total} messages from {n_dev} devices to a do-nothing subscriber")
    ctx = mp.get_context("spawn")
    q: mp.Queue[dict[str, float]] = ctx.Queue()
    ready = ctx.Event()
    null = ctx.Process(name="baseline subscriber", target=_null_subscriber, daemon=True, args=(
        creds_.mqtt_service_port or port, "anju-admin", creds_.mqtt_users["anju-admin"],
        total, ready, q))
    null.start()
    ready.wait(30)
    pubs = _run_publishers(port, creds, per_device, args.publishers, seq0=0)
    (got,) = _results(q, [null])
    null.join()
    t0 = min(p["t0"] for p in pubs)
    baseline = total / (got["last"] - t0)
    say(f"  {baseline:,.0f} msg/s")

    # 2. ingest workers
    say(f"ingest: the same {total} messages through {args.workers} ingest worker(s)")
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    env.pop("ANJU_DATABASE_URL", None)
    env.pop("ANJU_MQTT_URL", None)
    traces = [base / f"trace-{i}.json" for i in range(args.workers)]
    for i in range(args.workers):
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "anju.cli", "ingest", "--worker", f"bench{i}"],
            env=dict(env, ANJU_BENCH_TRACE=str(traces[i])),
            stdout=subprocess.DEVNULL, stderr=(base / f"ingest-{i}.log").open("wb")))
    paced_per_device = max(1, per_device // 4)
    paced_total = paced_per_device * n_dev
    with psycopg.connect(url, autocommit=True) as conn:
        _wait_subscribed(conn, workers)
        pubs = _run_publishers(port, creds, per_device, args.publishers, seq0=0)
        t0 = min(p["t0"] for p in pubs)
        pub_rate = total / (max(p["t1"] for p in pubs) - t0)
        _wait_stored(conn, total)
        say(f"latency: {paced_total} more messages paced at {args.rate:,} msg/s")
        _run_publishers(port, creds, paced_per_device, args.publishers, seq0=per_device,
                        rate=args.rate)
        _wait_stored(conn, total + paced_total)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(60)
        lat: list[float] = []   # paced phase
        sat: list[float] = []   # saturated phase
        commit_end = 0.0
        for t in traces:
            data = json.loads(t.read_text())
            for ms, seq, at in zip(data["latencies_ms"], data["seqs"], data["committed_at"]):
                if seq >= per_device:
                    lat.append(ms)
                else:
                    sat.append(ms)
                    commit_end = max(commit_end, at)
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings").fetchone()  # type: ignore[misc]
        size = conn.execute(
            "SELECT hypertable_size('readings'),"
            " (SELECT sum(total_bytes - index_bytes) FROM hypertable_detailed_size('readings'))"
        ).fetchone()
    result = {
        "messages": total,
        "paced_messages": paced_total,
        "devices": n_dev,
        "workers": args.workers,
        "publishers": args.publishers,
        "msgs_per_s": round(total / (commit_end - t0)),
        "lost": total + paced_total - distinct,
        "duplicates": rows - distinct,
        "p50_ms": round(percentile(lat, 50), 1),
        "p99_ms": round(percentile(lat, 99), 1),
        "paced_msgs_per_s": args.rate,
        "saturated_p50_ms": round(percentile(sat, 50), 1),
        "saturated_p99_ms": round(percentile(sat, 99), 1),
        "bytes_per_row": round(float(size[0]) / rows, 1) if rows else None,  # type: ignore[index]
        "table_bytes_per_row": round(float(size[1]) / rows, 1) if rows else None,  # type: ignore[index]
        "baseline_msgs_per_s": round(baseline),
        "publish_msgs_per_s": round(pub_rate),
    }
    result["ratio_to_baseline"] = round(result["msgs_per_s"] / result["baseline_msgs_per_s"], 3)
    report(result, args.json)
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


def _wait_stored(conn: psycopg.Connection, n: int, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        (stored,) = conn.execute("SELECT count(*) FROM readings").fetchone()  # type: ignore[misc]
        if stored >= n:
            return
        time.sleep(0.1)
    raise RuntimeError(f"only {stored} of {n} readings stored after {timeout:.0f} s")


def _wait_subscribed(conn: psycopg.Connection, workers: list[subprocess.Popen[bytes]]) -> None:
    """Ingest workers log their subscription; give them time to reach the broker."""
    time.sleep(1.5)
    for w in workers:
        if w.poll() is not None:
            raise RuntimeError(f"ingest worker exited early with status {w.returncode}")
