"""The device contract as data (anju.asyncapi): a valid AsyncAPI 2.6.0 document, whose
schemas accept the examples of docs/device-contract.md, whose examples the real ingest
stores and whose counter-examples it refuses with the documented reason; served by the
console and written by `anju contract export`."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import msgspec
import pytest

from anju import asyncapi, payloads
from anju.asyncapi import COUNTER_EXAMPLES, EXAMPLES, Example, rebase
from anju.contract import KIND_BY_LABEL, SPECS, Kind, device_topic
from tests.console_world import ServerThread
from tests.support import as_device, now_ms, running_worker, wait_until

ROOT = Path(__file__).resolve().parent.parent
# The official JSON Schema of AsyncAPI 2.6.0, as published (see tests/data/README.md).
SPEC = json.loads((ROOT / "tests/data/asyncapi-2.6.0.json").read_text())


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft7Validator(schema)


def _leaf_validators(doc: dict[str, Any], leaf: str) -> list[jsonschema_rs.Validator]:
    """The payload schemas of the messages the topic's leaf may carry, as the document says."""
    ref = doc["channels"][f"anju/v1/devices/{{device_id}}/{leaf}"]["publish"]["message"]
    refs = ref["oneOf"] if "oneOf" in ref else [ref]
    msgs = doc["components"]["messages"]
    return [_validator(msgs[r["$ref"].rsplit("/", 1)[1]]["payload"]) for r in refs]


# -- (a) the document is valid AsyncAPI 2.6.0 --------------------------------
@pytest.mark.parametrize("address", [None, "mqtts://broker.example.org:8883", "10.0.0.5:1883"])
def test_document_is_valid_asyncapi_2_6(address: str | None) -> None:
    """The official schema accepts the document, and would refuse a broken one."""
    doc = asyncapi.document(address)
    v = jsonschema_rs.validator_for(SPEC)
    errors = [f"{list(e.instance_path)}: {e.message[:200]}" for e in v.iter_errors(doc)]
    assert not errors, errors
    broken = {**doc, "channels": {"x": {"publish": {"message": {"payload": {}, "nope": 1}}}}}
    assert not v.is_valid(broken)
    # Each payload is an AsyncAPI Schema Object (draft-07 and its extensions).
    schema_object = _validator({"$ref": "http://asyncapi.com/definitions/2.6.0/schema.json",
                                "definitions": SPEC["definitions"]})
    for name, m in doc["components"]["messages"].items():
        assert schema_object.is_valid(m["payload"]), name
        assert jsonschema_rs.meta.is_valid(m["payload"]), name


def test_document_covers_the_contract() -> None:
    """Every kind, batch and status, for devices and gateways; QoS 1, not retained; the last
    will on the status channel and the server; user name and password."""
    doc = asyncapi.document()
    leaves = [k.label for k in Kind] + ["batch", "status"]
    for leaf in leaves:
        for topic in (f"anju/v1/devices/{{device_id}}/{leaf}",
                      f"anju/v1/gateways/{{gateway_id}}/{{name}}/{leaf}"):
            mqtt = doc["channels"][topic]["publish"]["bindings"]["mqtt"]
            assert mqtt["qos"] == 1 and mqtt["retain"] is False, topic
    assert len(doc["channels"]) == 2 * len(leaves)
    status = doc["channels"]["anju/v1/devices/{device_id}/status"]["publish"]["message"]
    assert {"$ref": "#/components/messages/last_will"} in status["oneOf"]
    will = doc["servers"]["devices"]["bindings"]["mqtt"]["lastWill"]
    assert will["topic"] == "anju/v1/devices/{device_id}/status" and will["qos"] == 1
    assert json.loads(will["message"]) == {"status": "offline"}
    assert doc["components"]["securitySchemes"]["deviceCredentials"]["type"] == "userPassword"
    assert doc["servers"]["devices"]["security"] == [{"deviceCredentials": []}]
    assert asyncapi.document("mqtts://b.example:8883")["servers"]["devices"]["protocol"] == \
        "secure-mqtt"


