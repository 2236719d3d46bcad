"""Reads that may lag (a home's charts) go to database_read_url when the console has one
(a streaming replica in a cluster); everything else, and the scoping check before the
charts, to the primary. Real console (uvicorn) and PostgreSQL; the 'replica' here is the
same server under another application_name, so which pool ran a query can be seen in
pg_stat_activity."""

from __future__ import annotations

from typing import Iterator

import psycopg
import pytest

from console.app import ConsoleConfig, create_app
from tests.console_world import ServerThread, World, sign_in

READ_APP = "anju-console-read"


@pytest.fixture(scope="module")
def split_console(db_url: str) -> Iterator[ServerThread]:
    sep = "&" if "?" in db_url else "?"
    s = ServerThread(create_app(ConsoleConfig(
        db_url, read_url=f"{db_url}{sep}application_name={READ_APP}"))).start()
    yield s
    s.stop()


def _read_queries(conn: psycopg.Connection) -> list[str]:
    return [q for (q,) in conn.execute(
        "SELECT query FROM pg_stat_activity WHERE application_name = %s", (READ_APP,))]


def test_charts_are_read_through_the_read_url(split_console: ServerThread, world: World,
                                              conn: psycopg.Connection) -> None:
    c = sign_in(split_console.url, world.users["opA"])
    home = world.home["A1"]
    r = c.get(f"/api/v1/homes/{home}/usage")
    assert r.status_code == 200, r.text[:300]
    assert any("readings" in q or "rollup" in q for q in _read_queries(conn)), \
        _read_queries(conn)
    # the scoping check is the primary's: another community's home is refused as before
    assert c.get(f"/api/v1/homes/{world.home['B1']}/usage").status_code in (403, 404)
    r = c.get(f"/homes/{home}")
    assert r.status_code == 200 and "<svg" in r.text
