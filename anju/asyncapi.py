"""The device contract as data: an AsyncAPI 2.6.0 document of anju's device channels.

Built from the contract's own types, so that it cannot drift from what the ingest accepts:
the payload schemas are msgspec's JSON Schema of the structs the ingest decodes with
(anju.payloads), tightened per kind with the unit and range of anju.contract's KindSpec;
the topics come from anju.contract. The examples and counter-examples are one list here,
which the tests publish through the real broker and ingest (tests/test_device_contract.py).

The document describes a device: the application that publishes (AsyncAPI 2.x `publish`
operations). Served by the console at /api/v1/device-contract and written by
`anju contract export`. Pure: no I/O.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from anju import payloads
from anju.contract import (
    CONTRACT_VERSION, DEVICE_UID_RE, MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES, SPECS, TOPIC_ROOT,
    Kind, KindSpec,
)

ASYNCAPI_VERSION = "2.6.0"
MQTT_BINDING_VERSION = "0.1.0"
QOS = 1
LAST_WILL = {"status": "offline"}

# The instant the examples are written at (2025-11-23T04:00:00Z); rebase() moves them to now,
# since the ingest refuses readings more than 7 days old.
EXAMPLE_MS = 1_763_870_400_000
# Epoch milliseconds before this (2001-09-09) are epoch seconds sent by mistake.
MIN_EPOCH_MS = 1_000_000_000_000
# ISO 8601 as the contract asks for it: a date and time with a UTC offset (or Z).
ISO_WITH_OFFSET = (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                   r"(Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True, kw_only=True)
class Example:
    """A message as a device sends it. With a reason it is a counter-example: the ingest
    refuses it and keeps it in rejected_messages with a reason containing `reason`."""

    name: str
    summary: str
    device: str              # the kind the sending device is registered as (DEVICE_KINDS)
    leaf: str                # the topic's last level: a kind label, "batch" or "status"
    payload: dict[str, Any]
    reason: str | None = None
    # Whether the leaf's payload schema refuses it too; False for what only the ingest can
    # know (the clock, the device's registration).
    schema_refuses: bool = True


def _iso(ms_after: int, offset_h: int = 8) -> str:
    """EXAMPLE_MS + ms_after as ISO 8601 in a UTC+offset_h zone, milliseconds shown."""
    t = datetime.fromtimestamp((EXAMPLE_MS + ms_after) / 1000,
                               timezone(timedelta(hours=offset_h)))
    return t.isoformat(timespec="milliseconds")


T = EXAMPLE_MS
EXAMPLES: list[Example] = [
    Example(name="motion-detected", summary="A PIR saw someone", device="motion",
            leaf="motion", payload={"ts": T - 9000, "seq": 4711, "value": 1}),
    Example(name="entrance-door-opened", summary="The entrance door opened (true for 1)",
            device="door", leaf="door", payload={"ts": T - 8000, "seq": 12, "value": True}),
    Example(name="fridge-closed", summary="The fridge door closed", device="contact",
            leaf="contact", payload={"ts": T - 8000, "seq": 301, "value": 0}),
    Example(name="bed-occupied", summary="Someone lies in bed", device="presence",
            leaf="presence", payload={"ts": T - 7000, "seq": 55, "value": 1}),
    Example(name="water-total-iso-time", summary="A water meter's total in litres, the time "
            "in ISO 8601 with its offset", device="water", leaf="water",
            payload={"ts": _iso(-6000), "seq": 88, "value": 12345.6}),
    Example(name="power-now", summary="Instantaneous power in watts", device="power",
            leaf="power", payload={"ts": T - 6000, "seq": 16, "value": 1820.5}),
    Example(name="energy-total", summary="An energy meter's total in watt-hours",
            device="power", leaf="energy", payload={"ts": T - 6000, "seq": 16,
                                                    "value": 534012}),
    Example(name="smoke-alarm", summary="Smoke detected", device="smoke", leaf="smoke",
            payload={"ts": T - 5000, "seq": 7, "value": 1}),
    Example(name="kitchen-temperature", summary="A smoke alarm's thermometer, °C",
            device="smoke", leaf="temperature", payload={"ts": T - 5000, "seq": 8,
                                                         "value": 21.5}),
    Example(name="gas-clear", summary="The gas alarm is clear again", device="gas",
            leaf="gas", payload={"ts": T - 4000, "seq": 3, "value": 0}),
    Example(name="leak-wet", summary="Water on the floor", device="leak", leaf="leak",
            payload={"ts": T - 4000, "seq": 2, "value": 1}),
    Example(name="button-pressed", summary="The emergency button, seq left out (0)",
            device="button", leaf="button", payload={"ts": T - 3000, "value": 1}),
    Example(name="room-temperature", summary="A thermometer below freezing", device="temperature",
            leaf="temperature", payload={"ts": T - 3000, "seq": 140, "value": -2.5}),
    Example(name="meter-batch", summary="A metering plug's power and energy at once",
            device="power", leaf="batch",
            payload={"readings": [
                {"kind": "power", "ts": T - 2000, "seq": 17, "value": 1820.5},
                {"kind": "energy", "ts": T - 2000, "seq": 17, "value": 534012}]}),
    Example(name="heartbeat", summary="The status at connect and every heartbeat interval",
            device="smoke", leaf="status",
            payload={"ts": T - 1000, "status": "online", "battery": 87, "rssi": -67,
                     "fw": "1.4.2"}),
    Example(name="last-will", summary="The last will the broker publishes when the "
            "connection drops", device="gas", leaf="status", payload=dict(LAST_WILL)),
]

COUNTER_EXAMPLES: list[Example] = [
    Example(name="motion-value-7", summary="A 0/1 kind with another value", device="motion",
            leaf="motion", payload={"ts": T - 9000, "seq": 1, "value": 7},
            reason="value 7.0 for motion must be 0 or 1"),
    Example(name="water-negative", summary="A meter total below 0", device="water",
            leaf="water", payload={"ts": T - 9000, "seq": 1, "value": -5},
            reason="value -5.0 for water is out of range [0, 1e+09] L (cumulative)"),
    Example(name="temperature-fahrenheit", summary="A temperature in °F, out of the °C range",
            device="temperature", leaf="temperature",
            payload={"ts": T - 9000, "seq": 1, "value": 120},
            reason="value 120.0 for temperature is out of range [-40, 85] °C"),
    Example(name="ts-in-seconds", summary="Epoch seconds where milliseconds are expected",
            device="motion", leaf="motion",
            payload={"ts": EXAMPLE_MS // 1000, "seq": 2, "value": 1},
            reason="(epoch seconds? the contract wants milliseconds)"),
    Example(name="ts-without-offset", summary="ISO 8601 time without its UTC offset",
            device="motion", leaf="motion",
            payload={"ts": "2025-11-23T12:00:00", "seq": 3, "value": 1},
            reason="has no UTC offset"),
    Example(name="ts-missing", summary="No ts", device="motion", leaf="motion",
            payload={"seq": 4, "value": 1}, reason="missing required field `ts`"),
    Example(name="seq-as-string", summary="seq as a string", device="motion", leaf="motion",
            payload={"ts": T - 9000, "seq": "5", "value": 1},
            reason="got `str` - at `$.seq`"),
    Example(name="seq-negative", summary="A negative seq", device="motion", leaf="motion",
            payload={"ts": T - 9000, "seq": -1, "value": 1},
            reason="seq -1 is out of range"),
    Example(name="value-as-string", summary="value as a string", device="motion",
            leaf="motion", payload={"ts": T - 9000, "seq": 6, "value": "1"},
            reason="got `str` - at `$.value`"),
    Example(name="ts-in-the-future", summary="A clock an hour fast", device="motion",
            leaf="motion", payload={"ts": T + 3_600_000, "seq": 7, "value": 1},
            reason="s in the future (allowed 300 s): is the device clock set?",
            schema_refuses=False),
    Example(name="kind-not-registered", summary="A kind the device was not registered for",
            device="motion", leaf="water", payload={"ts": T - 9000, "seq": 8, "value": 3},
            reason="is a motion device and cannot report water", schema_refuses=False),
    Example(name="status-unknown", summary="A status other than online/offline",
            device="smoke", leaf="status", payload={"status": "sleeping"},
            reason="expected \"online\" or \"offline\""),
    Example(name="battery-over-100", summary="Battery in millivolts, not percent",
            device="smoke", leaf="status", payload={"status": "online", "battery": 3100},
            reason="expected 0..100 (%)"),
    Example(name="batch-unknown-kind", summary="A batch reading of a kind that does not exist",
            device="power", leaf="batch",
            payload={"readings": [{"kind": "current", "ts": T - 9000, "seq": 1,
                                   "value": 1.5}]},
            reason="readings[0].kind 'current' is not a known kind"),
    Example(name="batch-power-negative", summary="A batch with one reading out of range: "
            "the whole batch is refused", device="power", leaf="batch",
            payload={"readings": [
                {"kind": "energy", "ts": T - 9000, "seq": 2, "value": 534012},
                {"kind": "power", "ts": T - 9000, "seq": 2, "value": -3}]},
            reason="readings[1]: value -3.0 for power is out of range"),
]


def rebase(payload: Any, now_ms: int) -> Any:
    """The payload as a device would send it at now_ms: every epoch-millisecond and ISO
    time written at EXAMPLE_MS moved by (now_ms - EXAMPLE_MS). Epoch seconds and ISO times
    without an offset (counter-examples) are left as they are."""
    shift = now_ms - EXAMPLE_MS
    if isinstance(payload, list):
        return [rebase(p, now_ms) for p in payload]
    if not isinstance(payload, dict):
        return payload
    out = {k: rebase(v, now_ms) for k, v in payload.items()}
    ts = payload.get("ts")
    if isinstance(ts, int) and not isinstance(ts, bool) and ts >= MIN_EPOCH_MS:
        out["ts"] = ts + shift
    elif isinstance(ts, str):
        try:
            t = datetime.fromisoformat(ts)
        except ValueError:
            return out
        if t.tzinfo is not None:
            out["ts"] = (t + timedelta(milliseconds=shift)).isoformat(timespec="milliseconds")
    return out


# -- schemas -----------------------------------------------------------------
def _text(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split())


def _struct_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """msgspec's JSON Schema of a struct with its $refs put in place: a message payload in
    AsyncAPI 2.x is a draft-07 schema of its own, where "#/$defs/…" would point nowhere."""
    full = msgspec.json.schema(struct)
    defs = full.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        if isinstance(node, str) and "\n" in node:
            return _text(node)
        return node

    return inline(full)


def _tighten(schema: dict[str, Any], name: str, extra: dict[str, Any]) -> None:
    """Add the contract's constraints to one property (KeyError when the struct lost it, so
    a change to anju.payloads cannot leave the document describing a field that is gone)."""
    schema["properties"][name].update(extra)


def _replace(schema: dict[str, Any], name: str, new: dict[str, Any]) -> None:
    """Put another schema for one property (KeyError when the struct lost it)."""
    if name not in schema["properties"]:
        raise KeyError(name)
    schema["properties"][name] = new


def _ts_schema(optional: bool = False) -> dict[str, Any]:
    branches: list[dict[str, Any]] = [
        {"type": "integer", "minimum": MIN_EPOCH_MS, "description": "epoch milliseconds"},
        {"type": "string", "pattern": ISO_WITH_OFFSET,
         "description": "ISO 8601 with a UTC offset"}]
    if optional:
        branches.append({"type": "null"})
    return {"anyOf": branches, "examples": [EXAMPLE_MS, _iso(0)]}


SEQ = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


def value_schema(spec: KindSpec) -> dict[str, Any]:
    """The value of a reading of this kind: 0/1 (or false/true), or a number in range."""
    if spec.binary:
        return {"description": f"{spec.description} ({spec.unit}); true/false allowed",
                "anyOf": [{"type": "number", "enum": [0, 1]}, {"type": "boolean"}],
                "x-unit": spec.unit}
    return {"description": f"{spec.description} ({spec.unit})", "type": "number",
            "minimum": spec.minimum, "maximum": spec.maximum, "x-unit": spec.unit}


def reading_schema(kind: Kind) -> dict[str, Any]:
    """The payload on anju/v1/devices/{device_id}/{kind}."""
    s = _struct_schema(payloads.Reading)
    s["title"] = f"Reading ({kind.label})"
    _tighten(s, "ts", _ts_schema())
    _tighten(s, "seq", SEQ)
    _replace(s, "value", value_schema(SPECS[kind]))
    return s


def batch_schema() -> dict[str, Any]:
    """The payload on anju/v1/devices/{device_id}/batch: each item's value in its kind's
    range (one branch per kind)."""
    s = _struct_schema(payloads.Batch)
    _tighten(s, "readings", {"maxItems": MAX_BATCH_READINGS})
    item = s["properties"]["readings"]["items"]
    _tighten(item, "kind", {"enum": [k.label for k in Kind]})
    _tighten(item, "ts", _ts_schema())
    _tighten(item, "seq", SEQ)
    item["oneOf"] = [{"title": k.label,
                      "properties": {"kind": {"const": k.label}, "value": value_schema(SPECS[k])}}
                     for k in Kind]
    return s


def status_schema(last_will: bool = False) -> dict[str, Any]:
    """The payload on anju/v1/devices/{device_id}/status; the last will says "offline"."""
    s = _struct_schema(payloads.Status)
    _tighten(s, "ts", _ts_schema(optional=True))
    _tighten(s, "status", {"anyOf": [{"type": "string", "enum": ["online", "offline"]},
                                     {"type": "null"}]})
    _tighten(s, "battery", {"anyOf": [{"type": "number", "minimum": 0, "maximum": 100},
                                      {"type": "null"}]})
    if last_will:
        s["title"] = "LastWill"
        _replace(s, "status", {"description": "always \"offline\"", "const": "offline"})
        s["required"] = ["status"]
    return s


# -- the document ------------------------------------------------------------
def _examples(leaf: str, items: list[Example], counter: bool) -> list[dict[str, Any]]:
    out = []
    for e in items:
        if e.leaf != leaf:
            continue
        x: dict[str, Any] = {"name": e.name, "summary": e.summary, "payload": e.payload}
        if counter:
            x["x-sent-by"] = f"a {e.device} device"
            x["x-reason"] = e.reason
        out.append(x)
    return out


def _message(leaf: str, title: str, summary: str, payload: dict[str, Any],
             description: str = "") -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": leaf, "title": title, "summary": summary,
        "contentType": "application/json", "payload": payload,
        "bindings": {"mqtt": {"bindingVersion": MQTT_BINDING_VERSION}},
    }
    if description:
        m["description"] = description
    examples = _examples(leaf, EXAMPLES, counter=False)
    if examples:
        m["examples"] = examples
    counter = _examples(leaf, COUNTER_EXAMPLES, counter=True)
    if counter:
        m["x-counter-examples"] = counter
    return m


def messages() -> dict[str, dict[str, Any]]:
    """components.messages: one per kind, batch, status and the last will."""
    out = {}
    for kind in Kind:
        spec = SPECS[kind]
        out[f"reading_{kind.label}"] = _message(
            kind.label, f"{kind.label} reading", spec.description,
            reading_schema(kind), _text(payloads.Reading.__doc__))
    out["batch"] = _message("batch", "batch of readings", "Several readings at once",
                            batch_schema(), _text(payloads.Batch.__doc__))
    status = _message("status", "status", "Heartbeat or status", status_schema(),
                      _text(payloads.Status.__doc__))
    status["examples"] = [x for x in status.get("examples", [])
                          if x["payload"] != LAST_WILL]
    out["status"] = status
    out["last_will"] = {
        "name": "last_will", "title": "last will",
        "summary": "Set as the MQTT last will at CONNECT: the broker publishes it on the "
                   "status topic, QoS 1, not retained, when the connection drops without "
                   "a DISCONNECT",
        "contentType": "application/json", "payload": status_schema(last_will=True),
        "bindings": {"mqtt": {"bindingVersion": MQTT_BINDING_VERSION}},
        "examples": [{"name": "last-will", "summary": "The will's payload",
                      "payload": dict(LAST_WILL)}],
    }
    return out


def _leaves() -> list[tuple[str, str, list[str]]]:
    """(leaf, description, message names) of each topic below a device."""
    out = [(k.label, f"{SPECS[k].description} ({SPECS[k].unit})", [f"reading_{k.label}"])
           for k in Kind]
    out.append(("batch", f"Several readings at once (at most {MAX_BATCH_READINGS})", ["batch"]))
    out.append(("status", "Heartbeat/status, and the last will", ["status", "last_will"]))
    return out


def _operation(op_id: str, names: list[str]) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/messages/{n}"} for n in names]
    return {
        "operationId": op_id,
        "summary": "Published by the device, QoS 1, not retained",
        "bindings": {"mqtt": {"qos": QOS, "retain": False,
                              "bindingVersion": MQTT_BINDING_VERSION}},
        "message": refs[0] if len(refs) == 1 else {"oneOf": refs},
    }


def _camel(leaf: str) -> str:
    return leaf[:1].upper() + leaf[1:]


def channels() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for leaf, description, names in _leaves():
        out[f"{TOPIC_ROOT}/devices/{{device_id}}/{leaf}"] = {
            "description": description,
            "parameters": {"device_id": {"$ref": "#/components/parameters/device_id"}},
            "publish": _operation(f"publish{_camel(leaf)}", names),
        }
    for leaf, description, names in _leaves():
        out[f"{TOPIC_ROOT}/gateways/{{gateway_id}}/{{name}}/{leaf}"] = {
            "description": f"{description}: sent by a gateway for a device registered "
                           "behind it under name (`anju device add --gateway GATEWAY_ID "
                           "--external-name NAME`); the same payloads",
            "parameters": {"gateway_id": {"$ref": "#/components/parameters/gateway_id"},
                           "name": {"$ref": "#/components/parameters/name"}},
            "publish": _operation(f"gatewayPublish{_camel(leaf)}", names),
        }
    return out


def _server(base_address: str | None) -> dict[str, Any]:
    server: dict[str, Any] = {
        "protocol": "mqtt", "protocolVersion": "3.1.1",
        "description": "anju's broker, on the devices' address (`anju status`: "
                       "mosquitto.address). MQTT 3.1.1 or 5.0; TLS where the broker offers it. "
                       "The client id is the device id (enforced by the broker); devices only "
                       "publish, every SUBSCRIBE is refused; keep-alive 60 s or more (at most "
                       f"600 s); payloads at most {MAX_PAYLOAD_BYTES} bytes.",
        "security": [{"deviceCredentials": []}],
        "bindings": {"mqtt": {
            "clientId": "{device_id}",
            "keepAlive": 60,
            "lastWill": {"topic": f"{TOPIC_ROOT}/devices/{{device_id}}/status", "qos": QOS,
                         "message": msgspec.json.encode(LAST_WILL).decode(),
                         "retain": False},
            "bindingVersion": MQTT_BINDING_VERSION}},
    }
    if base_address:
        scheme = base_address.split("://", 1)[0] if "://" in base_address else "mqtt"
        server["url"] = base_address
        if scheme in ("mqtts", "ssl", "secure-mqtt"):
            server["protocol"] = "secure-mqtt"
    else:
        server["url"] = "{host}:{port}"
        server["variables"] = {
            "host": {"description": "the broker's host, as the operator gives it",
                     "default": "localhost"},
            "port": {"description": "the devices' port", "default": "1883"}}
    return server


def document(base_address: str | None = None) -> dict[str, Any]:
    """The AsyncAPI 2.6.0 document of the device contract; base_address (host:port or an
    mqtt:// URL) fills in the broker's address, else it is a server variable."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:anju:device-contract:v{CONTRACT_VERSION}",
        "info": {
            "title": "anju device contract",
            "version": str(CONTRACT_VERSION),
            "description": (
                "How a sensor in an elderly person's home sends its readings to anju over "
                "MQTT. The application described is a device: every operation is one it "
                "publishes. Payload schemas are generated from the structs anju's ingest "
                "decodes with; the human version is docs/device-contract.md, the vendor's "
                "steps docs/vendors.md. Messages the ingest refuses are kept with their "
                "reason in rejected_messages: each message lists counter-examples "
                "(x-counter-examples) with that reason."),
        },
        "defaultContentType": "application/json",
        "servers": {"devices": _server(base_address)},
        "channels": channels(),
        "components": {
            "messages": messages(),
            "parameters": {
                "device_id": {"description": "the device id, which is also its MQTT user "
                                             "name and client id",
                              "schema": {"type": "string", "pattern": DEVICE_UID_RE.pattern}},
                "gateway_id": {"description": "the gateway's device id",
                               "schema": {"type": "string", "pattern": DEVICE_UID_RE.pattern}},
                "name": {"description": "the device's name on the gateway (e.g. a "
                                        "zigbee2mqtt friendly name)",
                         "schema": {"type": "string", "pattern": "^[^/+#]+$"}},
            },
            "securitySchemes": {"deviceCredentials": {
                "type": "userPassword",
                "description": "user name: the device id; password: the one `anju device add` "
                               "prints once (or the operator hands over). Anonymous clients "
                               "and wrong passwords are refused."}},
        },
    }


def message_for(leaf: str) -> list[dict[str, Any]]:
    """The messages (as in components.messages) a topic's leaf may carry."""
    msgs = messages()
    for name, _, names in _leaves():
        if name == leaf:
            return [msgs[n] for n in names]
    raise KeyError(leaf)
