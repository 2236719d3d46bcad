"""Writing one batch in one transaction: readings, rejected messages, device status."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from ingest import sql
from ingest.decode import storable_text
from ingest.message import Row, Status

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
log = logging.getLogger("anju.ingest")
Reject = tuple[str, bytes, str, "str | None"]      # topic, payload, reason, device uid
_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|-?\d+(\.\d+)?")


def reason_class(reason: str) -> str:
    """A reason with its values taken out, to count rejections by: "ts '2026…' is in the
    future" and "ts '2027…' is in the future" are one line for the operator."""
    return _VALUES.sub("…", reason)[:160]


@dataclass(frozen=True)
class Quarantine:
    """Per device and hour, `per_hour` rejected messages kept (payloads cut to `max_bytes`),
    the rest counted by reason in rejected_counts."""

    per_hour: int = 100
    max_bytes: int = 4096

    async def write(self, cur: psycopg.AsyncCursor[Any], rejects: list[Reject]) -> int:
        """Count every rejection, keep what the quota allows; returns rows kept."""
        by_device: dict[str, list[Reject]] = {}
        for r in rejects:
            by_device.setdefault(storable_text(r[3] or "", 200), []).append(r)
        kept_rows = []
        for uid, items in by_device.items():
            counts: dict[str, list[int]] = {}     # reason class -> [rejected, kept]
            await cur.execute(sql.KEPT_THIS_HOUR, (uid,))
            row = await cur.fetchone()
            room = max(0, self.per_hour - int(row[0] if row else 0))
            for topic, payload, reason, _ in items:
                c = counts.setdefault(reason_class(storable_text(reason, 2000)), [0, 0])
                c[0] += 1
                if room > 0:
                    room -= 1
                    c[1] += 1
                    kept_rows.append((storable_text(topic, 512), payload[:self.max_bytes],
                                      storable_text(reason, 2000), uid or None, len(payload)))
            for reason, (n, kept) in counts.items():
                await cur.execute(sql.COUNT_REJECTED, (uid, reason, n))
                if kept:
                    await cur.execute(sql.MARK_KEPT, (kept, uid, reason))
        if kept_rows:
            await cur.executemany(sql.INSERT_REJECTED, kept_rows)
        return len(kept_rows)


@dataclass
class Batch:
    """Everything decoded since the last commit, acknowledged together after it."""

    rows: list[Row] = field(default_factory=list)
    rejects: list[tuple[str, bytes, str, str | None]] = field(default_factory=list)
    statuses: dict[int, Status] = field(default_factory=dict)
    newest_reading: dict[int, int] = field(default_factory=dict)  # device id -> ts_us
    acks: list[tuple[int, int]] = field(default_factory=list)   # (connection generation, id)
    unknown: list[Any] = field(default_factory=list)  # messages from devices not in the cache
    messages: int = 0
    ignored: int = 0
    first_at: float = 0.0

    def add_status(self, st: Status) -> None:
        prev = self.statuses.get(st.device_id)
        if prev is None:
            self.statuses[st.device_id] = st
            return
        if st.online is not None:
            prev.online = st.online
        prev.battery = st.battery if st.battery is not None else prev.battery
        prev.rssi = st.rssi if st.rssi is not None else prev.rssi
        prev.firmware = st.firmware or prev.firmware

    def add_rows(self, rows: list[Row]) -> None:
        self.rows.extend(rows)
        newest = self.newest_reading
        for ts_us, _, _, dev, _ in rows:
            if ts_us > newest.get(dev, 0):
                newest[dev] = ts_us


@dataclass
class WriteResult:
    inserted: int
    duplicates: int
    rejected: int


def _copy_text(rows: list[Row]) -> bytes:
    # Values are validated numbers and ids: nothing in them needs COPY escaping.
    return "".join([f"{t}\t{s}\t{v!r}\t{d}\t{k}\n" for t, s, v, d, k in rows]).encode()


async def prepare(conn: psycopg.AsyncConnection) -> None:
    await conn.execute(sql.CREATE_STAGING)
    await conn.commit()


