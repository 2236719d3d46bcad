"""Follow-ups: once an alert is acknowledged or resolved, the people already told hear who took
it and then the outcome, each in their own language, exactly once, through real apprise
deliveries to a real SMTP server and a real HTTP receiver; the console and its links are real.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg

from alerts import store
from alerts.followups import person, why_cleared
from alerts.router import ManualClock
from alerts.send import IDEMPOTENCY_HEADER
from anju import i18n
from console import auth
from console.users import NewUser, add_user
from devtools.sinks import HttpSink, SmtpSink
from tests.console_world import PASSWORD, ServerThread, sign_in
from tests.router_support import community_of, contact, path
from tests.support import open_alert, through_store

SH = "Asia/Shanghai"





def operator(conn: psycopg.Connection, community: str, name: str = "李娜") -> str:
    username = f"op-{secrets.token_hex(3)}"
    add_user(conn, NewUser(username, name, "operator", communities=(community,)), PASSWORD)
    return username


def console_post(client: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(url, json=body, headers={auth.CSRF_HEADER: client.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text[:300]
    return r.json()  # type: ignore[no-any-return]


def keys(received: list[Any]) -> list[str]:
    return [r.headers[IDEMPOTENCY_HEADER] for r in received]


async def in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def test_console_ack_then_resolution_reach_each_person_in_their_language(
        conn, home_factory, make_router, ack_console: ServerThread, http_sink: HttpSink,
        smtp: SmtpSink) -> None:
    """Family (zh-CN, e-mail) and worker (en, webhook) told; the operator acknowledges in the
    console: each hears once who took it and when; resolving: each hears the outcome."""
    home, devs = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    fam_mail, pw = f"zhang-{secrets.token_hex(3)}@example.com", path()
    fam = contact(conn, "family", "张伟", [smtp.url(fam_mail)], home=home)
    worker = contact(conn, "community_worker", "Li Na", [http_sink.url(pw)], community=ccode,
                     lang="en")
    clock = ManualClock(datetime.now(timezone.utc))
    alert = open_alert(conn, home, at=clock.now, device_id=devs["button-bedroom"].id)
    router = await make_router(cid, clock, link_base=ack_console.url)
    await router.tick()
    assert len(smtp.wait_for(fam_mail)) == 1 and len(http_sink.wait_for(pw)) == 1

    c = await in_thread(sign_in, ack_console.url, operator(conn, ccode))
    r = await in_thread(console_post, c, f"/api/v1/alerts/{alert}/acknowledge", {})
    assert r["changed"] and r["acknowledged_by"].startswith("李娜")
    at = datetime.fromisoformat(r["acknowledged_at"])
    clock.now = max(clock.now, at) + timedelta(seconds=1)
    await router.tick()
    hhmm = i18n.when("zh-CN", at, SH, now=clock.now)
    mails = smtp.wait_for(fam_mail, 2)
    assert f"已由 李娜 接手（{hhmm}）" in mails[1].text, mails[1].text
    assert "已有人接手" in mails[1].subject and "紧急按钮被按下" in mails[1].text
    assert mails[1].headers[IDEMPOTENCY_HEADER] == f"a{alert}-ack-c{fam}"
    hooks = http_sink.wait_for(pw, 2)
    assert f"李娜 has taken this on ({hhmm})" in hooks[1].body["message"]
    assert "Emergency button pressed" in hooks[1].body["message"]
    assert not re.search(r"[\u4e00-\u9fff]", hooks[1].body["title"].replace("测试", ""))
    assert hooks[1].headers[IDEMPOTENCY_HEADER] == f"a{alert}-ack-c{worker}"

    clock.advance(600)
    await router.tick()                           # nothing more until something happens
    assert len(smtp.wait_for(fam_mail)) == 2 and len(http_sink.at(pw)) == 2

    r = await in_thread(console_post, c, f"/api/v1/alerts/{alert}/resolve",
                        {"outcome": "reached_by_phone", "note": "老人在家，已和女儿通话"})
    assert r["state"] == "resolved"
    clock.advance(60)
    await router.tick()
    mails = smtp.wait_for(fam_mail, 3)
    assert "已处理：电话联系上 — 备注：老人在家，已和女儿通话" in mails[2].text, mails[2].text
    assert "处理人：李娜" in mails[2].text and "已处理完毕" in mails[2].subject
    hooks = http_sink.wait_for(pw, 3)
    assert "Dealt with: reached by phone" in hooks[2].body["message"]
    clock.advance(3600)
    await router.tick()
    await asyncio.sleep(0.3)
    assert len(smtp.wait_for(fam_mail)) == 3 and len(http_sink.at(pw)) == 3
    events = [e[0] for e in conn.execute(
        "SELECT note FROM alert_events WHERE alert_id = %s AND action = 'followup' ORDER BY id",
        (alert,)).fetchall()]
    assert events == ["acknowledged: 2 told (张伟, Li Na)", "resolved: 2 told (张伟, Li Na)"]


async def test_router_restarted_between_queueing_and_sending_sends_each_once(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """The follow-ups are queued by one router, which stops; the next sends each once."""
    home, _ = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    pf, pw = path(), path()
    contact(conn, "family", "张伟", [http_sink.url(pf)], home=home)
    contact(conn, "community_worker", "Li Na", [http_sink.url(pw)], community=ccode, lang="en")
    clock = ManualClock(datetime.now(timezone.utc))
    alert = open_alert(conn, home, at=clock.now)
    first = await make_router(cid, clock)
    await first.tick()
    http_sink.wait_for(pf), http_sink.wait_for(pw)
    through_store(conn, lambda a: store.acknowledge(a, alert, actor="李娜 (lina)",
                                                    channel="console", now=clock.now))
    assert await first.followups_due() == 1          # queued, not sent
    await first.close()                              # the router stops here
    pending = conn.execute("SELECT key, status FROM deliveries WHERE alert_id = %s"
                           " AND purpose = 'followup' ORDER BY key", (alert,)).fetchall()
    assert [s for _, s in pending] == ["pending", "pending"]
    assert http_sink.at(pf)[1:] == [] and http_sink.at(pw)[1:] == []

    second = await make_router(cid, clock)
    assert await second.followups_due() == 0         # already queued: not again
    clock.advance(1)
    await second.tick()
    third = await make_router(cid, clock)            # and another one, for good measure
    clock.advance(120)
    await third.tick()
    await second.tick()
    await asyncio.sleep(0.3)
    got = http_sink.wait_for(pf, 2) + http_sink.wait_for(pw, 2)
    assert Counter(keys(got)) == Counter({k: 1 for k in keys(got)})
    assert len(http_sink.at(pf)) == 2 and len(http_sink.at(pw)) == 2
    assert "已由 李娜 接手" in http_sink.at(pf)[1].body["message"]
    assert conn.execute("SELECT count(*) FROM deliveries WHERE alert_id = %s AND"
                        " purpose = 'followup' AND status = 'delivered'",
                        (alert,)).fetchone() == (2,)


def _post(url: str, data: bytes) -> int:
    req = urllib.request.Request(url, data=data, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return int(r.status)


async def test_who_acknowledged_through_their_link_is_not_told_their_own_news(
        conn, home_factory, make_router, ack_console: ServerThread,
        http_sink: HttpSink) -> None:
    """The family acknowledges by the link: the worker hears it, the family does not; the
    outcome later reaches both."""
    home, _ = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    pf, pw = path(), path()
    contact(conn, "family", "张伟", [http_sink.url(pf)], home=home)
    contact(conn, "community_worker", "Li Na", [http_sink.url(pw)], community=ccode, lang="en")
    clock = ManualClock(datetime.now(timezone.utc))
    alert = open_alert(conn, home, at=clock.now)
    router = await make_router(cid, clock, link_base=ack_console.url)
    await router.tick()
    link = re.search(r"http://\S+/ack/\S+", http_sink.wait_for(pf)[0].body["message"])
    assert link
    assert await in_thread(_post, link.group(0), b"name=") == 200
    clock.advance(5)
    await router.tick()
    hooks = http_sink.wait_for(pw, 2)
    assert "张伟 has taken this on" in hooks[1].body["message"]
    await asyncio.sleep(0.3)
    assert len(http_sink.at(pf)) == 1                # not told of their own acknowledgement
    through_store(conn, lambda a: store.resolve(a, alert, actor="Li Na", channel="api",
                                                outcome="visited_all_well", now=clock.now))
    clock.advance(5)
    await router.tick()
    fam = http_sink.wait_for(pf, 2)
    assert "已处理：上门查看 — 一切安好" in fam[1].body["message"]
    await asyncio.sleep(0.3)
    assert len(http_sink.at(pw)) == 2                # Li Na resolved it herself


async def test_a_condition_that_cleared_by_itself_is_followed_up_shortly(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """Nobody acknowledged; the detector saw the resident move again: one short follow-up."""
    home, _ = home_factory([("motion", "bedroom")])
    cid, _ = community_of(conn, home)
    pz, pe = path(), path()
    contact(conn, "family", "儿子", [http_sink.url(pz)], home=home)
    contact(conn, "family", "Daughter", [http_sink.url(pe)], home=home, lang="en")
    clock = ManualClock(datetime.now(timezone.utc))
    alert = open_alert(conn, home, kind="inactivity", severity="high", at=clock.now)
    router = await make_router(cid, clock)
    await router.tick()
    http_sink.wait_for(pz), http_sink.wait_for(pe)
    home_id = conn.execute("SELECT home_id FROM alerts WHERE id = %s", (alert,)).fetchone()[0]
    cleared = through_store(conn, lambda a: store.clear(
        a, home_id, "inactivity", clock.now + timedelta(minutes=3),
        "Cleared: moved again (bedroom), 09:10."))
    assert cleared == [alert]
    clock.advance(200)
    await router.tick()
    assert "情况已自行解除：已恢复活动" in http_sink.wait_for(pz, 2)[1].body["message"]
    assert "Cleared by itself: moved again" in http_sink.wait_for(pe, 2)[1].body["message"]
    clock.advance(3600)
    await router.tick()
    await asyncio.sleep(0.3)
    assert len(http_sink.at(pz)) == 2 and len(http_sink.at(pe)) == 2


def test_names_and_reasons_read_as_people_say_them() -> None:
    assert person("李娜 (lina)") == "李娜" and person("张伟 (张伟)") == "张伟"
    assert person("张伟 (张小明)") == "张伟 (张小明)" and person("detector") == "detector"
    assert why_cleared("Cleared: the door was closed.", "zh-CN") == "门已关上"
    assert why_cleared("something new", "zh-CN") == ""
    assert why_cleared("Cleared: something new.", "en") == "something new"
