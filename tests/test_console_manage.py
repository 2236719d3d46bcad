"""Managing a home from the console: away mode, detector thresholds, contacts, devices
(credentials shown once); admins and operators only, validated like the command line."""

from __future__ import annotations

import psycopg

from tests.console_world import ServerThread, World, sign_in



def _h(c) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-CSRF-Token": c.csrf}


def test_away_set_and_clear(console: ServerThread, world: World) -> None:
    op = sign_in(console.url, world.users["opA"])
    home = world.home["A1"]
    r = op.post(f"/api/v1/homes/{home}/away", json={"action": "set", "until": "2099-01-01",
                                                     "reason": "住院"}, headers=_h(op))
    assert r.status_code == 200 and r.json()["away"] is True, r.text
    assert op.get(f"/api/v1/homes/{home}").json()["home"]["away"] is True
    r = op.post(f"/api/v1/homes/{home}/away", json={"action": "clear"}, headers=_h(op))
    assert r.json() == {"away": False, "changed": 1}
    r = op.post(f"/api/v1/homes/{home}/away",
                json={"action": "set", "start": "2026-12-02", "until": "2026-12-01"},
                headers=_h(op))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "until"
    r = op.post(f"/api/v1/homes/{home}/away", json={"action": "x", "start": "soon"},
                headers=_h(op))
    assert {e["field"] for e in r.json()["errors"]} == {"action", "start"}
    r = op.post(f"/homes/{home}/away", data={"csrf": op.csrf, "action": "set"})
    assert r.status_code == 303
    assert "pill away" in op.get(f"/homes?q={world.home_code['A1']}").text


def test_detector_thresholds(console: ServerThread, world: World,
                             conn: psycopg.Connection) -> None:
    op = sign_in(console.url, world.users["opA"])
    home = world.home["A2"]
    r = op.post(f"/api/v1/homes/{home}/detector",
                json={"settings": {"inactivity.floor_min": 90}}, headers=_h(op))
    assert r.status_code == 200, r.text
    assert r.json()["home"] == {"inactivity.floor_min": 90}
    assert r.json()["effective"]["inactivity"]["floor_min"] == 90
    row = conn.execute("SELECT settings FROM detector_settings WHERE scope = 'home'"
                       " AND scope_id = %s", (home,)).fetchone()
    assert row and row[0] == {"inactivity.floor_min": 90}
    r = op.post(f"/api/v1/homes/{home}/detector", json={"settings": {"bogus.key": 1}},
                headers=_h(op))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "settings.bogus.key"
    r = op.post(f"/api/v1/homes/{home}/detector", json={"settings": "x"}, headers=_h(op))
    assert r.status_code == 422
    # The page's form: KEY=VALUE lines, merged with what is there.
    r = op.post(f"/homes/{home}/detector",
                data={"csrf": op.csrf, "settings": "inactivity.cap_min=600\n"})
    assert r.status_code == 303
    assert op.get(f"/api/v1/homes/{home}/detector").json()["home"] == {
        "inactivity.floor_min": 90, "inactivity.cap_min": 600}
    r = op.post(f"/homes/{home}/detector", data={"csrf": op.csrf, "settings": "nonsense"})
    assert r.status_code == 422 and 'data-field="settings"' in r.text


def test_contacts_and_devices(console: ServerThread, world: World,
                              conn: psycopg.Connection) -> None:
    op = sign_in(console.url, world.users["opA"])
    home = world.home["A1"]
    r = op.post(f"/api/v1/homes/{home}/contacts",
                json={"name": "张女儿", "urls": ["json://example.com/hook"]}, headers=_h(op))
    assert r.status_code == 201, r.text
    contacts = op.get(f"/api/v1/homes/{home}").json()["contacts"]
    assert {"name": "张女儿", "channels": ["json"]}.items() <= contacts[0].items()
    r = op.post(f"/api/v1/homes/{home}/contacts", json={"name": "x", "urls": ["nonsense"]},
                headers=_h(op))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "urls"
    r = op.post(f"/api/v1/homes/{home}/contacts", json={"urls": "json://a.b/c", "role": "boss"},
                headers=_h(op))
    assert {e["field"] for e in r.json()["errors"]} == {"name", "role"}

    r = op.post(f"/api/v1/homes/{home}/devices", json={"kind": "motion", "room": "bedroom"},
                headers=_h(op))
    assert r.status_code == 201, r.text
    dev = r.json()
    assert dev["mqtt_password"] and r.headers["cache-control"] == "no-store"
    stored = conn.execute("SELECT password_hash FROM broker_users WHERE username = %s",
                          (dev["uid"],)).fetchone()
    assert stored and dev["mqtt_password"] not in stored[0]
    listed = op.get(f"/api/v1/homes/{home}/devices").json()["devices"]
    assert dev["uid"] in [d["uid"] for d in listed]
    assert "password" not in str(listed)
    r = op.post(f"/api/v1/homes/{home}/devices", json={"kind": "toaster", "heartbeat_s": 1},
                headers=_h(op))
    assert {e["field"] for e in r.json()["errors"]} == {"kind", "heartbeat_s"}
    # The page shows the credentials once, on the response to the form only.
    r = op.post(f"/homes/{home}/devices", data={"csrf": op.csrf, "kind": "door",
                                                "room": "entrance", "heartbeat_s": "600"})
    assert r.status_code == 201 and 'id="device-password"' in r.text
    assert 'id="device-password"' not in op.get(f"/homes/{home}").text


