"""Measuring a failover of the Patroni cluster (anju/cluster/patroni.py): how long from
killing the primary to the first write committed through the multi-host URL, and whether
any write the database had acknowledged is missing afterwards.

Writers behave as anju's services do (psycopg's async connect over the host list with
target_session_attrs=read-write, reconnecting with anju.backoff.Backoff after an
OperationalError); a probe retrying every 50 ms gives the floor. A write counts as
acknowledged when its autocommit INSERT returned: exactly what the ingest waits for
before it acknowledges a reading to the device.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass, field

import psycopg

from anju.backoff import Backoff
from anju.cluster.patroni import PostgresCluster

PROBE_TABLE = """CREATE TABLE IF NOT EXISTS failover_probe (
    writer int NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (writer, seq))"""


@dataclass
class Kill:
    """One kill of the primary and what followed."""

    synchronous: bool
    how: str                       # node (Patroni and PostgreSQL), postgres
    old_leader: str
    new_leader: str
    writable_s: float              # kill → first commit by the 50 ms probe
    writers_back_s: list[float]    # kill → each writer's first commit (services' backoff)
    acknowledged: int              # writes whose commit returned, all writers
    lost: int                      # acknowledged but missing on the new primary
    unacknowledged_kept: int       # in doubt when the primary died, found committed
    rejoined_s: float | None       # old primary streaming again as a replica
    commits_per_s: float           # all writers, before the kill


@dataclass
class _Writer:
    n: int
    acked: set[int] = field(default_factory=set)
    broken: bool = False             # lost its connection since the kill
    first_after: float | None = None


async def _write(url: str, w: _Writer, stop: asyncio.Event, killed_at: list[float]) -> None:
    seq = 0
    conn: psycopg.AsyncConnection | None = None
    backoff = Backoff()
    while not stop.is_set():
        try:
            if conn is None or conn.closed or conn.broken:
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True,
                                                             connect_timeout=10)
            seq += 1
            await conn.execute("INSERT INTO failover_probe (writer, seq) VALUES (%s, %s)",
                               (w.n, seq))
            w.acked.add(seq)
            backoff.reset()
            if w.broken and w.first_after is None:
                w.first_after = time.monotonic() - killed_at[0]
        except psycopg.OperationalError:
            w.broken = w.broken or bool(killed_at)
            if conn is not None:
                await conn.close()
            conn = None
            await asyncio.sleep(backoff.next())
    if conn is not None:
        await conn.close()


async def _probe(url: str, timeout: float, *, not_port: int | None) -> float:
    """Seconds until a write commits through `url` (on a node other than not_port's).
    Each try is cut off after 3 s: a primary whose Patroni died may still take the
    connection and then hold the commit, waiting for a standby that left it."""
    t0 = time.monotonic()

    async def attempt() -> bool:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=2)
        async with conn:
            port = (await (await conn.execute("SELECT inet_server_port()")).fetchone() or [0])[0]
            if port == not_port:
                return False
            await conn.execute("CREATE TEMP TABLE p (x int); INSERT INTO p VALUES (1)")
        return True

    while time.monotonic() - t0 < timeout:
        try:
            if await asyncio.wait_for(attempt(), 3.0):
                return time.monotonic() - t0
        except (psycopg.OperationalError, TimeoutError):
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing committed {timeout:.0f} s after the kill")


async def _restart_patroni(cluster: PostgresCluster, old: str, after_s: float) -> float:
    """As systemd would: the killed Patroni started again `after_s` after the promotion;
    it finds its PostgreSQL still a primary, demotes and rewinds it. Returns the time
    from the restart until it streams again."""
    await asyncio.to_thread(cluster.wait_leader, 60.0, not_=old)
    await asyncio.sleep(after_s)
    t = time.monotonic()
    await asyncio.to_thread(cluster.start_node, old)
    await asyncio.to_thread(cluster.wait_replicas, 120.0)
    return time.monotonic() - t


async def kill_once(cluster: PostgresCluster, *, how: str = "node", writers: int = 4,
                    settle_s: float = 2.0, timeout: float = 60.0, restart_s: float = 5.0,
                    rejoin: bool = True) -> Kill:
    """Write from `writers` connections, kill the primary, wait for writes to resume,
    count what was lost, and (rejoin) bring the old primary back as a replica.

    how: node (Patroni and PostgreSQL SIGKILLed: the host died), postgres (PostgreSQL
    alone; Patroni restarts it in place), patroni (Patroni alone; its PostgreSQL stays
    a primary until Patroni is back, `restart_s` after the promotion)."""
    url = cluster.database_url(connect_timeout=2)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PROBE_TABLE)
        conn.execute("TRUNCATE failover_probe")
    old = cluster.wait_leader()
    ws = [_Writer(i) for i in range(writers)]
    stop = asyncio.Event()
    killed_at: list[float] = []
    tasks = [asyncio.create_task(_write(url, w, stop, killed_at)) for w in ws]
    await asyncio.sleep(settle_s)
    rate = sum(len(w.acked) for w in ws) / settle_s
    kill = {"node": cluster.kill_node, "postgres": cluster.kill_postgres,
            "patroni": cluster.kill_patroni}[how]
    killed_at.append(time.monotonic())
    await asyncio.to_thread(kill, old)
    restart = (asyncio.create_task(_restart_patroni(cluster, old, restart_s))
               if how == "patroni" and rejoin else None)
    writable = (time.monotonic() - killed_at[0]) + await _probe(
        url, timeout, not_port=None if how == "postgres" else cluster.node(old).pg_port)
    deadline = time.monotonic() + timeout + restart_s
    while any(w.first_after is None for w in ws) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)
    rejoined = await restart if restart else None
    new = cluster.wait_leader()
    with psycopg.connect(url, autocommit=True) as conn:
        stored = set(conn.execute("SELECT writer, seq FROM failover_probe").fetchall())
    acked = {(w.n, s) for w in ws for s in w.acked}
    if rejoin and how == "node":
        t = time.monotonic()
        await asyncio.to_thread(cluster.start_node, old)
        await asyncio.to_thread(cluster.wait_replicas, 120.0)
        rejoined = time.monotonic() - t
    elif rejoin:
        await asyncio.to_thread(cluster.wait_replicas, 120.0)
    return Kill(cluster.synchronous, how, old, new, round(writable, 2),
                sorted(round(w.first_after, 2) for w in ws if w.first_after is not None),
                len(acked), len(acked - stored), len(stored - acked),
                None if rejoined is None else round(rejoined, 1), round(rate))


def summary(kills: list[Kill]) -> dict[str, object]:
    """min / median / max of the failover times, and the writes lost, per sync mode."""
    out: dict[str, object] = {}
    for sync in sorted({k.synchronous for k in kills}, reverse=True):
        ks = [k for k in kills if k.synchronous == sync]
        wr = [k.writable_s for k in ks]
        back = [s for k in ks for s in k.writers_back_s]
        out["synchronous" if sync else "asynchronous"] = {
            "kills": len(ks),
            "writable_s": {"min": min(wr), "median": round(statistics.median(wr), 2),
                           "max": max(wr)},
            "writers_back_s": {"min": min(back), "median": round(statistics.median(back), 2),
                               "max": max(back)} if back else None,
            "acknowledged": sum(k.acknowledged for k in ks),
            "lost": sum(k.lost for k in ks),
            "rejoined_s_max": max((k.rejoined_s for k in ks if k.rejoined_s), default=None),
            "commits_per_s_median": statistics.median(k.commits_per_s for k in ks),
        }
    return out


async def measure(cluster: PostgresCluster, *, kills: int = 3,
                  modes: tuple[bool, ...] = (True, False), how: str = "node",
                  writers: int = 4) -> list[Kill]:
    found = []
    for sync in modes:
        await asyncio.to_thread(cluster.set_synchronous, sync)
        await asyncio.to_thread(cluster.wait_sync_setting, sync)
        for _ in range(kills):
            found.append(await kill_once(cluster, how=how, writers=writers))
    return found


def as_dicts(kills: list[Kill]) -> list[dict[str, object]]:
    return [asdict(k) for k in kills]
