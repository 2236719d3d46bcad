"""Every page of the console, read in zh-CN by each role, holds no English a person reads.

Visible text (text nodes, placeholders, titles, labels of buttons) is taken from the HTML the
console serves; the world's own data (codes, user names) is taken out first, as it is what
people typed. What is left must be Chinese, numbers and the few Latin tokens the catalog
test allows. The list of pages checked is PAGES below.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Iterator

import psycopg
import pytest

from alerts.manage import set_policy
from anju import registry
from console.auth import LANG_COOKIE
from tests.console_world import World, sign_in
from tests.support import open_alert
from tests.test_i18n_catalog import ZH_LATIN_OK

pytestmark = pytest.mark.timeout(120)

SKIP = {"script", "style", "code", "pre", "svg", "template"}
SHOWN_ATTRS = ("placeholder", "title", "aria-label", "alt")


class Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self._skip += 1
        a = dict(attrs)
        for name in SHOWN_ATTRS:
            if a.get(name):
                self.parts.append(str(a[name]))
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(str(a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def english_in(html: str, data: list[str]) -> list[str]:
    """Latin words a person would read, after the world's own data is taken out."""
    p = Visible()
    p.feed(html)
    leaks = []
    for part in p.parts:
        for d in sorted(data, key=len, reverse=True):
            part = part.replace(d, " ")
        part = re.sub(r"https?://\S+|\S+://\S*|\S+@\S+", " ", part)     # URLs, addresses
        # codes and user names typed by people (other test modules' worlds share the
        # database, and an admin sees them all): h-1a2b, ca-0ed1e5, grid-worker-long-name;
        # the console's own words are never hyphenated codes
        part = re.sub(r"[A-Za-z0-9_.]*[A-Za-z0-9]-[A-Za-z0-9_.-]*", " ", part)
        words = set(re.findall(r"[A-Za-z_]{2,}", part)) - ZH_LATIN_OK
        if words:
            leaks.append(f"{sorted(words)} in {part[:80]!r}")
    return leaks


