"""Home visits: schedules, each worker's visits due, recording outcomes, concerns that open an
alert, overdue visits on the board, and alerts resolved by a visit recorded as one."""

from __future__ import annotations

import select
from datetime import date, datetime, timedelta, timezone

import psycopg

from tests.console_world import ServerThread, World, sign_in



def _h(c) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-CSRF-Token": c.csrf}


def _ours(world: World, rows: list[dict]) -> set[str]:
    keys = {v: k for k, v in world.home.items()}
    return {keys[r["home_id"]] for r in rows if r["home_id"] in keys}


def test_schedule_due_list_and_overdue_on_the_board(console: ServerThread, world: World,
                                                    conn: psycopg.Connection) -> None:
    """A monthly visit first due a week ago is overdue: on the worker's list, on the board
    (in scope only); recording the visit moves it a month on and off the board."""
    op = sign_in(console.url, world.users["opA"])
    past = (date.today() - timedelta(days=7)).isoformat()
    for key in ("A1", "A2"):
        r = op.post(f"/api/v1/homes/{world.home[key]}/schedules",
                    json={"kind": "special_needs", "every_days": 30, "worker": world.users["opA"],
                          "first_due": past, "note": "独居高龄"}, headers=_h(op))
        assert r.status_code == 200, r.text
        assert r.json()["schedules"][0]["overdue"] is True
    admin = sign_in(console.url, world.users["admin"])
    r = admin.post(f"/api/v1/homes/{world.home['B1']}/schedules",
                   json={"kind": "patrol", "every_days": 7, "first_due": past}, headers=_h(admin))
    assert r.status_code == 200, r.text

    mine = op.get("/api/v1/visits").json()["visits_due"]
    assert _ours(world, mine) == {"A1", "A2"}
    assert _ours(world, admin.get("/api/v1/visits").json()["visits_due"]) == set()  # not his
    assert _ours(world, admin.get("/api/v1/visits?worker=all").json()["visits_due"]) == {
        "A1", "A2", "B1"}
    for who, seen in (("opA", {"A1", "A2"}), ("propA1", {"A1"}), ("famA2", {"A2"}),
                      ("admin", {"A1", "A2", "B1"})):
        c = sign_in(console.url, world.users[who])
        assert _ours(world, c.get("/api/v1/board").json()["overdue_visits"]) == seen, who
        assert _ours(world, c.get("/api/v1/visits?worker=all").json()["visits_due"]) == seen
    page = op.get("/board").text
    assert 'id="overdue-visits"' in page and f"/homes/{world.home['A1']}#visits" in page
    assert f"/homes/{world.home['A1']}#visits" in op.get("/visits").text

    r = op.post(f"/api/v1/homes/{world.home['A1']}/visits",
                json={"outcome": "all_well", "kind": "special_needs", "note": "血压正常"},
                headers=_h(op))
    assert r.status_code == 201, r.text
    assert r.json()["concern_alert_id"] is None
    v = op.get(f"/api/v1/homes/{world.home['A1']}/visits").json()
    s = v["schedules"][0]
    due = datetime.fromisoformat(s["next_due_at"])
    assert not s["overdue"] and due > datetime.now(timezone.utc) + timedelta(days=29)
    assert v["visits"][0]["outcome"] == "all_well" and v["visits"][0]["note"] == "血压正常"
    assert _ours(world, op.get("/api/v1/board").json()["overdue_visits"]) == {"A2"}
    actions = [r[0] for r in conn.execute(
        "SELECT action FROM audit_log WHERE home_id = %s ORDER BY id", (world.home["A1"],))]
    assert "set_visit_schedule" in actions and "record_visit" in actions


def test_a_concern_opens_an_alert_live(console: ServerThread, world: World, db_url: str) -> None:
    """Outcome concern opens a visit_concern alert: the row, its open event, NOTIFY."""
    op = sign_in(console.url, world.users["opA"])
    with psycopg.connect(db_url, autocommit=True) as listen:
        listen.execute("LISTEN anju_alerts")
        r = op.post(f"/api/v1/homes/{world.home['A2']}/visits",
                    json={"outcome": "concern", "concern": "老人说胸闷，药已吃完"}, headers=_h(op))
        assert r.status_code == 201, r.text
        aid = r.json()["concern_alert_id"]
        assert aid
        select.select([listen.fileno()], [], [], 3)
        got = [n.payload for n in listen.notifies(timeout=1, stop_after=1)]
    assert str(aid) in got
    a = op.get(f"/api/v1/alerts/{aid}").json()
    assert a["alert"]["kind"] == "visit_concern" and a["alert"]["state"] == "open"
    assert "胸闷" in a["alert"]["summary_zh"] and a["events"][0]["action"] == "open"
    assert aid in [x["id"] for x in op.get("/api/v1/board").json()["alerts"]]
    # A second concern while it is open joins the same alert.
    r = op.post(f"/api/v1/homes/{world.home['A2']}/visits",
                json={"outcome": "concern", "concern": "门锁坏了"}, headers=_h(op))
    assert r.json()["concern_alert_id"] == aid


