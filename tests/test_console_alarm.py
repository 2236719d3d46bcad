"""The board's alarm in real headless Chromium: while a critical alert waits for someone to
take it the tone repeats at the interval the operator chose, the title flashes and the
banner stays; acknowledging it stops all three. High alerts ring only when asked to.

The page's clock is Playwright's (page.clock): minutes of alarm pass in a moment, and the
tones counted are exactly those the interval allows."""

from __future__ import annotations

import shutil
import tempfile
from typing import Iterator

import psycopg
import pytest

from anju import registry
from console.users import NewUser, add_user
from tests.console_world import ARGS, CHROMIUM, PASSWORD, ServerThread
from tests.support import open_alert

pytestmark = [pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Debian chromium"),
              pytest.mark.timeout(120)]

SETTINGS = """
localStorage.setItem("anju-sound", "on");
if (!localStorage.getItem("anju-alarm-interval")) localStorage.setItem("anju-alarm-interval", "10");
"""


@pytest.fixture
def page() -> Iterator:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="anju-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, locale="zh-CN",
            args=ARGS + ["--autoplay-policy=no-user-gesture-required"])
        ctx.add_init_script(SETTINGS)
        pg = ctx.new_page()
        pg.set_default_timeout(5000)
        yield pg
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def tones(page) -> int:  # noqa: ANN001
    return int(page.get_attribute("body", "data-tones") or 0)


def alarm(page) -> str:  # noqa: ANN001
    return str(page.get_attribute("body", "data-alarm"))


def titles(page, seconds: int) -> set[str]:  # noqa: ANN001
    seen = set()
    for _ in range(seconds):
        page.clock.run_for(1000)
        seen.add(page.title())
    return seen


def test_alarm_repeats_flashes_and_stops_on_acknowledge(
        console: ServerThread, conn: psycopg.Connection, unique: str, page) -> None:  # noqa: ANN001
    community = f"alarm-{unique}"
    home = registry.add_home(conn, code=f"h-alarm-{unique}", community=community,
                             resident="王秀英", building="1", address="1-101")
    high = open_alert(conn, home, kind="inactivity", severity="high")
    add_user(conn, NewUser(f"op-{unique}", "社工", "operator", communities=(community,)),
             PASSWORD)

    page.clock.install()
    page.goto(console.url + "/board")
    page.fill("input[name=username]", f"op-{unique}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/board")
    page.wait_for_selector("#live.ok")
    page.wait_for_selector(f"#alert-{high}")
    # a high alert alone does not ring (unless asked: below)
    assert alarm(page) == "off" and tones(page) == 0 and not page.is_visible("#banner")

    critical = open_alert(conn, home, kind="button", severity="critical")
    page.wait_for_selector(f"#alert-{critical}")
    page.wait_for_selector("body[data-alarm=on]")
    assert tones(page) == 1                       # at once
    plain = "告警看板 · 安居 · 居家安全"
    assert page.title() == plain or "【紧急】" in page.title()

    # every 10 s (the interval set in this browser), for as long as nobody takes it
    page.clock.run_for(35_000)
    assert tones(page) == 4
    assert page.is_visible("#banner")             # no longer gone after 15 s
    assert "王秀英" in page.inner_text("#banner")
    assert titles(page, 4) == {plain, "【紧急】王秀英 · 告警看板"}

    # the operator picks 30 s: the next tone comes 30 s later, not 10
    page.select_option("#alarm-interval", "30")
    before = tones(page)
    page.clock.run_for(29_000)
    assert tones(page) == before
    page.clock.run_for(2_000)
    assert tones(page) == before + 1
    assert page.evaluate("localStorage.getItem('anju-alarm-interval')") == "30"

    # taking it stops the alarm: no tone, the title stays, the banner goes
    page.click(f"#alert-{critical} form.ack button")
    page.wait_for_selector(f"#alert-{critical}[data-state=acknowledged]")
    page.wait_for_selector("body[data-alarm=off]")
    page.clock.run_for(120_000)
    assert tones(page) == 0 and alarm(page) == "off"
    assert not page.is_visible("#banner")
    assert titles(page, 3) == {plain}
    assert page.input_value("#alarm-interval") == "30"        # kept in this browser

    # asked to, the board rings for high alerts too, until that one is taken as well
    page.check("#alarm-high")
    page.wait_for_selector("body[data-alarm=on]")
    page.clock.run_for(61_000)
    assert tones(page) == 3                       # at once, after 30 s and after 60 s
    page.click(f"#alert-{high} form.ack button")
    page.wait_for_selector(f"#alert-{high}[data-state=acknowledged]")
    page.wait_for_selector("body[data-alarm=off]")
    assert page.is_checked("#alarm-high")


def test_live_updates_keep_the_boards_filter(console: ServerThread, conn: psycopg.Connection,
                                             unique: str, page) -> None:  # noqa: ANN001
    """A board filtered to critical alerts, refreshed live, still shows only critical ones."""
    community = f"flt-{unique}"
    home = registry.add_home(conn, code=f"h-flt-{unique}", community=community,
                             resident="刘大爷", building="2", address="2-202")
    add_user(conn, NewUser(f"opf-{unique}", "社工", "operator", communities=(community,)),
             PASSWORD)
    page.goto(console.url + "/login")
    page.fill("input[name=username]", f"opf-{unique}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/board")
    page.select_option("select[name=severity]", "critical")     # applies at once
    page.wait_for_url("**/board?*severity=critical*")
    page.wait_for_selector("#live.ok")
    high = open_alert(conn, home, kind="inactivity", severity="high")
    critical = open_alert(conn, home, kind="button", severity="critical")
    page.wait_for_selector(f"#alert-{critical}")
    assert page.locator(f"#alert-{high}").count() == 0
    assert page.inner_text("#count") == "1"
    assert page.input_value("select[name=severity]") == "critical"