@pytest.fixture(scope="module")
def rich(world: World, db_url: str) -> World:
    """The world with what the pages show when a home is lived in: a device, a contact, a
    visit schedule, an acknowledged alert with events, an alert with evidence."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        code = world.home_code["A1"]
        pir = registry.add_device(conn, home=code, kind="motion", room="bathroom",
                                  uid=f"pir-{world.tag}")
        world.alert["device:pir"] = pir.id        # the device's page is crawled too
        registry.add_device(conn, home=code, kind="water", room="kitchen",
                            uid=f"wm-{world.tag}")
        # a policy of the home's own and one of its community: their sources read as words
        set_policy(conn, severity="high", home=code,
                   raw={"steps": [{"after_s": 0, "notify": ["family"]},
                                  {"after_s": 600, "notify": ["property"]}], "repeat_s": 0})
        set_policy(conn, severity="low", community=world.community["A"],
                   raw={"steps": [{"after_s": 0, "notify": ["community_worker"]}]})
        world.alert["A1-still"] = open_alert(
            conn, world.home["A1"], kind="inactivity", severity="high",
            evidence={"last_room": "bathroom", "still_min": 130, "threshold_min": 90,
                      "last_activity": "07:10", "learned": True})
    return world


def pages(w: World) -> list[tuple[str, str]]:
    """(role, path): the pages checked for untranslated text."""
    a, h = w.alert, w.home
    return [
        ("admin", "/board"), ("admin", f"/alerts/{a['A1']}"), ("admin", f"/alerts/{a['A1-still']}"),
        ("admin", "/homes"), ("admin", f"/homes/{h['A1']}"), ("admin", "/visits"),
        ("admin", "/reports"), ("admin", "/audit"),
        ("admin", f"/communities/{w.community_id['A']}/workers"),
        ("opA", "/board"), ("opA", f"/alerts/{a['A2']}"), ("opA", f"/homes/{h['A2']}"),
        ("opA", "/visits"), ("opA", "/reports"),
        ("propA1", "/board"), ("propA1", f"/homes/{h['A1']}"),
        ("famA2", "/board"), ("famA2", f"/alerts/{a['A2']}"), ("famA2", f"/homes/{h['A2']}"),
        ("famA2", "/visits"), ("admin", "/no/such/page"), ("famA2", f"/homes/{h['B1']}"),
        ("admin", f"/devices/{w.alert['device:pir']}"),
    ]


def _data(w: World) -> list[str]:
    return ([w.tag] + list(w.community.values()) + list(w.home_code.values())
            + list(w.users.values()) + [f"pir-{w.tag}", f"wm-{w.tag}", "Asia/Shanghai"]
            # names that are not words: a command to type, the contract's field names
            + ["anju device check", "seq", "ts"])


def _clients(console_url: str, w: World) -> Iterator[tuple[str, object]]:
    for role in ("admin", "opA", "propA1", "famA2"):
        yield role, sign_in(console_url, w.users[role])


def test_every_page_reads_in_chinese(console, rich: World) -> None:
    clients = dict(_clients(console.url, rich))
    # an acknowledged alert: its timeline, escalation and deliveries are on the page too
    c = clients["opA"]
    r = c.post(f"/alerts/{rich.alert['A2']}/acknowledge",  # type: ignore[attr-defined]
               data={"csrf": c.csrf, "note": "已电话联系"})  # type: ignore[attr-defined]
    assert r.status_code in (200, 303), r.text[:300]
    found = {}
    for role, path in pages(rich):
        r = clients[role].get(path)  # type: ignore[attr-defined]
        assert r.status_code in (200, 403, 404), (role, path, r.status_code)
        if "<html" not in r.text:
            found[f"{role} {path}"] = [f"not a page: {r.text[:60]!r}"]
            continue
        leaks = english_in(r.text, _data(rich))
        if leaks:
            found[f"{role} {path}"] = leaks[:6]
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_the_english_console_is_english(console, rich: World) -> None:
    # an operator of community A sees this world's homes only (an admin would see every
    # test module's residents, whose Chinese names are data, not words of the console)
    c = sign_in(console.url, rich.users["opA"])
    c.cookies.set(LANG_COOKIE, "en")
    for path in ("/board", f"/alerts/{rich.alert['A1-still']}", f"/homes/{rich.home['A1']}"):
        html = c.get(path).text
        p = Visible()
        p.feed(html)
        text = " ".join(p.parts)
        for d in _data(rich) + ["住户A1", "住户A2", "住户B1", "管理员", "社工甲", "物业甲",
                                "家属乙", "A1 室", "A2 室", "B1 室", "已电话联系", "中文"]:
            text = text.replace(d, " ")
        chinese = re.findall(r"[\u4e00-\u9fff]+", text)
        assert chinese == [], (path, chinese[:10])


def test_a_home_without_devices_is_not_called_all_well(console, db_url: str, world: World) -> None:
    """Nothing installed means nothing is known: 未安装设备, never 正常, and not under 'ok'."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        bare = registry.add_home(conn, code=f"bare-{world.tag}", community=world.community["A"],
                                 resident="无设备住户", building="1", address="空房 101")
        dev = registry.add_home(conn, code=f"dev-{world.tag}", community=world.community["A"],
                                resident="有设备住户", building="1", address="有房 102")
        registry.add_device(conn, home=f"dev-{world.tag}", kind="motion", room="bedroom",
                            uid=f"pir2-{world.tag}")
        conn.execute("UPDATE devices SET online = true, last_seen = now() WHERE home_id = %s",
                     (dev,))
    c = sign_in(console.url, world.users["admin"])
    rows = c.get("/api/v1/homes", params={"q": "无设备住户"}).json()["homes"]
    assert [r["id"] for r in rows] == [bare] and rows[0]["no_devices"] is True
    html = c.get("/homes", params={"q": "无设备住户"}).text
    row = html.rsplit("无设备住户", 1)[1].split("</tr>", 1)[0]
    assert "未安装设备" in row and "正常" not in row
    ok = {r["id"] for r in c.get("/api/v1/homes", params={"status": "ok"}).json()["homes"]}
    assert dev in ok and bare not in ok
    none = {r["id"] for r in c.get("/api/v1/homes",
                                   params={"status": "no_devices"}).json()["homes"]}
    assert bare in none and dev not in none


def test_a_service_in_the_timeline_is_named_not_its_worker(console, rich: World,
                                                           conn: psycopg.Connection) -> None:
    # the router and detectors write "router HOST:PID": a person reads which service acted
    aid = rich.alert["A1"]
    conn.execute("INSERT INTO alert_events (alert_id, action, to_state, actor, channel)"
                  " VALUES (%s, 'notify', 'open', 'router node-7:4242', 'router')", (aid,))
    c = sign_in(console.url, rich.users["admin"])
    html = c.get(f"/alerts/{aid}").text  # type: ignore[attr-defined]
    assert "node-7:4242" not in html
    assert "通知服务" in html