def test_only_admins_and_operators_manage(console: ServerThread, world: World) -> None:
    for who, key in (("famA2", "A2"), ("propA1", "A1")):
        c = sign_in(console.url, world.users[who])
        home = world.home[key]
        for what, body in (("away", {"action": "set"}),
                           ("detector", {"settings": {"inactivity.floor_min": 60}}),
                           ("contacts", {"name": "x", "urls": ["json://a.b/c"]}),
                           ("devices", {"kind": "motion"})):
            r = c.post(f"/api/v1/homes/{home}/{what}", json=body, headers=_h(c))
            assert r.status_code == 403, (who, what, r.status_code)
        assert 'id="manage"' not in c.get(f"/homes/{home}").text


def test_escalation_policies_and_removing_contacts(console: ServerThread, world: World) -> None:
    op = sign_in(console.url, world.users["opA"])
    home = world.home["A2"]
    pols = op.get(f"/api/v1/homes/{home}/policies").json()["policies"]
    assert set(pols) == {"critical", "high", "medium", "low"}
    assert pols["critical"]["source"] == "default"
    policy = {"steps": [{"after_s": 0, "notify": ["family", "community_worker"]},
                        {"after_s": 300, "notify": ["property"]}], "repeat_s": 600}
    r = op.post(f"/api/v1/homes/{home}/policies", json={"severity": "critical",
                                                        "policy": policy}, headers=_h(op))
    assert r.status_code == 200, r.text
    pols = op.get(f"/api/v1/homes/{home}/policies").json()["policies"]
    assert pols["critical"]["source"] == f"home:{home}"
    assert pols["critical"]["policy"]["steps"][1]["after_s"] == 300
    for body in ({"severity": "critical", "policy": {"steps": "x"}},
                 {"severity": "critical", "policy": {"bogus": 1}},
                 {"severity": "urgent", "policy": policy}):
        r = op.post(f"/api/v1/homes/{home}/policies", json=body, headers=_h(op))
        assert r.status_code == 422, (body, r.text)
    # The page's short form.
    r = op.post(f"/homes/{home}/policies", data={"csrf": op.csrf, "severity": "high",
                                                 "policy": "0:family;900:property",
                                                 "repeat_s": "1800"})
    assert r.status_code == 303
    assert op.get(f"/api/v1/homes/{home}/policies").json()["policies"]["high"]["policy"][
        "repeat_s"] == 1800
    r = op.post(f"/homes/{home}/policies", data={"csrf": op.csrf, "severity": "high",
                                                 "policy": "soon:family"})
    assert r.status_code == 422 and 'data-field="policy"' in r.text

    r = op.post(f"/api/v1/homes/{home}/contacts",
                json={"name": "李儿子", "urls": ["json://example.com/son"]}, headers=_h(op))
    cid = r.json()["id"]
    other = world.home["A1"]
    assert op.post(f"/api/v1/homes/{other}/contacts/{cid}/remove",
                   headers=_h(op)).status_code == 404          # not that home's contact
    r = op.post(f"/api/v1/homes/{home}/contacts/{cid}/remove", headers=_h(op))
    assert r.json() == {"id": cid, "removed": True}
    assert "李儿子" not in [c["name"] for c in op.get(f"/api/v1/homes/{home}").json()["contacts"]]
    assert 'id="policy-form"' in op.get(f"/homes/{home}").text
