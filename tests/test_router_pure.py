"""The router's pure parts: policies, tokens, contacts, messages, summaries."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from alerts import policy
from alerts.contacts import ContactError, Shift, check_url, message_format, on_duty, quiet_until
from alerts.messages import AlertView, alert_messages, summary_messages
from alerts.summary import Sample, summarise
from alerts.tokens import AckTokenError, new_nonce, sign_ack_token, verify_ack_token

T = datetime(2025, 3, 4, 6, 5, tzinfo=timezone.utc)          # 14:05 in Shanghai
SH = ZoneInfo("Asia/Shanghai")
SECRET = b"s" * 32


def test_default_policies_follow_the_issue() -> None:
    """critical: family+worker at once, property after 10 min; high: 0/+15/+15; low: none."""
    c = policy.DEFAULTS["critical"]
    assert [(s.after_s, s.notify) for s in c.steps] == [
        (0, ("family", "community_worker")), (600, ("property",))]
    h = policy.DEFAULTS["high"]
    assert [(s.after_s, s.notify) for s in h.steps] == [
        (0, ("family",)), (900, ("community_worker",)), (900, ("property",))]
    assert policy.DEFAULTS["low"].steps == () and policy.DEFAULTS["low"].after(0, 0) is None


def test_chain_repeats_until_acknowledged_or_max_cycles() -> None:
    """After the last step the chain starts again after repeat_s."""
    p = policy.parse({"steps": [{"after_s": 0, "notify": ["family"]},
                                {"after_s": 60, "notify": ["property"]}], "repeat_s": 300})
    assert p.after(0, 0) == (1, 0) and p.after(1, 0) == (0, 1)
    assert p.delay_before(1, 0) == 60 and p.delay_before(0, 1) == 300
    bounded = policy.parse({**p.to_json(), "max_cycles": 2})
    assert bounded.after(1, 0) == (0, 1) and bounded.after(1, 1) is None


def test_home_policy_wins_over_community_over_default() -> None:
    """Resolution order and where the policy came from."""
    home = {"steps": [{"after_s": 0, "notify": ["property"]}]}
    comm = {"steps": [{"after_s": 0, "notify": ["operator"]}]}
    assert policy.choose("high", home=home, community=comm, home_id=7)[1] == "home:7"
    assert policy.choose("high", home=None, community=comm, community_id=3)[1] == "community:3"
    assert policy.choose("high", home=None, community=None)[1] == "default"


@pytest.mark.parametrize("raw, fragment", [
    ({"steps": [{"after_s": 0, "notify": ["cousin"]}]}, "unknown role"),
    ({"steps": [{"after_s": -1, "notify": ["family"]}]}, "after_s"),
    ({"steps": [{"after_s": 0, "notify": ["family"]}], "repeat_s": 2}, "floods"),
    ({"stepz": []}, "unknown keys"),
])
def test_bad_policies_are_refused_with_the_reason(raw: dict, fragment: str) -> None:
    """Policies are validated before they are stored."""
    with pytest.raises(policy.PolicyError, match=fragment):
        policy.parse(raw)


def test_short_step_syntax() -> None:
    assert policy.parse_steps("0:family,community_worker;600:property") == [
        {"after_s": 0, "notify": ["family", "community_worker"]},
        {"after_s": 600, "notify": ["property"]}]


def test_token_round_trip_and_refusals() -> None:
    """A genuine token verifies; tampering, a wrong key or expiry is refused with a reason."""
    tok = sign_ack_token(SECRET, alert_id=42, contact_id=7, expires_at=T + timedelta(hours=1),
                         nonce=new_nonce())
    claim = verify_ack_token(tok, SECRET, T)
    assert (claim.alert_id, claim.contact_id) == (42, 7)
    assert len(tok) < 60
    forged = tok.replace("42.", "43.", 1)
    for bad, reason, key, now in [
            (forged, "forged", SECRET, T),
            (tok, "forged", b"other" * 8, T),
            (tok, "expired", SECRET, T + timedelta(hours=1)),
            ("hello", "malformed", SECRET, T),
            (tok[:-3], "forged", SECRET, T)]:
        with pytest.raises(AckTokenError) as e:
            verify_ack_token(bad, key, now)
        assert e.value.reason == reason


def test_url_checks_give_apprise_reason() -> None:
    """An apprise URL that apprise cannot parse is refused with why."""
    assert check_url("json://127.0.0.1:9/x")
    with pytest.raises(ContactError, match="Unparseable"):
        check_url("nosuch://thing")
    with pytest.raises(ContactError, match="not an apprise URL"):
        check_url("13800138000")
    with pytest.raises(ContactError, match="cannot use"):
        check_url("tgram://")


def test_message_format_by_channel() -> None:
    assert message_format("mailto://h?from=a@example.com&to=b@example.com") == "email"
    assert message_format("json://127.0.0.1/") == "chat"
    assert message_format("twilio://ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:"
                          "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb@+15551234567/+15551234568") == "sms"


def test_quiet_hours_across_midnight() -> None:
    """22:00-07:00 local: 23:30 is quiet until 07:00; 12:00 is not."""
    night = datetime(2025, 3, 4, 23, 30, tzinfo=SH)
    until = quiet_until(night, "Asia/Shanghai", time(22), time(7))
    assert until is not None and until.astimezone(SH) == datetime(2025, 3, 5, 7, 0, tzinfo=SH)
    assert quiet_until(datetime(2025, 3, 4, 12, tzinfo=SH), "Asia/Shanghai", time(22), time(7)) is None
    assert quiet_until(night, "Asia/Shanghai", None, None) is None


def test_duty_rota_with_overnight_shift() -> None:
    """Tuesday 20:00-08:00 covers Wednesday 03:00, not Wednesday 09:00."""
    shifts = [Shift(2, time(20), time(8)), Shift(1, time(9), time(17))]
    assert on_duty(shifts, datetime(2025, 3, 5, 3, tzinfo=SH), "Asia/Shanghai")      # Wed 03:00
    assert not on_duty(shifts, datetime(2025, 3, 5, 9, tzinfo=SH), "Asia/Shanghai")
    assert on_duty(shifts, datetime(2025, 3, 3, 10, tzinfo=SH), "Asia/Shanghai")     # Mon 10:00
    assert not on_duty(shifts, datetime(2025, 3, 3, 17, tzinfo=SH), "Asia/Shanghai")


VIEW = AlertView(alert_id=9, kind="button", severity="critical", resident="王秀英",
                 home_code="h1", address="幸福小区", building="3栋502", tz="Asia/Shanghai",
                 opened_at=T, since=T, summary_zh="紧急按钮被按下", summary_en="Emergency button pressed",
                 room="bedroom", evidence={"device": "btn-1", "presses": 2})


def test_messages_say_who_where_what_since_and_link_in_each_language() -> None:
    """zh-CN and en, three shapes; local time; SMS short."""
    link = "https://a.example/ack/tok"
    zh = alert_messages(VIEW, "zh-CN", link, expires_at=T + timedelta(hours=24))
    assert "王秀英" in zh["sms"]["body"] and "14:05" in zh["sms"]["body"] and link in zh["sms"]["body"]
    assert "紧急" in zh["email"]["title"] and "卧室" in zh["email"]["body"]
    assert "presses: 2" in zh["email"]["body"] and "#9" in zh["email"]["body"]
    assert len(zh["sms"]["body"]) <= 120
    en = alert_messages(VIEW, "en", link, expires_at=T + timedelta(hours=24))
    assert "Emergency button pressed" in en["chat"]["body"] and "since 03-04 14:05" in en["sms"]["body"]
    assert "URGENT" in en["chat"]["title"]


def test_daily_summary_from_samples() -> None:
    """Up at, an outing, meals, water, active hours."""
    d = date(2025, 3, 4)

    def at(h: int, m: int = 0) -> datetime:
        return datetime(2025, 3, 4, h, m, tzinfo=SH)

    samples = [Sample(at(3), "motion", "bedroom", 1),           # a night visit: not "up"
               Sample(at(6, 40), "motion", "bedroom", 1),
               Sample(at(7, 10), "motion", "kitchen", 1),
               Sample(at(7, 0), "water", "bathroom", 100.0),
               Sample(at(7, 20), "water", "bathroom", 112.5),
               Sample(at(9), "door", "entrance", 1),           # out 09:00 .. 10:30
               Sample(at(10, 30), "door", "entrance", 1),
               Sample(at(10, 31), "motion", "hallway", 1),
               Sample(at(12), "power", "kitchen", 800),
               Sample(at(18), "motion", "kitchen", 1)]
    s = summarise(samples, d, unusual=("09:00 门未关好",))
    assert s.up_at == at(6, 40) and s.outings == 1 and s.away_minutes == 91
    assert s.meals == 3 and s.water_l == 12.5
    zh = summary_messages(s, "王秀英", "zh-CN", "Asia/Shanghai")
    assert "06:40" in zh["email"]["body"] and "门未关好" in zh["email"]["body"]
    en = summary_messages(s, "Wang", "en", "Asia/Shanghai")
    assert "Up at about 06:40" in en["chat"]["body"]
