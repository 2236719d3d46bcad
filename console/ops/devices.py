"""A device's page for admins: its conformance report (ingest.conformance, the same report
`anju device check` prints) on what the database holds for the last minutes."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Annotated, Any

import msgspec
from starlette.responses import Response

from console.action import Action, Args, Op, Page
from console.data import NotFound
from console.web import Ctx, render
from ingest import conformance as cf

DEVICE_ROLES = ("admin",)
MAX_LINES = 300        # the page lists the latest messages; the report judges them all


class CheckQuery(msgspec.Struct, kw_only=True):
    minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 60


async def device_check(ctx: Ctx, args: Args) -> dict[str, Any]:
    assert args.id is not None
    minutes = args.query.minutes
    until_us = time.time_ns() // 1000
    since_us = until_us - minutes * 60_000_000
    since = datetime.fromtimestamp(since_us / 1e6, timezone.utc)
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(cf.DEVICE_BY_ID, (args.id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"device {args.id}")
        dev, extra = cf.device_info(row)
        cur = await conn.execute(cf.STORED_READINGS, {"device": dev.id, "since": since,
                                                      "limit": 5000})
        readings = await cur.fetchall()
        cur = await conn.execute(cf.STORED_REJECTED, {"uid": dev.uid, "since": since,
                                                      "limit": 1000})
        rejected = await cur.fetchall()
        fleet: list[float] = []
        if dev.kind in cf.METER_DEVICES:
            cur = await conn.execute(cf.FLEET_ARRIVALS, {"kinds": cf.FLEET_KINDS,
                                                         "device": dev.id})
            fleet = cf.fleet_seconds(await cur.fetchall())
    report = cf.stored_report(dev, extra, readings, rejected, since_us=since_us,
                              until_us=until_us, fleet=fleet)
    return {"report": report, "tz": extra["tz"] or "Asia/Shanghai", "minutes": minutes}


async def device_page(ctx: Ctx, args: Args, r: dict[str, Any]) -> Response:
    report: cf.Report = r["report"]
    lang = ctx.w.lang
    shown = report.lines[-MAX_LINES:]
    lines = [{"at": datetime.fromtimestamp(ln.at_us / 1e6, timezone.utc), "topic": ln.topic,
              "leaf": ln.leaf, "read": ln.read_as(lang), "rejected": ln.reject is not None,
              "payload": ln.payload} for ln in reversed(shown)]
    verdicts = [{"requirement": v.requirement, "level": v.level, "code": v.code,
                 "sentence": v.sentence(lang)} for v in report.verdicts]
    return render(ctx.request, "device.html", 422 if args.errors else 200, w=ctx.w,
                  dev=report.device, tz=r["tz"], minutes=r["minutes"], verdicts=verdicts,
                  lines=lines, hidden=len(report.lines) - len(shown),
                  summary=report.summary(lang, r["tz"]), counts=report.counts(),
                  failed=report.failed, errors=args.errors)


OPS = [
    Op(Action(run=device_check, roles=DEVICE_ROLES, query=CheckQuery,
              summary="A device's conformance to the device contract, from stored readings "
                      "and rejected messages (admins)"),
       page=Page(path="/devices/{id}", render=device_page)),
]
