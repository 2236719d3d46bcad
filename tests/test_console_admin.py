"""Creating and editing homes, and community workers' duty shifts, from the console:
admins and operators of the community only; 422 with the field on bad input; audited."""

from __future__ import annotations

import psycopg
import pytest

from alerts.manage import ContactSpec, add_contact
from tests.console_world import ServerThread, World, sign_in



def _h(c) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-CSRF-Token": c.csrf}


def _fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, (r.status_code, r.text[:300])
    return {e["field"] for e in r.json()["errors"]}


def test_create_a_home(console: ServerThread, world: World, conn: psycopg.Connection) -> None:
    op = sign_in(console.url, world.users["opA"])
    code = f"h-{world.tag}-new"
    r = op.post("/api/v1/homes", json={"code": code, "community": world.community["A"],
                                       "resident": "新住户", "address": "3-201", "building": "3",
                                       "tz": "Asia/Urumqi"}, headers=_h(op))
    assert r.status_code == 201, r.text
    h = r.json()
    assert (h["code"], h["building"], h["tz"]) == (code, "3", "Asia/Urumqi")
    assert op.get(f"/api/v1/homes/{h['id']}").status_code == 200
    row = conn.execute("SELECT action, detail->>'code' FROM audit_log WHERE home_id = %s",
                       (h["id"],)).fetchone()
    assert row == ("create_home", code)
    # The same code again; a bad time zone; missing fields; a community not managed.
    r = op.post("/api/v1/homes", json={"code": code, "community": world.community["A"],
                                       "resident": "x"}, headers=_h(op))
    assert _fields(r) == {"code"}
    r = op.post("/api/v1/homes", json={"code": code + "2", "community": world.community["A"],
                                       "resident": "x", "tz": "Mars/Olympus"}, headers=_h(op))
    assert _fields(r) == {"tz"}
    assert _fields(op.post("/api/v1/homes", json={}, headers=_h(op))) == {
        "code", "community", "resident"}
    r = op.post("/api/v1/homes", json={"code": code + "3", "community": world.community["B"],
                                       "resident": "x"}, headers=_h(op))
    assert _fields(r) == {"community"}
    r = op.post("/api/v1/homes", json={"code": code + "4", "community": "no-such-community",
                                       "resident": "x"}, headers=_h(op))
    assert _fields(r) == {"community"}
    assert conn.execute("SELECT count(*) FROM communities WHERE code = 'no-such-community'"
                        ).fetchone() == (0,)
    # The page's form: a redirect to the new home, or the form again with the errors.
    assert 'id="new-home-form"' in op.get("/homes").text
    r = op.post("/homes", data={"csrf": op.csrf, "code": code + "5",
                                "community": world.community["A"], "resident": "页面住户"})
    assert r.status_code == 303 and r.headers["location"].startswith("/homes/")
    r = op.post("/homes", data={"csrf": op.csrf, "code": code + "6",
                                "community": world.community["A"], "resident": "y",
                                "tz": "nowhere"})
    assert r.status_code == 422 and 'data-field="tz"' in r.text
    assert op.post("/homes", data={"code": code + "7"}).status_code == 403     # no CSRF
    # An admin may create a home in any community.
    admin = sign_in(console.url, world.users["admin"])
    r = admin.post("/api/v1/homes", json={"code": code + "8", "community": world.community["B"],
                                          "resident": "乙"}, headers=_h(admin))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("who", ["propA1", "famA2"])
def test_only_admins_and_operators_create_and_edit(console: ServerThread, world: World,
                                                   who: str) -> None:
    c = sign_in(console.url, world.users[who])
    r = c.post("/api/v1/homes", json={"code": f"h-{world.tag}-{who}",
                                      "community": world.community["A"], "resident": "x"},
               headers=_h(c))
    assert r.status_code == 403
    home = world.home["A1" if who == "propA1" else "A2"]
    r = c.post(f"/api/v1/homes/{home}", json={"resident": "改名"}, headers=_h(c))
    assert r.status_code == 403
    assert c.post(f"/homes/{home}/edit", data={"csrf": c.csrf, "resident": "改名"}
                  ).status_code == 403
    assert 'id="new-home-form"' not in c.get("/homes").text
    assert 'id="edit-form"' not in c.get(f"/homes/{home}").text