async def write(conn: psycopg.AsyncConnection, batch: Batch,
                quarantine: Quarantine = Quarantine()) -> WriteResult:
    """Write the batch and commit; raises (and rolls back) on any database error."""
    inserted = 0
    try:
        async with conn.cursor() as cur:
            if batch.rows:
                async with cur.copy(sql.COPY_STAGING) as copy:
                    await copy.write(_copy_text(batch.rows))
                await cur.execute(sql.INSERT_READINGS)
                inserted = cur.rowcount
            if batch.rejects:
                await quarantine.write(cur, batch.rejects)
            ids = sorted(set(batch.statuses) | set(batch.newest_reading))
            if ids:
                st = [batch.statuses.get(i) for i in ids]
                await cur.execute(sql.LOCK_DEVICES, (ids,))
                await cur.execute(sql.UPDATE_DEVICES, (
                    ids,
                    [_ts(batch.newest_reading.get(i)) for i in ids],
                    [s.online if s else True for s in st],
                    [s.battery if s else None for s in st],
                    [s.rssi if s else None for s in st],
                    [s.firmware if s else None for s in st],
                    [s is not None and (s.battery is not None or s.rssi is not None
                                        or s.online is False) for s in st],
                ))
                for i in range(0, len(ids), sql.NOTIFY_CHUNK):
                    await cur.execute(sql.NOTIFY_READINGS,
                                      (",".join(map(str, ids[i:i + sql.NOTIFY_CHUNK])),))
        await conn.commit()
    except BaseException:
        try:
            await conn.rollback()
        except psycopg.Error:
            pass
        raise
    return WriteResult(inserted, len(batch.rows) - inserted, len(batch.rejects))


def is_data_error(e: BaseException) -> bool:
    """A database error about what was written (to be found and quarantined), as opposed to
    the connection (to be retried)."""
    return isinstance(e, psycopg.Error) and not isinstance(
        e, (psycopg.OperationalError, psycopg.InterfaceError))


async def write_split(conn: psycopg.AsyncConnection, batch: Batch,
                      quarantine: Quarantine = Quarantine()) -> WriteResult:
    """Write a batch the database refused for a data reason, in halves until the pieces it
    refuses are single readings or single devices' status: those are quarantined with the
    database's reason; everything else is stored. Connection errors still raise."""
    inserted, bad = 0, []

    async def attempt(part: Batch) -> str | None:
        nonlocal inserted
        try:
            inserted += (await write(conn, part, quarantine)).inserted
            return None
        except psycopg.Error as e:
            if not is_data_error(e):
                raise
            return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__

    async def rows(part: list[Row]) -> None:
        sub = Batch(rows=part)
        for ts_us, _, _, dev, _ in part:
            sub.newest_reading[dev] = max(sub.newest_reading.get(dev, 0), ts_us)
        why = await attempt(sub)
        if why is None:
            return
        if len(part) == 1:
            bad.append((f"readings of device id {part[0][3]}", repr(part[0]).encode(),
                        f"the database refused this reading: {why}", None))
            return
        await rows(part[:len(part) // 2])
        await rows(part[len(part) // 2:])

    if batch.rows:
        await rows(batch.rows)
    for dev, st in batch.statuses.items():
        why = await attempt(Batch(statuses={dev: st}))
        if why is not None:
            bad.append((f"status of device id {dev}", repr(st).encode(),
                        f"the database refused this status: {why}", None))
    for r in batch.rejects:
        why = await attempt(Batch(rejects=[r]))
        if why is not None:
            log.error("a rejected message could not be kept either (%s); counted only", why)
            bad.append((storable_text(r[0], 200), b"", f"could not be kept: {why}", r[3]))
    if bad:
        log.warning("%d part(s) of a batch refused by the database, quarantined", len(bad))
        await write(conn, Batch(rejects=bad), quarantine)
    return WriteResult(inserted, len(batch.rows) - inserted, len(batch.rejects) + len(bad))


def _ts(ts_us: int | None) -> datetime | None:
    if ts_us is None:
        return None
    return _EPOCH + timedelta(microseconds=ts_us)
