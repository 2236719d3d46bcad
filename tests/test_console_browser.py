"""The console in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import psycopg
import pytest

from anju import registry
from anju.contract import Kind
from console.users import NewUser, add_user
from tests.console_world import ARGS, CHROMIUM, PASSWORD, ServerThread
from tests.support import open_alert

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Debian chromium")


@pytest.fixture
def browser_page() -> Iterator:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="anju-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS,
                                                   headless=True, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(5000)
        yield page
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def test_board_live_ack_chart_and_language(console: ServerThread, conn: psycopg.Connection,
                                           unique: str, browser_page) -> None:  # noqa: ANN001
    """Sign in; a detector's alert appears live; acknowledge it and the escalation stops;
    the home's chart draws; English is a click away."""
    page = browser_page
    community = f"cbr-{unique}"
    home_code = f"h-{unique}-br"
    home_id = registry.add_home(conn, code=home_code, community=community, resident="王阿姨",
                                building="3", address="3-201")
    pir = registry.add_device(conn, home=home_code, kind="motion", room="kitchen")
    now = datetime.now(timezone.utc)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO readings (ts, seq, value, device_id, kind)"
                        " VALUES (%s, %s, 1, %s, %s)",
                        [(now - timedelta(minutes=20 * i), i, pir.id, int(Kind.MOTION))
                         for i in range(30)])
    add_user(conn, NewUser(f"op-{unique}", "社工", "operator", communities=(community,)),
             PASSWORD)

    page.goto(console.url + "/board")
    page.fill("input[name=username]", f"op-{unique}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/board")
    assert "告警看板" in page.content()
    page.wait_for_selector("#live.ok")           # the event stream is connected

    t0 = time.monotonic()
    aid = open_alert(conn, home_id, kind="button", severity="critical")
    page.wait_for_selector(f"#alert-{aid}", timeout=1000)
    assert time.monotonic() - t0 < 1.0
    assert page.is_visible("#banner")            # the critical cue
    # the router has started the escalation
    conn.execute("INSERT INTO alert_escalations (alert_id, policy, policy_source, due_at,"
                 " started_at) VALUES (%s, %s, 'default', now() + interval '10 minutes', now())",
                 (aid, json.dumps({"steps": []})))

    page.click(f"#alert-{aid} form.ack button")
    page.wait_for_selector(f"#alert-{aid}[data-state=acknowledged]")
    row = conn.execute("SELECT a.state, e.state, a.acknowledged_by FROM alerts a"
                       " JOIN alert_escalations e ON e.alert_id = a.id WHERE a.id = %s",
                       (aid,)).fetchone()
    assert row and row[0] == "acknowledged" and row[1] == "stopped" and "社工" in row[2]
    page.goto(f"{console.url}/alerts/{aid}")
    assert page.get_attribute("#escalation-state", "data-state") == "stopped"

    page.goto(f"{console.url}/homes/{home_id}")
    cells = page.locator("#chart-activity-24h svg rect.cell")
    assert cells.count() > 0
    box = page.locator("#chart-activity-24h svg").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 10

    page.click("#lang-switch")
    page.wait_for_selector("text=Activity by room (last 24 h)")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#chart-activity-24h svg rect.cell").count() == cells.count()
