"""The ingest worker on the clustered broker: the capture queue over AMQP, acknowledged
only after the database commit.

    device ──MQTT──▶ RabbitMQ node ──amq.topic──▶ quorum queue ──AMQP──▶ decode ─▶ Batch
                                                                  ◀── basic_ack after commit

Workers are competing consumers of one quorum queue (anju.cluster.rabbitmq.QUEUE): each
holds at most `prefetch` unacknowledged deliveries, and what a worker held when it died
(or lost its connection) is delivered again, to it or another worker. The writes are
idempotent (ingest/sql.py: ON CONFLICT DO NOTHING on the reading's key), so a redelivered
reading is stored once. Everything else (decoding, batching, the writer, the heartbeat)
is IngestWorker's: only the receiving and the acknowledgement differ.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

from anju.backoff import Backoff
from anju.endpoints import MqttEndpoint
from anju.mqtt_async import Message
from anju.settings import IngestSettings
from ingest.metrics import IngestMetrics
from ingest.service import IngestWorker
from ingest.writer import Batch

log = logging.getLogger("anju.ingest")

DEFAULT_QUEUE = "anju.readings"   # anju.cluster.rabbitmq.QUEUE (not imported: no cluster code)
MAX_PREFETCH = 65_535             # AMQP's prefetch-count is a 16-bit field


def safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    u = urllib.parse.urlsplit(url)
    host = u.hostname or ""
    if u.port:
        host = f"{host}:{u.port}"
    return urllib.parse.urlunsplit((u.scheme, host, u.path, "", ""))


def topic_of(routing_key: str, known_gateway: Any = None) -> str:
    """The contract's MQTT topic of a routing key the MQTT plugin made (`/` -> `.`).

    The topic itself is not carried: 3.10's plugin adds only the headers x-mqtt-publish-qos
    and x-mqtt-dup. A device id may contain `.` (the plugin translates only `/`), but the
    kind, the last level, never does: `anju.v1.devices.<id>.<kind>` is split at its first
    three and its last dot. A gateway's topic has two levels after the gateway's id, either of which may
    contain `.`: the split the device cache knows as a (gateway, name) pair wins
    (`known_gateway(key) -> bool`), else the gateway id is taken as the first level."""
    parts = routing_key.split(".")
    if len(parts) >= 5 and parts[:3] == ["anju", "v1", "devices"]:
        return "/".join(["anju", "v1", "devices", ".".join(parts[3:-1]), parts[-1]])
    if len(parts) >= 6 and parts[:3] == ["anju", "v1", "gateways"]:
        mid = parts[3:-1]
        split = 1
        if known_gateway is not None:
            for i in range(1, len(mid)):
                if known_gateway((".".join(mid[:i]), ".".join(mid[i:]))):
                    split = i
                    break
        return "/".join(["anju", "v1", "gateways", ".".join(mid[:split]),
                         ".".join(mid[split:]), parts[-1]])
    return routing_key.replace(".", "/")


class QueueIngestWorker(IngestWorker):
    """An IngestWorker consuming the cluster's capture queue over AMQP (aiormq), trying the
    URLs in turn; a delivery is acknowledged only once its row (or rejection) is committed."""

    def __init__(self, database_url: str, amqp_urls: list[str], cfg: IngestSettings,
                 *, queue: str = DEFAULT_QUEUE, worker: str = "1",
                 metrics: IngestMetrics | None = None, **kw: Any) -> None:
        if not amqp_urls:
            raise ValueError("at least one AMQP URL")
        # the MQTT endpoint is unused; IngestWorker keeps it for its own loop only
        super().__init__(database_url, MqttEndpoint("127.0.0.1", 0, None, None), cfg, worker=worker,
                         metrics=metrics, **kw)
        self.amqp_urls = list(amqp_urls)
        self.queue = queue
        self.prefetch = min(cfg.queue_max, MAX_PREFETCH)
        self.channel: Any = None            # aiormq channel of the current generation
        self._acks: set[asyncio.Task[None]] = set()

    def _known_gateway(self, key: tuple[str, str]) -> bool:
        return self.cache.behind_gateway(*key) is not None

    async def _mqtt_loop(self) -> None:   # the receiver IngestWorker.run() starts
        import aiormq
        from aiormq.abc import DeliveredMessage

        backoff = Backoff()
        i = 0
        while not self._stopping:
            url = self.amqp_urls[i % len(self.amqp_urls)]
            i += 1
            # a new generation per channel: delivery tags are a channel's own numbers
            self.generation += 1
            gen = self.generation
            try:
                conn = await asyncio.wait_for(aiormq.connect(url), 15)
            except (OSError, asyncio.TimeoutError, aiormq.exceptions.AMQPError) as e:
                delay = backoff.next()
                log.warning("AMQP connect to %s failed (%s); trying the next in %.1f s",
                            safe_url(url), type(e).__name__, delay)
                await asyncio.sleep(delay)
                continue
            try:
                ch = await conn.channel()
                await ch.basic_qos(prefetch_count=self.prefetch)

                async def on_message(m: DeliveredMessage, gen: int = gen) -> None:
                    if gen != self.generation:
                        return      # a late delivery of a closed channel: it comes again
                    self._on_messages([Message(
                        topic_of(m.routing_key or "", self._known_gateway), m.body, 1,
                        m.delivery_tag or 0, dup=bool(m.redelivered))])

                self.channel = ch
                await ch.basic_consume(self.queue, on_message, no_ack=False)
                log.info("subscribed to %s on %s as worker %s (prefetch %d)", self.queue,
                         safe_url(url), self.worker, self.prefetch)
                self._mqtt_state(True)
                backoff.reset()
                self.ready.set()
                # (aiormq: a channel's closing future resolves when it or its connection goes)
                await asyncio.wait({asyncio.ensure_future(ch.closing),
                                    asyncio.ensure_future(conn.closing)},
                                   return_when=asyncio.FIRST_COMPLETED)
                if not self._stopping:
                    log.warning("AMQP connection to %s lost", safe_url(url))
            except asyncio.CancelledError:
                await self._close(conn)
                raise
            except (OSError, asyncio.TimeoutError, aiormq.exceptions.AMQPError) as e:
                if not self._stopping:
                    log.warning("AMQP channel on %s failed (%s)", safe_url(url), type(e).__name__)
            self.channel = None
            self._mqtt_state(False)
            await self._close(conn)
            if not self._stopping:
                self.metrics.reconnects.inc()
                await asyncio.sleep(backoff.next())

    async def _close(self, conn: Any) -> None:
        """Close after the acks already sent are on the wire (run() stops this receiver
        right after the last commit)."""
        if self._acks:
            await asyncio.gather(*self._acks, return_exceptions=True)
        self.channel = None
        try:
            await asyncio.wait_for(conn.close(), 5)
        except Exception:  # noqa: BLE001 - already gone: its unacked ones come again
            pass

    def _ack(self, b: Batch) -> None:
        gen, ch = self.generation, self.channel
        tags = [tag for g, tag in b.acks if g == gen]
        if ch is None or not tags or ch.is_closed:
            return      # those of a closed channel are delivered again; stored once
        # Deliveries come in tag order and batches are committed in order, so every
        # unacknowledged tag up to this batch's highest is in this batch: `multiple`
        # acknowledges exactly the committed ones.
        t = asyncio.ensure_future(self._send_ack(ch, max(tags)))
        self._acks.add(t)
        t.add_done_callback(self._acks.discard)

    async def _send_ack(self, ch: Any, tag: int) -> None:
        try:
            await ch.basic_ack(tag, multiple=True)
        except Exception as e:  # noqa: BLE001 - the channel went: they are delivered again
            log.warning("acknowledgement not sent (%s); the queue delivers again", type(e).__name__)
