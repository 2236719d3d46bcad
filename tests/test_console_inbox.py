"""The console links the local notification inbox (the demo's) for staff, not for families."""

from __future__ import annotations

from console.app import ConsoleConfig, create_app
from console.users import NewUser, add_user
from tests.console_world import PASSWORD, ServerThread, sign_in


def test_inbox_link_for_staff_only(db_url, conn, unique):
    from anju import registry

    home = f"h-{unique}-inbox"
    registry.add_home(conn, code=home, community=f"c-{unique}", resident="张")
    add_user(conn, NewUser(f"op-{unique}", "社工", "operator", communities=(f"c-{unique}",)),
             PASSWORD)
    add_user(conn, NewUser(f"fa-{unique}", "家属", "family", homes=(home,)), PASSWORD)
    server = ServerThread(create_app(ConsoleConfig(db_url, inbox_url="http://127.0.0.1:9/"))
                          ).start()
    try:
        staff = sign_in(server.url, f"op-{unique}").get("/board").text
        family = sign_in(server.url, f"fa-{unique}").get("/homes").text
    finally:
        server.stop()
    assert 'id="inbox"' in staff and "http://127.0.0.1:9/" in staff and "通知收件箱" in staff
    assert 'id="inbox"' not in family


def test_activity_chart_draws_the_learned_normal_band(db_url, conn, unique):
    """Four weeks of a kitchen busy at 08:00: the band marks 08:00 as usual, and the API
    reports the shares; a day with no activity then shows against it."""
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from anju import registry

    home = f"h-{unique}-band"
    hid = registry.add_home(conn, code=home, community=f"c-{unique}-b", resident="李")
    add_user(conn, NewUser(f"opb-{unique}", "社工", "operator", communities=(f"c-{unique}-b",)),
             PASSWORD)
    tz = ZoneInfo("Asia/Shanghai")
    today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    with conn.cursor() as cur:
        for d in range(1, 29):
            at = (today - timedelta(days=d)).replace(hour=8).astimezone(timezone.utc)
            cur.execute("INSERT INTO readings_15m (home_id, bucket, kind, room, n, n_on, vmin,"
                        " vmax, vsum) VALUES (%s, %s, 1, 'kitchen', 5, 5, 1, 1, 5)", (hid, at))
    server = ServerThread(create_app(ConsoleConfig(db_url))).start()
    try:
        c = sign_in(server.url, f"opb-{unique}")
        data = c.get(f"/api/v1/homes/{hid}/activity", params={"window": "7d"}).json()
        svg = c.get(f"/api/v1/homes/{hid}/activity",
                    params={"window": "7d", "format": "svg"}).text
    finally:
        server.stop()
    shares = {(n["room"], n["slot"]): n["share"] for n in data["normal"]}
    assert shares[("kitchen", 32)] > 0.9          # 08:00 is slot 32
    assert ("kitchen", 60) not in shares          # nobody in the kitchen at 15:00
    assert 'class="usual"' in svg and "平时常有活动" in svg
