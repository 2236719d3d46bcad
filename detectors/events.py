"""What the detectors see and say: plain values shared by the live service and the evaluation.

The detection logic (detectors/monitor.py) is pure: it is fed Events and the
time, and answers with Findings. The live service feeds it from the database
and writes Findings as alerts; the evaluation harness feeds it from recorded
or simulated logs. Neither the logic nor these types do any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Event:
    """One reading (or heartbeat) of one device in one home."""

    ts: float        # epoch seconds, UTC
    device: str      # the device's uid
    kind: str        # a contract kind label ("motion", "water", ...) or "heartbeat"
    value: float
    room: str = "other"
    # anju's clock: when the reading was stored (None: not known, as in recorded logs).
    # `ts` stays the device's clock; the monitor places a reading stamped ahead of its
    # arrival at its arrival.
    arrived: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    uid: str
    kind: str        # the device kind it was registered as (anju.contract.DEVICE_KINDS)
    room: str
    heartbeat_s: int = 900


@dataclass(frozen=True)
class HomeInfo:
    home: str                          # the home's code
    tz: str = "Asia/Shanghai"
    devices: tuple[DeviceInfo, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A detector's statement: a condition is present ("open") or has gone ("clear").

    The service keeps one open alert per home and kind: an "open" finding for
    a kind already open is not a second alert, and a "clear" finding records
    on the open alert that (and why) the condition went away.
    """

    kind: str                    # alert kind, snake_case: "inactivity", "water_running", ...
    state: Literal["open", "clear"]
    at: float                    # when the condition was established or cleared (epoch s)
    severity: Severity = "high"
    since: float | None = None   # when the situation began (e.g. the last activity)
    device: str | None = None    # the device concerned, for device-level findings
    evidence: dict[str, object] = field(default_factory=dict)   # data, JSON-serialisable
    text: dict[str, str] = field(default_factory=dict)          # {"zh-CN": ..., "en": ...}
