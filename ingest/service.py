"""The ingest worker: MQTT in, committed rows out, PUBACK only after commit.

    broker ──PUBLISH──▶ decode (on arrival) ──▶ Batch ──flusher──▶ COPY + commit ──▶ PUBACK

MQTT is paho-mqtt with manual acknowledgement, driven by this event loop
(anju.mqtt_async). The Batch is the queue between receiving and writing; it
is bounded by the broker, never by dropping: the broker sends a session no
more than its in-flight window (max_inflight_messages) of unacknowledged
messages, and queues the rest for the session, which is persistent (clean
session off). The socket is always read, so keepalives are answered however
long a write takes. A failed write keeps its batch and retries with backoff;
nothing received is ever acknowledged before its row (or its rejection) is
committed.
"""

from __future__ import annotations

import array
import asyncio
import logging
import time
from datetime import datetime, timezone

import psycopg

from anju import broker, heartbeats, maintenance, pipeline, sdnotify
from anju.backoff import Backoff
from anju.endpoints import MqttEndpoint
from anju.mqtt_async import Client, Message, MqttError
from anju.settings import IngestSettings
from ingest import sql, writer
from ingest.decode import Limits, decode
from ingest.devices import DeviceCache, lookup_key
from ingest.metrics import IngestMetrics
from ingest.writer import Batch

log = logging.getLogger("anju.ingest")

TOPIC_FILTER = "anju/v1/#"
REFRESH_S = 5.0


