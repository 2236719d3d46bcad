"""End to end in the browser: a simulator's incident, through broker, ingest, detectors and
router, appears live on the console's board; acknowledging it there stops the escalation."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from alerts.manage import ContactSpec, add_contact
from anju.endpoints import MqttEndpoint
from console.users import NewUser, add_user
from detectors.service import DetectorService
from devtools.sinks import HttpSink
from simulators import fleet
from simulators import incidents as inc_mod
from simulators.homes import make_fleet
from tests.conftest import sync_broker
from tests.support import running_worker, wait_until
from tests.console_world import ARGS, CHROMIUM, PASSWORD, ServerThread

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Debian chromium")


async def test_simulated_button_press_to_board_to_acknowledged(
        stack, endpoints, db_url, conn, unique, tmp_path, console: ServerThread):  # noqa: F811
    from playwright.async_api import async_playwright

    # a simulated home that has an emergency button
    profile = next(h for h in make_fleet(40, seed=21, prefix=f"b{unique}")
                   if any(d.kind == "button" for d in h.devices))
    community = f"e2e-b-{unique}"
    homes = fleet.provision(conn, [profile], credentials=tmp_path / "c.json",
                            gateway_mode=False, community=community)
    sync_broker(stack, conn)
    sink = HttpSink().start()
    add_contact(conn, ContactSpec(role="family", name="家属", urls=[sink.url(f"/{unique}")],
                                  home=profile.code))
    add_user(conn, NewUser(f"op-{unique}", "社工", "operator", communities=(community,)),
             PASSWORD)
    env = {**os.environ, "ANJU_STATE_DIR": str(stack.state_dir)}
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)
    router = subprocess.Popen([sys.executable, "-m", "anju.cli", "route", "--worker",
                               f"e2e-{unique}", "--poll", "0.2", "--no-watchdog"],
                              env=env, stdout=subprocess.DEVNULL,
                              stderr=(tmp_path / "route.log").open("wb"))
    detector = DetectorService(db_url, refresh_s=0.5)
    stop = asyncio.Event()
    detecting = asyncio.create_task(detector.run(stop))
    profile_dir = tempfile.mkdtemp(prefix="anju-chromium-")
    try:
        await wait_until(lambda: detector._changed is not None, 30)
        async with running_worker(endpoints) as w, async_playwright() as p:
            browser = await p.chromium.launch_persistent_context(
                profile_dir, executable_path=CHROMIUM, args=ARGS, headless=True, locale="zh-CN")
            page = await browser.new_page()
            page.set_default_timeout(10_000)
            await page.goto(console.url + "/board")
            await page.fill("input[name=username]", f"op-{unique}")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit].primary")
            await page.wait_for_url("**/board")
            await page.wait_for_selector("#live.ok")

            # the simulator injects a press of the emergency button, a few seconds ago
            end = int(time.time())
            start = end - 120
            press = inc_mod.make("button", profile, random.Random(1), end - 5, start, end)
            t0 = time.monotonic()
            await fleet.publish_fleet(MqttEndpoint.from_url(stack.mqtt_url()), homes, start,
                                      end + 1, speed=0, incidents={profile.code: [press]})
            row = await page.wait_for_selector("tr[id^=alert-]")
            seen_after = time.monotonic() - t0
            alert_id = int((await row.get_attribute("id")).split("-")[1])
            assert "紧急按钮" in await row.inner_text()

            # the router has told the family and its escalation is running
            await asyncio.to_thread(sink.wait_for, f"/{unique}", 1, 15)
            (state,) = conn.execute("SELECT state FROM alert_escalations WHERE alert_id = %s",
                                    (alert_id,)).fetchone()
            assert state == "running"

            await page.click(f"#alert-{alert_id} form.ack button")
            await page.wait_for_selector(f"#alert-{alert_id}[data-state=acknowledged]")
            await wait_until(lambda: conn.execute(
                "SELECT state FROM alert_escalations WHERE alert_id = %s",
                (alert_id,)).fetchone()[0] == "stopped", 10)
            row = conn.execute("SELECT state, acknowledged_by FROM alerts WHERE id = %s",
                               (alert_id,)).fetchone()
            assert row[0] == "acknowledged" and row[1]
            await browser.close()
        assert seen_after < 5.0, f"{seen_after:.1f} s from publishing to the board"
        assert w.committed_messages > 0
    finally:
        stop.set()
        detector.wake.set()
        await asyncio.wait_for(detecting, 10)
        router.terminate()
        router.wait(20)
        sink.stop()
        shutil.rmtree(profile_dir, ignore_errors=True)
