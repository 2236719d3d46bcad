"""The router against the real database, a real SMTP server and a real HTTP receiver.

Time is a ManualClock: escalation timing is tested by moving it, not by sleeping.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import psycopg
import pytest

from alerts import manage, store, watchdog
from alerts.contacts import ContactError
from alerts.router import ManualClock, Retry, Router, RouterConfig
from alerts.send import IDEMPOTENCY_HEADER
from alerts.tokens import AckTokenError
from console.app import ConsoleConfig, create_app
from tests.console_world import ServerThread
from tests.router_support import SECRET, community_of, contact, path
from tests.support import open_alert
from devtools.sinks import HttpSink, SmtpSink

SH = ZoneInfo("Asia/Shanghai")




def link_in(text: str) -> str:
    m = re.search(r"http://\S+/ack/\S+", text)
    assert m, text
    return m.group(0)


async def test_critical_alert_reaches_family_and_worker_then_property_after_10_min(
        conn, home_factory, make_router, http_sink: HttpSink, smtp: SmtpSink) -> None:
    """Family by e-mail in Chinese and the worker by webhook in English at once; property at 10 min."""
    home, devs = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    fam_mail = f"zhang-{secrets.token_hex(3)}@example.com"
    p_worker, p_prop = path(), path()
    contact(conn, "family", "张伟", [smtp.url(fam_mail)], home=home)
    contact(conn, "community_worker", "Li Na", [http_sink.url(p_worker)], community=ccode,
            lang="en")
    contact(conn, "property", "物业值班", [http_sink.url(p_prop, "form")], community=ccode)
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now, device_id=devs["button-bedroom"].id,
                       evidence={"presses": 2, "device": devs["button-bedroom"].uid})
    router = await make_router(cid, clock)
    await router.tick()

    mail = smtp.wait_for(fam_mail)[0]
    since = (clock.now - timedelta(minutes=1)).astimezone(SH).strftime("%H:%M")
    assert "紧急" in mail.subject and "测试" in mail.subject      # severity and who
    assert "紧急按钮被按下" in mail.text and "卧室" in mail.text and since in mail.text
    assert "按键次数：2" in mail.text and "/ack/" in mail.text
    assert mail.headers[IDEMPOTENCY_HEADER] == f"a{alert}-r0-s0-c" + mail.headers[
        IDEMPOTENCY_HEADER].split("-c")[1]
    w = http_sink.wait_for(p_worker)[0]
    assert "Emergency button pressed" in w.body["message"] and "URGENT" in w.body["title"]
    assert "/ack/" in w.body["message"]
    assert http_sink.at(p_prop) == []

    clock.advance(599)
    await router.tick()
    assert http_sink.at(p_prop) == []
    clock.advance(2)
    await router.tick()
    prop = http_sink.wait_for(p_prop)[0]
    assert "紧急" in prop.body["title"] and "测试" in prop.body["message"]
    events = conn.execute("SELECT action, note FROM alert_events WHERE alert_id = %s ORDER BY id",
                          (alert,)).fetchall()
    # unacknowledged for over 5 minutes, a critical alert is marked for the operators too
    assert [e[0] for e in events] == ["open", "escalate", "unreached", "operators_untold",
                                      "escalate"]
    assert "family+community_worker" in events[1][1] and "property" in events[4][1]
    attempts = conn.execute(
        "SELECT count(*), bool_and(ok) FROM delivery_attempts t JOIN deliveries d"
        " ON d.id = t.delivery_id WHERE d.alert_id = %s", (alert,)).fetchone()
    assert attempts == (3, True)


async def test_high_alert_steps_at_15_and_30_min_and_repeats_until_acknowledged(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """high: family, +15 min worker, +15 min property, then the chain again."""
    home, _ = home_factory([("motion", "bedroom")])
    cid, ccode = community_of(conn, home)
    pf, pw, pp = path(), path(), path()
    contact(conn, "family", "家属", [http_sink.url(pf)], home=home)
    contact(conn, "community_worker", "社工", [http_sink.url(pw)], community=ccode)
    contact(conn, "property", "物业", [http_sink.url(pp)], home=home)
    clock = ManualClock()
    alert = open_alert(conn, home, kind="inactivity", severity="high", at=clock.now)
    router = await make_router(cid, clock)

    def counts() -> tuple[int, int, int]:
        return len(http_sink.at(pf)), len(http_sink.at(pw)), len(http_sink.at(pp))

    await router.tick()
    assert counts() == (1, 0, 0)
    for seconds, expect in [(899, (1, 0, 0)), (1, (1, 1, 0)), (899, (1, 1, 0)), (1, (1, 1, 1)),
                            (900, (2, 1, 1))]:
        clock.advance(seconds)
        await router.tick()
        assert counts() == expect, seconds
    async with await psycopg.AsyncConnection.connect(conn.info.dsn, password=conn.info.password
                                                     ) as aconn:
        r = await store.acknowledge(aconn, alert, actor="社工", channel="console", now=clock.now)
    assert r.changed
    clock.advance(3600)
    await router.tick()
    # the chain stopped; the family and property hear once who took it, the worker (who
    # acknowledged) does not
    assert counts() == (3, 1, 2)
    assert "社工" in http_sink.at(pf)[-1].body["message"]


async def aconnect(conn: psycopg.Connection) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(conn.info.dsn, password=conn.info.password)


def post(url: str, data: bytes = b"name=%E5%BC%A0%E4%BC%9F") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"),
                                    timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_ack_link_stops_every_step_and_channel_and_cannot_be_replayed(
        conn, db_url: str, home_factory, make_router, http_sink: HttpSink) -> None:
    """GET shows the alert (and uses nothing up); POST acknowledges; the chain stops; replay refused."""
    home, _ = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    pf, pw, pp = path(), path(), path()
    contact(conn, "family", "张伟", [http_sink.url(pf)], home=home)
    contact(conn, "community_worker", "Li Na", [http_sink.url(pw)], community=ccode, lang="en")
    contact(conn, "property", "物业", [http_sink.url(pp)], community=ccode)
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now)
    server = ServerThread(create_app(ConsoleConfig(db_url, ack_secret=SECRET))).start()
    router = await make_router(cid, clock, link_base=server.url)
    try:
        await router.tick()
        link = link_in(http_sink.wait_for(pf)[0].body["message"])
        status, page = await _in_thread(get, link)
        assert status == 200 and "我来处理" in page and "<form" in page
        status, page = await _in_thread(post, link)
        assert status == 200 and "已确认" in page
        status, page = await _in_thread(post, link)
        assert status == 409 and "已被使用" in page
        # the worker's own link still works, and says who was first
        wlink = link_in(http_sink.wait_for(pw)[0].body["message"])
        status, page = await _in_thread(post, wlink, b"")
        assert status == 200 and "already acknowledged by 张伟" in page
        status, _ = await _in_thread(post, wlink.replace("/ack/", "/ack/9") + "x")
        assert status in (400, 403)
    finally:
        server.stop()
    row = conn.execute("SELECT state, acknowledged_by FROM alerts WHERE id = %s",
                       (alert,)).fetchone()
    assert row == ("acknowledged", "张伟")      # the name typed is the contact's own: once
    ev = conn.execute("SELECT actor, channel FROM alert_events WHERE alert_id = %s"
                      " AND action = 'acknowledge'", (alert,)).fetchall()
    assert ev == [("张伟", "link")]
    clock.advance(3600)
    await router.tick()
    assert http_sink.at(pp) == [] and len(http_sink.at(pf)) == 1
    esc = conn.execute("SELECT state, stop_reason FROM alert_escalations WHERE alert_id = %s",
                       (alert,)).fetchone()
    assert esc[0] == "stopped" and "acknowledged by 张伟" in esc[1]


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import asyncio
    return await asyncio.to_thread(fn, *args)


async def test_api_ack_and_expired_forged_links(conn, home_factory, make_router,
                                                http_sink: HttpSink) -> None:
    """The console's function acknowledges once; expired and forged links are refused."""
    home, _ = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    pf = path()
    contact(conn, "family", "家属", [http_sink.url(pf)], home=home)
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now)
    router = await make_router(cid, clock, link_ttl_s=3600)
    await router.tick()
    token = link_in(http_sink.wait_for(pf)[0].body["message"]).rsplit("/", 1)[1]
    async with await aconnect(conn) as a:
        with pytest.raises(AckTokenError) as e:
            await store.acknowledge_link(a, token, secret=SECRET, now=clock.now + timedelta(hours=1))
        assert e.value.reason == "expired"
        with pytest.raises(AckTokenError) as e:
            await store.acknowledge_link(a, token, secret=b"wrong-secret-wrong-secret", now=clock.now)
        assert e.value.reason == "forged"
        first = await store.acknowledge(a, alert, actor="操作员", channel="console", now=clock.now)
        second = await store.acknowledge(a, alert, actor="别人", channel="console", now=clock.now)
    assert first.changed and not second.changed and second.acknowledged_by == "操作员"
    assert conn.execute("SELECT count(*) FROM ack_link_uses WHERE alert_id = %s",
                        (alert,)).fetchone() == (0,)


