"""Readings from other device ecosystems, mapped onto anju's kinds.

Each is configured to publish below anju's topic root with the device's (or
bridge's) own broker credentials; docs/adapters.md has the settings.

- zigbee2mqtt: base_topic `anju/v1/z2m/{gateway uid}`; devices are registered
  behind the gateway under their friendly names.
- Tasmota: FullTopic `anju/v1/tasmota/%topic%/%prefix%/`, Topic = device uid.
- Shelly (Gen2+): MQTT prefix `anju/v1/shelly/{device uid}`.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

import msgspec

from anju.contract import Kind, check_value
from ingest.message import Bad, DeviceRef, Limits, Outcome, Registry, Status, parse_ts

_json = msgspec.json.Decoder()

# zigbee2mqtt exposes -> (anju kind, value conversion). z2m's `contact` is
# true when the contact is closed; anju's door/contact value is 1 when open.
_Z2M: dict[str, tuple[Kind, Callable[[Any], float]]] = {
    "occupancy": (Kind.MOTION, lambda v: 1.0 if v else 0.0),
    "presence": (Kind.PRESENCE, lambda v: 1.0 if v else 0.0),
    "contact": (Kind.CONTACT, lambda v: 0.0 if v else 1.0),
    "water_leak": (Kind.LEAK, lambda v: 1.0 if v else 0.0),
    "smoke": (Kind.SMOKE, lambda v: 1.0 if v else 0.0),
    "gas": (Kind.GAS, lambda v: 1.0 if v else 0.0),
    "power": (Kind.POWER, float),
    "energy": (Kind.ENERGY, lambda v: float(v) * 1000.0),  # kWh -> Wh
    "temperature": (Kind.TEMPERATURE, float),
}
_Z2M_BUTTON_ACTIONS = {"emergency", "sos", "single", "press", "on"}


def _fail(dev: DeviceRef | None, why: str) -> Outcome:
    return Outcome(reject=why, device_uid=dev.uid if dev else None)


def _obj(payload: bytes) -> dict[str, Any]:
    try:
        data = _json.decode(payload)
    except msgspec.DecodeError as e:
        raise Bad(f"malformed JSON: {e}") from None
    if not isinstance(data, dict):
        raise Bad("expected a JSON object")
    return data


def _row(dev: DeviceRef, kind: Kind, value: float, ts_us: int,
         seq: int = 0) -> tuple[int, int, float, int, int]:
    why = check_value(kind, value)
    if why:
        raise Bad(why)
    return (ts_us, seq, value, dev.id, int(kind))


def _payload_seq(payload: bytes) -> int:
    """A stand-in sequence number: the same message again gives the same row key."""
    return zlib.crc32(payload)


def z2m(parts: list[str], payload: bytes, registry: Registry, now_us: int,
        limits: Limits) -> Outcome:
    gateway, rest = parts[0], parts[1:]
    if rest and rest[0] == "bridge":
        gw = registry.device(gateway)
        if rest[1:] == ["state"] and gw is not None:
            text = payload.decode("utf-8", "replace")
            online = "offline" not in text
            return Outcome(status=Status(gw.id, online=online), device_uid=gw.uid)
        return Outcome(ignored=True)  # bridge logs, device lists, config
    availability = bool(rest) and rest[-1] == "availability"
    name = "/".join(rest[:-1] if availability else rest)
    dev = registry.behind_gateway(gateway, name)
    if dev is None:
        return Outcome(reject=f"unknown device {name!r} behind gateway {gateway!r}",
                       device_uid=f"{gateway}.{name}", unknown_device=True)
    try:
        if availability:
            text = payload.decode("utf-8", "replace")
            return Outcome(status=Status(dev.id, online="offline" not in text),
                           device_uid=dev.uid)
        data = _obj(payload)
        seen = data.get("last_seen")
        ts_us = parse_ts(seen, now_us, limits) if isinstance(seen, (int, str)) else now_us
        out = Outcome(device_uid=dev.uid, status=Status(dev.id, online=True))
        for key, value in data.items():
            if key in _Z2M and value is not None:
                kind, conv = _Z2M[key]
                if kind is Kind.CONTACT and "door" == dev.kind:
                    kind = Kind.DOOR
                if kind in dev.kinds:
                    out.rows.append(_row(dev, kind, conv(value), ts_us))
            elif key == "action" and Kind.BUTTON in dev.kinds and value in _Z2M_BUTTON_ACTIONS:
                out.rows.append(_row(dev, Kind.BUTTON, 1.0, ts_us))
        if isinstance(data.get("battery"), (int, float)):
            out.status.battery = float(data["battery"])  # type: ignore[union-attr]
        if not out.rows and out.status is None:
            out.ignored = True
        return out
    except (Bad, TypeError, ValueError) as e:
        return _fail(dev, f"zigbee2mqtt payload: {e}")


def tasmota(parts: list[str], payload: bytes, registry: Registry, now_us: int,
            limits: Limits) -> Outcome:
    uid, rest = parts[0], parts[1:]
    dev = registry.device(uid)
    if dev is None:
        return Outcome(reject=f"unknown device {uid!r}", device_uid=uid, unknown_device=True)
    try:
        if rest == ["tele", "LWT"]:
            return Outcome(status=Status(dev.id, online=payload.strip() != b"Offline"),
                           device_uid=uid)
        if rest == ["tele", "STATE"]:
            data = _obj(payload)
            rssi = (data.get("Wifi") or {}).get("Signal")
            return Outcome(status=Status(dev.id, online=True,
                                         rssi=float(rssi) if rssi is not None else None),
                           device_uid=uid)
        if rest in (["tele", "SENSOR"], ["stat", "STATUS10"]):
            data = _obj(payload)
            data = data.get("StatusSNS", data)
            energy = data.get("ENERGY")
            if not isinstance(energy, dict):
                return Outcome(ignored=True, device_uid=uid)
            # Tasmota's "Time" is the plug's local wall clock without an offset:
            # read it in the home's time zone, so a redelivered message keeps its key.
            ts_us = now_us
            if isinstance(data.get("Time"), str):
                try:
                    local = datetime.fromisoformat(data["Time"]).replace(tzinfo=ZoneInfo(dev.tz))
                    ts_us = parse_ts(local.isoformat(), now_us, limits)
                except ValueError:
                    raise Bad(f"Time {data['Time']!r} is not ISO 8601") from None
            out = Outcome(device_uid=uid, status=Status(dev.id, online=True))
            if "Power" in energy and Kind.POWER in dev.kinds:
                out.rows.append(_row(dev, Kind.POWER, float(energy["Power"]), ts_us))
            if "Total" in energy and Kind.ENERGY in dev.kinds:
                out.rows.append(_row(dev, Kind.ENERGY, float(energy["Total"]) * 1000.0, ts_us))
            return out
        return Outcome(ignored=True, device_uid=uid)
    except (Bad, TypeError, ValueError, AttributeError) as e:
        return _fail(dev, f"Tasmota payload: {e}")


def shelly(parts: list[str], payload: bytes, registry: Registry, now_us: int,
           limits: Limits) -> Outcome:
    uid, rest = parts[0], parts[1:]
    dev = registry.device(uid)
    if dev is None:
        return Outcome(reject=f"unknown device {uid!r}", device_uid=uid, unknown_device=True)
    try:
        if rest == ["online"]:
            return Outcome(status=Status(dev.id, online=payload.strip() == b"true"),
                           device_uid=uid)
        if len(rest) == 2 and rest[0] == "status" and rest[1].startswith(("switch:", "pm1:")):
            data = _obj(payload)
            aenergy = data.get("aenergy") or {}
            # Shelly's status carries only the minute it belongs to; the payload's
            # checksum tells two messages of one minute apart.
            minute = aenergy.get("minute_ts")
            ts_us = parse_ts(int(minute) * 1000, now_us, limits) if minute else now_us
            seq = _payload_seq(payload)
            out = Outcome(device_uid=uid, status=Status(dev.id, online=True))
            if "apower" in data and Kind.POWER in dev.kinds:
                out.rows.append(_row(dev, Kind.POWER, float(data["apower"]), ts_us, seq))
            total = aenergy.get("total")
            if total is not None and Kind.ENERGY in dev.kinds:
                out.rows.append(_row(dev, Kind.ENERGY, float(total), ts_us, seq))
            return out
        return Outcome(ignored=True, device_uid=uid)
    except (Bad, TypeError, ValueError, AttributeError) as e:
        return _fail(dev, f"Shelly payload: {e}")


_FAMILIES = {"z2m": z2m, "tasmota": tasmota, "shelly": shelly}


def decode(family: str, parts: list[str], payload: bytes, registry: Registry, now_us: int,
           limits: Limits) -> Outcome:
    return _FAMILIES[family](parts, payload, registry, now_us, limits)
