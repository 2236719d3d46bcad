"""A message's decoding, as both anju's contract (ingest.decode) and the other ecosystems
(ingest.adapters) do it: what it needs (the device as registered, the registry, the limits),
what it yields (rows, a status, a rejection) and the device timestamp both parse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from anju.contract import DEVICE_KINDS, MAX_PAYLOAD_BYTES, Kind


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: int
    uid: str
    home_id: int
    kind: str
    kinds: frozenset[Kind]
    tz: str = "Asia/Shanghai"


class Registry(Protocol):
    def device(self, uid: str) -> DeviceRef | None: ...
    def behind_gateway(self, gateway_uid: str, name: str) -> DeviceRef | None: ...


# A row as staged for COPY: (ts in epoch microseconds, seq, value, device id, kind).
Row = tuple[int, int, float, int, int]


@dataclass(slots=True)
class Status:
    """What a message says about the device itself (heartbeat, battery, will)."""

    device_id: int
    online: bool | None = None
    battery: float | None = None
    rssi: float | None = None
    firmware: str | None = None
    ts_us: int | None = None


@dataclass(slots=True)
class Outcome:
    rows: list[Row] = field(default_factory=list)
    status: Status | None = None
    reject: str | None = None
    device_uid: str | None = None
    ignored: bool = False
    unknown_device: bool = False   # retry after a registry refresh before rejecting


@dataclass(frozen=True)
class Limits:
    max_future_us: int = 300 * 1_000_000
    max_past_us: int = 7 * 86400 * 1_000_000
    max_depth: int = 16
    max_string: int = 256
    max_payload: int = MAX_PAYLOAD_BYTES


class Bad(Exception):
    """A message that cannot be stored; str() is the reason kept with it."""


def parse_ts(ts: int | str, now_us: int, limits: Limits) -> int:
    """Device timestamp (epoch ms, or ISO 8601 with offset) -> epoch microseconds."""
    if isinstance(ts, int):
        us = ts * 1000
    else:
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError:
            raise Bad(f"ts {ts!r} is not ISO 8601 (e.g. 2026-11-23T08:00:00.000+08:00) "
                      "nor epoch milliseconds") from None
        if dt.tzinfo is None:
            raise Bad(f"ts {ts!r} has no UTC offset; add one (e.g. +08:00) or send epoch ms")
        us = int(dt.timestamp()) * 1_000_000 + dt.microsecond
    if us > now_us + limits.max_future_us:
        raise Bad(f"ts {ts!r} is {(us - now_us) / 1e6:.0f} s in the future "
                  f"(allowed {limits.max_future_us / 1e6:.0f} s): is the device clock set?")
    if us < now_us - limits.max_past_us:
        hint = " (epoch seconds? the contract wants milliseconds)" if isinstance(ts, int) and \
            0 < ts < 10_000_000_000 else ""
        raise Bad(f"ts {ts!r} is older than the {limits.max_past_us / 86400e6:.0f} days "
                  f"accepted{hint}")
    return us


def device_ref(id: int, uid: str, home_id: int, kind: str, tz: str = "Asia/Shanghai") -> DeviceRef:
    return DeviceRef(id, uid, home_id, kind, DEVICE_KINDS.get(kind, frozenset()), tz)
