"""One action, two renderings: what a console route does, declared once, answered as an HTML
page or as JSON under /api/v1 depending on the route.

An Action holds what is the same for both: the roles that may call it, its path ids, its
query (a Struct, read by console.fields) and request body (a Struct, read by the action once
it has checked the scope), and `run`, which calls into data and the domain modules and
returns plain data. A Page turns that data into a template or a redirect; an Api into JSON.
The sign-in, CSRF and the mapping of NotFound / Forbidden / Invalid to answers are web.page's
and web.api's; the scope is checked in the queries (console.sql.scope) and by run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console import fields, web
from console.errors import Msg
from console.web import JSON, Ctx, Forbidden, Invalid


@dataclass(frozen=True)
class Args:
    """What a request brings to an action."""
    id: int | None                  # the path's {id}
    sub: int | None                 # a second path id ({cid}, {sid})
    query: Any                      # the action's query Struct
    errors: dict[str, Any]          # what was wrong in the query: Msg by the action, the
                                    # reader's words once a Page has it (pages show it inline)
    body: Mapping[str, Any]         # the form or the JSON object, read by the action


Run = Callable[[Ctx, Args], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True)
class Action:
    run: Run
    summary: str                            # for the API's description
    roles: tuple[str, ...] | None = None    # None: every signed-in user (in their scope)
    sub: str | None = None                  # the name of a second path id
    query: type | None = None               # a Struct of query parameters
    body: type | None = None                # a Struct of the request body (none: not read)


@dataclass(frozen=True, kw_only=True)
class Api:
    path: str                               # under /api/v1
    method: str = "GET"
    json: Callable[[Any], Any] = lambda result: result
    status: int = 200
    response: type | None = None            # a Struct describing the answer, for OpenAPI
    headers: Mapping[str, str] = field(default_factory=dict)


Render = Callable[[Ctx, Args, Any], Awaitable[Response]]
OnInvalid = Callable[[Ctx, Args, Invalid], Awaitable[Response]]


@dataclass(frozen=True, kw_only=True)
class Page:
    path: str
    method: str = "GET"
    render: Render
    invalid: OnInvalid | None = None        # a form's page again, with its errors (422)


@dataclass(frozen=True)
class Op:
    action: Action
    page: Page | None = None
    api: Api | None = None


API_PREFIX = "/api/v1"


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid({"body": Msg("invalid.json_object")}) from None
    if not isinstance(body, dict):
        raise Invalid({"body": Msg("invalid.json_object")})
    return body


def _check_role(ctx: Ctx, action: Action) -> None:
    if action.roles is not None and ctx.user.role not in action.roles:
        raise Forbidden(action.summary)


async def _args(ctx: Ctx, action: Action, *, api: bool) -> Args:
    _check_role(ctx, action)
    request = ctx.request
    ident = web.path_id(request) if "id" in request.path_params else None
    sub = web.path_id(request, action.sub) if action.sub else None
    errors: web.Errors = {}
    query = fields.read(action.query, request.query_params, errors) if action.query else None
    if api and errors:
        raise Invalid(errors)
    body: Mapping[str, Any] = {}
    if request.method in web.UNSAFE and action.body is not None:
        body = await json_body(request) if api else await request.form()
    return Args(ident, sub, query, errors, body)


def api_endpoint(action: Action, view: Api) -> Callable[[Request], Awaitable[Response]]:
    async def handler(ctx: Ctx) -> Response:
        result = await action.run(ctx, await _args(ctx, action, api=True))
        if isinstance(result, Response):        # a drawing asked for instead of data
            return result
        return JSON(view.json(result), status_code=view.status, headers=dict(view.headers))

    handler.__name__ = f"api_{action.run.__name__}"
    return web.api(handler)


def page_endpoint(action: Action, view: Page) -> Callable[[Request], Awaitable[Response]]:
    """The page's answer. Errors reach templates in the reader's words ({{ errors.x }} stays
    a string): the query's in args.errors, a form's in the Invalid given to view.invalid."""
    async def handler(ctx: Ctx) -> Response:
        args = await _args(ctx, action, api=False)
        try:
            result = await action.run(ctx, args)
        except Invalid as e:
            if view.invalid is None:
                raise
            return await view.invalid(ctx, _worded(args, ctx), Worded(e, ctx.w.lang))
        return await view.render(ctx, _worded(args, ctx), result)

    handler.__name__ = f"page_{action.run.__name__}"
    return web.page(handler)


def _worded(args: Args, ctx: Ctx) -> Args:
    return replace(args, errors=ctx.w.errors(args.errors)) if args.errors else args


class Worded(Invalid):
    """An Invalid whose errors are in the reader's words (`original` keeps the Msgs)."""

    def __init__(self, e: Invalid, lang: str) -> None:
        super().__init__(e.worded(lang))
        self.original = e.errors


def routes(ops: list[Op]) -> list[Route]:
    """Starlette routes: each op's page, then its API endpoint."""
    out = []
    for op in ops:
        if op.page:
            out.append(Route(op.page.path, page_endpoint(op.action, op.page),
                             methods=[op.page.method]))
        if op.api:
            out.append(Route(API_PREFIX + op.api.path, api_endpoint(op.action, op.api),
                             methods=[op.api.method]))
    return out
