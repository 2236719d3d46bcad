"""`anju demo`: the embedded stack, the services, and a few homes publishing.

The services run as child processes (`anju ingest`, …) exactly as in
production; the homes are published by the simulators when they are
installed (`anju sim run`), else by the small publisher below.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

from anju import db, registry
from anju.contract import device_topic
from anju.embedded import Stack
from anju.host import free_port
from anju.mqtt_async import Client, Will, connect

DEMO_HOMES = [
    ("demo-101", "南岸区·南坪街道", "王秀英", "1栋"),
    ("demo-102", "南岸区·南坪街道", "李德华", "1栋"),
    ("demo-201", "渝中区·解放碑街道", "张桂兰", "3栋"),
]
CONSOLE_PORT = free_port(8750)
# The services, each a child process as in production; logs in STATE/logs/NAME.log.
SERVICES = [["ingest", "--worker", "demo", "--metrics-port", "0"], ["detect"],
            ["route", "--worker", "demo"],
            ["console", "--port", str(CONSOLE_PORT)]]
# Console sign-ins for the demo: (user, name, role, scope option, scope)
DEMO_USERS = [
    ("admin", "管理员", "admin", None, None),
    ("operator", "李娜（南坪街道养老服务中心）", "operator", "--community", "南岸区·南坪街道"),
    ("property", "赵强（物业）", "property", "--building", "南岸区·南坪街道/1栋"),
    ("family", "王小明（王秀英之子）", "family", "--home", "demo-101"),
]


class Inbox:
    """A local receiver standing in for families' phones: apprise posts JSON here
    (json://), and its page lists what arrived, newest first."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str, dict[str, object]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = {"body": body.decode("utf-8", "replace")}
                inbox.messages.append((time.time(), self.path, data))
                self.send_response(200)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                rows = "".join(
                    f"<li><b>{html.escape(time.strftime('%H:%M:%S', time.localtime(at)))}</b>"
                    f" {html.escape(path)}<br><b>{html.escape(str(m.get('title', '')))}</b>"
                    f"<pre>{html.escape(str(m.get('message', m.get('body', ''))))}</pre></li>"
                    for at, path, m in reversed(inbox.messages))
                page = (f"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
                        f"<title>anju demo inbox</title><h1>通知 / notifications</h1>"
                        f"<ul>{rows or '<li>—</li>'}</ul>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
DEMO_DEVICES = [("motion", "bedroom"), ("motion", "kitchen"), ("door", "entrance"),
                ("water", "kitchen"), ("power", "kitchen"), ("button", "bedroom")]


SIM_HOMES = 12
SIM_COMMUNITY = "南岸区·南坪街道"


def add_worker(stack: Stack, inbox_port: int) -> None:
    """The community's worker, told of the simulated homes' alerts through the inbox."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    with db.connect(stack.database_url()) as conn:
        if conn.execute("SELECT 1 FROM contacts WHERE name = 'demo community worker'"
                        " AND active").fetchone():
            conn.execute("UPDATE contacts SET active = false WHERE name = 'demo community worker'")
    subprocess.run([sys.executable, "-m", "anju.cli", "contact", "add", "--role",
                    "community_worker", "--community", SIM_COMMUNITY, "--name",
                    "demo community worker", "--url", f"json://127.0.0.1:{inbox_port}/worker"],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def add_family(stack: Stack, inbox_port: int) -> None:
    """Each demo home's family is told through the local inbox (through the router's CLI)."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    with db.connect(stack.database_url()) as conn:
        conn.execute("UPDATE contacts SET active = false WHERE name LIKE 'demo family%%'")
    for code, _, resident, _ in DEMO_HOMES:
        subprocess.run([sys.executable, "-m", "anju.cli", "contact", "add", "--role", "family",
                        "--home", code, "--name", f"demo family of {resident}",
                        "--url", f"json://127.0.0.1:{inbox_port}/{code}"],
                       env=env, check=True, stdout=subprocess.DEVNULL)


def add_users(stack: Stack) -> dict[str, str]:
    """Console users for the demo, created once; their passwords are kept in the state dir."""
    path = stack.state_dir / "demo-users.json"
    if path.exists():
        return json.loads(path.read_text())
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    passwords = {}
    for user, name, role, option, scope in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        cmd = [sys.executable, "-m", "anju.cli", "user", "add", user, "--name", name,
               "--role", role, "--password-stdin"] + ([option, scope] if option else [])
        subprocess.run(cmd, env=env, input=password + "\n", text=True, check=True,
                       stdout=subprocess.DEVNULL)
        passwords[user] = password
    path.write_text(json.dumps(passwords))
    os.chmod(path, 0o600)
    return passwords


def provision(stack: Stack) -> dict[str, dict[str, str]]:
    """Create the demo homes once; their device credentials are kept in the state dir."""
    path = stack.state_dir / "demo-credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    creds: dict[str, dict[str, str]] = {}
    with db.connect(stack.database_url()) as conn:
        for code, community, resident, building in DEMO_HOMES:
            registry.add_home(conn, code=code, community=community, resident=resident,
                              building=building, address=f"{community} {building}")
            for kind, room in DEMO_DEVICES:
                d = registry.add_device(conn, home=code, kind=kind, room=room)
                assert d.password
                creds.setdefault(code, {})[f"{d.uid}|{kind}"] = d.password
        stack.write_broker_files(registry.broker_user_hashes(conn))
    stack.reload_broker()
    path.write_text(json.dumps(creds, indent=1))
    os.chmod(path, 0o600)
    return creds


async def publish_homes(port: int, creds: dict[str, dict[str, str]], stop: asyncio.Event) -> None:
    """A few homes: motion now and then, the door, meters every 10 s, heartbeats."""
    rnd = random.Random()
    conns: list[tuple[Client, str, str]] = []
    for devices in creds.values():
        for key, password in devices.items():
            uid, kind = key.split("|")
            c = await connect("127.0.0.1", port, client_id=uid, username=uid,
                              password=password, keepalive=60,
                              will=Will(device_topic(uid, "status"), b'{"status":"offline"}'))
            conns.append((c, uid, kind))
    seq = int(time.time())
    totals = {uid: rnd.uniform(1000, 5000) for _, uid, _ in conns}
    for c, uid, _ in conns:
        c.publish(device_topic(uid, "status"),
                  json.dumps({"status": "online", "battery": rnd.randint(60, 100)}).encode(), 1)
    tick = 0
    while not stop.is_set():
        now = time.time_ns() // 1_000_000
        seq += 1
        for c, uid, kind in conns:
            value: float | None = None
            if kind == "motion" and rnd.random() < 0.3:
                value = 1
            elif kind == "door" and rnd.random() < 0.02:
                value = rnd.choice((0, 1))
            elif kind == "water" and tick % 10 == 0:
                totals[uid] += rnd.choice((0, 0, 0, rnd.uniform(0.5, 8)))
                value = round(totals[uid], 2)
            elif kind == "power" and tick % 10 == 0:
                value = rnd.choice((3.5, 4.0, 85.0, 1800.0))
            elif kind == "button" and tick % 120 == 20 and rnd.random() < 0.5:
                value = 1  # now and then a resident presses the emergency button
            if value is not None:
                c.publish(device_topic(uid, kind),
                          b'{"ts":%d,"seq":%d,"value":%r}' % (now, seq, value), 1)
        tick += 1
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
    for c, _, _ in conns:
        await c.close()


def run(state_dir: Path, duration: float | None) -> int:
    stack = Stack(state_dir)
    creds_ = stack.up()
    applied = db.migrate(stack.database_url())
    if applied:
        print(f"schema: {', '.join(applied)}")
    creds = provision(stack)
    users = add_users(stack)
    inbox = Inbox()
    add_family(stack, inbox.port)
    add_worker(stack, inbox.port)
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir),
               ANJU_ROUTER_PUBLIC_URL=f"http://127.0.0.1:{CONSOLE_PORT}",
               ANJU_CONSOLE_INBOX_URL=f"http://127.0.0.1:{inbox.port}/")
    log_dir = stack.state_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    children = [subprocess.Popen([sys.executable, "-m", "anju.cli", *cmd], env=env,
                                 stdout=subprocess.DEVNULL,
                                 stderr=(log_dir / f"{cmd[0]}.log").open("wb"))
                for cmd in SERVICES]
    # The first time, the ingest's broker session starts at its subscription:
    # publish only after it, so the demo's first readings are not missed.
    deadline = time.monotonic() + 30
    while "subscribed to" not in (log_dir / "ingest.log").read_text(errors="replace"):
        if children[0].poll() is not None or time.monotonic() > deadline:
            print((log_dir / "ingest.log").read_text()[-2000:], file=sys.stderr)
            raise SystemExit("the ingest worker did not start; its log is above")
        time.sleep(0.1)
    # A simulated community besides: residents living their days in real time, with
    # incidents (smoke, water left running, the button, a door left open, ...) every
    # few minutes somewhere among them, so the board has something to show.
    children.append(subprocess.Popen(
        [sys.executable, "-m", "anju.cli", "sim", "run", "--homes", str(SIM_HOMES),
         "--speed", "1", "--community", SIM_COMMUNITY, "--prefix", "demo-sim",
         "--days", "1", "--incidents-per-home-week", "300", "--seed", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=(log_dir / "sim.log").open("wb")))
    servers_at = (f"; the servers' data in {stack.server_dir}, where user {stack.user} "
                  "can reach it" if stack.relocated else "")
    anju = "anju" if shutil.which("anju") else f"{Path(sys.executable).parent}/anju"
    sign_ins = "\n".join(f"    {u:9} {users[u]:14} {name} ({role})"
                         for u, name, role, _, _ in DEMO_USERS)
    print(f"""
anju demo is running (state in {stack.state_dir}{servers_at}):

  Console: http://127.0.0.1:{CONSOLE_PORT}/   sign in as
{sign_ins}
  PostgreSQL+TimescaleDB 127.0.0.1:{creds_.pg_port}   Mosquitto 127.0.0.1:{creds_.mqtt_port}
  services: {', '.join(c[0] for c in SERVICES)} (logs in {log_dir})
  families' notifications arrive at http://127.0.0.1:{inbox.port}/ (acknowledgement links
  in them are served by the console)
  {len(creds)} homes publishing: {', '.join(creds)}, and {SIM_HOMES} simulated residents
  (anju sim run, incidents every few minutes; log in {log_dir / 'sim.log'})

Look at it from another terminal:
  {anju} readings tail -f            the readings as they are stored
  {anju} alerts --all                alerts the detectors opened (a button is pressed now and then)
  {anju} device list                 devices, last seen, battery
  {anju} readings rejected           messages that could not be stored, with why
  {anju} status                      what runs where
Stop with Ctrl-C (the servers keep running; `{anju} down` stops them).
""", flush=True)
    stop = asyncio.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if duration:
            loop.call_later(duration, stop.set)
        await publish_homes(creds_.mqtt_port, creds, stop)

    try:
        asyncio.run(main())
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
    with psycopg.connect(stack.database_url()) as conn:
        (n,) = conn.execute("SELECT count(*) FROM readings r JOIN devices d ON d.id = r.device_id"
                            " JOIN homes h ON h.id = d.home_id WHERE h.code LIKE 'demo-%'"
                            ).fetchone()  # type: ignore[misc]
    print(f"demo stopped; {n} readings stored for the demo homes so far, "
          f"{len(inbox.messages)} notifications delivered to the demo inbox")
    return 0
