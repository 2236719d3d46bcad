"""An alert that reached nobody is first on the board, in red, with the reason in the
reader's language."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from alerts import unreached
from tests.console_world import ServerThread, World, sign_in
from tests.support import open_alert



async def test_unreached_alert_leads_the_board(console: ServerThread, world: World,
                                               conn: psycopg.Connection, db_url: str) -> None:
    quiet = open_alert(conn, world.home["A2"], kind="leak", severity="medium")
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as a:
        assert await unreached.mark(a, quiet, "no_contact", "family+property",
                                    datetime.now(timezone.utc))
    c = sign_in(console.url, world.users["opA"])
    rows = c.get("/board/rows").text
    assert rows.index(f'id="alert-{quiet}"') < rows.index(f'id="alert-{world.alert["A1"]}"'), \
        "a medium alert nobody received comes before a high one that was"
    row = rows[rows.index(f'id="alert-{quiet}"'):].split("</tr>")[0]
    assert "unreached" in row and "无人接收" in row and "家属、物业：没有可通知的联系人" in row
    api = c.get("/api/v1/board").json()["alerts"]
    assert api[0]["id"] == quiet and api[0]["unreached_reason"] == "no_contact"
    c.get("/lang/en")
    row = c.get("/board/rows").text
    row = row[row.index(f'id="alert-{quiet}"'):].split("</tr>")[0]
    assert "Nobody reached" in row and "family, property management: no contact to notify" in row
