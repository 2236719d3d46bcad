"""`anju bench console`: server time of the console's pages with a city's worth of history.

A throw-away embedded stack gets (by SQL, generate_series) 100,000 homes in
200 communities, three devices each (some offline, some low on battery),
1,000,000 alerts over the past year in a realistic mix of kinds and states
(a few thousand unresolved), seven days of 15-minute rollups and the last
hours of raw readings for the homes whose pages are timed, and visit
schedules. The console app then runs in-process (its lifespan, an httpx ASGI
transport: no network) and each page is requested repeatedly as a community
operator (5 communities, 2,500 homes) and as an admin (everything).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from typing import Any

import httpx
import psycopg

from console.app import ConsoleConfig, create_app
from console.users import NewUser, add_user
from devtools.stacks import percentile, report, temporary_stack

COMMUNITIES = 200
PASSWORD = "bench password 1"

# Kind, severity, share of the history.
ALERT_MIX = [("inactivity", "critical", 0.18), ("button", "critical", 0.10),
             ("smoke", "critical", 0.03), ("gas", "critical", 0.01), ("leak", "high", 0.05),
             ("water_running", "high", 0.08), ("door_left_open", "medium", 0.10),
             ("night_wandering", "medium", 0.07), ("no_water", "medium", 0.08),
             ("activity_decline", "low", 0.08), ("device_offline", "low", 0.14),
             ("battery_low", "low", 0.08)]


def _seed_sql(homes: int, alerts: int, charted: list[int]) -> list[str]:
    kinds = ",".join(f"'{k}'" for k, _, _ in ALERT_MIX)
    sevs = ",".join(f"'{s}'" for _, s, _ in ALERT_MIX)
    # Cumulative shares as a lookup: kind index from a uniform draw.
    cum, acc = [], 0.0
    for _, _, share in ALERT_MIX:
        acc += share
        cum.append(f"{acc:.4f}")
    bounds = ",".join(cum)
    charted_list = ",".join(str(h) for h in charted)
    return [
        f"""INSERT INTO communities (code, name, district)
            SELECT 'c' || lpad(i::text, 4, '0'), '社区' || i, '渝中区'
            FROM generate_series(1, {COMMUNITIES}) i""",
        f"""INSERT INTO homes (code, community_id, resident_name, address, building)
            SELECT 'h' || lpad(i::text, 6, '0'), 1 + (i - 1) % {COMMUNITIES},
                   '住户' || i, (i % 30 + 1) || '-' || (i % 6 + 1) || '01 室',
                   (1 + ((i - 1) / {COMMUNITIES}) % 20)::text
            FROM generate_series(1, {homes}) i""",
        # motion (bedroom), door (entrance), water meter (kitchen) per home.
        f"""INSERT INTO devices (uid, home_id, kind, room, heartbeat_s, last_seen, battery_pct,
                                 online)
            SELECT 'd' || h || '-' || k, h, (ARRAY['motion','door','water'])[k],
                   (ARRAY['bedroom','entrance','kitchen'])[k], 900,
                   now() - CASE WHEN random() < 0.02 THEN interval '1 day'
                                ELSE random() * interval '10 minutes' END,
                   CASE WHEN k = 3 THEN NULL ELSE 5 + random() * 95 END, true
            FROM generate_series(1, {homes}) h, generate_series(1, 3) k""",
        # The history: one alert per 30 s over the past year; resolved unless among the
        # newest few thousand. Home and kind from the alert number (dedup-safe).
        # Written here, not through alerts.store (the only other writer of alerts): a year of
        # past alerts in one statement, where the store opens, acknowledges and resolves one
        # alert at a time, each with its events and NOTIFYs.
        f"""WITH s AS (
              SELECT i, (1 + ((i::bigint * 7919) % {homes}))::int AS home_id,
                     (SELECT count(*) FROM unnest(ARRAY[{bounds}]::float8[]) b
                      WHERE b <= ((i::bigint * 2654435761) % 10007) / 10007.0) + 1 AS k,
                     now() - i * interval '30 seconds' AS at
              FROM generate_series(1, {alerts}) i)
            INSERT INTO alerts (home_id, kind, severity, state, opened_at, condition_at, since,
                                summary_zh, summary_en, acknowledged_at, acknowledged_by,
                                resolved_at, resolved_by, outcome)
            SELECT home_id, (ARRAY[{kinds}])[least(k, {len(ALERT_MIX)})],
                   (ARRAY[{sevs}])[least(k, {len(ALERT_MIX)})],
                   CASE WHEN i <= 3000 THEN 'open' WHEN i <= 4000 THEN 'acknowledged'
                        ELSE 'resolved' END,
                   at, at, at - interval '2 hours', '告警', 'alert',
                   CASE WHEN i > 3000 THEN at + (20 + random() * 200) * interval '1 second' END,
                   CASE WHEN i > 3000 THEN 'bench' END,
                   CASE WHEN i > 4000 THEN at + random() * interval '1 hour' END,
                   CASE WHEN i > 4000 THEN 'bench' END,
                   CASE WHEN i > 4000 THEN (ARRAY['visited_all_well','reached_by_phone',
                        'false_alarm','device_fault','condition_cleared'])[1 + i % 5] END
            FROM s
            ON CONFLICT DO NOTHING""",
        # Seven days of 15-minute rollups for the charted homes, raw readings after them.
        f"""INSERT INTO readings_15m (home_id, bucket, kind, room, n, n_on, vmin, vmax, vsum)
            SELECT h, b, k, r, 8, (random() * 6)::int, 0, 1 + random() * 50,
                   random() * 40
            FROM unnest(ARRAY[{charted_list}]) h,
                 generate_series(date_trunc('hour', now()) - interval '7 days',
                                 date_trunc('hour', now()) - interval '2 hours',
                                 interval '15 minutes') b,
                 (VALUES (1, 'bedroom'), (2, 'entrance'), (5, 'kitchen')) v(k, r)""",
        """INSERT INTO maintenance_state (name, value)
           VALUES ('rollup', date_trunc('hour', now()) - interval '2 hours' + interval '15 minutes')
           ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
        f"""INSERT INTO readings (ts, seq, value, device_id, kind)
            SELECT t, row_number() OVER (), CASE WHEN d.kind = 'water'
                   THEN extract(epoch FROM t) / 600 ELSE (random() < 0.3)::int END,
                   d.id, CASE d.kind WHEN 'motion' THEN 1 WHEN 'door' THEN 2 ELSE 5 END
            FROM devices d,
                 generate_series(date_trunc('hour', now()) - interval '2 hours', now(),
                                 interval '1 minute') t
            WHERE d.home_id = ANY(ARRAY[{charted_list}])""",
        f"""INSERT INTO visit_schedules (home_id, kind, every_days, next_due_at)
            SELECT h, 'special_needs', 30, now() + (random() * 40 - 5) * interval '1 day'
            FROM generate_series(1, {homes}, 10) h""",
        "ANALYZE",
    ]


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    r = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert token, r.text[:200]
    r = await client.post("/login", data={"username": username, "password": PASSWORD,
                                          "csrf": token.group(1)})
    if r.status_code != 303:
        raise RuntimeError(f"bench sign-in failed: {r.status_code}")


