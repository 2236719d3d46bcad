"""Signing in and out, and the language: the pages that come before (or without) a session."""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console import auth, data, i18n
from console.sql import users as users_sql
from console.web import Ctx, current_user, page, remote, render, safe_next, words


def _secure(request: Request) -> bool:
    return bool(request.app.state.secure_cookies) or request.url.scheme == "https"


# -- signing in and out -------------------------------------------------------------


async def login_form(request: Request, *, status: int = 200, error: str | None = None,
                     username: str = "") -> Response:
    token = auth.new_token()
    resp = render(request, "login.html", status, csrf=token, error=error, username=username,
                  next=safe_next(request.query_params.get("next")))
    resp.set_cookie(auth.LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                    secure=_secure(request), path="/login")
    return resp


async def login(request: Request) -> Response:
    if request.method == "GET":
        if await current_user(request):
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return await login_form(request)
    w = words(request)
    form = await request.form()
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:256]
    if not auth.same_token(str(form.get(auth.CSRF_FIELD) or ""),
                           request.cookies.get(auth.LOGIN_CSRF_COOKIE)):
        return await login_form(request, status=403, error=w("bad_form"), username=username)
    where = remote(request)
    pool = request.app.state.pool
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(users_sql.LOCK_LOGIN_REMOTE, (where,))
            cur = await conn.execute(users_sql.LOGIN_FAILURES, {
                "username": username, "remote": where,
                "user_window": auth.LOGIN_USER_WINDOW_S,
                "remote_window": auth.LOGIN_REMOTE_WINDOW_S})
            row = await cur.fetchone()
            assert row
            wait = auth.login_wait(int(row[0]), row[1], int(row[2]), row[3])
            cur = await conn.execute(users_sql.RECORD_LOGIN, (username, where, False, wait > 0))
            attempt = await cur.fetchone()
            assert attempt
        if wait > 0:
            seconds = math.ceil(wait)
            resp = await login_form(request, status=429, username=username,
                                    error=w("too_many").format(wait=_wait_words(w, seconds)))
            resp.headers["Retry-After"] = str(seconds)
            return resp
        cur = await conn.execute(users_sql.USER_FOR_LOGIN, (username,))
        found = await cur.fetchone()
    encoded = found[1] if found and found[2] else None
    ok = await asyncio.to_thread(auth.verify_password, encoded, password)
    if not ok or found is None:
        return await login_form(request, status=401, error=w("bad_login"), username=username)
    async with pool.connection() as conn:
        await conn.execute(users_sql.LOGIN_SUCCEEDED, (attempt[0],))
        if auth.needs_rehash(found[1]):
            await conn.execute(users_sql.SET_PASSWORD_HASH,
                               (auth.hash_password(password), found[0]))
        token = auth.new_token()
        await conn.execute(users_sql.NEW_SESSION, (
            auth.token_hash(token), found[0], auth.new_token(), auth.SESSION_SECONDS, where,
            request.headers.get("user-agent", "")[:200]))
        await conn.execute(users_sql.AUDIT,
                           (found[0], username, "sign_in", None, None, "{}", where))
    resp = RedirectResponse(safe_next(str(form.get("next") or "")), 303)
    resp.set_cookie(auth.SESSION_COOKIE, token, max_age=auth.SESSION_SECONDS, httponly=True,
                    samesite="lax", secure=_secure(request), path="/")
    resp.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
    return resp


def _wait_words(w: i18n.Words, seconds: int) -> str:
    if seconds < 120:
        return w("seconds").format(n=seconds)
    return w("minutes").format(n=math.ceil(seconds / 60))


@page
async def logout(ctx: Ctx) -> Response:
    token = ctx.request.cookies.get(auth.SESSION_COOKIE, "")
    async with ctx.request.app.state.pool.connection() as conn:
        await conn.execute(users_sql.END_SESSION, (auth.token_hash(token),))
        await data.audit(conn, ctx.user, "sign_out", remote=ctx.remote)
    resp = RedirectResponse("/login", 303)
    resp.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                       secure=_secure(ctx.request))
    return resp


async def set_lang(request: Request) -> Response:
    code = request.path_params["code"]
    resp = RedirectResponse(safe_next(request.query_params.get("next")), 303)
    if code in i18n.LANGS:
        resp.set_cookie(auth.LANG_COOKIE, code, max_age=365 * 86400, samesite="lax",
                        secure=_secure(request), path="/")
    return resp


async def root(request: Request) -> Response:
    return RedirectResponse("/board", 303)
