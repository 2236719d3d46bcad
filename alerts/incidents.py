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
from alerts.messages import lang_of


def message(community: str, homes: int, devices: int, since: datetime, tz: str, lang: str,
            *, over: bool = False) -> tuple[str, str]:
    at = since.astimezone(ZoneInfo(tz)).strftime("%H:%M")
    if lang_of(lang) == "zh-CN":
        if over:
            return (f"【安居】设备已恢复：{community}",
                    f"{community} 自 {at} 起批量离线的设备已全部恢复。")
        return (f"【安居】设备批量离线：{community} {homes} 户",
                f"{community} 有 {homes} 户共 {devices} 台设备自 {at} 起同时离线，可能是停电或网关"
                "故障。请物业检查供电和网络；未逐户通知家属。")
    if over:
        return (f"[anju] Devices back: {community}",
                f"The devices in {community} that went offline together at {at} are all back.")
    return (f"[anju] Devices offline together: {community}, {homes} homes",
            f"{devices} devices in {homes} homes of {community} went offline together at {at}: "
            "a power cut or a gateway, most likely. Property: please check power and network. "
            "Families were not told home by home.")


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
