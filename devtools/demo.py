"""`anju demo`: the embedded stack, the services, and a community of homes publishing.

The services run as child processes (`anju ingest`, …) exactly as in
production. Every home is a simulated resident (simulators/): three scripted
homes whose incidents raise alerts in the demo's first minutes
(devtools/demo_homes.py: inactivity, a tap left running, the door at night),
and a community of residents living their days (`anju sim run`). Families'
and the worker's notifications arrive at a local inbox page
(devtools/demo_inbox.py).

The pieces (`prepare`, `start_services`, `start_community`, `publish_homes`)
are what tests/test_demo_community.py drives against its own servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from anju import db, registry
from anju.embedded import Stack
from anju.endpoints import MqttEndpoint
from anju.host import free_port
from devtools import demo_homes
from devtools.demo_inbox import Inbox
from simulators import fleet

CONSOLE_PORT = free_port(8750)
# The services, each a child process as in production; logs in STATE/logs/NAME.log.
SERVICES = [["ingest", "--worker", "demo", "--metrics-port", "0"], ["detect"],
            ["route", "--worker", "demo"],
            ["console", "--port", str(CONSOLE_PORT)]]
PIPELINE = SERVICES[:3]         # what a test needs: no console
# Console sign-ins for the demo: (user, name, role, scope option, scope)
DEMO_USERS = [
    ("admin", "管理员", "admin", None, None),
    ("operator", "李娜（南坪街道养老服务中心）", "operator", "--community", "南岸区·南坪街道"),
    ("property", "赵强（物业）", "property", "--building", "南岸区·南坪街道/1栋"),
    ("family", "王小明（王秀英之子）", "family", "--home", "demo-101"),
]


SIM_HOMES = 12
SIM_COMMUNITY = "南岸区·南坪街道"


WORKER = ("陈静", "138-0000-0301")


def add_worker(stack: Stack, inbox_port: int) -> None:
    """The community's worker, told of the simulated homes' alerts through the inbox."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    with db.connect(stack.database_url()) as conn:
        # an earlier run's worker (under any name it had) gives way to this run's inbox
        conn.execute("UPDATE contacts SET active = false WHERE active AND role = 'community_worker'"
                     " AND community_id = (SELECT id FROM communities WHERE code = %s)"
                     " AND urls[1] LIKE 'json://127.0.0.1:%%/worker'", (SIM_COMMUNITY,))
    subprocess.run([sys.executable, "-m", "anju.cli", "contact", "add", "--role",
                    "community_worker", "--community", SIM_COMMUNITY, "--name", WORKER[0],
                    "--phone", WORKER[1], "--url", f"json://127.0.0.1:{inbox_port}/worker"],
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


def add_family(stack: Stack, inbox_port: int) -> None:
    """Each scripted home's family is told through the local inbox (through the router's CLI)."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    with db.connect(stack.database_url()) as conn:
        conn.execute("UPDATE contacts SET active = false WHERE active AND role = 'family'"
                     " AND home_id IN (SELECT id FROM homes WHERE code = ANY(%s))",
                     ([h.code for h in demo_homes.HOMES],))
    for h in demo_homes.HOMES:
        subprocess.run([sys.executable, "-m", "anju.cli", "contact", "add", "--role", "family",
                        "--home", h.code, "--name", h.family or h.resident,
                        "--url", f"json://127.0.0.1:{inbox_port}/{h.code}"]
                       + (["--phone", h.family_phone] if h.family_phone else [])
                       + (["--has-key"] if h.family_has_key else []),
                       env=env, check=True, stdout=subprocess.DEVNULL)


def set_detectors(stack: Stack) -> None:
    """The scripted homes' demo-only limits, through `anju detector set` (the defaults stay)."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    for h in demo_homes.HOMES:
        if h.settings:
            subprocess.run([sys.executable, "-m", "anju.cli", "detector", "set", "--home", h.code,
                            *h.settings], env=env, check=True, stdout=subprocess.DEVNULL)


async def restore_detectors(stack: Stack, p: demo_homes.Plan) -> None:
    """Each scripted home's default limits back once its incident is over (the detector
    service reads changed settings as it runs)."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    for h in sorted((h for h in demo_homes.HOMES if h.restore),
                    key=lambda h: demo_homes.restore_at(p, h.code)):
        await asyncio.sleep(max(0.0, demo_homes.restore_at(p, h.code) - time.time()))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "anju.cli", "detector", "set", "--home", h.code, *h.restore,
            env=env, stdout=asyncio.subprocess.DEVNULL)
        await proc.wait()


def prepare(stack: Stack, schedule: demo_homes.Schedule = demo_homes.Schedule(),
            start: int | None = None) -> tuple[demo_homes.Plan, list[fleet.ProvisionedHome],
                                                dict[str, float]]:
    """The scripted homes planned from `start` (default now), registered, their settings
    set and their credentials given to the broker. Also returns what an earlier run
    published (each home's last reading), which this run does not publish again."""
    p = demo_homes.plan(int(time.time()) if start is None else start, schedule)
    with psycopg.connect(stack.database_url()) as conn:
        after = demo_homes.last_readings(conn)
        homes = demo_homes.provision(conn, p, stack.state_dir / "demo-homes.json")
        stack.write_broker_files(registry.broker_user_hashes(conn))
    stack.reload_broker()
    set_detectors(stack)
    return p, homes, after


def service_env(stack: Stack, inbox_port: int, console_port: int = CONSOLE_PORT) -> dict[str, str]:
    return dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir),
                ANJU_ROUTER_PUBLIC_URL=f"http://127.0.0.1:{console_port}",
                ANJU_CONSOLE_INBOX_URL=f"http://127.0.0.1:{inbox_port}/")


