"""The device contract, version 1: topics, reading kinds, units and ranges.

This module is the single source of truth for what a device may send; the
human-readable version is docs/device-contract.md. It is pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

CONTRACT_VERSION = 1
TOPIC_ROOT = "anju/v1"

# Device identifiers appear in topics and broker user names, so they are kept
# to characters that need no escaping anywhere (MQTT, ACL files, COPY text).
DEVICE_UID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_BATCH_READINGS = 500


class Kind(IntEnum):
    """Reading kinds. The numbers are stored in the database: never renumber."""

    MOTION = 1
    DOOR = 2
    CONTACT = 3
    PRESENCE = 4
    WATER = 5
    POWER = 6
    ENERGY = 7
    SMOKE = 8
    GAS = 9
    LEAK = 10
    BUTTON = 11
    TEMPERATURE = 12

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, kw_only=True)
class KindSpec:
    kind: Kind
    unit: str
    minimum: float
    maximum: float
    binary: bool = False
    cumulative: bool = False
    description: str = ""


_SPECS = [
    KindSpec(kind=Kind.MOTION, unit="1=motion", minimum=0, maximum=1, binary=True,
             description="PIR motion detected (1); 0 when the sensor reports clear"),
    KindSpec(kind=Kind.DOOR, unit="1=open", minimum=0, maximum=1, binary=True,
             description="entrance door contact: 1 open, 0 closed"),
    KindSpec(kind=Kind.CONTACT, unit="1=open", minimum=0, maximum=1, binary=True,
             description="any other door, fridge or cupboard: 1 open, 0 closed"),
    KindSpec(kind=Kind.PRESENCE, unit="1=occupied", minimum=0, maximum=1, binary=True,
             description="bed or chair pressure mat: 1 occupied, 0 empty"),
    KindSpec(kind=Kind.WATER, unit="L (cumulative)", minimum=0, maximum=1e9, cumulative=True,
             description="water meter total in litres"),
    KindSpec(kind=Kind.POWER, unit="W", minimum=0, maximum=30_000,
             description="instantaneous active power in watts"),
    KindSpec(kind=Kind.ENERGY, unit="Wh (cumulative)", minimum=0, maximum=1e12, cumulative=True,
             description="energy meter total in watt-hours"),
    KindSpec(kind=Kind.SMOKE, unit="1=alarm", minimum=0, maximum=1, binary=True,
             description="smoke alarm: 1 alarm, 0 clear"),
    KindSpec(kind=Kind.GAS, unit="1=alarm", minimum=0, maximum=1, binary=True,
             description="gas alarm: 1 alarm, 0 clear"),
    KindSpec(kind=Kind.LEAK, unit="1=wet", minimum=0, maximum=1, binary=True,
             description="water leak sensor: 1 wet, 0 dry"),
    KindSpec(kind=Kind.BUTTON, unit="1=pressed", minimum=0, maximum=1, binary=True,
             description="emergency button: 1 pressed"),
    KindSpec(kind=Kind.TEMPERATURE, unit="°C", minimum=-40, maximum=85,
             description="air temperature in degrees Celsius"),
]
SPECS: dict[Kind, KindSpec] = {s.kind: s for s in _SPECS}
KIND_BY_LABEL: dict[str, Kind] = {k.label: k for k in Kind}

# What reading kinds each kind of device may report. A metering plug sends
# both power and energy; a smoke alarm may carry a thermometer.
DEVICE_KINDS: dict[str, frozenset[Kind]] = {
    "motion": frozenset({Kind.MOTION}),
    "door": frozenset({Kind.DOOR}),
    "contact": frozenset({Kind.CONTACT}),
    "presence": frozenset({Kind.PRESENCE}),
    "water": frozenset({Kind.WATER, Kind.TEMPERATURE}),
    "power": frozenset({Kind.POWER, Kind.ENERGY}),
    "energy": frozenset({Kind.ENERGY, Kind.POWER}),
    "smoke": frozenset({Kind.SMOKE, Kind.TEMPERATURE}),
    "gas": frozenset({Kind.GAS}),
    "leak": frozenset({Kind.LEAK}),
    "button": frozenset({Kind.BUTTON}),
    "temperature": frozenset({Kind.TEMPERATURE}),
    # A gateway (e.g. a zigbee2mqtt bridge) sends nothing itself: it relays
    # its devices' messages and has the broker credentials for them.
    "gateway": frozenset(),
}

# Activity evidence: a reading of these kinds, with a non-zero value, shows
# the resident doing something (water and power need a threshold instead).
ACTIVITY_KINDS = frozenset({Kind.MOTION, Kind.DOOR, Kind.CONTACT, Kind.PRESENCE, Kind.BUTTON})

ROOMS = (
    "bedroom", "living_room", "kitchen", "bathroom", "toilet", "entrance",
    "hallway", "dining_room", "study", "balcony", "other",
)


def device_topic(uid: str, leaf: str) -> str:
    """Topic a device publishes to: leaf is a kind label, "batch" or "status"."""
    return f"{TOPIC_ROOT}/devices/{uid}/{leaf}"


def gateway_topic(gateway_uid: str, external_name: str, leaf: str) -> str:
    """Topic a gateway publishes to for one of its devices (same payloads)."""
    return f"{TOPIC_ROOT}/gateways/{gateway_uid}/{external_name}/{leaf}"


def check_value(kind: Kind, value: float) -> str | None:
    """None when value is allowed for kind, else the reason it is not."""
    spec = SPECS[kind]
    if value != value:  # NaN
        return f"value for {kind.label} is not a number"
    if spec.binary and value not in (0, 1):
        return f"value {value!r} for {kind.label} must be 0 or 1"
    if not spec.minimum <= value <= spec.maximum:
        return (f"value {value!r} for {kind.label} is out of range "
                f"[{spec.minimum:g}, {spec.maximum:g}] {spec.unit}")
    return None
