"""Validation messages in the reader's language, forms that keep what was typed.

Every validation path of the console says what is wrong in zh-CN (the default) or English
(the lang cookie); the JSON API keeps English messages and adds the catalog key as `code`;
a form refused keeps every field's value and puts its error beside the field (autofocus
there); a refused POST says the action is not allowed, a refused view that it may not be
seen; a bad configuration names the setting and what it may be, in the operator's language.
"""

from __future__ import annotations

import ast
import re
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from alerts.lifecycle import TransitionError
from alerts.policy import PolicyError, parse, parse_steps
from anju import i18n, settings as anju_settings
from anju.typed_config import Refused, cli_lang
from console import admin, errors, fields, manage, visits
from console.actions import transition_msg
from console.errors import Msg, Sent
from console.web import Invalid
from detectors.config import ConfigError, from_dict
from tests.console_world import ServerThread, World, sign_in

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
ENGLISH = re.compile(r"\b(expected|required|must|characters|number|one of|not a)\b", re.I)
ERROR = re.compile(r'class="error[^"]*"(?: id="[^"]*")?(?: data-field="([^"]*)")?>([^<]+)<')


def zh_ok(s: str) -> bool:
    return bool(CJK.search(s)) and not ENGLISH.search(s)


# -- the messages, without a server ------------------------------------------------------


def _collect() -> list[tuple[str, Any]]:
    """(what, message) for every kind of refusal the console's validators give."""
    out: list[tuple[str, Any]] = []

    def read(cls: type, params: dict[str, Any]) -> None:
        errs: dict[str, Any] = {}
        fields.read(cls, params, errs)
        out.extend((f"{cls.__name__}.{k}", v) for k, v in errs.items())

    read(visits.VisitInput, {"outcome": "nope", "note": "x" * 1001})   # choice, too_long
    read(visits.ScheduleInput, {"kind": "patrol", "every_days": "x"})   # whole_number
    read(visits.ScheduleInput, {"kind": "patrol", "every_days": "999"})  # range
    read(visits.ScheduleInput, {"every_days": "7"})                    # required
    read(manage.Away, {"action": "later"})                               # choice (words)
    read(manage.NewContact, {"name": ["a"], "urls": "x"})                # text
    for fn, body in ((visits.visit_input, {"outcome": "concern", "visited_at": "soon"}),
                     (visits.visit_input, {"outcome": "all_well",
                                           "visited_at": "1999-01-01T00:00:00"}),
                     (visits.schedule_input, {"kind": "patrol", "every_days": 7,
                                              "first_due": "2026-13-01", "active": 3}),
                     (visits.schedule_input, {"kind": "patrol", "every_days": 7,
                                              "first_due": "2200-01-01"}),
                     (manage.parse_settings, ""), (manage.parse_settings, "x" * 4001),
                     (manage.parse_settings, "no equals sign")):
        try:
            fn(body)
        except Invalid as e:
            out.extend((fn.__name__, v) for v in e.errors.values())
        else:
            raise AssertionError(f"{fn.__name__}({body!r}) accepted")
    errs: dict[str, Any] = {}
    admin._clock({}, "starts", errs)
    admin._clock({"ends": "25:99"}, "ends", errs)
    admin._days({"days": "sun-mon"}, errs)
    admin.check_tz({"tz": "Mars/Olympus"}, errs)
    manage._local({"until": "tomorrow"}, "until", "Asia/Shanghai", errs)
    manage._local({"start": "1900-01-01"}, "start", "Asia/Shanghai", errs)
    out.extend(("admin/manage", v) for v in errs.values())
    for settings in ({"inactivity.floor_min": 5}, {"inactivity.floor_min": "x"},
                     {"bogus.x": 1}, {"inactivity.floor_min": 700, "inactivity.cap_min": 600},
                     {"doors.night_from": 3, "doors.night_to": 3}, {"enabled": ["zzz"]}):
        with pytest.raises(ConfigError) as ce:
            from_dict(settings)
        out.append((f"detector {settings}", errors.config_msg(ce.value)))
    for bad in (lambda: parse_steps("x"), lambda: parse_steps("a:family"),
                lambda: parse({"steps": [{"after_s": 0, "notify": ["cousin"]}]}),
                lambda: parse({"steps": [{"after_s": 0, "notify": ["family"]}],
                               "repeat_s": 3}),
                lambda: parse({"steps": [{"after_s": "x", "notify": ["family"]}]})):
        with pytest.raises(PolicyError) as pe:
            bad()
        out.append(("policy", errors.policy_msg(pe.value)))
    from alerts.contacts import ContactError, check_url
    for url in ("no-scheme", "nosuch://x"):
        with pytest.raises(ContactError) as ke:
            check_url(url)
        out.append(("contact url", errors.contact_msg(ke.value)[1]))
    from anju import registry
    out.append(("home exists", errors.provisioning_msg(
        registry.ProvisioningError("home 'h-1' already exists"))[1]))
    out.append(("resolved", transition_msg(TransitionError("the alert is already resolved"))))
    out.append(("json", Msg("invalid.json_object")))
    return out


