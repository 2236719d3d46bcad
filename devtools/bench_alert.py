"""`anju bench alert`: from a button press to the notification, through everything.

On a fresh embedded stack in a temporary directory, `anju ingest`, `anju
detect` and `anju route` run as separate processes, as in production. Homes
get an emergency button and a family contact whose channel is a local HTTP
receiver (apprise json://). While background homes publish motion readings
(the load), each bench home's button is pressed once over MQTT, as the device
would; the figure is the time from the publish to the webhook's arrival.
Prints n, p50_ms, p99_ms, max_ms and lost (no notification within 15 s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from alerts.manage import ContactSpec, add_contact
from anju import registry
from anju.contract import device_topic
from anju.embedded import Stack
from anju.mqtt_async import Client, Will, connect
from anju.settings import Settings
from devtools.sinks import HttpSink
from devtools.stacks import percentile, report, temporary_stack

TIMEOUT_S = 15.0


def _offline(uid: str) -> Will:
    """The last will a device leaves with the broker, as the device contract asks."""
    return Will(device_topic(uid, "status"), b'{"status":"offline"}')


def _load(port: int, devices: list[tuple[str, str]], rate: float, stop: "mp.Event") -> None:
    """Motion readings from the load homes at `rate` messages per second in all."""

    async def main() -> None:
        conns = [await connect("127.0.0.1", port, client_id=f"{uid}-load", username=uid,
                               password=pw, keepalive=60, will=_offline(uid))
                 for uid, pw in devices]
        seq = 0
        t0 = time.monotonic()
        while not stop.is_set():
            for conn, (uid, _) in zip(conns, devices):
                seq += 1
                lag = t0 + seq / rate - time.monotonic()
                if lag > 0:
                    await asyncio.sleep(lag)
                await conn.wait_inflight_below(200)
                conn.publish(f"anju/v1/devices/{uid}/motion",
                             b'{"ts":%d,"seq":%d,"value":%d}' % (time.time_ns() // 1_000_000,
                                                                  seq, seq & 1), qos=1)
        for conn in conns:
            await conn.close()

    asyncio.run(main())


def _wait_log(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text(errors="replace") if path.exists() else ""):
        if proc.poll() is not None:
            raise RuntimeError(f"{path.stem} exited with status {proc.returncode}:\n"
                               + path.read_text(errors="replace")[-3000:])
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.stem} not ready after {timeout:.0f} s:\n"
                               + path.read_text(errors="replace")[-3000:])
        time.sleep(0.1)


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    with temporary_stack("alert") as stack:
        return _run(stack, args, say)


def _run(stack: Stack, args: argparse.Namespace, say) -> int:  # type: ignore[no-untyped-def]
    base = stack.state_dir.parent
    procs: list[subprocess.Popen[bytes]] = []
    sink = HttpSink().start()
    ctx = mp.get_context("spawn")
    stop_load = ctx.Event()
    loader = None
    n_press = args.presses
    try:
        creds = stack.credentials()
        url = stack.database_url()
        say(f"provisioning {n_press} homes with a button and {args.load_homes} load homes")
        buttons: list[tuple[str, str, str]] = []     # (home, uid, password)
        load: list[tuple[str, str]] = []
        with psycopg.connect(url) as conn:
            for i in range(n_press):
                home = f"bh{i:04d}"
                registry.add_home(conn, code=home, community="bench", resident=f"住户{i}",
                                  building=f"{i // 100 + 1}栋")
                d = registry.add_device(conn, home=home, kind="button", room="bedroom")
                assert d.password
                buttons.append((home, d.uid, d.password))
                add_contact(conn, ContactSpec(role="family", name=f"家属{i}", home=home,
                                              urls=[sink.url(f"/{home}")]))
            for i in range(args.load_homes):
                home = f"lh{i:04d}"
                registry.add_home(conn, code=home, community="load", resident="r")
                d = registry.add_device(conn, home=home, kind="motion", room="living_room")
                assert d.password
                load.append((d.uid, d.password))
            stack.write_broker_files(registry.broker_user_hashes(conn))
            conn.commit()
        stack.reload_broker()
        env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            env.pop(k, None)
        for name, argv, ready in (
                ("ingest", ["ingest", "--worker", "bench"], "subscribed to"),
                ("detect", ["detect"], "watching"),
                ("route", ["route", "--worker", "bench", "--no-watchdog"], "running")):
            log = base / f"{name}.log"
            p = subprocess.Popen([sys.executable, "-m", "anju.cli", *argv], env=env,
                                 stdout=subprocess.DEVNULL, stderr=log.open("wb"))
            procs.append(p)
            _wait_log(log, ready, p)
        time.sleep(1.0)
        if load:
            loader = ctx.Process(target=_load, args=(creds.mqtt_port, load[:50],
                                                     float(args.load_rate), stop_load))
            loader.start()
            time.sleep(2.0)
        say(f"pressing {n_press} buttons, one every {args.interval} s, "
            f"with {args.load_rate} background readings/s")

        async def press_all() -> dict[str, float]:
            sent: dict[str, float] = {}
            conns: dict[str, Client] = {}
            for home, uid, pw in buttons:
                conns[home] = await connect("127.0.0.1", creds.mqtt_port, client_id=uid,
                                            username=uid, password=pw, keepalive=120,
                                            will=_offline(uid))
            for i, (home, uid, _) in enumerate(buttons):
                now = time.time()
                conns[home].publish(f"anju/v1/devices/{uid}/button",
                                    b'{"ts":%d,"seq":%d,"value":1}' % (int(now * 1000), i),
                                    qos=1)
                sent[home] = now
                await asyncio.sleep(args.interval)
            for c in conns.values():
                await c.wait_inflight_below(0)
            deadline = time.time() + TIMEOUT_S
            while time.time() < deadline and len(
                    {r.path for r in sink.received} & {f"/{h}" for h in sent}) < len(sent):
                await asyncio.sleep(0.1)
            for c in conns.values():
                await c.close()
            return sent

        sent = asyncio.run(press_all())
        first: dict[str, float] = {}
        for r in sink.received:
            first.setdefault(r.path.lstrip("/"), r.at)
        lat = [(first[h] - t) * 1000 for h, t in sent.items()
               if h in first and first[h] - t <= TIMEOUT_S]
        result = {"n": len(sent), "p50_ms": round(percentile(lat, 50), 1),
                  "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat), 1) if lat else None,
                  "lost": len(sent) - len(lat), "load_msgs_per_s": args.load_rate if load else 0,
                  "load_homes": len(load)}
        report(result, args.json)
        return 0 if result["lost"] == 0 else 1
    finally:
        stop_load.set()
        if loader is not None:
            loader.join(10)
            if loader.is_alive():
                loader.kill()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        sink.stop()