class IngestWorker:
    def __init__(self, database_url: str, mqtt_endpoint: MqttEndpoint, cfg: IngestSettings,
                 *, worker: str = "1", metrics: IngestMetrics | None = None,
                 trace_latency: bool = False, retention_days: int = 90,
                 rollup_retention_days: int = 730) -> None:
        self.database_url = database_url
        self.ep = mqtt_endpoint
        self.cfg = cfg
        self.retention_days = retention_days
        self.rollup_retention_days = rollup_retention_days
        self.worker = worker
        self.metrics = metrics or IngestMetrics()
        self.limits = Limits(cfg.max_future_s * 1_000_000, cfg.max_past_s * 1_000_000,
                             cfg.max_depth, cfg.max_string, cfg.max_payload)
        self.quarantine = writer.Quarantine(cfg.quarantine_per_hour, cfg.quarantine_bytes)
        self.cache = DeviceCache()
        self.batch = Batch()
        self.in_flight = 0          # messages in the batch being written
        self.generation = 0         # MQTT connection number; acks go only to their own
        self.conn: Client | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self.committed_messages = 0
        # The broker connection as the heartbeat reports it (anju.pipeline): down
        # from the start until the first subscription.
        self.mqtt_up = False
        self.mqtt_since: datetime | None = datetime.now(timezone.utc)
        # Publish-to-commit latency of each reading, in ms (benchmarks only).
        self.latencies_ms: array.array[float] | None = array.array("f") if trace_latency else None
        self.latency_seqs: array.array[int] | None = array.array("q") if trace_latency else None
        self.commit_times: array.array[float] = array.array("d")
        self.ready = asyncio.Event()

    # -- receiving ---------------------------------------------------------
    def _on_messages(self, messages: list[Message]) -> None:
        if self._stopping:
            return      # not acknowledged: the broker keeps them for the next start
        now_us = time.time_ns() // 1000
        b = self.batch
        if not b.messages:
            b.first_at = time.monotonic()
        gen = self.generation
        cache, limits = self.cache, self.limits
        for m in messages:
            out = decode(m.topic, m.payload, cache, now_us, limits)
            if out.rows:
                b.add_rows(out.rows)
            if out.status is not None:
                b.add_status(out.status)
            if out.reject is not None:
                if out.unknown_device:
                    b.unknown.append(m)  # looked up in the registry before rejecting
                else:
                    b.rejects.append((m.topic, m.payload, out.reject, out.device_uid))
            elif out.ignored:
                b.ignored += 1
            if m.qos:
                b.acks.append((gen, m.packet_id))
        b.messages += len(messages)
        self.metrics.received.inc(len(messages))
        if b.messages >= self.cfg.batch_size:
            self._wake.set()
        if b.messages + self.in_flight >= self.cfg.queue_max:
            # the broker's window is larger than queue_max: the database is the limit
            self.metrics.blocked.inc()

    async def _mqtt_loop(self) -> None:
        backoff = Backoff()
        client_id = self.cfg.client_id or broker.service_client_id(
            self.ep.username or "anju-ingest", self.ep.password or "", self.worker)
        topic = (f"$share/{self.cfg.share_group}/{TOPIC_FILTER}" if self.cfg.share_group
                 else TOPIC_FILTER)
        while not self._stopping:
            # A new generation before CONNECT: with a session present the broker
            # resends its unacknowledged messages right behind the CONNACK, often
            # in the same socket read, before connect() returns. Tagged with the
            # old generation they would never be acknowledged, and each would
            # hold one of the broker's max_inflight_messages slots.
            self.generation += 1
            conn = Client(self.ep.host, self.ep.port, client_id=client_id,
                          username=self.ep.username, password=self.ep.password,
                          clean_session=False, keepalive=30, on_messages=self._on_messages,
                          manual_ack=True, reconnect=False, tls=self.ep.tls)
            self.conn = conn
            try:
                await conn.start()
            except (OSError, MqttError, asyncio.TimeoutError) as e:
                self.conn = None
                delay = backoff.next()
                log.warning("MQTT connect to %s:%s failed (%s); retrying in %.1f s",
                            self.ep.host, self.ep.port, e, delay)
                await asyncio.sleep(delay)
                continue
            # A failed subscribe is a failed connection, not the end of the worker.
            try:
                await conn.subscribe([(topic, 1)])
            except (MqttError, asyncio.TimeoutError) as e:
                conn.abort()
                self.conn = None
                delay = backoff.next()
                log.warning("MQTT subscribe failed (%s); reconnecting in %.1f s", e, delay)
                await asyncio.sleep(delay)
                continue
            # (never the client id: whoever reads a log must not be able to take the session)
            log.info("subscribed to %s as worker %s (session present: %s)", topic, self.worker,
                     conn.session_present)
            self._mqtt_state(True)
            backoff.reset()
            self.ready.set()
            try:
                await conn.closed
            except MqttError as e:
                if not self._stopping:
                    log.warning("MQTT connection lost: %s", e)
            self.conn = None
            self._mqtt_state(False)
            if not self._stopping:
                self.metrics.reconnects.inc()
                await asyncio.sleep(backoff.next())

    # -- writing -----------------------------------------------------------
    async def _sleep_unless_stopping(self, delay: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)   # run() sets it on SIGTERM
        except asyncio.TimeoutError:
            pass

    async def _connect_db(self) -> psycopg.AsyncConnection | None:
        """A connection, waiting for the database as long as it takes; None when asked to
        stop meanwhile."""
        backoff = Backoff()
        while not self._stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(self.database_url,
                                                             connect_timeout=10)
                await writer.prepare(conn)
                return conn
            except psycopg.OperationalError as e:
                delay = backoff.next()
                log.warning("database unavailable (%s); retrying in %.1f s",
                            str(e).strip().splitlines()[0] if str(e).strip() else e, delay)
                await self._sleep_unless_stopping(delay)
                sdnotify.watchdog()     # waiting for the database is turning, not stuck
        return None

    async def _resolve_unknown(self, db: psycopg.AsyncConnection, b: Batch) -> None:
        """Look up devices first heard of in this batch, then decode their messages again."""
        unknown, b.unknown = b.unknown, []
        await self.cache.lookup(db, {lookup_key(m.topic) for m in unknown})
        now_us = time.time_ns() // 1000
        for m in unknown:
            out = decode(m.topic, m.payload, self.cache, now_us, self.limits)
            if out.rows:
                b.add_rows(out.rows)
            if out.status is not None:
                b.add_status(out.status)
            if out.reject is not None:
                b.rejects.append((m.topic, m.payload, out.reject, out.device_uid))
            elif out.ignored:
                b.ignored += 1

    async def _flusher(self) -> None:
        db = await self._connect_db()
        if db is None:
            return      # asked to stop before the database was ever reached
        await self.cache.refresh(db)
        await db.commit()
        last_refresh = time.monotonic()
        flush_s = self.cfg.flush_ms / 1000
        backoff = Backoff()
        next_beat = 0.0
        told_ready = False
        while True:
            # systemd (anju.sdnotify): ready once subscribed with the database in hand; a
            # ping per pass of this loop, so a write that hangs stops the pings
            if self.ready.is_set():
                if not told_ready:
                    sdnotify.ready(f"worker {self.worker} subscribed")
                    told_ready = True
                sdnotify.watchdog()
            if time.monotonic() >= next_beat:
                db = await self._beat(db)
                next_beat = time.monotonic() + sql.HEARTBEAT_S
            b = self.batch
            if not b.messages:
                if self._stopping:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), flush_s)
                except asyncio.TimeoutError:
                    pass
                continue
            wait = b.first_at + flush_s - time.monotonic()
            if b.messages < self.cfg.batch_size and wait > 0 and not self._stopping:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                continue
            self.batch = Batch()
            self.in_flight = b.messages
            self.metrics.queue_depth.set(b.messages)
            while True:
                try:
                    if time.monotonic() - last_refresh > REFRESH_S:
                        await self.cache.refresh(db)
                        await db.commit()
                        last_refresh = time.monotonic()
                    if b.unknown:
                        await self._resolve_unknown(db, b)
                        await db.commit()
                    t0 = time.perf_counter()
                    try:
                        result = await writer.write(db, b, self.quarantine)
                    except psycopg.Error as e:
                        if not writer.is_data_error(e):
                            raise
                        # Something in the batch the database will never take (retrying
                        # it would stop every home): found by halves and quarantined.
                        self.metrics.db_errors.inc()
                        result = await writer.write_split(db, b, self.quarantine)
                    break
                except psycopg.Error as e:
                    self.metrics.db_errors.inc()
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    if self._stopping:
                        # Asked to stop while the database is away: go without acknowledging;
                        # the broker keeps these messages for the next start.
                        log.warning("stopping with %d messages unwritten (%s); the broker"
                                    " delivers them again", b.messages, first)
                        result = None
                        break
                    delay = backoff.next()
                    log.warning("batch of %d messages not written (%s); retrying in %.1f s",
                                b.messages, first, delay)
                    await self._sleep_unless_stopping(delay)
                    sdnotify.watchdog()     # retrying is turning, not stuck
                    if db.closed or db.broken or isinstance(e, psycopg.OperationalError):
                        try:
                            await db.close()
                        except psycopg.Error:
                            pass
                        db = await self._connect_db()
                        if db is None:
                            return
            if result is None:
                break
            backoff.reset()
            now = time.perf_counter()
            self._after_commit(b, result, now - t0)
        # stopped on purpose: the pipeline does not wait for this worker (anju.pipeline)
        db = await self._beat(db, stopped=True)
        await db.close()

    def _mqtt_state(self, up: bool) -> None:
        if up != self.mqtt_up:
            self.mqtt_up, self.mqtt_since = up, datetime.now(timezone.utc)

    async def _beat(self, db: psycopg.AsyncConnection, *, stopped: bool = False
                    ) -> psycopg.AsyncConnection:
        """Beat, with the broker connection's state; returns the connection to go on with
        (a new one when the database was lost: the worker waits for it, never exits)."""
        info = pipeline.ingest_info(self.mqtt_up, self.mqtt_since, stopped=stopped)
        try:
            await heartbeats.beat(db, "ingest", self.worker, self.committed_messages, info=info)
            await db.commit()
        except psycopg.errors.UndefinedTable:
            await db.rollback()  # a database not yet migrated to the router's schema
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            if stopped:
                return db
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log.warning("heartbeat not written (%s); reconnecting to the database", first)
            try:
                await db.close()
            except psycopg.Error:
                pass
            return await self._connect_db() or db   # (closed: the loop is stopping)
        return db

    def _ack(self, b: Batch) -> None:
        """Acknowledge a committed batch to the broker (a subclass's receiver may override)."""
        gen = self.generation
        if self.conn is not None and self.conn.connected:
            # (acks of an earlier connection are not sent: the broker redelivers those,
            # and the rows are already stored once)
            self.conn.ack(pid for g, pid in b.acks if g == gen)

    def _after_commit(self, b: Batch, result: writer.WriteResult, seconds: float) -> None:
        self._ack(b)
        m = self.metrics
        m.batches.inc()
        m.stored.inc(result.inserted)
        m.duplicates.inc(result.duplicates)
        m.rejected.inc(result.rejected)
        m.ignored.inc(b.ignored)
        m.batch_seconds.observe(seconds)
        now_us = time.time_ns() // 1000
        if b.newest_reading:
            m.lag_seconds.observe(max(0.0, (now_us - max(b.newest_reading.values())) / 1e6))
        if self.latencies_ms is not None and self.latency_seqs is not None:
            self.latencies_ms.extend((now_us - r[0]) / 1000 for r in b.rows)
            self.latency_seqs.extend(r[1] for r in b.rows)
            self.commit_times.extend([now_us / 1e6] * len(b.rows))
        self.committed_messages += b.messages
        self.in_flight = 0
        m.queue_depth.set(self.batch.messages)

    async def _maintenance(self) -> None:
        """Rollups and retention, every maintenance_s, by one worker at a time."""
        while True:
            await asyncio.sleep(self.cfg.maintenance_s)
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url) as db:
                    report = await maintenance.run(
                        db, retention_days=self.retention_days,
                        rollup_retention_days=self.rollup_retention_days)
                if report:
                    log.info("maintenance: %d rollup rows, %d chunks dropped",
                             report.rollup_rows, report.dropped_chunks)
            except psycopg.Error as e:
                log.warning("maintenance failed (%s); next try in %d s", e, self.cfg.maintenance_s)

    # -- lifecycle ---------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then flush, acknowledge and disconnect."""
        flusher = asyncio.create_task(self._flusher(), name="ingest-flusher")
        receiver = asyncio.create_task(self._mqtt_loop(), name="ingest-mqtt")
        stopper = asyncio.create_task(stop.wait())
        upkeep = (asyncio.create_task(self._maintenance(), name="ingest-maintenance")
                  if self.cfg.maintenance_s else None)
        done, _ = await asyncio.wait({flusher, receiver, stopper},
                                     return_when=asyncio.FIRST_COMPLETED)
        self._stopping = True      # from now, what arrives is left unacknowledged
        self._wake.set()
        if flusher not in done:
            await flusher  # writes what was received, then acks it
        else:
            flusher.result()
        if self.conn:
            await self.conn.disconnect()
        receiver.cancel()
        stopper.cancel()
        if upkeep:
            upkeep.cancel()
        for t in (receiver, stopper, upkeep):
            if t is None:
                continue
            try:
                await t
            except (asyncio.CancelledError, MqttError):
                pass