def test_every_validation_message_reads_in_chinese_and_in_english() -> None:
    found = _collect()
    keys = {m.key for _, m in found}
    assert len(keys) >= 30, sorted(keys)
    for what, m in found:
        assert isinstance(m, Msg), (what, m)
        zh, en = m.text("zh-CN"), m.text("en")
        assert i18n.has("zh-CN", m.key) and i18n.has("en", m.key), m.key
        assert zh_ok(zh), (what, m.key, zh)
        assert not CJK.search(en) and re.search(r"[a-z]{3}", en), (what, m.key, en)
        assert str(m) == en
    # choices are named in the reader's words, not by their codes
    outcome = next(m for w, m in found if w == "VisitInput.outcome")
    assert "发现问题" in outcome.text("zh-CN") and "not_home" not in outcome.text("zh-CN")
    away = next(m for w, m in found if w == "Away.action")
    assert "标记外出" in away.text("zh-CN")
    role = next(m for w, m in found if w == "policy" and m.key == "invalid.policy_role")
    assert "家属" in role.text("zh-CN") and "family" in role.text("en")


def test_every_message_key_in_the_code_is_in_both_languages() -> None:
    """Msg("invalid.…") literals in console/ are all in the catalog (the catalog test
    scans text()/w() calls only)."""
    keys: set[str] = set()
    for path in (ROOT / "console").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Msg"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                keys.add(node.args[0].value)
    assert len(keys) >= 30
    missing = sorted(k for k in keys for lang in i18n.LANGS if not i18n.has(lang, k))
    assert missing == []


def test_a_form_state_keeps_one_form_and_focuses_its_first_error() -> None:
    s = Sent("visit", {"note": "<b>typed</b>", "outcome": "concern"},
             {"outcome": "错", "note": "太长"})
    assert s.value("visit", "note") == "<b>typed</b>"
    assert s.value("schedule", "note", "default") == "default"      # another form
    assert str(s.selected("visit", "outcome", "concern")) == " selected"
    assert str(s.selected("visit", "outcome", "all_well")) == ""
    first, second = s.attrs("visit", "outcome"), s.attrs("visit", "note")
    assert "autofocus" in first and "autofocus" not in second and "aria-invalid" in second
    assert "太长" in s.error("visit", "note") and s.others("visit") == [("outcome", "错")]
    assert "&lt;x&gt;" in Sent("a", {}, {"f": "<x>"}).error("a", "f")   # escaped


