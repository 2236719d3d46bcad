"""The alert page tells the person on duty what to do next, in their language; outcomes are
offered and accepted by role; a refused resolve keeps what was typed; the board filters.

Against the real console (uvicorn), PostgreSQL and the catalog: homes, contacts with phone
numbers, readings and an escalation are written as the services write them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import psycopg
import pytest

from alerts.manage import ContactSpec, add_contact
from anju import registry
from anju.contract import Kind
from console.auth import LANG_COOKIE
from console.users import NewUser, add_user
from tests.console_world import PASSWORD, ServerThread, sign_in
from tests.support import open_alert

pytestmark = pytest.mark.timeout(120)

TZ = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Home:
    code: str
    id: int
    community: str
    alert: int
    users: dict[str, str]


def _home(conn: psycopg.Connection, unique: str) -> Home:
    """A lived-in home: a phone for the resident, family, a community worker whose number is
    only in an SMS URL, a property contact; motion in the bedroom 130 minutes ago; an
    inactivity alert whose escalation next notifies property; a user of every role."""
    community = f"act-{unique}"
    code = f"h-act-{unique}"
    registry.ensure_community(conn, community, "南坪街道")
    home_id = registry.add_home(conn, code=code, community=community, resident="王秀英",
                                building="1栋", address="南岸区·南坪街道 1栋 3-201",
                                phone="023-6280 1234")
    add_contact(conn, ContactSpec(role="family", name="李娜", home=code,
                                  urls=["mailto://li@example.com"], phone="13800000001"))
    add_contact(conn, ContactSpec(role="community_worker", name="张社工", community=community,
                                  urls=["sns://AKIAEXAMPLEKEY/examplesecret/us-east-1/+8613900000002"]))
    add_contact(conn, ContactSpec(role="property", name="陈师傅", community=community,
                                  urls=["mailto://chen@example.com"], phone="13700000003"))
    pir = registry.add_device(conn, home=code, kind="motion", room="bedroom")
    seen = datetime.now(timezone.utc) - timedelta(minutes=130, seconds=20)
    conn.execute("INSERT INTO readings (ts, seq, value, device_id, kind) VALUES (%s, 1, 1, %s, %s)",
                 (seen, pir.id, int(Kind.MOTION)))
    aid = open_alert(conn, home_id, kind="inactivity", severity="critical",
                     evidence={"last_room": "bedroom", "still_min": 130, "threshold_min": 90,
                               "usual_up": "00:01", "learned": True, "rule": "still"})
    policy = {"steps": [{"after_s": 0, "notify": ["family"]},
                        {"after_s": 600, "notify": ["property"]}], "repeat_s": 900}
    conn.execute("INSERT INTO alert_escalations (alert_id, policy, policy_source, next_step,"
                 " steps_done, due_at, started_at) VALUES (%s, %s, %s, 1, 1,"
                 " now() + interval '10 minutes', now())",
                 (aid, json.dumps(policy), f"community:{registry.ensure_community(conn, community)}"))
    users = {}
    for key, spec in {
        "admin": NewUser(f"adm-{unique}", "管理员", "admin"),
        "op": NewUser(f"op-{unique}", "社工", "operator", communities=(community,)),
        "prop": NewUser(f"pr-{unique}", "物业", "property", buildings=((community, "1栋"),)),
        "fam": NewUser(f"fam-{unique}", "家属", "family", homes=(code,)),
    }.items():
        add_user(conn, spec, PASSWORD)
        users[key] = spec.username
    return Home(code, home_id, community, aid, users)


@pytest.fixture
def home(conn: psycopg.Connection, unique: str) -> Home:
    return _home(conn, unique)


class Sections(HTMLParser):
    """The visible text inside elements with the given ids (nested tags included)."""

    def __init__(self, ids: tuple[str, ...]) -> None:
        super().__init__()
        self.ids = ids
        self.text: dict[str, list[str]] = {i: [] for i in ids}
        self.stack: list[str | None] = []
        self.skip = 0

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        ident = dict(attrs).get("id")
        self.stack.append(ident if ident in self.ids else None)
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if self.stack:
            self.stack.pop()
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        for ident in self.stack:
            if ident:
                self.text[ident].append(data)


def sections(html: str, *ids: str) -> dict[str, str]:
    p = Sections(ids)
    p.feed(html)
    return {k: " ".join(" ".join(v).split()) for k, v in p.text.items()}


def test_action_panel_shows_phones_key_holder_activity_and_next_step(
        console: ServerThread, home: Home, conn: psycopg.Connection) -> None:
    c = sign_in(console.url, home.users["op"])
    html = c.get(f"/alerts/{home.alert}").text
    tels = re.findall(r'href="tel:([^"]+)"', html)
    # the resident's, the family's, the worker's (from the SMS URL), the property's
    assert tels == ["023-62801234", "13800000001", "13900000002", "13700000003"]
    panel = sections(html, "action-panel")["action-panel"]
    assert "老人本人 · 王秀英" in panel and "家属 · 李娜" in panel and "物业 · 陈师傅" in panel
    assert "最后活动：卧室，2小时10分钟前" in panel
    assert "平时此时已起床" in panel and "这个时段平时最长1小时30分钟不动" in panel
    holder = re.search(r'id="key-holder">([^<]*)<', html)
    assert holder and holder.group(1) == "陈师傅"                # property holds the key
    due = conn.execute("SELECT due_at FROM alert_escalations WHERE alert_id = %s",
                       (home.alert,)).fetchone()[0]
    assert f"{due.astimezone(TZ):%H:%M} 将通知：物业" in panel
    # the address says each part once
    assert panel.count("南坪街道") == 1 and panel.count("1栋") == 1

    # a relative named as holding the key is the key holder
    conn.execute("UPDATE contacts SET has_key = true WHERE name = '李娜' AND home_id = %s",
                 (home.id,))
    html = c.get(f"/alerts/{home.alert}").text
    assert re.search(r'id="key-holder">李娜<', html)

    # taken: the panel says by whom, and nothing more will be sent
    r = c.post(f"/alerts/{home.alert}/acknowledge", data={"csrf": c.csrf})  # type: ignore
    assert r.status_code == 303
    panel = sections(c.get(f"/alerts/{home.alert}").text, "action-panel")["action-panel"]
    assert "已由 社工 (" in panel and "接手，不再往下通知" in panel
    assert "将通知" not in panel


def _offered(html: str) -> list[str]:
    form = html.split('id="resolve"', 1)[1].split("</form>", 1)[0] if 'id="resolve"' in html else ""
    return re.findall(r'<option value="([a-z_]+)"', form)


def test_outcomes_are_offered_and_enforced_by_role(console: ServerThread, home: Home,
                                                   conn: psycopg.Connection) -> None:
    offered = {}
    for role in ("admin", "op", "prop", "fam"):
        c = sign_in(console.url, home.users[role])
        offered[role] = _offered(c.get(f"/alerts/{home.alert}").text)
    everything = ["visited_all_well", "visited_help_called", "reached_by_phone",
                  "false_alarm", "device_fault"]
    assert offered["admin"] == everything and offered["op"] == everything
    assert offered["prop"] == ["visited_all_well", "visited_help_called", "false_alarm",
                               "device_fault"]
    assert offered["fam"] == ["reached_by_phone", "false_alarm"]

    # the server refuses what the form would not offer: the page says why, in Chinese
    fam = sign_in(console.url, home.users["fam"])
    r = fam.post(f"/alerts/{home.alert}/resolve",
                 data={"csrf": fam.csrf, "outcome": "visited_all_well"})  # type: ignore
    assert r.status_code == 422
    err = re.search(r'id="outcome-error">([^<]+)<', r.text)
    assert err and "家属不能选这个处理结果" in err.group(1) and "电话联系上" in err.group(1)
    r = fam.post(f"/api/v1/alerts/{home.alert}/resolve", json={"outcome": "device_fault"},
                 headers={"X-CSRF-Token": fam.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"
    prop = sign_in(console.url, home.users["prop"])
    r = prop.post(f"/api/v1/alerts/{home.alert}/resolve", json={"outcome": "reached_by_phone"},
                  headers={"X-CSRF-Token": prop.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422
    row = conn.execute("SELECT state FROM alerts WHERE id = %s", (home.alert,)).fetchone()
    assert row and row[0] == "open"
    n_visits = conn.execute("SELECT count(*) FROM visits WHERE home_id = %s",
                            (home.id,)).fetchone()[0]
    assert n_visits == 0                      # no visit recorded for the refused outcome

    # what a family member may say is accepted
    r = fam.post(f"/alerts/{home.alert}/resolve", data={  # type: ignore[attr-defined]
        "csrf": fam.csrf, "outcome": "reached_by_phone", "note": "妈妈在楼下"})
    assert r.status_code == 303
    row = conn.execute("SELECT state, outcome FROM alerts WHERE id = %s",
                       (home.alert,)).fetchone()
    assert row == ("resolved", "reached_by_phone")


def test_a_refused_note_keeps_what_was_typed_and_chosen(console: ServerThread, home: Home,
                                                        conn: psycopg.Connection) -> None:
    c = sign_in(console.url, home.users["op"])
    note = "上门看过，" + "老人一切正常" * 200               # over the 1000 characters
    r = c.post(f"/alerts/{home.alert}/resolve",
               data={"csrf": c.csrf, "outcome": "false_alarm", "note": note})  # type: ignore
    assert r.status_code == 422
    form = r.text.split('id="resolve"', 1)[1].split("</form>", 1)[0]
    assert '<option value="false_alarm" selected>' in form
    assert f'value="{note}"' in form
    # the error is right after the note's field, in the reader's language
    after_note = form.split('name="note"', 1)[1]
    err = re.search(r'<p class="error" id="note-error">([^<]+)</p>', after_note)
    assert err and CJK.search(err.group(1)) and "1000" in err.group(1)
    assert 'aria-invalid="true"' in after_note.split("</label>", 1)[0]
    row = conn.execute("SELECT state FROM alerts WHERE id = %s", (home.alert,)).fetchone()
    assert row and row[0] == "open"


def test_board_filters_and_search(console: ServerThread, home: Home,
                                  conn: psycopg.Connection, unique: str) -> None:
    """Community, severity, state and a search of resident, address and code narrow the
    board, its live rows too; times of other days carry their date; an acknowledged alert
    shows how long it took to be taken, not a waiting time that keeps counting."""
    other = f"oth-{unique}"
    other_home = registry.add_home(conn, code=f"h-oth-{unique}", community=other,
                                   resident="刘大爷", building="2", address="江北区 5-102")
    old = datetime.now(timezone.utc) - timedelta(days=2, hours=1)
    other_alert = open_alert(conn, other_home, kind="button", severity="high", at=old)
    c = sign_in(console.url, home.users["admin"])

    def ids(path: str, **params: str) -> set[int]:
        html = c.get(path, params=params).text
        return {int(i) for i in re.findall(r'<tr id="alert-(\d+)"', html)}

    both = {home.alert, other_alert}
    assert both <= ids("/board")
    assert ids("/board", community=home.community) == {home.alert}
    assert ids("/board", community=other) == {other_alert}
    assert ids("/board", community=home.community, severity="high") == set()
    assert ids("/board", community=other, severity="high") == {other_alert}
    for q in ("王秀英", "南坪街道 1栋", home.code.upper()):
        assert ids("/board", q=q) & both == {home.alert}, q
    assert ids("/board/rows", q="刘大爷") & both == {other_alert}          # the live rows keep it
    assert ids("/board", q="no such name %_") == set()
    page = c.get("/board", params={"community": other, "q": "刘"}).text
    assert f'<option value="{other}" selected>' in page and 'value="刘"' in page

    # another day's time has its date; the waiting time counts while nobody has taken it
    row = page.split(f'id="alert-{other_alert}"', 1)[1].split("</tr>", 1)[0]
    assert f"{old.astimezone(TZ):%m-%d %H:%M}" in row
    assert 'class="waiting">2天' in row
    ack = sign_in(console.url, home.users["op"])
    ack.post(f"/alerts/{home.alert}/acknowledge", data={"csrf": ack.csrf})  # type: ignore
    assert ids("/board", state="acknowledged", community=home.community) == {home.alert}
    assert ids("/board", state="open", community=home.community) == set()
    row = c.get("/board", params={"q": "王秀英"}).text.split(f'id="alert-{home.alert}"', 1)[1]
    row = row.split("</tr>", 1)[0]
    assert "接手用时" in row and 'class="waiting"' not in row
    # the home's address once, though its community's name and building are in it
    assert '<div class="sub place">南岸区·南坪街道 1栋 3-201</div>' in row


def test_the_alert_page_in_chinese_has_no_english(console: ServerThread, home: Home,
                                                  conn: psycopg.Connection) -> None:
    """The action panel, evidence, escalation with deliveries and timeline read in Chinese:
    no raw evidence keys, delivery states, policy sources, router notes or event verbs."""
    fam = conn.execute("SELECT id FROM contacts WHERE home_id = %s AND role = 'family'",
                       (home.id,)).fetchone()[0]
    now = datetime.now(timezone.utc)
    conn.execute("""INSERT INTO deliveries (key, purpose, alert_id, cycle, step, contact_id,
                    severity, urls, messages, status, next_at, created_at, done_at, note)
                    VALUES (%s, 'alert', %s, 0, 0, %s, 'critical', %s, '{}', 'delivered', %s,
                            %s, %s, 'sent on channel 0')""",
                 (f"t-{home.alert}-c{fam}", home.alert, fam, ["mailto://li@example.com"], now,
                  now, now))
    conn.execute("""INSERT INTO delivery_attempts (delivery_id, contact_id, channel, target,
                    worker, started_at, finished_at, ok, error)
                    SELECT id, contact_id, 0, 'mailto://example.com', 'w1', %s, %s, false,
                           'connection refused' FROM deliveries WHERE alert_id = %s""",
                 (now, now, home.alert))
    conn.execute("INSERT INTO alert_events (alert_id, action, from_state, to_state, actor,"
                 " channel, note) VALUES (%s, 'escalate', 'open', 'open', 'router', 'router',"
                 " 'step 1 of cycle 1: family')", (home.alert,))
    c = sign_in(console.url, home.users["op"])
    r = c.post(f"/alerts/{home.alert}/acknowledge",
               data={"csrf": c.csrf, "note": "已电话联系"})  # type: ignore[attr-defined]
    assert r.status_code == 303
    html = c.get(f"/alerts/{home.alert}").text
    parts = sections(html, "action-panel", "evidence", "deliveries", "timeline")
    data = [home.users["op"], home.code, "mailto://example.com", "mailto://li@example.com"]
    for name, text in parts.items():
        for d in data:
            text = text.replace(d, " ")
        english = re.findall(r"[A-Za-z_]{2,}", text)
        assert english == [], (name, english, text[:300])
        assert CJK.search(text), name
    assert "已送达" in parts["deliveries"] and "社区策略" in parts["deliveries"]
    assert "已发出 1 轮通知" in parts["deliveries"]
    for verb in ("发生告警", "发出通知", "确认接手"):                # the catalog's verbs
        assert verb in parts["timeline"], verb
    assert "长时间无活动" in parts["timeline"]               # the open event's sentence
    assert "已电话联系" in parts["timeline"]                 # a person's note as typed
    assert "通知服务" in parts["timeline"] and "控制台" in parts["timeline"]
    assert "最后活动房间" in parts["evidence"] and "卧室" in parts["evidence"]
    assert "learned" not in html and "rule" not in parts["evidence"]   # internal keys

    # the English page reads in English: the same sections, no Chinese but people's words
    c.cookies.set(LANG_COOKIE, "en")
    html = c.get(f"/alerts/{home.alert}").text
    parts = sections(html, "action-panel", "evidence", "deliveries", "timeline")
    assert re.search(r"Last activity: Bedroom, 2 ?h 10 ?min ago", parts["action-panel"],
                     re.I), parts["action-panel"]
    assert "will notify" not in parts["action-panel"]        # taken: nothing more is sent
    people = ("王秀英", "李娜", "张社工", "陈师傅", "社工", "已电话联系", "南岸区·南坪街道 1栋 3-201")
    for name, text in parts.items():
        for d in people:
            text = text.replace(d, " ")
        assert not CJK.search(text), (name, text[:300])