def test_edit_a_home(console: ServerThread, world: World, conn: psycopg.Connection) -> None:
    op = sign_in(console.url, world.users["opA"])
    admin = sign_in(console.url, world.users["admin"])
    code = f"h-{world.tag}-edit"
    home = admin.post("/api/v1/homes", json={"code": code, "community": world.community["A"],
                                             "resident": "旧名", "address": "1-101",
                                             "building": "1"}, headers=_h(admin)).json()["id"]
    r = op.post(f"/api/v1/homes/{home}", json={"resident": "新名", "tz": "Asia/Hong_Kong"},
                headers=_h(op))
    assert r.status_code == 200, r.text
    assert (r.json()["resident_name"], r.json()["address"], r.json()["tz"]) == (
        "新名", "1-101", "Asia/Hong_Kong")
    row = conn.execute("SELECT detail FROM audit_log WHERE home_id = %s AND action = 'edit_home'",
                       (home,)).fetchone()
    assert row and row[0]["tz"] == {"from": "Asia/Shanghai", "to": "Asia/Hong_Kong"}
    assert _fields(op.post(f"/api/v1/homes/{home}", json={"tz": "Asia/Nowhere"},
                           headers=_h(op))) == {"tz"}
    assert _fields(op.post(f"/api/v1/homes/{home}", json={"resident": "", "building": 3},
                           headers=_h(op))) == {"resident", "building"}
    # The page's form.
    r = op.post(f"/homes/{home}/edit", data={"csrf": op.csrf, "resident": "新名",
                                             "address": "2-202", "building": "2",
                                             "tz": "Asia/Shanghai"})
    assert r.status_code == 303
    h = op.get(f"/api/v1/homes/{home}").json()["home"]
    assert (h["address"], h["building"], h["tz"]) == ("2-202", "2", "Asia/Shanghai")
    r = op.post(f"/homes/{home}/edit", data={"csrf": op.csrf, "resident": "新名",
                                             "tz": "UTC+8 please"})
    assert r.status_code == 422 and 'data-field="tz"' in r.text
    # Outside the operator's community: not found.
    other = world.home["B1"]
    assert op.post(f"/api/v1/homes/{other}", json={"resident": "x"},
                   headers=_h(op)).status_code == 404
    assert conn.execute("SELECT resident_name FROM homes WHERE id = %s",
                        (other,)).fetchone() == ("住户B1",)


