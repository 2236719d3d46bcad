"""The acknowledgement page as a family member sees it: a phone (390x844) in real headless
Chromium (Debian's, driven by Playwright), the link from a real notification, the console's
strict CSP in force."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import secrets
import shutil
import tempfile
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from alerts import store
from alerts.router import Router, RouterConfig
from anju import i18n, registry
from devtools.sinks import HttpSink
from tests.console_world import ARGS, CHROMIUM, ServerThread
from tests.router_support import SECRET, community_of, contact, path
from tests.support import open_alert, through_store

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Debian chromium")

SH = "Asia/Shanghai"
ADDRESS = "南岸区南坪街道 3栋 2单元 501"




@pytest.fixture
def phone():  # noqa: ANN201
    """A phone-sized page; CSP violations and page errors are collected in page.problems."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="anju-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, locale="zh-CN",
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
            has_touch=True)
        page = ctx.new_page()
        page.set_default_timeout(5000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.problems = problems  # type: ignore[attr-defined]
        yield page
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def route_once(db_url: str, community_id: int, link_base: str) -> None:
    """One pass of a router (escalation and deliveries) on the real clock, in a thread of
    its own (Playwright's sync API keeps an event loop in this one)."""

    async def go() -> None:
        cfg = RouterConfig(secret=SECRET, link_base=link_base, communities=[community_id],
                           worker=f"page-{secrets.token_hex(2)}", summaries=False)
        async with Router(db_url, cfg) as r:
            await r.tick()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


def no_overflow(page) -> bool:  # noqa: ANN001
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_phone_page_shows_the_alert_acknowledges_and_tells_the_outcome(
        conn: psycopg.Connection, db_url: str, unique: str, ack_console: ServerThread,
        http_sink: HttpSink, phone) -> None:  # noqa: ANN001
    page = phone
    code = f"h-{unique}-ack"
    registry.add_home(conn, code=code, community=f"c-{unique}-ack", resident="王秀英",
                      building="3栋", address=ADDRESS, phone="023 6288 1234")
    dev = registry.add_device(conn, home=code, kind="button", room="bedroom")
    cid, ccode = community_of(conn, code)
    pf, pw = path(), path()
    fam = contact(conn, "family", "张伟", [http_sink.url(pf)], home=code)
    worker = contact(conn, "community_worker", "Li Na", [http_sink.url(pw)], community=ccode,
                     lang="en")
    conn.execute("UPDATE contacts SET phone = '+86 138 0000 1111' WHERE id = %s", (worker,))
    # the button was pressed yesterday evening: the page gives the date too
    opened = datetime.now(timezone.utc) - timedelta(hours=26)
    alert = open_alert(conn, code, at=opened, device_id=dev.id)
    route_once(db_url, cid, ack_console.url)
    link = re.search(r"http://\S+/ack/\S+", http_sink.wait_for(pf)[0].body["message"])
    wlink = re.search(r"http://\S+/ack/\S+", http_sink.wait_for(pw)[0].body["message"])
    assert link and wlink

    page.goto(link.group(0))
    assert page.inner_text("#sentence") == "紧急按钮被按下"
    assert page.inner_text("#resident") == "王秀英"
    address = page.inner_text("#address")
    assert address.startswith(ADDRESS) and address.count("3栋") == 1 and "卧室" in address
    started = i18n.when("zh-CN", opened - timedelta(minutes=1), SH)
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d", started)
    assert page.inner_text("#started") == started
    assert "还没有人接手" in page.inner_text("#status")
    assert "Li Na" in page.inner_text("#people")
    assert page.get_attribute("#people li a[href^='tel:']", "href") == "tel:+8613800001111"
    assert page.locator("a[href='tel:02362881234']").count() == 1
    button = page.locator("#ack-button").bounding_box()
    assert button and button["height"] >= 48, button
    assert button["width"] >= 390 - 2 * 24, button            # the screen's width, not a chip
    # the stylesheet applies under the CSP (no inline style): the button is the accent colour
    assert page.evaluate("getComputedStyle(document.querySelector('#ack-button'))"
                         ".backgroundColor") == "rgb(35, 100, 170)"
    assert no_overflow(page)

    page.fill("#ack-name", "张伟")          # the name typed is the contact's own: said once
    page.click("#ack-button")
    page.wait_for_selector("#done")
    assert "已确认" in page.inner_text("#done")
    assert re.search(r"已由 张伟 接手（\d\d:\d\d）", page.inner_text("#status"))
    assert page.locator("#ack-form").count() == 0
    assert no_overflow(page)

    page.goto(link.group(0))                                   # reopened later
    assert re.search(r"已由 张伟 接手（\d\d:\d\d）", page.inner_text("#status"))
    assert page.locator("#ack-button").count() == 0
    page.goto(wlink.group(0))                                  # the worker's page, in English
    assert page.inner_text("#sentence") == "Emergency button pressed"
    assert re.search(r"张伟 has taken this on \(\d\d:\d\d\)", page.inner_text("#status"))
    assert "张伟" in page.inner_text("#people")

    through_store(conn, lambda a: store.resolve(a, alert, actor="Li Na", channel="api",
                                                outcome="reached_by_phone"))
    page.goto(link.group(0))
    status = page.inner_text("#status")
    assert "已由 张伟 接手" in status and "已处理：电话联系上" in status
    assert no_overflow(page)
    assert [p for p in page.problems if "Content Security Policy" in p or "Refused" in p] == []
    assert conn.execute("SELECT acknowledged_by FROM alerts WHERE id = %s",
                        (alert,)).fetchone() == ("张伟",)
    assert fam


def test_refused_link_page_is_styled_and_in_chinese(ack_console: ServerThread,
                                                    phone) -> None:  # noqa: ANN001
    page = phone
    resp = page.goto(ack_console.url + "/ack/not-a-token")
    assert resp and resp.status in (400, 403)
    assert "链接无效" in page.inner_text("#refused")
    assert no_overflow(page)
