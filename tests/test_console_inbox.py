"""The console links the local notification inbox (the demo's) for staff, not for families."""

from __future__ import annotations

from console.app import ConsoleConfig, create_app
from console.users import NewUser, add_user
from tests.test_console_fixtures import PASSWORD, ServerThread, sign_in


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
