"""The payloads of the device contract, version 1, as msgspec structs: what the ingest
decodes (ingest/decode.py) and what the AsyncAPI document describes (anju/asyncapi.py).

One definition for both, so the published schema cannot drift from what is accepted. The
annotations carry descriptions only, never constraints: a constraint here would change the
ingest's decoding and its rejection reasons. Ranges come from anju.contract and are checked
by the ingest (and added to the schema by anju.asyncapi). Pure: no I/O.

Unknown fields are ignored (msgspec's default), so a newer device that adds an optional
field still speaks version 1.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Timestamp = Annotated[int | str, Meta(
    description="When the reading was taken: epoch milliseconds (integer), or ISO 8601 "
                "with a UTC offset (\"2026-11-23T12:00:00.123+08:00\")")]
Seq = Annotated[int, Meta(
    description="Per-device sequence number, increasing; with ts and the kind it "
                "identifies the reading (a resent reading is stored once)")]
Value = Annotated[float | bool, Meta(
    description="The reading, in the kind's unit; true/false for 0/1 kinds")]


class Reading(msgspec.Struct):
    """One reading, on anju/v1/devices/{device_id}/{kind}: the kind is the topic's last
    level."""

    ts: Timestamp
    value: Value
    seq: Seq = 0


class BatchItem(msgspec.Struct):
    """One reading of a batch: as a Reading, with its kind named."""

    kind: Annotated[str, Meta(description="The reading's kind (motion, water, power, …)")]
    ts: Timestamp
    value: Value
    seq: Seq = 0


class Batch(msgspec.Struct):
    """Several readings at once, on anju/v1/devices/{device_id}/batch: stored whole or
    rejected whole."""

    readings: Annotated[list[BatchItem], Meta(
        description="The readings, at most 500")]


class Status(msgspec.Struct):
    """Heartbeat, status or last will, on anju/v1/devices/{device_id}/status: updates the
    device's record (last seen, battery, signal, online) and adds no reading. Every field
    is optional."""

    ts: Annotated[int | str | None, Meta(
        description="When the status was taken: epoch milliseconds or ISO 8601 with a "
                    "UTC offset")] = None
    status: Annotated[str | None, Meta(
        description="\"online\" or \"offline\" (the last will says \"offline\")")] = None
    battery: Annotated[float | None, Meta(description="Battery charge, percent (0–100)")] = None
    rssi: Annotated[float | None, Meta(description="Received signal strength, dBm")] = None
    fw: Annotated[str | None, Meta(description="Firmware version")] = None