def test_schemas_follow_the_ingest_structs_and_the_kinds() -> None:
    """Fields and required fields are the structs' (anju.payloads, which the ingest decodes
    with); each kind's value carries its range and unit from anju.contract."""
    msgs = asyncapi.messages()

    def fields(struct: type[msgspec.Struct]) -> tuple[set[str], set[str]]:
        fs = msgspec.structs.fields(struct)
        return ({f.encode_name for f in fs},
                {f.encode_name for f in fs if f.required})

    for kind in Kind:
        p = msgs[f"reading_{kind.label}"]["payload"]
        assert (set(p["properties"]), set(p["required"])) == fields(payloads.Reading)
        v, spec = p["properties"]["value"], SPECS[kind]
        assert v["x-unit"] == spec.unit
        ok = _validator(p)
        base = {"ts": asyncapi.EXAMPLE_MS, "seq": 1}
        if spec.binary:
            assert all(ok.is_valid({**base, "value": x}) for x in (0, 1, True, False))
            assert not ok.is_valid({**base, "value": 2})
        else:
            assert (v["minimum"], v["maximum"]) == (spec.minimum, spec.maximum)
            assert ok.is_valid({**base, "value": spec.maximum})
            assert not ok.is_valid({**base, "value": spec.minimum - 1})
            assert not ok.is_valid({**base, "value": spec.maximum * 2 + 1})
    batch = msgs["batch"]["payload"]
    assert set(batch["properties"]) == fields(payloads.Batch)[0]
    item = batch["properties"]["readings"]["items"]
    assert (set(item["properties"]), set(item["required"])) == fields(payloads.BatchItem)
    assert set(item["properties"]["kind"]["enum"]) == set(KIND_BY_LABEL)
    status = msgs["status"]["payload"]
    assert (set(status["properties"]), set(status.get("required", []))) == \
        fields(payloads.Status)


def test_examples_and_counter_examples_against_the_schemas() -> None:
    """Each example fits its topic's schema; each counter-example the schema can judge is
    refused by it (the others only the ingest can refuse: the clock, the registration)."""
    doc = asyncapi.document()
    assert len({e.name for e in EXAMPLES + COUNTER_EXAMPLES}) == len(EXAMPLES + COUNTER_EXAMPLES)
    for e in EXAMPLES:
        assert any(v.is_valid(e.payload) for v in _leaf_validators(doc, e.leaf)), e.name
        assert e.reason is None
    for e in COUNTER_EXAMPLES:
        assert e.reason, e.name
        valid = any(v.is_valid(e.payload) for v in _leaf_validators(doc, e.leaf))
        assert valid is not e.schema_refuses, e.name
    # ... and they are in the document, named, the counter-examples with their reason.
    named = {x["name"]: x for m in doc["components"]["messages"].values()
             for x in m.get("examples", []) + m.get("x-counter-examples", [])}
    for e in EXAMPLES + COUNTER_EXAMPLES:
        assert named[e.name]["payload"] == e.payload
        assert named[e.name].get("x-reason") == e.reason


# -- (b) the examples of docs/device-contract.md ------------------------------
DOC_BLOCK = re.compile(r"(?:<!-- asyncapi message: (\w+) -->\n)?```json\n(.*?)```", re.S)


def test_every_json_example_of_the_docs_fits_its_message() -> None:
    """Each ```json block of docs/device-contract.md names its message (an HTML comment above
    it) and validates against that message's payload schema."""
    text = (ROOT / "docs/device-contract.md").read_text()
    blocks = DOC_BLOCK.findall(text)
    assert len(blocks) >= 3 and len(blocks) == text.count("```json")
    msgs = asyncapi.messages()
    for name, body in blocks:
        assert name, f"a ```json block without <!-- asyncapi message: NAME -->: {body[:80]}"
        v = _validator(msgs[name]["payload"])
        payload = json.loads(body)
        assert v.is_valid(payload), (name, [e.message for e in v.iter_errors(payload)])


# -- (c) through the real broker and ingest ----------------------------------
def _ts_ms(ts: int | str) -> int:
    return ts if isinstance(ts, int) else round(datetime.fromisoformat(ts).timestamp() * 1000)


