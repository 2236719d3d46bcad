"""Pure parts of the console (charts, words, times) and the resolve form's inline errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from console import charts, i18n
from tests.console_world import ServerThread, World, sign_in


T0 = datetime(2025, 3, 1, 16, 0, tzinfo=timezone.utc)        # 00:00 in Chongqing


def test_activity_chart_draws_a_cell_per_active_step() -> None:
    """Two rooms, three active steps: three cells, rooms labelled, ticks in local time."""
    rows = [("kitchen", T0 + timedelta(minutes=15), 2), ("bedroom", T0, 1),
            ("bedroom", T0 + timedelta(hours=3), 4), ("bedroom", T0 - timedelta(hours=1), 9)]
    svg = charts.activity(rows, since=T0, until=T0 + timedelta(hours=24), tz="Asia/Shanghai",
                          step=timedelta(minutes=15), room_name=i18n.Words("zh-CN").room)
    assert svg.count('class="cell"') == 3
    assert "厨房" in svg and "卧室" in svg and ">03:00<" in svg


def test_empty_charts_say_so() -> None:
    svg = charts.bars([], since=T0, until=T0 + timedelta(hours=24), tz="Asia/Shanghai",
                      step=timedelta(minutes=15), unit="L", empty="暂无数据")
    assert "暂无数据" in svg and 'class="bar"' not in svg


def test_times_show_in_the_homes_zone() -> None:
    """The same moment reads differently in Chongqing and in London."""
    w = i18n.Words("en")
    at = datetime(2024, 1, 2, 3, 4, tzinfo=timezone.utc)
    assert w.time(at, "Asia/Shanghai").endswith("11:04")
    assert w.time(at, "Europe/London").endswith("03:04")
    assert i18n.Words("fr").lang == "zh-CN"


def test_resolve_form_needs_an_outcome(console: ServerThread, world: World,
                                       conn: psycopg.Connection) -> None:
    """Without an outcome the page answers 422 with the message inline; the alert stays."""
    c = sign_in(console.url, world.users["admin"])
    aid = world.alert["B1"]
    r = c.post(f"/alerts/{aid}/resolve", data={"csrf": c.csrf, "outcome": ""})  # type: ignore
    assert r.status_code == 422 and 'class="error"' in r.text
    row = conn.execute("SELECT state FROM alerts WHERE id = %s", (aid,)).fetchone()
    assert row and row[0] == "open"
    r = c.post(f"/alerts/{aid}/resolve", data={"csrf": c.csrf,  # type: ignore
                                               "outcome": "reached_by_phone", "note": "已通话"})
    assert r.status_code == 303
    page = c.get(f"/alerts/{aid}").text
    assert "电话联系上" in page and "已通话" in page