async def test_failed_channel_is_retried_with_backoff_then_the_next_channel(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """3 tries on a dead channel (at 0, +5 s, +20 s), then the second channel; all recorded."""
    home, _ = home_factory([("button", "bedroom")])
    cid, _ = community_of(conn, home)
    pf = path()
    contact(conn, "family", "家属", ["json://127.0.0.1:1/dead", http_sink.url(pf)], home=home)
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now)
    router = await make_router(cid, clock)
    await router.tick()
    clock.advance(4)
    await router.tick()
    assert conn.execute("SELECT count(*) FROM delivery_attempts t JOIN deliveries d ON"
                        " d.id = t.delivery_id WHERE d.alert_id = %s", (alert,)).fetchone() == (1,)
    clock.advance(1)
    await router.tick()
    clock.advance(19)
    await router.tick()
    assert http_sink.at(pf) == []
    clock.advance(1)
    await router.tick()
    assert len(http_sink.wait_for(pf)) == 1
    rows = conn.execute(
        "SELECT t.channel, t.ok, t.error, t.target FROM delivery_attempts t JOIN deliveries d"
        " ON d.id = t.delivery_id WHERE d.alert_id = %s ORDER BY t.id", (alert,)).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(0, False), (0, False), (0, False), (1, True)]
    assert "Connection error" in rows[0][2] and rows[0][3] == "json://127.0.0.1:1"