def _rows_expected(e: Example, now: int) -> list[tuple[int, float, int, int]]:
    """(kind, value, seq, ts in ms) of the readings an example stores."""
    p = rebase(e.payload, now)
    items = p["readings"] if e.leaf == "batch" else [{"kind": e.leaf, **p}]
    return [(int(KIND_BY_LABEL[i["kind"]]), float(i["value"]), i.get("seq", 0), _ts_ms(i["ts"]))
            for i in items]


async def test_examples_are_stored_and_counter_examples_refused_with_their_reason(
        stack, endpoints, conn, home_factory) -> None:
    """Each documented example and counter-example, published as a registered device of its
    kind: the examples become readings and status, the counter-examples land in
    rejected_messages with the documented reason, and nothing else is stored."""
    kinds = sorted({e.device for e in EXAMPLES + COUNTER_EXAMPLES})
    home, devs = home_factory([(k, "other") for k in kinds])
    dev = {k: devs[f"{k}-other"] for k in kinds}
    now = now_ms()
    sent: list[tuple[Example, str, bytes]] = []
    async with running_worker(endpoints) as w:
        clients = {k: await as_device(stack, d) for k, d in dev.items()}
        for e in EXAMPLES + COUNTER_EXAMPLES:
            topic = device_topic(dev[e.device].uid, e.leaf)
            body = json.dumps(rebase(e.payload, now), ensure_ascii=False).encode()
            clients[e.device].publish(topic, body, qos=1)
            sent.append((e, topic, body))
        for c in clients.values():
            await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= len(sent))
        for c in clients.values():
            await c.disconnect()

    for k, d in dev.items():
        expected = sorted(r for e in EXAMPLES if e.device == k and e.leaf != "status"
                          for r in _rows_expected(e, now))
        got = sorted((kind, value, seq, round(ms)) for kind, value, seq, ms in conn.execute(
            "SELECT kind, value, seq, extract(epoch FROM ts) * 1000 FROM readings"
            " WHERE device_id = %s", (d.id,)))
        assert got == expected, k
    # The heartbeat's fields on the smoke alarm; the gas alarm's last will came last.
    row = conn.execute("SELECT battery_pct, rssi_dbm, firmware, online FROM devices"
                       " WHERE id = %s", (dev["smoke"].id,)).fetchone()
    assert row == (87.0, -67.0, "1.4.2", True)
    assert conn.execute("SELECT online FROM devices WHERE id = %s",
                        (dev["gas"].id,)).fetchone() == (False,)

    rejected = conn.execute(
        "SELECT topic, payload, reason FROM rejected_messages WHERE device_uid = ANY(%s)",
        ([d.uid for d in dev.values()],)).fetchall()
    assert len(rejected) == len(COUNTER_EXAMPLES), [r[2] for r in rejected]
    for e, topic, body in sent:
        if e.reason is None:
            continue
        reasons = [r[2] for r in rejected if r[0] == topic and bytes(r[1]) == body]
        assert len(reasons) == 1 and e.reason in reasons[0], (e.name, e.reason, reasons)


# -- (d) served by the console; (e) written by `anju contract export` -----------
def test_console_serves_the_document_publicly(console: ServerThread) -> None:
    """Without signing in: 200, JSON, the document itself, cacheable; listed in OpenAPI."""
    r = httpx.get(console.url + "/api/v1/device-contract")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert "public" in r.headers["cache-control"]
    assert r.json() == json.loads(json.dumps(asyncapi.document()))
    api = httpx.get(console.url + "/api/v1/openapi.json").json()
    assert "get" in api["paths"]["/api/v1/device-contract"]


def test_anju_contract_export_writes_the_document(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from anju import cli, contract_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANJU_CONFIG", raising=False)
    out = tmp_path / "contract.json"
    assert cli.main(["contract", "export", "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(json.dumps(asyncapi.document()))
    assert str(out) in capsys.readouterr().err
    assert cli.main(["contract", "export", "--address", "broker.example:1883"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["servers"]["devices"]["url"] == "broker.example:1883"
    if "yaml" in contract_cli.FORMATS:
        import yaml

        out = tmp_path / "contract.yaml"
        assert cli.main(["contract", "export", "-o", str(out), "--format", "yaml"]) == 0
        assert yaml.safe_load(out.read_text()) == json.loads(json.dumps(asyncapi.document()))