def start_services(env: dict[str, str], log_dir: Path,
                   services: list[list[str]] = SERVICES) -> list[subprocess.Popen[bytes]]:
    """The services as child processes; returns once the ingest has subscribed (the first
    time, its broker session starts at its subscription: readings before it are missed)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    children = [subprocess.Popen([sys.executable, "-m", "anju.cli", *cmd], env=env,
                                 stdout=subprocess.DEVNULL,
                                 stderr=(log_dir / f"{cmd[0]}.log").open("wb"))
                for cmd in services]
    deadline = time.monotonic() + 30
    while "subscribed to" not in (log_dir / "ingest.log").read_text(errors="replace"):
        if children[0].poll() is not None or time.monotonic() > deadline:
            stop_children(children)
            print((log_dir / "ingest.log").read_text()[-2000:], file=sys.stderr)
            raise SystemExit("the ingest worker did not start; its log is above")
        time.sleep(0.1)
    return children


def start_community(env: dict[str, str], log_dir: Path, homes: int = SIM_HOMES,
                    prefix: str = "demo-sim") -> subprocess.Popen[bytes]:
    """A simulated community besides: residents living their days in real time, with
    incidents (smoke, water left running, the button, a door left open, ...) now and
    then somewhere among them, so the board has more to show."""
    return subprocess.Popen(
        [sys.executable, "-m", "anju.cli", "sim", "run", "--homes", str(homes),
         "--speed", "1", "--community", SIM_COMMUNITY, "--prefix", prefix,
         "--days", "1", "--incidents-per-home-week", "300", "--seed", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=(log_dir / "sim.log").open("wb"))


def stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


async def publish_homes(stack: Stack, homes: list[fleet.ProvisionedHome], p: demo_homes.Plan,
                        stop: asyncio.Event, after: dict[str, float] | None = None) -> fleet.Stats:
    """The scripted homes' devices: their backlog at once, then real time until `stop`."""
    endpoint = MqttEndpoint.from_url(stack.mqtt_url())
    return await demo_homes.publish(endpoint, homes, p, stop, after)


def inbox_for(p: demo_homes.Plan) -> Inbox:
    return Inbox({h.code: (h.resident, p.tz(h.code)) for h in demo_homes.HOMES})


def run(state_dir: Path, duration: float | None) -> int:
    stack = Stack(state_dir)
    creds_ = stack.up()
    applied = db.migrate(stack.database_url())
    if applied:
        print(f"schema: {', '.join(applied)}")
    p, homes, after = prepare(stack)
    users = add_users(stack)      # after the homes: a user's scope names their community
    inbox = inbox_for(p)
    add_family(stack, inbox.port)
    add_worker(stack, inbox.port)
    env = service_env(stack, inbox.port)
    log_dir = stack.state_dir / "logs"
    children = start_services(env, log_dir)
    children.append(start_community(env, log_dir))
    servers_at = (f"; the servers' data in {stack.server_dir}, where user {stack.user} "
                  "can reach it" if stack.relocated else "")
    anju = "anju" if shutil.which("anju") else f"{Path(sys.executable).parent}/anju"
    sign_ins = "\n".join(f"    {u:9} {users[u]:14} {name} ({role})"
                         for u, name, role, _, _ in DEMO_USERS)
    story = "\n".join(f"    {line}" for line in demo_homes.story(p))
    again = ("\n  (readings of an earlier run in the last hours stand: this run's incidents\n"
             "  come later than said above)" if demo_homes.replan_after(p, after) else "")
    print(f"""
anju demo is running (state in {stack.state_dir}{servers_at}):

  Console: http://127.0.0.1:{CONSOLE_PORT}/   sign in as
{sign_ins}
  PostgreSQL+TimescaleDB 127.0.0.1:{creds_.pg_port}   Mosquitto 127.0.0.1:{creds_.mqtt_port}
  services: {', '.join(c[0] for c in SERVICES)} (logs in {log_dir})
  families' and the worker's notifications arrive at http://127.0.0.1:{inbox.port}/
  (?lang=en for English; acknowledgement links in them are served by the console)

  {len(homes)} scripted homes, simulated residents whose devices publish as the device
  contract says: their last {demo_homes.Schedule().backlog_s // 60} minutes of readings at the start,
  then in real time. In the first minutes (times in each home's zone, Asia/Shanghai
  unless said):
{story}{again}
    (the short limits are demo settings of those two homes, back to the defaults once
    the incident is over; the detectors' defaults are unchanged)
  and {SIM_HOMES} more simulated residents in {SIM_COMMUNITY} (anju sim run: incidents
  now and then among them after their first hour; log in {log_dir / 'sim.log'})

Look at it from another terminal:
  {anju} readings tail -f            the readings as they are stored
  {anju} alerts --all                alerts the detectors opened
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
        restoring = asyncio.create_task(restore_detectors(stack, p))
        await publish_homes(stack, homes, p, stop, after)
        await stop.wait()    # the day's readings ran out: the services go on
        restoring.cancel()

    try:
        asyncio.run(main())
    finally:
        stop_children(children)
        inbox.stop()
    with psycopg.connect(stack.database_url()) as conn:
        (n,) = conn.execute("SELECT count(*) FROM readings r JOIN devices d ON d.id = r.device_id"
                            " JOIN homes h ON h.id = d.home_id WHERE h.code LIKE 'demo-%'"
                            ).fetchone()  # type: ignore[misc]
    print(f"demo stopped; {n} readings stored for the demo homes so far, "
          f"{len(inbox.messages)} notifications delivered to the demo inbox")
    return 0
