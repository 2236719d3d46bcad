"""Prometheus metrics of an ingest worker (served on settings.ingest.metrics_port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.registry = r
        self.received = Counter("anju_ingest_received", "MQTT messages received", registry=r)
        self.stored = Counter("anju_ingest_stored_rows", "readings committed (new rows)",
                              registry=r)
        self.duplicates = Counter("anju_ingest_duplicate_rows",
                                  "readings already stored (redelivered or re-sent)", registry=r)
        self.rejected = Counter("anju_ingest_rejected", "messages stored in rejected_messages",
                                registry=r)
        self.ignored = Counter("anju_ingest_ignored",
                               "messages that carry no reading (e.g. bridge logs)", registry=r)
        self.batches = Counter("anju_ingest_batches", "committed batches", registry=r)
        self.db_errors = Counter("anju_ingest_db_errors", "failed batch writes (retried)",
                                 registry=r)
        self.reconnects = Counter("anju_ingest_mqtt_reconnects", "MQTT reconnections",
                                  registry=r)
        self.blocked = Counter("anju_ingest_blocked",
                               "times the queue was full and reading from the broker paused",
                               registry=r)
        self.queue_depth = Gauge("anju_ingest_queue_depth",
                                 "messages received and not yet committed", registry=r)
        self.batch_seconds = Histogram(
            "anju_ingest_batch_seconds", "time to write and commit one batch", registry=r,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5))
        self.lag_seconds = Histogram(
            "anju_ingest_lag_seconds", "device timestamp to commit, per batch (newest reading)",
            registry=r, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
