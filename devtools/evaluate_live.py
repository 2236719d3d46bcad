"""`anju eval --simulate --live`: the same evaluation, end to end through the real servers.

Simulated homes are provisioned with broker credentials and publish their
weeks over MQTT (timestamps shifted by whole weeks towards now); the ingest stores
them; the detector service starts, learns each home's first week from the
database and replays the rest, writing alerts as in production. The alerts
in the database are then scored against the ground truth exactly as the
in-process evaluation scores findings.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from anju import registry
from anju.endpoints import MqttEndpoint
from detectors.config import DetectorConfig
from detectors.evaluate import DAY, LEARN_DAYS, HomeRun, Report, Truth, score
from detectors.events import Finding
from detectors.service import DetectorService
from devtools.evaluation import draw_incidents
from devtools.stacks import temporary_stack
from simulators import fleet
from simulators.generate import FleetSpec


# Incidents the after-the-fact replay cannot see: a heartbeat is not a reading, only each
# device's latest message time is stored, so a spell of silence that has ended before the
# detector service starts leaves nothing in the database. (The live service sees them as
# they happen, and a spell still going on at a restart: tests/test_detector_service.py.)
REPLAY_BLIND = frozenset({"device_offline", "home_silent"})


async def wait_for_readings(url: str, want: int, *, timeout_s: float,
                            poll_s: float = 0.2) -> int:
    """Poll the readings table until it holds `want` rows; returns the last count.

    Each poll is its own transaction (autocommit). In one long transaction the
    count froze: psycopg prepares a statement after five runs, and the prepared
    plan, never re-planned while the transaction holds its lock on the
    hypertable, does not see chunks created after it (the count stopped at the
    last chunk edge, UTC midnight).
    """
    deadline = time.monotonic() + timeout_s
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            row = await (await conn.execute("SELECT count(*) FROM readings")).fetchone()
            count = int(row[0]) if row else 0
            if count >= want or time.monotonic() > deadline:
                return count
            await asyncio.sleep(poll_s)


def evaluate_live(homes: int, days: int, seed: int, cfg: DetectorConfig, *,
                  personas: list[str], per_week: float, kinds: list[str],
                  say=print) -> Report:  # type: ignore[no-untyped-def]
    blind = sorted(REPLAY_BLIND & set(kinds))
    if blind:
        raise ValueError(f"--live cannot measure {', '.join(blind)}: heartbeats are not stored "
                         "as readings, so a replay after the fact does not see a device fall "
                         "silent; measure them without --live")
    t0 = time.perf_counter()
    spec = FleetSpec(homes=homes, days=days, seed=seed, personas=tuple(personas))
    start, end = spec.span()
    eval_start = start + LEARN_DAYS * DAY
    profiles = spec.make_homes()
    incidents = {h.code: draw_incidents(h, seed, eval_start, end, per_week, kinds)
                 for h in profiles}
    # Whole weeks, so each event keeps its local time of day and day of the week.
    week = 7 * DAY
    shift = (time.time() - 60 - end) // week * week

    with temporary_stack("eval") as stack, tempfile.TemporaryDirectory() as tmp:
        url = stack.database_url()
        with psycopg.connect(url) as conn:
            provisioned = fleet.provision(conn, profiles, credentials=Path(tmp) / "c.json",
                                          gateway_mode=True, community="eval")
            stack.write_broker_files(registry.broker_user_hashes(conn))
            conn.commit()
        stack.reload_broker()
        time.sleep(0.3)
        # The ingest runs as its own process, as in production.
        log = Path(tmp) / "ingest.log"
        env = {**os.environ, "ANJU_STATE_DIR": str(stack.state_dir),
               "ANJU_INGEST_MAX_PAST_S": str((days + 8) * 86400),
               "ANJU_INGEST_MAINTENANCE_S": "0"}
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            env.pop(k, None)
        ingest = subprocess.Popen([sys.executable, "-m", "anju.cli", "ingest", "--worker", "eval"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))

        async def publish_and_detect() -> None:
            while "subscribed to" not in log.read_text(errors="replace"):
                if ingest.poll() is not None:
                    raise RuntimeError("the ingest stopped:\n" + log.read_text()[-2000:])
                await asyncio.sleep(0.1)
            say(f"publishing {homes} homes x {days} days over MQTT")
            stats = await fleet.publish_fleet(MqttEndpoint.from_url(stack.mqtt_url()),
                                              provisioned, start, end, speed=0, shift=shift,
                                              incidents=incidents)
            got = await wait_for_readings(url, stats.readings, timeout_s=600)
            if got < stats.readings:
                raise RuntimeError(f"only {got} of {stats.readings} readings stored after"
                                   f" 600 s; see {log}")
            say(f"{stats.readings} readings stored; the detector service learns and replays")
            # The service's clock stands at the end of the simulated span.
            service = DetectorService(url, replay_s=end - eval_start + 60,
                                      clock=lambda: end + shift)
            stop = asyncio.Event()
            task = asyncio.create_task(service.run(stop))
            while service._changed is None:
                if task.done():
                    task.result()
                await asyncio.sleep(0.2)
            stop.set()
            service.wake.set()
            await task

        try:
            asyncio.run(publish_and_detect())
        finally:
            ingest.terminate()
            ingest.wait(30)
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT h.code, a.kind, a.condition_at, d.uid FROM alerts a"
                " JOIN homes h ON h.id = a.home_id LEFT JOIN devices d ON d.id = a.device_id"
            ).fetchall()
    found: dict[str, list[Finding]] = {}
    for code, kind, at, uid in rows:
        found.setdefault(code, []).append(Finding(kind, "open", at.timestamp() - shift, device=uid))
    runs = []
    for h in profiles:
        run = HomeRun(h.code, h.persona, (end - eval_start) / DAY)
        truths = [Truth(i.kind, float(i.start), float(i.end), i.details.get("uid"))
                  for i in incidents[h.code]]
        score(sorted(found.get(h.code, []), key=lambda f: f.at), truths, eval_start, run)
        # their spans still explain what they cause; they are just not scored
        run.outcomes = [(k, hit) for k, hit in run.outcomes if k not in REPLAY_BLIND]
        runs.append(run)
    return Report(f"simulated {homes} homes x {days} days, seed {seed}, end to end through "
                  "Mosquitto, the ingest, PostgreSQL and the detector service ("
                  f"{' and '.join(sorted(REPLAY_BLIND))} not scored: not stored for a replay)",
                  runs,
                  time.perf_counter() - t0, cfg.sensitivity)
