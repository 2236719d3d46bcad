"""Every console route and API endpoint against every role: nobody sees beyond their scope."""

from __future__ import annotations

import asyncio
import json

import httpx
import psycopg
import pytest

from console.app import ConsoleConfig, create_app
from tests.console_world import ServerThread, World, sign_in
from tests.support import open_alert


# What each user may see, of the world's homes A1, A2 (community A, buildings 1, 2) and B1.
VISIBLE = {"admin": {"A1", "A2", "B1"}, "opA": {"A1", "A2"}, "propA1": {"A1"},
           "famA2": {"A2"}}

# One home's and one alert's routes: {h} a home id, {a} an alert id.
ITEM_GETS = ["/homes/{h}", "/alerts/{a}", "/api/v1/homes/{h}", "/api/v1/homes/{h}/activity",
             "/api/v1/homes/{h}/activity?format=svg&window=7d", "/api/v1/homes/{h}/usage",
             "/api/v1/alerts/{a}", "/api/v1/homes/{h}/visits",
             "/api/v1/homes/{h}/detector", "/api/v1/homes/{h}/devices",
             "/api/v1/homes/{h}/policies"]
ITEM_POSTS = ["/alerts/{a}/acknowledge", "/alerts/{a}/resolve",
              "/api/v1/alerts/{a}/acknowledge", "/api/v1/alerts/{a}/resolve",
              "/homes/{h}/visits", "/homes/{h}/schedules", "/api/v1/homes/{h}/visits",
              "/api/v1/homes/{h}/schedules", "/homes/{h}/away", "/homes/{h}/detector",
              "/homes/{h}/contacts", "/homes/{h}/devices", "/api/v1/homes/{h}/away",
              "/api/v1/homes/{h}/detector", "/api/v1/homes/{h}/contacts",
              "/api/v1/homes/{h}/devices", "/homes/{h}/policies", "/api/v1/homes/{h}/policies",
              "/homes/{h}/contacts/{c}/remove", "/api/v1/homes/{h}/contacts/{c}/remove",
              "/homes/{h}/edit", "/api/v1/homes/{h}"]
# A community's routes, {m} its id, {s} a shift id: for admins and its operators only.
MANAGES = {"admin": {"A", "B"}, "opA": {"A"}, "propA1": set(), "famA2": set()}
COMMUNITY_GETS = ["/communities/{m}/workers", "/api/v1/communities/{m}/workers"]
COMMUNITY_POSTS = ["/communities/{m}/shifts", "/api/v1/communities/{m}/shifts",
                   "/communities/{m}/shifts/{s}/remove",
                   "/api/v1/communities/{m}/shifts/{s}/remove"]
CREATE_POSTS = ["/homes", "/api/v1/homes"]
LIST_GETS = ["/board", "/board/rows", "/homes", "/api/v1/board", "/api/v1/alerts",
             "/api/v1/homes", "/api/v1/me", "/visits", "/api/v1/visits",
             "/reports", "/reports/response.csv", "/reports/kinds.csv", "/reports/devices.csv",
             "/audit", "/api/v1/reports", "/api/v1/audit"]
# Admin-only pages: a device's conformance check ({d} a device of home A1).
ADMIN_GETS = ["/devices/{d}"]
PUBLIC = {"/", "/login", "/lang/{code}", "/healthz", "/api/v1/openapi.json", "/static",
          "/api/v1/device-contract", "/favicon.ico"}


def _path(template: str, world: World, key: str) -> str:
    return template.format(h=world.home[key], a=world.alert[key], c=1,
                           m=world.community_id[key[0]], s=1)


