"""Reports (as a page, JSON and CSV) and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.responses import Response

from console import data, reports
from console.action import Action, Api, Args, Op, Page
from console.web import Ctx, render

Short = Annotated[str, msgspec.Meta(max_length=64)]
Id62 = Annotated[int, msgspec.Meta(ge=1, le=2**62)]


class ReportQuery(msgspec.Struct, kw_only=True):
    weeks: Annotated[int, msgspec.Meta(ge=1, le=104)] = 8
    community: Short | None = None


class AuditQuery(msgspec.Struct, kw_only=True):
    home: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None
    alert: Id62 | None = None
    username: Short | None = msgspec.field(default=None, name="user")
    action: Short | None = None
    before: Id62 | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


async def report(ctx: Ctx, args: Args) -> dict[str, Any]:
    q: ReportQuery = args.query
    async with ctx.pool.connection() as conn:
        return await reports.build(conn, ctx.user, weeks=q.weeks, community=q.community)


async def report_csv(ctx: Ctx, args: Args) -> dict[str, Any] | None:
    """The report for a CSV download; nothing is read when the query is wrong."""
    return None if args.errors else await report(ctx, args)


async def audit(ctx: Ctx, args: Args) -> list[dict[str, Any]]:
    async with ctx.pool.connection() as conn:
        return await reports.audit_log(conn, ctx.user, msgspec.structs.asdict(args.query))


async def report_page(ctx: Ctx, args: Args, r: dict[str, Any]) -> Response:
    async with ctx.pool.connection() as conn:
        comms = await data.communities(conn, ctx.user)
    return render(ctx.request, "reports.html", 422 if args.errors else 200, w=ctx.w, r=r,
                  f=args.query, errors=args.errors, communities=comms,
                  query=ctx.request.url.query)


def csv_file(section: str) -> Any:
    async def download(ctx: Ctx, args: Args, r: dict[str, Any] | None) -> Response:
        if r is None:
            return Response("; ".join(f"{k}: {v}" for k, v in args.errors.items()), 422)
        name = f"anju-{section}-{r['since']:%Y%m%d}-{r['until']:%Y%m%d}.csv"
        return Response(reports.to_csv(section, r[section]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return download


async def audit_page(ctx: Ctx, args: Args, rows: list[dict[str, Any]]) -> Response:
    return render(ctx.request, "audit.html", 422 if args.errors else 200, w=ctx.w, rows=rows,
                  f=args.query, errors=args.errors)


OPS = [
    Op(Action(run=report, roles=reports.REPORT_ROLES, query=ReportQuery,
              summary="Critical alerts answered within 60 s / 180 s per community and ISO "
                      "week, alerts by kind, device health (admin, operator, property)"),
       page=Page(path="/reports", render=report_page),
       api=Api(path="/reports")),
    *[Op(Action(run=report_csv, roles=reports.REPORT_ROLES, query=ReportQuery,
                summary=f"The report's {section} table as CSV"),
         page=Page(path=f"/reports/{section}.csv", render=csv_file(section)))
      for section in reports.SECTIONS],
    Op(Action(run=audit, roles=reports.AUDIT_ROLES, query=AuditQuery,
              summary="The audit log: all for admins, operators their communities' and "
                      "their own"),
       page=Page(path="/audit", render=audit_page),
       api=Api(path="/audit", json=lambda rows: {"entries": rows})),
]
