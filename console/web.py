"""What every handler needs: the signed-in user, the language, templates, errors, CSRF."""

from __future__ import annotations

import functools
import ipaddress
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from console import auth, data, i18n
from console.auth import User
from console.errors import Choices, Message, Msg, code, worded

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class Invalid(ValueError):
    """Input that fails validation: field → message (a console.errors.Msg: English in
    str(), the reader's language on pages)."""

    def __init__(self, errors: dict[str, Message]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    def worded(self, lang: str | None) -> dict[str, str]:
        return worded(self.errors, lang)


class Forbidden(PermissionError):
    pass


@dataclass(frozen=True)
class Ctx:
    request: Request
    user: User
    w: i18n.Words

    @property
    def remote(self) -> str:
        return remote(self.request)

    @property
    def via_api(self) -> bool:
        """Asked through /api/v1 (the audit log says so) rather than by a page."""
        return self.request.url.path.startswith("/api/")

    @property
    def pool(self) -> Any:
        return self.request.app.state.pool

    @property
    def read_pool(self) -> Any:
        """For reads that may lag (the charts): a replica's when database_read_url is set,
        else the same pool. Scoping is checked on `pool` first; this one only reads."""
        return self.request.app.state.read_pool


class Proxies:
    """The reverse proxies whose X-Forwarded-For is believed (settings: console.trusted_proxies).

    The rule is uvicorn's, which run() gives the same list: only when the peer is a
    trusted proxy, the client is the right-most address in X-Forwarded-For that is
    not itself a trusted proxy. From anyone else the header is ignored, or a client
    could name a fresh address for every guess and never be throttled.
    """

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks = tuple(ipaddress.ip_network(n) for n in networks)

    def __contains__(self, host: object) -> bool:
        try:
            ip = ipaddress.ip_address(str(host))
        except ValueError:
            return False
        return any(ip in n for n in self.networks)

    def client(self, peer: str, forwarded_for: Iterable[str]) -> str:
        if not self.networks or peer not in self:
            return peer
        hops = [_host(h) for v in forwarded_for for h in v.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in self:
                return hop
        return hops[0] if hops else peer


def _host(hop: str) -> str:
    """An address from one X-Forwarded-For entry, without a port (1.2.3.4:5, [::1]:5)."""
    hop = hop.strip()[:64]
    if hop.startswith("[") and "]" in hop:
        return hop[1:hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":")[0]
    return hop


def remote(request: Request) -> str:
    """The client's address: the peer, or what a trusted proxy says the client is."""
    peer = request.client.host if request.client else ""
    proxies: Proxies | None = getattr(request.app.state, "proxies", None)
    if proxies is None:
        return peer
    return proxies.client(peer, request.headers.getlist("x-forwarded-for"))


def words(request: Request) -> i18n.Words:
    return i18n.Words(i18n.pick_lang(request.cookies.get(auth.LANG_COOKIE)))


async def current_user(request: Request) -> User | None:
    if "user" in request.scope.get("state", {}):
        return request.state.user  # type: ignore[no-any-return]
    token = request.cookies.get(auth.SESSION_COOKIE)
    user = None
    if token and len(token) < 100:
        async with request.app.state.pool.connection() as conn:
            user = await data.session_user(conn, auth.token_hash(token))
    request.state.user = user
    return user


def environment() -> Environment:
    env = Environment(loader=PackageLoader("console", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["tojson_compact"] = lambda v: json.dumps(v, ensure_ascii=False, default=jsonable)
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: Environment = request.app.state.templates
    w = context.pop("w", None) or words(request)
    html = env.get_template(template).render(
        request=request, w=w, lang=w.lang, now=datetime.now(timezone.utc),
        user=getattr(request.state, "user", None), **context)
    return HTMLResponse(html, status_code=status)


def safe_next(target: str | None, default: str = "/board") -> str:
    """Only a path on this site (no //host, no scheme) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, 303)


def jsonable(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (bytes, memoryview)):
        return None
    raise TypeError(f"cannot serialise {type(v).__name__}")


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=jsonable,
                          separators=(",", ":")).encode()


def problem(status: int, title: str, **extra: Any) -> JSON:
    return JSON({"status": status, "title": title, **extra}, status_code=status)


Handler = Callable[[Ctx], Awaitable[Response]]


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An HTML page: signed in or sent to sign in; POSTs carry the session's CSRF token."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        user = await current_user(request)
        w = words(request)
        if user is None:
            if request.method in UNSAFE:
                return render(request, "error.html", 401, w=w, message=w("bad_form"))
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if request.method in UNSAFE:
            form = await request.form()
            if not auth.same_token(str(form.get(auth.CSRF_FIELD) or ""), user.csrf):
                return render(request, "error.html", 403, w=w, message=w("bad_form"))
        try:
            return await handler(Ctx(request, user, w))
        except data.NotFound:
            return render(request, "error.html", 404, w=w, message=w("not_found"))
        except Forbidden:
            # Refused to do something is not refused to see it: the page says which.
            key = "forbidden_action" if request.method in UNSAFE else "forbidden"
            return render(request, "error.html", 403, w=w, message=w(key))
        except Invalid as e:           # a page without its own form to show again
            message = ("；" if w.lang == "zh-CN" else "; ").join(e.worded(w.lang).values())
            return render(request, "error.html", 422, w=w, message=message)

    return wrapped


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON endpoint: 401 when signed out; unsafe methods need the X-CSRF-Token header."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            return problem(401, "sign in first")
        if request.method in UNSAFE and not auth.same_token(
                request.headers.get(auth.CSRF_HEADER), user.csrf):
            return problem(403, "missing or wrong X-CSRF-Token header")
        try:
            return await handler(Ctx(request, user, words(request)))
        except Invalid as e:
            # English messages (clients log them) and the catalog key as a code to act on.
            return problem(422, "invalid input",
                           errors=[{"field": k, "message": str(v), "code": code(v)}
                                   for k, v in e.errors.items()])
        except data.NotFound:
            return problem(404, "not found")
        except Forbidden:
            return problem(403, "forbidden")

    return wrapped


# -- validation ---------------------------------------------------------------------


Errors = dict[str, Message]


def int_param(params: Any, name: str, errors: Errors, *, default: int | None = None,
              lo: int = 0, hi: int = 2**31 - 1) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except (TypeError, ValueError):
        errors[name] = Msg("invalid.whole_number", got=repr(str(raw)[:40]))
        return default
    if not lo <= v <= hi:
        errors[name] = Msg("invalid.range", lo=lo, hi=hi)
        return default
    return v


def choice_param(params: Any, name: str, choices: tuple[str, ...], errors: Errors,
                 default: str | None = None, group: str | None = None) -> str | None:
    """One of choices; the message names them in the reader's words (`group` of the
    catalog, or the first group that names them all)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        errors[name] = Msg("invalid.choice", choices=Choices(choices, group))
        return default
    return str(raw)


def text_param(params: Any, name: str, errors: Errors, *, max_len: int = 200,
               required: bool = False) -> str | None:
    raw = params.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[name] = Msg("invalid.required")
        return None
    if not isinstance(raw, str):
        errors[name] = Msg("invalid.text")
        return None
    if len(raw) > max_len or "\x00" in raw:
        errors[name] = Msg("invalid.too_long", max=max_len)
        return None
    return raw.strip()


def iso_param(params: Any, name: str, errors: Errors, expected: Message) -> datetime | None:
    """An ISO date or date-time as given (naive when it has no offset; the caller knows whose
    clock it is); `expected` is the message for text that is not one."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return datetime.fromisoformat(str(raw)[:40])
    except ValueError:
        errors[name] = expected
        return None


def path_id(request: Request, name: str = "id") -> int:
    """An id from the path; anything that is not a plausible id is simply not found."""
    raw = request.path_params.get(name, "")
    if not str(raw).isdigit() or len(str(raw)) > 18:
        raise data.NotFound(name)
    return int(raw)