def test_the_matrix_covers_every_route() -> None:
    """A new route must be added to this matrix (or declared public)."""
    app = create_app(ConsoleConfig("postgresql://unused"))
    routes = {r.path for r in app.routes}  # type: ignore[attr-defined]
    covered = {p.split("?")[0].replace("{h}", "{id}").replace("{a}", "{id}")
               .replace("{c}", "{cid}").replace("{m}", "{id}").replace("{s}", "{sid}")
               for p in ITEM_GETS + ITEM_POSTS + LIST_GETS + COMMUNITY_GETS + COMMUNITY_POSTS
               + CREATE_POSTS} | PUBLIC | {"/events", "/logout"} \
        | {p.replace("{d}", "{id}") for p in ADMIN_GETS}
    assert routes <= covered, routes - covered


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_items_outside_the_scope_are_refused(console: ServerThread, world: World, who: str,
                                             conn: psycopg.Connection) -> None:
    """In scope: 200; outside it: 403/404 for every page, API read and action."""
    c = sign_in(console.url, world.users[who])
    for key in ("A1", "A2", "B1"):
        for t in ITEM_GETS:
            r = c.get(_path(t, world, key))
            if key in VISIBLE[who]:
                assert r.status_code == 200, (who, key, t, r.status_code)
            else:
                assert r.status_code in (403, 404), (who, key, t, r.status_code)
                assert str(world.home_code[key]) not in r.text
        if key in VISIBLE[who]:
            continue
        for t in ITEM_POSTS:
            path = _path(t, world, key)
            if path.startswith("/api/"):
                r = c.post(path, json={"outcome": "false_alarm"},
                           headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
            else:
                r = c.post(path, data={"csrf": c.csrf,  # type: ignore[attr-defined]
                                       "outcome": "false_alarm"})
            assert r.status_code in (403, 404), (who, key, t, r.status_code)
        row = conn.execute("SELECT state FROM alerts WHERE id = %s",
                           (world.alert[key],)).fetchone()
        assert row and row[0] == "open"


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_admin_pages_are_for_admins_only(console: ServerThread, world: World, who: str,
                                         conn: psycopg.Connection) -> None:
    """A device's check page: 200 for an admin, 403/404 for everyone else, even in scope."""
    row = conn.execute("SELECT id FROM devices WHERE home_id = %s ORDER BY id LIMIT 1",
                       (world.home["A1"],)).fetchone()
    if row is None:
        from anju import registry
        registry.add_device(conn, home=world.home_code["A1"], kind="door", room="entrance")
        row = conn.execute("SELECT id FROM devices WHERE home_id = %s ORDER BY id LIMIT 1",
                           (world.home["A1"],)).fetchone()
    assert row
    c = sign_in(console.url, world.users[who])
    for t in ADMIN_GETS:
        r = c.get(t.format(d=row[0]))
        if who == "admin":
            assert r.status_code == 200, (who, t, r.status_code)
        else:
            assert r.status_code in (403, 404), (who, t, r.status_code)


@pytest.mark.parametrize("who", sorted(MANAGES))
def test_communities_outside_the_scope_are_refused(console: ServerThread, world: World,
                                                   who: str) -> None:
    """A community's workers and shifts: 200 for admins and its operators, else 403/404;
    creating a home in a community not managed is refused."""
    c = sign_in(console.url, world.users[who])
    for comm in ("A", "B"):
        key = comm + "1"
        for t in COMMUNITY_GETS:
            r = c.get(_path(t, world, key))
            if comm in MANAGES[who]:
                assert r.status_code == 200, (who, comm, t, r.status_code)
            else:
                assert r.status_code in (403, 404), (who, comm, t, r.status_code)
                assert world.community[comm] not in r.text
        for t in COMMUNITY_POSTS:
            path = _path(t, world, key)
            body = {"contact": 1, "days": "1-5", "starts": "08:00", "ends": "18:00"}
            if path.startswith("/api/"):
                r = c.post(path, json=body, headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
            else:
                r = c.post(path, data={"csrf": c.csrf, **body})  # type: ignore[attr-defined]
            if comm in MANAGES[who]:        # in scope: no such worker (422) or shift (404)
                assert r.status_code in (404, 422), (who, comm, t, r.status_code)
            else:
                assert r.status_code in (403, 404), (who, comm, t, r.status_code)
        if comm in MANAGES[who]:
            continue
        body = {"code": f"h-{world.tag}-x-{who}", "community": world.community[comm],
                "resident": "某某"}
        r = c.post("/api/v1/homes", json=body, headers={"X-CSRF-Token": c.csrf})  # type: ignore[attr-defined]
        assert r.status_code in (403, 422), (who, comm, r.status_code)
        if r.status_code == 422:
            assert r.json()["errors"][0]["field"] == "community"
        r = c.post("/homes", data={"csrf": c.csrf, **body})  # type: ignore[attr-defined]
        assert r.status_code in (403, 422), (who, comm, r.status_code)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_lists_hold_only_the_scope(console: ServerThread, world: World, who: str) -> None:
    """The board, alert list and home list show exactly the homes in scope (of this world)."""
    c = sign_in(console.url, world.users[who])
    ours = {v: k for k, v in world.home.items()}
    board = {ours[a["home_id"]] for a in c.get("/api/v1/board").json()["alerts"]
             if a["home_id"] in ours}
    alerts = {ours[a["home_id"]] for a in c.get("/api/v1/alerts?limit=1000").json()["alerts"]
              if a["home_id"] in ours}
    homes = {ours[h["id"]] for h in c.get("/api/v1/homes?limit=500&q=" + world.tag)
             .json()["homes"] if h["id"] in ours}
    assert board == alerts == homes == VISIBLE[who]
    page = c.get("/board").text + c.get("/homes?q=" + world.tag).text
    for key, code in world.home_code.items():
        assert (f"/homes/{world.home[key]}\"" in page) == (key in VISIBLE[who]), (who, key)


def test_signed_out_gets_nothing(console: ServerThread, world: World) -> None:
    """Signed out: pages redirect to sign-in, the API and the event stream answer 401."""
    c = httpx.Client(base_url=console.url, timeout=10)
    for t in ITEM_GETS + LIST_GETS + ["/events"]:
        path = _path(t, world, "A1")
        r = c.get(path)
        if path.startswith("/api/") or path == "/events":
            assert r.status_code == 401, path
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for t in COMMUNITY_GETS:
        path = _path(t, world, "A1")
        assert c.get(path).status_code == (401 if path.startswith("/api/") else 303), path
    for t in ITEM_POSTS + COMMUNITY_POSTS + CREATE_POSTS + ["/logout"]:
        assert c.post(_path(t, world, "A1"), data={}).status_code == 401, t


async def test_live_events_reach_only_users_in_scope(console: ServerThread, world: World,
                                                     db_url: str) -> None:
    """An alert opening in building 2 reaches the community's operator and that home's family,
    not the property manager of building 1."""
    clients = {k: sign_in(console.url, world.users[k]) for k in ("opA", "propA1", "famA2")}
    got: dict[str, list[dict]] = {k: [] for k in clients}

    async def listen(key: str, ready: asyncio.Event) -> None:
        cookies = dict(clients[key].cookies)
        async with httpx.AsyncClient(base_url=console.url, cookies=cookies, timeout=10) as ac:
            async with ac.stream("GET", "/events") as r:
                event = None
                async for line in r.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        if event == "hello":
                            ready.set()
                        elif event == "alert":
                            got[key].append(json.loads(line[6:]))

    ready = {k: asyncio.Event() for k in clients}
    tasks = [asyncio.create_task(listen(k, ready[k])) for k in clients]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready.values())), 5)
    with psycopg.connect(db_url, autocommit=True) as sync:
        aid = open_alert(sync, world.home["A2"], kind="smoke", severity="critical")
    await asyncio.sleep(1.0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert [e["id"] for e in got["opA"]] == [aid]
    assert [e["id"] for e in got["famA2"]] == [aid]
    assert got["propA1"] == []
