"""Nobody unreached, unseen: a step that reaches no one, or a critical alert nobody
acknowledges, is marked on the alert and told to the community's operators, once,
through real receivers (an SMTP server and an HTTP endpoint, through apprise)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Iterator

import pytest

from alerts import store
from alerts.router import ManualClock, Retry
from alerts.unreached import reason_text
from devtools.sinks import HttpSink, SmtpSink
from tests.router_support import community_of, contact, path
from tests.support import open_alert, through_store

FAMILY_ONLY = {"steps": [{"after_s": 0, "notify": ["family"]},
                         {"after_s": 600, "notify": ["property"]}], "repeat_s": 0}


@pytest.fixture(scope="module")
def sinks() -> Iterator[tuple[HttpSink, SmtpSink]]:
    h, m = HttpSink().start(), SmtpSink().start()
    yield h, m
    h.stop()
    m.stop()


def marks(conn, alert: int) -> tuple:
    return conn.execute("SELECT unreached_reason, unreached_detail, unreached_told_at IS NOT NULL"
                        " FROM alerts WHERE id = %s", (alert,)).fetchone()


async def test_a_step_with_no_contact_tells_the_operators_once(conn, home_factory, make_router,
                                                               sinks) -> None:
    http, smtp = sinks
    home, devs = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    op_mail = f"op-{secrets.token_hex(3)}@example.com"
    contact(conn, "operator", "值班员", [smtp.url(op_mail)], community=ccode)
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now, device_id=devs["button-bedroom"].id)
    router = await make_router(cid, clock)
    t0 = time.monotonic()
    await router.tick()
    mail = smtp.wait_for(op_mail)[0]
    took = time.monotonic() - t0
    assert "无人接收" in mail.subject and "测试" in mail.subject
    assert "没有可通知的联系人" in mail.text and "家属" in mail.text
    assert marks(conn, alert)[0] == "no_contact" and marks(conn, alert)[2]
    clock.advance(30)
    await router.tick()
    clock.advance(30)
    await router.tick()
    time.sleep(0.5)
    assert len(smtp.wait_for(op_mail)) == 1, "told once, not every turn"
    print(f"no contact -> operator's mail in {took:.2f} s")


async def test_every_channel_failing_tells_the_operators(conn, home_factory, make_router,
                                                         sinks) -> None:
    http, smtp = sinks
    failing = HttpSink().start()
    failing.status = 500
    try:
        home, devs = home_factory([("water", "kitchen")])
        cid, ccode = community_of(conn, home)
        conn.execute("INSERT INTO escalation_policies (scope, scope_id, severity, policy)"
                     " VALUES ('community', %s, 'high', %s)", (cid, json.dumps(FAMILY_ONLY)))
        p_op = path()
        contact(conn, "family", "张伟", [failing.url("/a"), failing.url("/b")], home=home)
        contact(conn, "operator", "Duty desk", [http.url(p_op)], community=ccode, lang="en")
        clock = ManualClock()
        alert = open_alert(conn, home, kind="leak", severity="high", at=clock.now)
        router = await make_router(cid, clock, retry=Retry(1, (1,)))
        for _ in range(4):  # each channel tried once, then the next
            await router.tick()
            clock.advance(2)
        got = http.wait_for(p_op)[0]
        assert "Nobody reached" in got.body["title"]
        assert "family: every channel failed" in got.body["message"]
        assert marks(conn, alert)[:2] == ("all_failed", "family")
    finally:
        failing.stop()


async def test_a_critical_alert_unacknowledged_past_the_community_limit(
        conn, home_factory, make_router, sinks) -> None:
    http, smtp = sinks
    home, devs = home_factory([("button", "bedroom")])
    cid, ccode = community_of(conn, home)
    conn.execute("UPDATE communities SET unacked_critical_s = 120 WHERE id = %s", (cid,))
    p_fam, p_op = path(), path()
    contact(conn, "family", "家属", [http.url(p_fam)], home=home)
    contact(conn, "operator", "值班员", [http.url(p_op)], community=ccode)
    clock = ManualClock()
    alert = open_alert(conn, home, at=clock.now, device_id=devs["button-bedroom"].id)
    router = await make_router(cid, clock)
    await router.tick()
    http.wait_for(p_fam)
    assert marks(conn, alert)[0] is None, "the family was reached"
    clock.advance(119)
    await router.tick()
    assert http.at(p_op) == []
    clock.advance(2)
    await router.tick()
    got = http.wait_for(p_op)[0]
    assert "紧急警报 2 分钟无人确认" in got.body["message"]
    assert marks(conn, alert)[0] == "unacknowledged"


def test_reasons_read_in_both_languages() -> None:
    assert reason_text("no_contact", "family+property", "zh-CN") == "家属、物业：没有可通知的联系人"
    assert reason_text("all_failed", "community_worker", "en") == \
        "community worker: every channel failed"
    assert reason_text("unacknowledged", "5", "zh-CN") == "紧急警报 5 分钟无人确认"


async def test_a_community_burst_is_told_to_operators_and_property_once(
        conn, home_factory, make_router, sinks) -> None:
    """What the detector service writes for a power cut (detectors/bursts.py): the operators
    (e-mail) and property (webhook) hear of it once, and once that it is over."""
    http, smtp = sinks
    home, _ = home_factory([("motion", "bedroom")])
    cid, ccode = community_of(conn, home)
    op_mail, p_prop, p_fam = f"op-{secrets.token_hex(3)}@example.com", path(), path()
    contact(conn, "operator", "值班员", [smtp.url(op_mail)], community=ccode)
    contact(conn, "property", "物业", [http.url(p_prop)], community=ccode)
    contact(conn, "family", "家属", [http.url(p_fam)], home=home)
    conn.execute("INSERT INTO community_incidents (community_id, opened_at, homes, devices)"
                 " VALUES (%s, now(), 12, 31)", (cid,))
    clock = ManualClock()
    router = await make_router(cid, clock)
    await router.tick()
    mail = smtp.wait_for(op_mail)[0]
    assert "设备批量离线" in mail.subject and "12 户共 31 台设备" in mail.text
    assert "停电" in http.wait_for(p_prop)[0].body["message"]
    await router.tick()
    conn.execute("UPDATE community_incidents SET closed_at = now() WHERE community_id = %s",
                 (cid,))
    await router.tick()
    await router.tick()
    assert "已全部恢复" in http.wait_for(p_prop, 2)[1].body["message"]
    time.sleep(0.3)
    assert len(smtp.wait_for(op_mail)) == 2 and len(http.at(p_prop)) == 2
    assert http.at(p_fam) == [], "no family told"


async def test_a_backlog_of_notices_is_told_a_few_at_a_time(conn, home_factory, sinks) -> None:
    """After an outage hundreds of alerts may be unreached at once. Telling them all in one
    turn held new emergencies' first messages back (a soak saw 35 s); a turn tells at most
    TELL_PER_TURN, each alert once, and the next turns the rest."""
    from datetime import datetime, timezone

    import psycopg

    from alerts import unreached

    http, _ = sinks
    home, _ = home_factory([("button", "bedroom")])
    cid, _ = community_of(conn, home)
    n = unreached.TELL_PER_TURN + 5
    ids = [open_alert(conn, home, kind=f"backlog_{i}") for i in range(n)]
    for aid in ids:
        through_store(conn, lambda a, aid=aid: store.mark_unreached(
            a, aid, "no_contact", "family", datetime.now(timezone.utc)))
    ops = f"/ops-{secrets.token_hex(3)}"
    told = []
    async with await psycopg.AsyncConnection.connect(conn.info.dsn, autocommit=True,
                                                     password=conn.info.password) as a:
        for _ in range(3):
            told.append(await unreached.tell_operators(a, datetime.now(timezone.utc), [cid],
                                                       [http.url(ops)]))
    assert told == [unreached.TELL_PER_TURN, 5, 0]
    assert len(http.wait_for(ops, n)) == n
    for aid in ids:
        through_store(conn, lambda a, aid=aid: store.resolve(a, aid, actor="测试", outcome="false_alarm"))
