"""Writing one batch in one transaction: readings, rejected messages, device status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from ingest import sql
from ingest.decode import Row, Status

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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


async def write(conn: psycopg.AsyncConnection, batch: Batch) -> WriteResult:
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
                await cur.executemany(sql.INSERT_REJECTED, batch.rejects)
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


def _ts(ts_us: int | None) -> datetime | None:
    if ts_us is None:
        return None
    return _EPOCH + timedelta(microseconds=ts_us)
