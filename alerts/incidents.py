"""Telling a community's operators and property management of a burst of homes whose
devices went offline together (community_incidents, written by the detector service,
detectors/bursts.py): once when it opens, once when it is over. Directly through apprise,
as the watchdog does; claimed atomically, so several routers tell them once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import psycopg

from alerts import watchdog
from anju import i18n


def message(community: str, homes: int, devices: int, since: datetime, tz: str, lang: str,
            *, over: bool = False) -> tuple[str, str]:
    at = since.astimezone(ZoneInfo(tz)).strftime("%H:%M")
    key = "burst.over" if over else "burst.open"
    fields = dict(community=community, homes=homes, devices=devices, at=at)
    return i18n.text(lang, f"{key}.title", **fields), i18n.text(lang, f"{key}.body", **fields)


async def _targets(conn: psycopg.AsyncConnection, community_id: int) -> list[tuple[str, str]]:
    cur = await conn.execute(
        "SELECT urls[1], lang FROM contacts WHERE active AND ("
        " (role = 'operator' AND (community_id = %s OR community_id IS NULL))"
        " OR (role = 'property' AND community_id = %s)) ORDER BY id",
        (community_id, community_id))
    return [(u, lang) for u, lang in await cur.fetchall()]


async def tell(conn: psycopg.AsyncConnection, communities: list[int] | None,
               extra_urls: Sequence[str] = (), sender: watchdog.Sender | None = None) -> int:
    """Tell new and finished incidents; `conn` in autocommit mode. Returns messages told."""
    told = 0
    for column, over in (("told_at", False), ("over_told_at", True)):
        cur = await conn.execute(
            f"UPDATE community_incidents i SET {column} = now() FROM communities c"
            f" WHERE c.id = i.community_id AND i.{column} IS NULL"
            + (" AND i.closed_at IS NOT NULL AND i.told_at IS NOT NULL" if over else "")
            + " AND (%s::int[] IS NULL OR i.community_id = ANY(%s))"
            " RETURNING i.id, i.community_id, c.name, i.homes, i.devices, i.opened_at",
            (communities, communities))
        rows: list[Any] = await cur.fetchall()
        for iid, cid, name, homes, devices, opened_at in rows:
            targets = await _targets(conn, cid) + [(u, "zh-CN") for u in extra_urls]
            n = 0
            for url, lang in targets:
                title, body = message(name, homes, devices, opened_at, "Asia/Shanghai", lang,
                                      over=over)
                n += await watchdog.tell([url], title, body, f"incident-{iid}-{int(over)}",
                                         sender)
            if n == 0 and targets:
                await conn.execute(f"UPDATE community_incidents SET {column} = NULL"
                                   " WHERE id = %s", (iid,))
            told += n
    return told