async def _time(client: httpx.AsyncClient, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        t0 = time.perf_counter()
        r = await client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
    return out


async def _measure(url: str, users: dict[str, list[int]], n: int) -> dict[str, Any]:
    app = create_app(ConsoleConfig(url, pool_min=2, pool_max=4))
    result: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        for who, homes in users.items():
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         timeout=60) as c:
                await _sign_in(c, who)
                rnd = random.Random(7)
                pages = {
                    "board": ["/board"] * n,
                    "homes": [f"/homes?offset={rnd.randrange(0, 5) * 100}" for _ in range(n)],
                    "home": [f"/homes/{rnd.choice(homes)}" for _ in range(n)],
                    "chart": [f"/api/v1/homes/{rnd.choice(homes)}/activity?window="
                              + rnd.choice(("24h", "7d")) for _ in range(n)],
                }
                prefix = "" if who == "bench-op" else "admin_"
                for name, paths in pages.items():
                    await _time(c, paths[:3])                        # warm up
                    ms = await _time(c, paths)
                    result[f"{prefix}{name}_p95_ms"] = round(percentile(ms, 95), 1)
                    result[f"{prefix}{name}_p50_ms"] = round(percentile(ms, 50), 1)
    return result


def run_bench(args: argparse.Namespace) -> int:
    homes, alerts, n = args.homes, args.alerts, args.requests
    rnd = random.Random(1)
    # The operator looks after communities 1-5; the homes timed are theirs (and charted).
    op_homes = [h for h in range(1, homes + 1) if (h - 1) % COMMUNITIES < 5]
    charted = rnd.sample(op_homes, min(50, len(op_homes)))
    result: dict[str, Any] = {"homes": homes, "alerts": alerts, "requests": n}
    with temporary_stack("console") as stack:
        url = stack.database_url()
        t0 = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            for stmt in _seed_sql(homes, alerts, charted):
                conn.execute(stmt)
            result["alerts_stored"] = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
            result["unresolved"] = conn.execute(
                "SELECT count(*) FROM alerts WHERE state <> 'resolved'").fetchone()[0]
            add_user(conn, NewUser("bench-op", "社工", "operator",
                                   communities=tuple(f"c{i:04d}" for i in range(1, 6))),
                     PASSWORD)
            add_user(conn, NewUser("bench-admin", "管理员", "admin"), PASSWORD)
        result["seed_s"] = round(time.perf_counter() - t0, 1)
        result.update(asyncio.run(_measure(url, {"bench-op": charted, "bench-admin": charted},
                                           n)))
    report(result, args.json)
    return 0