def test_config_refusals_name_the_key_and_the_fix_in_the_operators_language(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_lang({"LANG": "zh_CN.UTF-8"}) == "zh-CN"
    assert cli_lang({"ANJU_LANG": "en", "LANG": "zh_CN.UTF-8"}) == "en"
    assert cli_lang({"LANG": "C.UTF-8"}) == "en" and cli_lang({}) == "en"
    with pytest.raises(ConfigError) as ce:
        from_dict({"inactivity.floor_min": 5})
    refused = ce.value.__context__
    assert isinstance(refused, Refused)
    assert refused.text("en") == str(refused) == "inactivity.floor_min=5: expected 30..720 minutes"
    zh = refused.text("zh-CN")
    assert "inactivity.floor_min" in zh and "30 到 720 分钟" in zh and zh_ok(zh)
    monkeypatch.delenv("ANJU_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    with pytest.raises(anju_settings.SettingsError) as se:
        anju_settings._settings({"ingest": {"batch_size": 0}})
    assert str(se.value) == "ingest.batch_size=0: expected 1..100000"
    monkeypatch.setenv("ANJU_LANG", "zh-CN")          # an operator who reads Chinese
    with pytest.raises(anju_settings.SettingsError) as se:
        anju_settings._settings({"ingest": {"batch_size": 0}})
    assert str(se.value) == "ingest.batch_size=0：应为 1 到 100000"


# -- the pages and the API ---------------------------------------------------------------


def _client(console: ServerThread, world: World, who: str, lang: str = "zh-CN") -> httpx.Client:
    c = sign_in(console.url, world.users[who])
    if lang != "zh-CN":
        c.cookies.set("lang", lang)
    return c


def _form(html: str, form_id: str) -> str:
    return html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def _errors(page: str) -> list[tuple[str, str]]:
    return [(f, unescape(t).strip()) for f, t in ERROR.findall(page)]


def test_a_refused_visit_note_keeps_what_was_typed(console: ServerThread, world: World) -> None:
    op = _client(console, world, "opA")
    a1 = world.home["A1"]
    note = "老人说头晕，" + "已叮嘱多喝水" * 200             # over 1000 characters
    r = op.post(f"/homes/{a1}/visits", data={"csrf": op.csrf, "outcome": "not_home",
                                             "concern": "门口有快递", "note": note})
    assert r.status_code == 422
    form = _form(r.text, "visit-form")
    assert '<option value="not_home" selected>' in form
    assert f'value="{note}"' in form and 'value="门口有快递"' in form
    after_note = form.split('name="note"', 1)[1]
    assert after_note.split(">", 1)[0].count("autofocus") == 1      # the page opens there
    err = re.search(r'<span class="error field-error" id="visit-note-error" data-field="note">'
                    r'([^<]+)</span>', after_note)
    assert err and zh_ok(err.group(1)) and "1000" in err.group(1)
    # another form on the page keeps its own defaults
    assert 'name="every_days" value="30"' in _form(r.text, "schedule-form")

    en = _client(console, world, "opA", "en")
    r = en.post(f"/homes/{a1}/visits", data={"csrf": en.csrf, "outcome": "concern"})
    assert r.status_code == 422
    errs = dict(_errors(_form(r.text, "visit-form")))
    assert errs["concern"] == "required when the outcome is concern"


def test_a_refused_away_form_keeps_what_was_typed(console: ServerThread, world: World) -> None:
    op = _client(console, world, "opA")
    a1 = world.home["A1"]
    r = op.post(f"/homes/{a1}/away", data={"csrf": op.csrf, "action": "set",
                                           "until": "下周一", "reason": "去女儿家住几天"})
    assert r.status_code == 422
    form = _form(r.text, "away-form")
    assert 'value="去女儿家住几天"' in form and 'value="下周一"' in form
    assert '<option value="set" selected>' in form
    until = form.split('name="until"', 1)[1].split("</label>", 1)[0]
    assert 'aria-invalid="true"' in until and "autofocus" in until
    (field, message), = _errors(until)
    assert field == "until" and zh_ok(message) and "2026-12-01" in message

    en = _client(console, world, "opA", "en")
    r = en.post(f"/homes/{a1}/away", data={"csrf": en.csrf, "action": "set",
                                           "until": "next monday"})
    assert dict(_errors(_form(r.text, "away-form")))["until"].startswith(
        "expected a date or time")


CASES: list[tuple[str, str, dict[str, str], str, str]] = [
    # (path, form id, data, the field in error, its English start)
    ("/homes/{A1}/schedules", "schedule-form", {"kind": "patrol", "every_days": "x"},
     "every_days", "expected a whole number"),
    ("/homes/{A1}/schedules", "schedule-form", {"kind": "patrol", "every_days": "999"},
     "every_days", "expected a number from 1 to 366"),
    ("/homes/{A1}/visits", "visit-form", {"outcome": "maybe"}, "outcome", "expected one of"),
    ("/homes/{A1}/detector", "detector-form", {"settings": "inactivity.floor_min=5"},
     "settings", "inactivity.floor_min=5: expected 30..720 minutes"),
    ("/homes/{A1}/detector", "detector-form", {"settings": "bogus"}, "settings",
     "'bogus': expected KEY=VALUE"),
    ("/homes/{A1}/policies", "policy-form", {"severity": "high", "policy": "soon:family"},
     "policy", "step soon:family: soon is not whole seconds"),
    ("/homes/{A1}/policies", "policy-form", {"severity": "high", "policy": "0:cousin"},
     "policy", "unknown role cousin"),
    ("/homes/{A1}/contacts", "contact-form", {"role": "family", "name": "王芳",
                                              "urls": "not-a-url"},
     "urls", "://: not an apprise URL"),          # the URL redacted, as it is stored
    ("/homes/{A1}/devices", "device-form", {"kind": "door", "heartbeat_s": "5"},
     "heartbeat_s", "expected a number from 10 to 86400"),
    ("/homes/{A1}/edit", "edit-form", {"tz": "Mars/Olympus"}, "tz",
     "expected an IANA time zone"),
    ("/communities/{A}/shifts", "shift-form", {"days": "sun-mon", "starts": "08:00",
                                               "ends": "08:00"},
     "days", "expected weekdays"),
]


def _path(path: str, world: World) -> str:
    return path.format(A1=world.home["A1"], A=world.community_id["A"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_each_form_answers_in_the_readers_language(console: ServerThread, world: World,
                                                   conn: psycopg.Connection, lang: str) -> None:
    from alerts import manage as alert_manage
    # the rota's form shows only when the community has a worker
    alert_manage.add_contact(conn, alert_manage.ContactSpec(
        role="community_worker", name="社工丙", urls=["json://localhost/x"],
        community=world.community["A"]))
    c = _client(console, world, "opA", lang)
    for path, form_id, data, field, english in CASES:
        r = c.post(_path(path, world), data={"csrf": c.csrf, **data})
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
        form = _form(r.text, form_id)
        errs = dict(_errors(form))
        assert field in errs, (path, errs)
        if lang == "zh-CN":
            assert zh_ok(errs[field]), (path, errs[field])
        else:
            assert errs[field].startswith(english), (path, errs[field])
        for name, value in data.items():        # what was typed is still there
            if name not in ("kind", "severity", "role", "action", "outcome"):   # selects
                assert value in form, (path, name)
    # a query refused: the visits due page
    r = c.get("/visits", params={"within": "abc"})
    assert r.status_code == 422
    errs = dict(_errors(r.text))
    assert zh_ok(errs["within"]) if lang == "zh-CN" else errs["within"].startswith(
        "expected a whole number")
    # the new home form (homes list) too
    r = c.post("/homes", data={"csrf": c.csrf, "code": "h-x", "community":
                               world.community["A"], "resident": "张三", "tz": "Nowhere/X"})
    assert r.status_code == 422
    tz = next(t for f, t in _errors(r.text) if f == "tz")
    assert zh_ok(tz) if lang == "zh-CN" else "IANA" in tz


def test_the_api_keeps_english_messages_with_codes(console: ServerThread, world: World) -> None:
    c = _client(console, world, "opA")               # a Chinese reader: the API is English
    h = {"X-CSRF-Token": c.csrf}
    a1 = world.home["A1"]
    r = c.post(f"/api/v1/homes/{a1}/visits", json={"outcome": "maybe", "note": "x" * 1001},
               headers=h)
    assert r.status_code == 422
    errs = {e["field"]: e for e in r.json()["errors"]}
    assert errs["outcome"]["code"] == "invalid.choice"
    assert errs["outcome"]["message"].startswith("expected one of ")
    assert "not home" in errs["outcome"]["message"]        # named, not coded
    assert errs["note"] == {"field": "note", "message": "at most 1000 characters of text",
                            "code": "invalid.too_long"}
    r = c.post(f"/api/v1/homes/{a1}/detector", json={"settings": {"inactivity.floor_min": 5}},
               headers=h)
    e, = r.json()["errors"]
    assert e == {"field": "settings.inactivity.floor_min", "code": "invalid.setting",
                 "message": "inactivity.floor_min=5: expected 30..720 minutes"}
    r = c.post(f"/api/v1/homes/{a1}/visits", content=b"[1]", headers={
        **h, "Content-Type": "application/json"})
    assert r.json()["errors"] == [{"field": "body", "message": "expected a JSON object",
                                   "code": "invalid.json_object"}]


def test_a_refused_post_says_it_is_not_allowed(console: ServerThread, world: World) -> None:
    fam = _client(console, world, "famA2")
    a2 = world.home["A2"]
    r = fam.post(f"/homes/{a2}/visits", data={"csrf": fam.csrf, "outcome": "all_well"})
    assert r.status_code == 403 and "您无权执行此操作" in r.text and "无权查看" not in r.text
    r = fam.post(f"/homes/{a2}/away", data={"csrf": fam.csrf, "action": "set"})
    assert r.status_code == 403 and "您无权执行此操作" in r.text
    # seeing is another matter: a page refused says so
    r = fam.get(f"/communities/{world.community_id['A']}/workers")
    assert r.status_code == 403 and "您无权查看此内容。" in r.text
    en = _client(console, world, "famA2", "en")
    r = en.post(f"/homes/{a2}/visits", data={"csrf": en.csrf, "outcome": "all_well"})
    assert r.status_code == 403 and "You may not do this." in r.text
