"""The JSON API: its OpenAPI document, acknowledge/resolve, field-level 422s, never a 500."""

from __future__ import annotations

import itertools

import psycopg

from tests.console_world import ServerThread, World, sign_in


ODD = ["0", "-1", "abc", "9" * 30, "1.5", "%00", "' OR 1=1 --", "😀" * 50, "", "7d", "24h"]


def test_openapi_lists_every_api_endpoint(console: ServerThread) -> None:
    """The document is served without signing in and names every /api/v1 route."""
    import httpx

    doc = httpx.get(console.url + "/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/alerts/{id}/resolve" in doc["paths"]
    outcome = doc["paths"]["/api/v1/alerts/{id}/resolve"]["post"]["requestBody"]
    assert "false_alarm" in str(outcome)


def test_invalid_input_gets_field_errors(console: ServerThread, world: World) -> None:
    """422 with the field named, for query parameters and JSON bodies alike."""
    c = sign_in(console.url, world.users["admin"])
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    r = c.get("/api/v1/homes?limit=abc&status=bogus")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"limit", "status"}
    r = c.post(f"/api/v1/alerts/{world.alert['B1']}/resolve", json={"outcome": "nope"},
               headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"
    r = c.post(f"/api/v1/alerts/{world.alert['B1']}/resolve", content=b"{not json",
               headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = c.post(f"/api/v1/alerts/{world.alert['B1']}/resolve", json={"note": 5}, headers=h)
    assert r.status_code == 422
    assert c.get("/homes?limit=x").status_code == 422          # inline in the page


def test_acknowledge_then_resolve_through_the_api(console: ServerThread, world: World,
                                                  conn: psycopg.Connection) -> None:
    """Acknowledge once (a second time changes nothing), then resolve with an outcome."""
    c = sign_in(console.url, world.users["opA"])
    h = {"X-CSRF-Token": c.csrf}  # type: ignore[attr-defined]
    aid = world.alert["A1"]
    r = c.post(f"/api/v1/alerts/{aid}/acknowledge", json={"note": "电话中"}, headers=h)
    assert r.status_code == 200 and r.json()["changed"] and r.json()["state"] == "acknowledged"
    r = c.post(f"/api/v1/alerts/{aid}/acknowledge", json={}, headers=h)
    assert r.status_code == 200 and not r.json()["changed"]
    r = c.post(f"/api/v1/alerts/{aid}/resolve",
               json={"outcome": "visited_all_well", "note": "老人安好"}, headers=h)
    assert r.json()["state"] == "resolved"
    detail = c.get(f"/api/v1/alerts/{aid}").json()
    assert [e["action"] for e in detail["events"]] == ["open", "acknowledge", "resolve"]
    assert detail["alert"]["outcome"] == "visited_all_well"
    actions = [r[0] for r in conn.execute(
        "SELECT action FROM audit_log WHERE alert_id = %s ORDER BY id", (aid,))]
    assert actions[:2] == ["acknowledge", "acknowledge"] and "resolve" in actions


def test_odd_values_never_cause_a_server_error(console: ServerThread, world: World) -> None:
    """Every GET endpoint of the document with odd ids and parameter values: no 5xx."""
    import httpx

    c = sign_in(console.url, world.users["admin"])
    doc = httpx.get(console.url + "/api/v1/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            names = [p["name"] for p in op["parameters"] if p["in"] == "query"]
            for ident, value in itertools.product(["1", "abc", "9" * 30, "-3"], ODD):
                url = path.replace("{id}", ident)
                query = {n: value for n in names}
                if method == "get":
                    r = c.get(url, params=query)
                else:
                    r = c.post(url, content=value.encode(),
                               headers={"X-CSRF-Token": c.csrf,  # type: ignore[attr-defined]
                                        "content-type": "application/json"})
                assert r.status_code < 500, (method, url, query, r.status_code, r.text[:200])