def test_an_alert_resolved_by_a_visit_is_recorded_as_one(console: ServerThread, world: World,
                                                         conn: psycopg.Connection) -> None:
    op = sign_in(console.url, world.users["admin"])
    aid = world.alert["B1"]
    r = op.post(f"/api/v1/alerts/{aid}/resolve",
                json={"outcome": "visited_help_called", "note": "已送医"}, headers=_h(op))
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    visits = op.get(f"/api/v1/homes/{world.home['B1']}/visits").json()["visits"]
    assert [(v["outcome"], v["alert_id"], v["note"]) for v in visits] == [
        ("help_called", aid, "已送医")]
    patrol = op.get(f"/api/v1/homes/{world.home['B1']}/visits").json()["schedules"]
    assert patrol and not patrol[0]["overdue"]        # the visit counts for the schedule
    # Resolved another way: no visit.
    other = conn.execute("SELECT id FROM alerts WHERE home_id = %s AND state <> 'resolved'",
                         (world.home["A1"],)).fetchone()
    assert other
    op.post(f"/api/v1/alerts/{other[0]}/resolve", json={"outcome": "false_alarm"},
            headers=_h(op))
    n = conn.execute("SELECT count(*) FROM visits WHERE alert_id = %s", (other[0],)).fetchone()
    assert n == (0,)


def test_roles_and_field_errors(console: ServerThread, world: World) -> None:
    """Family may read but not record; property may record but not schedule; bad input 422."""
    fam = sign_in(console.url, world.users["famA2"])
    home = world.home["A2"]
    assert fam.get(f"/api/v1/homes/{home}/visits").status_code == 200
    r = fam.post(f"/api/v1/homes/{home}/visits", json={"outcome": "all_well"}, headers=_h(fam))
    assert r.status_code == 403
    prop = sign_in(console.url, world.users["propA1"])
    a1 = world.home["A1"]
    r = prop.post(f"/api/v1/homes/{a1}/schedules", json={"kind": "patrol", "every_days": 7},
                  headers=_h(prop))
    assert r.status_code == 403
    r = prop.post(f"/api/v1/homes/{a1}/visits", json={"outcome": "not_home"}, headers=_h(prop))
    assert r.status_code == 201

    op = sign_in(console.url, world.users["opA"])
    cases = [
        ("visits", {"outcome": "concern"}, {"concern"}),
        ("visits", {}, {"outcome"}),
        ("visits", {"outcome": "x", "kind": "y", "visited_at": "tomorrow"},
         {"outcome", "kind", "visited_at"}),
        ("visits", {"outcome": "all_well", "visited_at": "2999-01-01T00:00:00"}, {"visited_at"}),
        ("visits", {"outcome": "all_well", "kind": "patrol"}, {"kind"}),   # no patrol schedule
        ("schedules", {"kind": "patrol", "every_days": 0}, {"every_days"}),
        ("schedules", {"every_days": "x", "first_due": "2026-13-01"},
         {"kind", "every_days", "first_due"}),
        ("schedules", {"kind": "patrol", "every_days": 7, "worker": "nobody-here"}, {"worker"}),
        ("schedules", {"kind": "patrol", "every_days": 7, "worker": world.users["famA2"]},
         {"worker"}),
        ("schedules", {"kind": "patrol", "every_days": 7, "active": "maybe", "note": 5},
         {"note"}),
    ]
    for what, body, fields in cases:
        r = op.post(f"/api/v1/homes/{a1}/{what}", json=body, headers=_h(op))
        assert r.status_code == 422, (what, body, r.text)
        assert {e["field"] for e in r.json()["errors"]} == fields, (what, body, r.json())
    assert op.get("/api/v1/visits?within=abc&worker=x").status_code == 422
    # The page form answers inline.
    r = op.post(f"/homes/{a1}/visits", data={"csrf": op.csrf, "outcome": "concern"})
    assert r.status_code == 422 and 'data-field="concern"' in r.text
    r = op.post(f"/homes/{a1}/schedules",
                data={"csrf": op.csrf, "kind": "patrol", "every_days": "14"})
    assert r.status_code == 303
    r = op.post(f"/homes/{a1}/visits", data={"csrf": op.csrf, "outcome": "all_well",
                                             "kind": "patrol", "note": "巡查"})
    assert r.status_code == 303
    page = op.get(f"/homes/{a1}").text
    assert "巡查" in page and 'id="visit-form"' in page and 'id="schedule-form"' in page
    assert 'id="visit-form"' not in fam.get(f"/homes/{home}").text
