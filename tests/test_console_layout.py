"""The console's pages fit a phone (390x844) and a laptop (1366x768) in real headless
Chromium, for each role: nothing overflows sideways, no table cell or card field is squeezed
to a few characters (tests/layout_support.assert_fits), chart text stays readable on a phone.
Unknown paths get the styled 404 page, an unhandled error the styled 500 page, and the
favicon is served."""

from __future__ import annotations

import logging
import shutil
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

import httpx
import psycopg
import pytest
from starlette.requests import Request
from starlette.routing import Route

from alerts.manage import ContactSpec, add_contact
from anju import registry
from anju.contract import Kind
from console.app import ConsoleConfig, create_app
from tests.console_world import ARGS, CHROMIUM, PASSWORD, ServerThread, World, sign_in
from tests.layout_support import assert_chart_text_readable, assert_fits, chart_text_sizes

pytestmark = [pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Debian chromium"),
              pytest.mark.timeout(180)]

SIZES = [(390, 844), (1366, 768)]
BG = "rgb(245, 246, 247)"          # console.css --bg: the stylesheet is applied


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def lived_in(db_url: str, world: World, console: ServerThread) -> dict[str, int]:
    """Home A2 (the family's) with a day of activity in three rooms, water and power, a
    visit schedule; a home in community A with a long name and address; a community
    worker with a long name and a shift."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        a2 = world.home_code["A2"]
        now = datetime.now(timezone.utc)
        rows = []
        for room in ("kitchen", "bedroom", "living_room"):
            d = registry.add_device(conn, home=a2, kind="motion", room=room)
            rows += [(now - timedelta(minutes=37 * i + len(room)), i, 1.0, d.id, int(Kind.MOTION))
                     for i in range(30)]
        water = registry.add_device(conn, home=a2, kind="water", room="kitchen")
        power = registry.add_device(conn, home=a2, kind="power", room="living_room")
        rows += [(now - timedelta(minutes=20 * i), i, 1000.0 - 3 * i, water.id, int(Kind.WATER))
                 for i in range(60)]
        rows += [(now - timedelta(minutes=20 * i), i, 80.0 + i % 7 * 40, power.id,
                  int(Kind.POWER)) for i in range(60)]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO readings (ts, seq, value, device_id, kind)"
                            " VALUES (%s, %s, %s, %s, %s)", rows)
        long_home = registry.add_home(
            conn, code=f"h-{world.tag}-long", community=world.community["A"],
            resident="欧阳秀英（独居，听力不好，请大声说话）", building="12栋",
            address="重庆市南岸区南坪街道花园路社区 12栋 3单元 1502（电梯到 15 楼右转）")
        worker = add_contact(conn, ContactSpec(
            role="community_worker", name="社区网格员欧阳晓梅（花园路片区）",
            community=world.community["A"], urls=["mailto://grid-worker@example.com"]))
    admin = sign_in(console.url, world.users["admin"])
    past = (date.today() - timedelta(days=3)).isoformat()
    for home in (world.home["A2"], long_home):
        r = admin.post(f"/api/v1/homes/{home}/schedules", headers={"X-CSRF-Token": admin.csrf},
                       json={"kind": "special_needs", "every_days": 30, "first_due": past,
                             "worker": world.users["opA"], "note": "独居高龄，每月上门一次"})
        assert r.status_code == 200, r.text
    r = admin.post(f"/api/v1/communities/{world.community_id['A']}/shifts",
                   headers={"X-CSRF-Token": admin.csrf},
                   json={"contact": worker, "days": "1-5", "starts": "08:00", "ends": "18:00"})
    assert r.status_code == 201, r.text
    return {"A2": world.home["A2"], "long": long_home}


def _signed_in(chromium, console: ServerThread, username: str):  # noqa: ANN001, ANN202
    ctx = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.set_default_timeout(8000)
    page.goto(console.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/board")
    return ctx, page


def _check_pages(page, base: str, paths: list[str]) -> list[str]:  # noqa: ANN001
    """Every path at both sizes; a list of what did not fit (all of it, not the first)."""
    failures = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            r = page.goto(base + path)
            assert r is not None and r.status in (200, 404), (path, r and r.status)
            try:
                assert_fits(page)
            except AssertionError as e:
                failures.append(str(e))
    return failures


@pytest.mark.parametrize("role", ["admin", "opA", "famA2"])
def test_every_page_of_each_role_fits_a_phone_and_a_laptop(
        chromium, console: ServerThread, world: World, lived_in: dict[str, int],  # noqa: ANN001
        role: str) -> None:
    a = world.community_id["A"]
    paths = {
        "admin": ["/homes", f"/homes/{lived_in['A2']}", f"/homes/{lived_in['long']}",
                  "/visits?worker=all", "/reports", "/audit", f"/communities/{a}/workers",
                  "/no/such/page"],
        "opA": ["/homes", f"/homes/{lived_in['long']}", "/visits", "/reports", "/audit",
                f"/communities/{a}/workers", "/no/such/page"],
        "famA2": ["/homes", f"/homes/{lived_in['A2']}", "/visits", "/no/such/page"],
    }[role]
    ctx, page = _signed_in(chromium, console, world.users[role])
    try:
        failures = _check_pages(page, console.url, paths)
        # the header on a phone: one row for the brand and the name, not a tall column
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(console.url + "/homes")
        header = page.locator("header.top").bounding_box()
        who = page.locator("header .who").bounding_box()   # one line, cut with an ellipsis
        if not (header and header["height"] <= 110 and who and who["height"] <= 30):
            failures.append(f"the phone's header is too tall: {header}, the name: {who}")
        if role == "admin":
            # English words are longer: the same pages fit in English too
            ctx.add_cookies([{"name": "lang", "value": "en", "url": console.url}])
            failures += _check_pages(page, console.url, paths)
            assert page.locator("html").get_attribute("lang") == "en"
    finally:
        ctx.close()
    assert not failures, "\n".join(failures)


def test_signed_out_pages_fit(chromium, console: ServerThread) -> None:  # noqa: ANN001
    ctx = chromium.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        failures = _check_pages(page, console.url, ["/login", "/no/such/page"])
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(console.url + "/login")
        button = page.locator("form.login button[type=submit]").bounding_box()
        field = page.locator("input[name=username]").bounding_box()
        assert button and button["height"] >= 44
        assert field and field["width"] >= 300              # the whole width of a phone
    finally:
        ctx.close()
    assert not failures, "\n".join(failures)


def test_phone_tables_are_cards_and_charts_readable(chromium, console: ServerThread,  # noqa: ANN001
                                                    world: World,
                                                    lived_in: dict[str, int]) -> None:
    ctx, page = _signed_in(chromium, console, world.users["admin"])
    try:
        page.goto(f"{console.url}/homes/{lived_in['A2']}")
        assert page.locator("#chart-activity-24h svg rect.cell").count() > 0
        assert page.locator("#chart-water svg rect.bar").count() > 0
        # at 390 px every chart text renders at 10 px or more
        assert_chart_text_readable(page)
        labels = {s["text"] for s in chart_text_sizes(page)}
        assert {"厨房", "卧室"} <= labels, labels
        box = page.locator("#chart-activity-24h svg").bounding_box()
        assert box and box["width"] <= 390
        # the chart's labels stay inside it: nothing is cut at the edges
        inside = page.evaluate("""() => Array.from(document.querySelectorAll('svg.chart'))
            .every((svg) => { const b = svg.getBoundingClientRect();
              return Array.from(svg.querySelectorAll('text'))
                .filter((t) => t.getClientRects().length).every((t) => {
                const r = t.getBoundingClientRect();
                return r.left >= b.left - 0.5 && r.right <= b.right + 0.5; }); })""")
        assert inside
        axis = page.evaluate("""() => Array.from(document.querySelectorAll(
              '#chart-activity-24h svg text.axis')).filter((t) => t.getClientRects().length)
            .map((t) => { const r = t.getBoundingClientRect(); return [r.left, r.right]; })""")
        assert len(axis) >= 3, axis
        axis.sort()
        assert all(a[1] + 4 <= b[0] for a, b in zip(axis, axis[1:])), axis  # none touch
        # the devices table is cards: no header row, each cell the card's width, labelled
        assert not page.is_visible("#devices table thead, section table.cards thead")
        cell = page.locator("table.cards tbody tr td[data-label]").first
        cb = cell.bounding_box()
        assert cb and cb["width"] >= 300
        label = cell.evaluate("(td) => getComputedStyle(td, '::before').content")
        assert label.strip('"') == page.locator("table.cards thead th").first.inner_text()
        # the homes list: a card per home, the long address on a few lines, not fifteen
        page.goto(console.url + "/homes")
        addr = page.locator("table.homes td[data-label]", has_text="电梯到 15 楼").bounding_box()
        assert addr and addr["height"] <= 4 * 24, addr
        # a button on a phone is a tap target
        filt = page.locator("form.filters button[type=submit]").bounding_box()
        assert filt and filt["height"] >= 44
        # on a laptop the same list is a table again, with its header
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(console.url + "/homes")
        assert page.is_visible("table.homes thead")
        page.goto(f"{console.url}/homes/{lived_in['A2']}")
        assert_chart_text_readable(page)
    finally:
        ctx.close()


def test_unknown_path_is_a_styled_404_in_the_readers_language(chromium,  # noqa: ANN001
                                                             console: ServerThread) -> None:
    ctx = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        r = page.goto(console.url + "/nowhere/at/all")
        assert r is not None and r.status == 404
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BG
        assert page.locator("#error h1").inner_text() == "没有找到这个页面"
        back = page.locator("#error a.button")
        assert back.get_attribute("href") == "/board" and back.inner_text() == "回到告警看板"
        assert page.evaluate("getComputedStyle(document.querySelector('#error')).textAlign") \
            == "center"
    finally:
        ctx.close()
    en = httpx.get(console.url + "/nowhere", cookies={"lang": "en"})
    assert en.status_code == 404 and "Page not found" in en.text
    assert "Back to the alert board" in en.text
    api = httpx.get(console.url + "/api/v1/nowhere")
    assert api.status_code == 404 and api.json() == {"status": 404, "title": "not found"}


def test_favicon_is_served(console: ServerThread) -> None:
    for path in ("/static/favicon.svg", "/favicon.ico"):
        r = httpx.get(console.url + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("image/svg+xml"), r.headers
        assert r.text.lstrip().startswith("<svg") and "#2364aa" in r.text


def test_an_unhandled_error_is_a_styled_500_without_the_traceback(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(ConsoleConfig(db_url))

    async def broken(request: Request) -> None:
        raise RuntimeError("db password=hunter2 in a traceback")

    app.router.routes.insert(0, Route("/broken", broken))
    app.router.routes.insert(0, Route("/api/v1/broken", broken))
    server = ServerThread(app).start()
    try:
        with caplog.at_level(logging.ERROR, logger="anju.console"):
            page = httpx.get(server.url + "/broken")
            api = httpx.get(server.url + "/api/v1/broken")
    finally:
        server.stop()
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "系统出了点问题" in page.text and 'href="/static/console.css"' in page.text
    assert "hunter2" not in page.text and "Traceback" not in page.text
    assert "content-security-policy" in page.headers
    assert api.status_code == 500 and api.json()["title"] == "internal error"
    assert "hunter2" not in api.text
    assert any("hunter2" in (r.exc_text or "") or (r.exc_info and "hunter2" in str(r.exc_info[1]))
               for r in caplog.records), "the error is logged on the server"
