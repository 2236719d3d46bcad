"""Reports (response times against the social-alarm standard, alerts by kind, device health,
CSV) and the audit log page, each in the user's scope."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from alerts import store
from anju import registry
from tests.console_world import ServerThread, World, sign_in
from tests.support import open_alert, through_store


def _alert(conn: psycopg.Connection, home: int, opened: datetime, ack_after_s: int | None,
           kind: str = "smoke", severity: str = "critical") -> int:
    """A past alert: acknowledged after `ack_after_s` and resolved as a false alarm, or never
    acknowledged and cleared by its detector, 10 minutes after it opened."""
    aid = open_alert(conn, home, kind=kind, severity=severity, at=opened)
    done = opened + timedelta(seconds=600)

    async def close(a: psycopg.AsyncConnection) -> None:
        if ack_after_s is None:
            await store.clear(a, home, kind, done, "smoke gone")
            return
        await store.acknowledge(a, aid, actor="x", channel="console",
                                now=opened + timedelta(seconds=ack_after_s))
        await store.resolve(a, aid, actor="x", outcome="false_alarm", channel="console", now=done)

    through_store(conn, close)
    return aid


@pytest.fixture(scope="module")
def history(world: World, db_url: str) -> World:
    now = datetime.now(timezone.utc) - timedelta(minutes=20)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i, ack in enumerate((30, 120, 300, None)):      # A: 1 in 60 s, 2 in 180 s, 1 never
            _alert(conn, world.home["A1"], now - timedelta(seconds=i), ack)
        _alert(conn, world.home["B1"], now, 10)
        dev = registry.add_device(conn, home=world.home_code["A1"], kind="motion",
                                  room="bedroom")
        conn.execute("UPDATE devices SET battery_pct = 9 WHERE id = %s", (dev.id,))
    return world


def test_response_times_per_community_and_week(console: ServerThread, history: World) -> None:
    world = history
    op = sign_in(console.url, world.users["opA"])
    r = op.get("/api/v1/reports", params={"community": world.community["A"], "weeks": 2})
    assert r.status_code == 200, r.text
    rep = r.json()
    [row] = rep["response"]
    assert (row["critical"], row["within_60s"], row["within_180s"], row["unanswered"]) == (
        4, 1, 2, 1)
    assert row["share_60s"] == 0.25 and row["share_180s"] == 0.5
    assert not row["meets_standard"] and row["week"].startswith(str(datetime.now().year)[:3])
    assert {(k["kind"], k["severity"]): k["alerts"] for k in rep["kinds"]}[
        ("smoke", "critical")] == 4
    [dev] = rep["devices"]
    assert (dev["devices"], dev["offline"], dev["low_battery"]) == (1, 1, 1)
    assert rep["device_problems"][0]["low_battery"]
    # Outside the scope nothing, even when asked by name.
    r = op.get("/api/v1/reports", params={"community": world.community["B"]}).json()
    assert r["response"] == r["kinds"] == r["devices"] == []
    admin = sign_in(console.url, world.users["admin"])
    [b] = admin.get("/api/v1/reports", params={"community": world.community["B"]}
                    ).json()["response"]
    assert (b["critical"], b["within_60s"], b["meets_standard"]) == (1, 1, True)
    page = op.get("/reports", params={"community": world.community["A"]})
    assert page.status_code == 200 and 'id="report-response"' in page.text
    assert "25.0%" in page.text


def test_csv_export(console: ServerThread, history: World) -> None:
    op = sign_in(console.url, history.users["opA"])
    q = {"community": history.community["A"]}
    r = op.get("/reports/response.csv", params=q)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["critical"] == "4" and rows[0]["share_60s"] == "0.25"
    kinds = list(csv.DictReader(io.StringIO(op.get("/reports/kinds.csv", params=q).text
                                            .lstrip("\ufeff"))))
    assert ("smoke", "critical", "4") in {(k["kind"], k["severity"], k["alerts"]) for k in kinds}
    devs = op.get("/reports/devices.csv", params=q).text
    assert history.community["A"] in devs
    assert op.get("/reports/kinds.csv?weeks=0").status_code == 422


def test_reports_and_audit_by_role(console: ServerThread, history: World) -> None:
    world = history
    fam = sign_in(console.url, world.users["famA2"])
    for path in ("/reports", "/reports/kinds.csv", "/api/v1/reports", "/audit", "/api/v1/audit"):
        assert fam.get(path).status_code == 403, path
    prop = sign_in(console.url, world.users["propA1"])
    assert prop.get("/api/v1/reports").status_code == 200
    assert prop.get("/api/v1/audit").status_code == 403

    admin = sign_in(console.url, world.users["admin"])
    op = sign_in(console.url, world.users["opA"])
    assert admin.get(f"/api/v1/homes/{world.home['B1']}").status_code == 200
    assert admin.get(f"/api/v1/homes/{world.home['A1']}").status_code == 200
    assert op.get(f"/homes/{world.home['A2']}").status_code == 200

    def seen(c, **q) -> set[tuple[str, str, int | None]]:  # type: ignore[no-untyped-def]
        r = c.get("/api/v1/audit", params={"limit": 1000, **q})
        assert r.status_code == 200, r.text
        return {(e["username"], e["action"], e["home_id"]) for e in r.json()["entries"]}

    admin_sees = seen(admin)
    assert (world.users["admin"], "view_home", world.home["B1"]) in admin_sees
    assert (world.users["opA"], "view_home", world.home["A2"]) in admin_sees
    op_sees = seen(op)
    assert (world.users["admin"], "view_home", world.home["A1"]) in op_sees   # their community
    assert (world.users["opA"], "view_home", world.home["A2"]) in op_sees
    assert not any(h == world.home["B1"] for _, _, h in op_sees)
    assert not any(u == world.users["admin"] and a == "sign_in" for u, a, _ in op_sees)
    assert seen(op, home=world.home["B1"]) == set()
    assert seen(admin, user=world.users["opA"], action="view_home") == {
        (world.users["opA"], "view_home", world.home["A2"])}
    page = op.get("/audit").text
    assert f"/homes/{world.home['A2']}" in page and f"/homes/{world.home['B1']}\"" not in page
    assert op.get("/api/v1/audit?limit=0&home=x").status_code == 422
    assert json.loads(op.get("/api/v1/audit?limit=1").text)["entries"].__len__() == 1
