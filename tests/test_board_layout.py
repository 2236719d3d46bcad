"""The board and the alert page fit a phone (390x844) and a laptop (1366x768) in real
headless Chromium: nothing overflows sideways and no cell is squeezed to a few characters
(tests/layout_support.assert_fits measures it). On a phone the board's rows and the alert's
deliveries are cards and the acknowledge button is a big tap target."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from typing import Iterator

import psycopg
import pytest

from alerts.manage import ContactSpec, add_contact
from anju import registry
from console.users import NewUser, add_user
from tests.console_world import ARGS, CHROMIUM, PASSWORD, ServerThread
from tests.layout_support import assert_fits
from tests.support import open_alert

pytestmark = [pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Debian chromium"),
              pytest.mark.timeout(120)]

SIZES = [(390, 844), (1366, 768)]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="anju-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS,
                                                   headless=True, locale="zh-CN")
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def _alerts(conn: psycopg.Connection, unique: str) -> tuple[str, list[int]]:
    """A home with a long address, contacts with phones, one alert acknowledged with a
    delivery and its attempts, one open and reaching nobody, one open and critical."""
    community = f"lay-{unique}"
    registry.ensure_community(conn, community, "南岸区南坪街道花园路社区")
    code = f"h-lay-{unique}"
    home = registry.add_home(conn, code=code, community=community, resident="欧阳秀英",
                             building="12栋", address="重庆市南岸区南坪街道花园路社区 12栋 3单元 1502")
    conn.execute("UPDATE homes SET phone = '023-6280 1234' WHERE id = %s", (home,))
    fam = add_contact(conn, ContactSpec(role="family", name="欧阳李娜", home=code,
                                        urls=["mailto://li@example.com"]))
    conn.execute("UPDATE contacts SET phone = '13800000001' WHERE id = %s", (fam,))
    add_contact(conn, ContactSpec(role="property", name="陈师傅", community=community,
                                  urls=["mailto://chen@example.com"]))
    crit = open_alert(conn, home, kind="button", severity="critical")
    still = open_alert(conn, home, kind="inactivity", severity="high",
                       evidence={"last_room": "bathroom", "still_min": 130, "threshold_min": 90})
    conn.execute("UPDATE alerts SET unreached_at = now(), unreached_reason = 'no_contact'"
                 " WHERE id = %s", (still,))
    acked = open_alert(conn, home, kind="smoke", severity="critical")
    now = datetime.now(timezone.utc)
    conn.execute("""INSERT INTO deliveries (key, purpose, alert_id, cycle, step, contact_id,
                    severity, urls, messages, status, next_at, created_at, done_at)
                    VALUES (%s, 'alert', %s, 0, 0, %s, 'critical', %s, '{}', 'undelivered',
                            %s, %s, %s)""",
                 (f"lay-{acked}", acked, fam, ["mailto://li@example.com"], now, now, now))
    conn.execute("""INSERT INTO delivery_attempts (delivery_id, contact_id, channel, target,
                    worker, started_at, finished_at, ok, error)
                    SELECT id, contact_id, 0, 'mailto://a-very-long-mail-host.example.com:2525',
                           'w1', %s, %s, false, 'timed out' FROM deliveries WHERE alert_id = %s""",
                 (now, now, acked))
    conn.execute("UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(),"
                 " acknowledged_by = '社区网格员欧阳 (grid-worker-long-name)' WHERE id = %s",
                 (acked,))
    add_user(conn, NewUser(f"op-{unique}", "社区网格员欧阳", "operator",
                           communities=(community,)), PASSWORD)
    return f"op-{unique}", [crit, still, acked]


def test_board_and_alert_fit_a_phone_and_a_laptop(console: ServerThread, conn: psycopg.Connection,
                                                  unique: str, browser) -> None:  # noqa: ANN001
    user, (crit, still, acked) = _alerts(conn, unique)
    page = browser.new_page()
    page.set_default_timeout(5000)
    page.goto(console.url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/board")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for path in ("/board", "/board?q=%E6%AC%A7%E9%98%B3", f"/alerts/{crit}",
                     f"/alerts/{still}", f"/alerts/{acked}"):
            page.goto(console.url + path)
            page.wait_for_load_state("load")
            assert_fits(page)
        page.goto(console.url + "/board")
        row = page.locator(f"#alert-{crit}").bounding_box()
        button = page.locator(f"#alert-{crit} form.ack button").bounding_box()
        assert row and button
        if width < 720:
            # a card: the whole row is one block, the acknowledge button spans it, big
            assert not page.is_visible("table.alerts thead")
            assert button["width"] >= row["width"] * 0.8 and button["height"] >= 44
            page.goto(f"{console.url}/alerts/{acked}")
            cell = page.locator("#deliveries tr.delivery td").first.bounding_box()
            assert cell and cell["width"] >= width * 0.7          # a card, not a column
        else:
            assert page.is_visible("table.alerts thead")
    page.close()