def test_duty_shifts(console: ServerThread, world: World, conn: psycopg.Connection) -> None:
    worker = add_contact(conn, ContactSpec(role="community_worker", name="王社工",
                                           urls=["json://example.com/wang"],
                                           community=world.community["A"]))
    elsewhere = add_contact(conn, ContactSpec(role="community_worker", name="李社工",
                                              urls=["json://example.com/li"],
                                              community=world.community["B"]))
    comm = world.community_id["A"]
    op = sign_in(console.url, world.users["opA"])
    listed = op.get(f"/api/v1/communities/{comm}/workers").json()["workers"]
    assert [(k["id"], k["shifts"]) for k in listed] == [(worker, [])]
    r = op.post(f"/api/v1/communities/{comm}/shifts",
                json={"contact": worker, "days": "1-5", "starts": "08:00", "ends": "18:00"},
                headers=_h(op))
    assert r.status_code == 201 and r.json()["added"] == 5, r.text
    r = op.post(f"/api/v1/communities/{comm}/shifts",
                json={"contact": worker, "days": [6, 7], "starts": "20:00", "ends": "08:00"},
                headers=_h(op))
    assert r.status_code == 201, r.text
    shifts = op.get(f"/api/v1/communities/{comm}/workers").json()["workers"][0]["shifts"]
    assert [(s["weekday"], s["starts"], s["ends"]) for s in shifts][-2:] == [
        (6, "20:00", "08:00"), (7, "20:00", "08:00")]
    assert conn.execute("SELECT count(*) FROM duty_shifts WHERE contact_id = %s",
                        (worker,)).fetchone() == (7,)
    assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'add_shift'"
                        " AND detail->>'contact' = %s", (str(worker),)).fetchone() == (2,)
    # Bad input: the field.
    for body, fields in (
            ({"contact": worker, "days": "8", "starts": "08:00", "ends": "18:00"}, {"days"}),
            ({"contact": worker, "days": "1", "starts": "8 am", "ends": "25:00"},
             {"starts", "ends"}),
            ({"contact": worker, "days": "1", "starts": "08:00", "ends": "08:00"}, {"ends"}),
            ({"contact": elsewhere, "days": "1", "starts": "08:00", "ends": "09:00"},
             {"contact"}),
            ({}, {"contact", "days", "starts", "ends"})):
        r = op.post(f"/api/v1/communities/{comm}/shifts", json=body, headers=_h(op))
        assert _fields(r) == fields, body
    # Removing: only a shift of this community.
    sid = shifts[0]["id"]
    other = world.community_id["B"]
    assert op.post(f"/api/v1/communities/{other}/shifts/{sid}/remove",
                   headers=_h(op)).status_code == 404
    admin = sign_in(console.url, world.users["admin"])
    assert admin.post(f"/api/v1/communities/{other}/shifts/{sid}/remove",
                      headers=_h(admin)).status_code == 404      # not that community's
    r = op.post(f"/api/v1/communities/{comm}/shifts/{sid}/remove", headers=_h(op))
    assert r.json() == {"id": sid, "removed": True}
    assert op.post(f"/api/v1/communities/{comm}/shifts/{sid}/remove",
                   headers=_h(op)).status_code == 404
    # The page: list, add, inline errors, remove.
    page = op.get(f"/communities/{comm}/workers")
    assert page.status_code == 200 and "王社工" in page.text and "李社工" not in page.text
    r = op.post(f"/communities/{comm}/shifts", data={"csrf": op.csrf, "contact": str(worker),
                                                     "days": "mon", "starts": "09:00",
                                                     "ends": "12:00"})
    assert r.status_code == 303
    r = op.post(f"/communities/{comm}/shifts", data={"csrf": op.csrf, "contact": str(worker),
                                                     "days": "someday", "starts": "09:00",
                                                     "ends": "12:00"})
    assert r.status_code == 422 and 'data-field="days"' in r.text
    sid2 = shifts[1]["id"]
    r = op.post(f"/communities/{comm}/shifts/{sid2}/remove", data={"csrf": op.csrf})
    assert r.status_code == 303
    assert op.post(f"/communities/{comm}/shifts/{sid2}/remove", data={}).status_code == 403
    op.cookies.set("lang", "en")
    en = op.get(f"/communities/{comm}/workers").text
    assert "Community workers on duty" in en and "Mon" in en
    # Others: the property manager and the family member may not; B's page is not opA's.
    for who in ("propA1", "famA2"):
        c = sign_in(console.url, world.users[who])
        assert c.get(f"/api/v1/communities/{comm}/workers").status_code == 403
        r = c.post(f"/api/v1/communities/{comm}/shifts",
                   json={"contact": worker, "days": "1", "starts": "08:00", "ends": "09:00"},
                   headers=_h(c))
        assert r.status_code == 403
    assert op.get(f"/communities/{other}/workers").status_code == 404
    assert admin.get(f"/api/v1/communities/{other}/workers").json()["workers"][0]["id"] == \
        elsewhere
