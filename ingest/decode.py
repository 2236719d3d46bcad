"""From an MQTT message to rows: pure functions, no I/O.

`decode()` turns one message into an Outcome: readings to store, a device
status update, a rejection with its reason, or "ignored" (a message that is
not a reading, such as a zigbee2mqtt bridge log). The home is never taken
from the topic: it comes from the device registry.
"""

from __future__ import annotations

import msgspec

from anju import payloads
from anju.contract import KIND_BY_LABEL, MAX_BATCH_READINGS, TOPIC_ROOT, Kind, check_value
from ingest import adapters
from ingest.message import Bad, DeviceRef, Limits, Outcome, Registry, Row, Status, parse_ts


def depth(payload: bytes) -> int:
    """How deeply a JSON text nests (brackets outside strings); cheap, and only run on a
    payload with many brackets."""
    deepest = level = 0
    in_str = escaped = False
    for c in payload:
        if in_str:
            if escaped:
                escaped = False
            elif c == 0x5C:         # backslash
                escaped = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in (0x7B, 0x5B):     # { [
            level += 1
            deepest = max(deepest, level)
        elif c in (0x7D, 0x5D):
            level -= 1
    return deepest


def storable_text(text: str, max_len: int) -> str:
    """Text PostgreSQL can store: NUL and lone surrogates escaped, cut to max_len."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode()
    return text[:max_len]


# The payloads' structs are anju.payloads: one definition for the ingest and the
# published schema (anju.asyncapi).
_reading = msgspec.json.Decoder(payloads.Reading)
_batch = msgspec.json.Decoder(payloads.Batch)
_status = msgspec.json.Decoder(payloads.Status)
_PREFIX = TOPIC_ROOT + "/"


def _reading_row(dev: DeviceRef, kind: Kind, ts: int | str, value: float | bool, seq: int,
                 now_us: int, limits: Limits) -> Row:
    if kind not in dev.kinds:
        raise Bad(f"device {dev.uid} is a {dev.kind} device and cannot report {kind.label}")
    v = float(value)
    why = check_value(kind, v)
    if why:
        raise Bad(why)
    if not 0 <= seq < 2**63:
        raise Bad(f"seq {seq} is out of range 0..2^63-1")
    return (parse_ts(ts, now_us, limits), seq, v, dev.id, int(kind))


def decode_contract(dev: DeviceRef, leaf: str, payload: bytes, now_us: int,
                    limits: Limits) -> Outcome:
    """anju's own contract: leaf is a kind label, "batch" or "status"."""
    out = Outcome(device_uid=dev.uid)
    try:
        if leaf == "status":
            st = _status.decode(payload)
            if st.status not in (None, "online", "offline"):
                raise Bad(f"status {st.status!r}: expected \"online\" or \"offline\"")
            if st.battery is not None and not 0 <= st.battery <= 100:
                raise Bad(f"battery {st.battery!r}: expected 0..100 (%)")
            ts_us = parse_ts(st.ts, now_us, limits) if st.ts is not None else None
            fw = None
            if st.fw is not None:
                if len(st.fw) > limits.max_string:
                    raise Bad(f"fw of {len(st.fw)} characters: at most {limits.max_string}")
                fw = storable_text(st.fw, limits.max_string)
            out.status = Status(dev.id, online=st.status != "offline", battery=st.battery,
                                rssi=st.rssi, firmware=fw, ts_us=ts_us)
        elif leaf == "batch":
            b = _batch.decode(payload)
            if len(b.readings) > MAX_BATCH_READINGS:
                raise Bad(f"batch of {len(b.readings)} readings: at most {MAX_BATCH_READINGS}")
            for i, item in enumerate(b.readings):
                kind = KIND_BY_LABEL.get(item.kind)
                if kind is None:
                    raise Bad(f"readings[{i}].kind {item.kind!r} is not a known kind")
                try:
                    out.rows.append(_reading_row(dev, kind, item.ts, item.value, item.seq,
                                                 now_us, limits))
                except Bad as e:
                    raise Bad(f"readings[{i}]: {e}") from None
            out.status = Status(dev.id, online=True)
        else:
            kind = KIND_BY_LABEL.get(leaf)
            if kind is None:
                raise Bad(f"topic leaf {leaf!r}: expected a kind ({', '.join(KIND_BY_LABEL)}), "
                          "\"batch\" or \"status\"")
            r = _reading.decode(payload)
            out.rows.append(_reading_row(dev, kind, r.ts, r.value, r.seq, now_us, limits))
            out.status = Status(dev.id, online=True)
    except msgspec.ValidationError as e:
        out.rows.clear()
        out.status = None
        out.reject = f"payload does not match the contract: {e}"
    except msgspec.DecodeError as e:
        out.rows.clear()
        out.status = None
        out.reject = f"malformed JSON: {e}"
    except Bad as e:
        out.rows.clear()
        out.status = None
        out.reject = str(e)
    except UnicodeDecodeError as e:
        out.rows.clear()
        out.status = None
        out.reject = f"payload is not UTF-8: {e.reason} at byte {e.start}"
    return out


def decode(topic: str, payload: bytes, registry: Registry, now_us: int,
           limits: Limits = Limits()) -> Outcome:
    """Decide what one MQTT message becomes. Never raises: whatever a device sends is
    either stored or quarantined with its reason."""
    try:
        return _decode(topic, payload, registry, now_us, limits)
    except Exception as e:  # noqa: BLE001 - the last line: one message never stops the rest
        uid = topic[len(_PREFIX):].split("/")[1] if topic.startswith(_PREFIX + "devices/") \
            and topic.count("/") >= 4 else None
        return Outcome(reject=f"could not be read ({type(e).__name__}: {str(e)[:200]})",
                       device_uid=uid)


def _decode(topic: str, payload: bytes, registry: Registry, now_us: int,
            limits: Limits) -> Outcome:
    if not topic.startswith(_PREFIX):
        return Outcome(reject=f"topic outside {_PREFIX}#")
    parts = topic[len(_PREFIX):].split("/")
    family = parts[0]
    uid = parts[1] if len(parts) > 1 else None
    if len(payload) > limits.max_payload:
        return Outcome(reject=f"payload of {len(payload)} bytes exceeds {limits.max_payload}",
                       device_uid=uid)
    if payload.count(b"{") + payload.count(b"[") > limits.max_depth and \
            depth(payload) > limits.max_depth:
        return Outcome(reject=f"JSON nested deeper than {limits.max_depth} levels",
                       device_uid=uid)
    if family == "devices" and len(parts) == 3:
        dev = registry.device(parts[1])
        if dev is None:
            return Outcome(reject=f"unknown device {parts[1]!r}", device_uid=parts[1],
                           unknown_device=True)
        return decode_contract(dev, parts[2], payload, now_us, limits)
    if family == "gateways" and len(parts) == 4:
        dev = registry.behind_gateway(parts[1], parts[2])
        if dev is None:
            return Outcome(reject=f"unknown device {parts[2]!r} behind gateway {parts[1]!r}",
                           device_uid=f"{parts[1]}.{parts[2]}", unknown_device=True)
        return decode_contract(dev, parts[3], payload, now_us, limits)
    if family in ("z2m", "tasmota", "shelly") and len(parts) >= 3:
        return adapters.decode(family, parts[1:], payload, registry, now_us, limits)
    return Outcome(reject="topic does not follow the contract: expected "
                          f"{_PREFIX}devices/{{device}}/{{kind|batch|status}}")