async def test_unreachable_contact_is_undelivered_and_escalates_sooner(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """high: the family cannot be reached at all → the worker is told at +25 s, not +15 min."""
    home, _ = home_factory([("motion", "bedroom")])
    cid, ccode = community_of(conn, home)
    pw = path()
    contact(conn, "family", "家属", ["json://127.0.0.1:1/a", "form://127.0.0.1:1/b"], home=home)
    contact(conn, "community_worker", "社工", [http_sink.url(pw)], community=ccode)
    clock = ManualClock()
    alert = open_alert(conn, home, kind="inactivity", severity="high", at=clock.now)
    router = await make_router(cid, clock, retry=Retry(2, (5,)))
    await router.tick()                      # channel 0 try 1
    clock.advance(5)
    await router.tick()                      # try 2 → channel 1 try 1
    clock.advance(5)
    await router.tick()                      # channel 1 try 2 → undelivered → step 2 now
    assert len(http_sink.wait_for(pw)) == 1
    d = conn.execute("SELECT status, note FROM deliveries WHERE alert_id = %s AND step = 0",
                     (alert,)).fetchone()
    assert d[0] == "undelivered" and "all 2 channel(s) failed" in d[1]
    assert conn.execute("SELECT count(*) FROM alert_events WHERE alert_id = %s"
                        " AND action = 'undelivered'", (alert,)).fetchone() == (1,)


async def test_worker_on_duty_is_chosen_and_quiet_hours_hold_low_severity(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """Only the worker whose shift covers now; a low alert waits for the end of quiet hours."""
    home, _ = home_factory([("motion", "bedroom")])
    cid, ccode = community_of(conn, home)
    p_day, p_night, pf = path(), path(), path()
    day = contact(conn, "community_worker", "白班", [http_sink.url(p_day)], community=ccode)
    night = contact(conn, "community_worker", "夜班", [http_sink.url(p_night)], community=ccode)
    manage.add_shift(conn, day, range(1, 8), time(8), time(20))
    manage.add_shift(conn, night, range(1, 8), time(20), time(8))
    contact(conn, "family", "家属", [http_sink.url(pf)], home=home, quiet=(time(22), time(7)))
    manage.set_policy(conn, severity="low", home=home,
                      raw={"steps": [{"after_s": 0, "notify": ["family", "community_worker"]}],
                           "repeat_s": 0})
    clock = ManualClock(datetime(2025, 3, 4, 23, 30, tzinfo=SH).astimezone(timezone.utc))
    open_alert(conn, home, kind="battery_low", severity="low", at=clock.now)
    router = await make_router(cid, clock)
    await router.tick()
    assert len(http_sink.wait_for(p_night)) == 1 and http_sink.at(p_day) == []
    assert http_sink.at(pf) == []           # 23:30 is quiet for the family
    clock.now = datetime(2025, 3, 5, 7, 0, 1, tzinfo=SH).astimezone(timezone.utc)
    await router.tick()
    assert len(http_sink.wait_for(pf)) == 1


async def test_policy_is_frozen_when_the_router_first_sees_the_alert(
        conn, home_factory, make_router, http_sink: HttpSink) -> None:
    """Editing the home's policy afterwards does not change the running escalation."""
    home, _ = home_factory([("button", "bedroom")])
    cid, _ = community_of(conn, home)
    pf, pp = path(), path()
    contact(conn, "family", "家属", [http_sink.url(pf)], home=home)
    contact(conn, "property", "物业", [http_sink.url(pp)], home=home)
    manage.set_policy(conn, severity="critical", home=home,
                      raw=json.loads('{"steps": [{"after_s": 0, "notify": ["family"]},'
                                     ' {"after_s": 60, "notify": ["property"]}], "repeat_s": 0}'))
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now)
    router = await make_router(cid, clock)
    await router.tick()
    manage.set_policy(conn, severity="critical", home=home,
                      raw={"steps": [{"after_s": 0, "notify": ["family"]}], "repeat_s": 0})
    clock.advance(60)
    await router.tick()
    assert len(http_sink.wait_for(pp)) == 1
    src = conn.execute("SELECT policy_source, state FROM alert_escalations WHERE alert_id = %s",
                       (alert,)).fetchone()
    assert src[0].startswith("home:") and src[1] == "finished"


async def test_daily_summary_for_a_family_that_opted_in(conn, home_factory, make_router,
                                                        http_sink: HttpSink) -> None:
    """At 20:00 local, once, in the contact's language, computed from the day's readings."""
    home, devs = home_factory([("motion", "bedroom"), ("motion", "kitchen"), ("door", "entrance"),
                               ("water", "bathroom")])
    cid, _ = community_of(conn, home)
    pe, pz, pn = path(), path(), path()
    contact(conn, "family", "Daughter", [http_sink.url(pe)], home=home, lang="en",
            daily_summary=True)
    contact(conn, "family", "儿子", [http_sink.url(pz)], home=home, daily_summary=True,
            summary_at=time(21))
    contact(conn, "family", "No summary", [http_sink.url(pn)], home=home)

    day = datetime(2025, 3, 4, tzinfo=SH)

    def at(h: int, m: int = 0) -> datetime:
        return day.replace(hour=h, minute=m)

    rows = [(at(6, 40), devs["motion-bedroom"].id, 1, 1), (at(7, 15), devs["motion-kitchen"].id, 1, 1),
            (at(7, 0), devs["water-bathroom"].id, 5, 50.0), (at(7, 30), devs["water-bathroom"].id, 5, 58.0),
            (at(9), devs["door-entrance"].id, 2, 1), (at(10), devs["door-entrance"].id, 2, 1),
            (at(10, 1), devs["motion-bedroom"].id, 1, 1), (at(12), devs["motion-kitchen"].id, 1, 1)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO readings (ts, seq, value, device_id, kind)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [(ts, i, v, d, k) for i, (ts, d, k, v) in enumerate(rows)])
    clock = ManualClock(at(20, 1).astimezone(timezone.utc))
    router = await make_router(cid, clock)
    await router.tick()
    msg = http_sink.wait_for(pe)[0].body
    assert "2025-03-04" in msg["title"] and "Up at about 06:40" in msg["message"]
    assert "Went out: 1 (about 61 min away)" in msg["message"] and "about 8 L" in msg["message"]
    assert "Meals (kitchen activity): 2 of 3" in msg["message"]
    assert http_sink.at(pz) == [] and http_sink.at(pn) == []
    clock.now = at(21, 0).astimezone(timezone.utc)
    await router.tick()
    zh = http_sink.wait_for(pz)[0].body
    assert "今日概况" in zh["title"] and "06:40" in zh["message"]
    assert len(http_sink.at(pe)) == 1         # once a day


async def test_watchdog_tells_operators_once_then_when_recovered(conn, unique: str,
                                                                 http_sink: HttpSink) -> None:
    """A stale service is reported directly (not via the delivery queue), once, then its recovery."""
    ingest, detect = f"ingest-{unique}", f"detectors-{unique}"
    now = datetime.now(timezone.utc)
    beat = ("INSERT INTO service_heartbeats (service, instance, beat_at, progress)"
            " VALUES (%s, %s, %s, 1) ON CONFLICT (service, instance) DO UPDATE"
            " SET beat_at = excluded.beat_at, progress = excluded.progress")
    conn.execute(beat, (ingest, "w1", now - timedelta(minutes=5)))
    conn.execute(beat, (ingest, "w2", now - timedelta(minutes=4)))
    conn.execute(beat, (detect, "d1", now - timedelta(seconds=5)))
    po = path()
    async with await psycopg.AsyncConnection.connect(conn.info.dsn, password=conn.info.password,
                                                     autocommit=True) as a:
        kw = dict(services=[ingest, detect], extra_urls=[http_sink.url(po)],
                  include_contacts=False, stale_s=90)
        r = await watchdog.check(a, now, **kw)
        assert [s for s, _ in r.stale] == [ingest] and r.told == 1
        msg = http_sink.wait_for(po)[0].body
        assert ingest in msg["message"] and "4 min" in msg["message"]
        r = await watchdog.check(a, now + timedelta(seconds=30), **kw)
        assert r.stale == [] and len(http_sink.at(po)) == 1
        conn.execute(beat, (ingest, "w1", now + timedelta(seconds=40)))
        r = await watchdog.check(a, now + timedelta(seconds=45), **kw)
        assert r.recovered == [ingest]
        assert "已恢复" in http_sink.wait_for(po, 2)[1].body["message"]


def test_unparseable_url_and_wrong_scope_are_refused(conn, home_factory) -> None:
    """apprise's reason is in the message; a family member needs a home."""
    home, _ = home_factory([])
    with pytest.raises(ContactError, match="apprise cannot use this URL"):
        contact(conn, "family", "x", ["tgram://"], home=home)
    with pytest.raises(ContactError, match="belongs to a home"):
        contact(conn, "family", "x", ["json://127.0.0.1/"], community="c")
    with pytest.raises(ContactError, match="lang"):
        contact(conn, "family", "x", ["json://127.0.0.1/"], home=home, lang="fr")


async def test_running_router_reacts_at_once_and_its_watchdog_tells_operators(
        conn, db_url: str, home_factory, unique: str, http_sink: HttpSink) -> None:
    """The service loop: NOTIFY wakes it (well under the poll interval); its watchdog reports a
    stopped service straight to the operators' URL."""
    import asyncio
    import time as _time

    home, _ = home_factory([("button", "bedroom")])
    cid, _ = community_of(conn, home)
    pf, po = path(), path()
    contact(conn, "family", "家属", [http_sink.url(pf)], home=home)
    dead = f"detectors-{unique}"
    conn.execute("INSERT INTO service_heartbeats (service, instance, beat_at)"
                 " VALUES (%s, 'd1', now() - interval '10 minutes')", (dead,))
    cfg = RouterConfig(secret=SECRET, link_base="http://127.0.0.1:9", communities=[cid],
                       poll_s=5.0, watchdog=True, watchdog_services=[dead],
                       watchdog_urls=[http_sink.url(po)], worker=f"loop-{unique}")
    router = Router(db_url, cfg)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(router.run(stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.sleep(0.5)
        t0 = _time.time()
        open_alert(conn, home)
        got = await asyncio.to_thread(http_sink.wait_for, pf, 1, 5)
        assert got[0].at - t0 < 2.0          # not waiting for the 5 s poll
        msg = (await asyncio.to_thread(http_sink.wait_for, po, 1, 5))[0].body
        assert dead in msg["message"] and "停止工作" in msg["message"]
        row = conn.execute("SELECT beat_at > now() - interval '1 minute' FROM service_heartbeats"
                           " WHERE service = 'router' AND instance = %s",
                           (cfg.worker,)).fetchone()
        assert row == (True,)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
