"""The router's pure parts: policies, tokens, contacts, messages, summaries, and what
follows what in a delivery."""

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts import policy
from alerts.contacts import ContactError, Shift, check_url, message_format, on_duty, quiet_until
from alerts.messages import AlertView, alert_messages, summary_messages
from alerts.outcome import (AfterSend, Cancel, Claimed, Hold, Next, Retry, Send, StepUnreached,
                            after_send, gate, step_unreached)
from alerts.send import DELIVERED, Outcome, failed
from alerts.summary import Sample, summarise
from alerts.targeting import Candidate, choose, step_label
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
    assert "按键次数：2" in zh["email"]["body"] and "#9" in zh["email"]["body"]
    assert "presses" not in zh["email"]["body"] and "btn-1" not in zh["email"]["body"]
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


# -- delivery stages: what follows what, without a database ------------------------------
def _claimed(**kw: Any) -> Claimed:
    base: dict[str, Any] = dict(
        id=1, key="a9-r0-s0-c7", purpose="alert", alert_id=9, alert_state="open", cycle=0,
        step=0, contact_id=7, contact_name="张伟", severity="critical",
        urls=("json://127.0.0.1/x", "mailto://h?from=a@example.com&to=b@example.com"),
        messages={"chat": {"title": "t", "body": "chat"}, "email": {"title": "t", "body": "mail"},
                  "sms": {"title": "", "body": "sms"}},
        channel=0, tries=0, quiet=(time(22), time(7)), tz="Asia/Shanghai", interrupted=0)
    return Claimed(**{**base, **kw})


def test_gate_cancels_for_an_alert_no_longer_open_and_holds_low_severity_in_quiet_hours() -> None:
    """Cancelled before anything else; quiet hours hold low severity only."""
    night = datetime(2025, 3, 4, 23, 30, tzinfo=SH)
    assert gate(_claimed(alert_state="acknowledged"), night) == Cancel("alert acknowledged")
    assert gate(_claimed(severity="low"), night) == Hold(datetime(2025, 3, 5, 7, tzinfo=SH))
    assert isinstance(gate(_claimed(), night), Send)
    assert isinstance(gate(_claimed(severity="low", quiet=None), night), Send)
    summary = _claimed(purpose="summary", alert_id=None, alert_state=None, severity=None)
    assert isinstance(gate(summary, night), Send)
    assert _claimed(channel=1).text()["body"] == "mail"


def test_failures_retry_with_backoff_then_the_next_channel_then_undelivered() -> None:
    """Retry(3, (5, 20)): two waits on channel 0, then channel 1; its third failure ends it."""
    retry = Retry(3, (5, 20))
    fail = failed("Connection error")

    def step(tries: int, channel: int) -> AfterSend:
        return after_send(fail, tries=tries, channel=channel, channels=2, retry=retry,
                          alert_state="open")

    assert step(0, 0) == AfterSend(Next.RETRY, tries=1, channel=0, wait_s=5)
    assert step(1, 0) == AfterSend(Next.RETRY, tries=2, channel=0, wait_s=20)
    assert step(2, 0) == AfterSend(Next.NEXT_CHANNEL, tries=0, channel=1)
    end = step(2, 1)
    assert end.next is Next.UNDELIVERED and end.tries == 3
    assert end.note == "all 2 channel(s) failed: Connection error"
    ok = after_send(DELIVERED, tries=2, channel=1, channels=2, retry=retry, alert_state="open")
    assert ok == AfterSend(Next.DELIVERED, tries=2, channel=1)


def test_a_final_failure_skips_the_retries_and_a_closed_alert_stops_everything() -> None:
    """A URL apprise cannot use goes to the next channel at once; an acknowledged alert's
    failed send is cancelled, neither retried nor tried on the next channel."""
    retry = Retry()
    final = failed("apprise cannot use this URL", retryable=False)
    assert not final.ok and not final.retryable and final.outcome is Outcome.FINAL
    assert after_send(final, tries=0, channel=0, channels=2, retry=retry,
                      alert_state="open").next is Next.NEXT_CHANNEL
    assert after_send(final, tries=0, channel=1, channels=2, retry=retry,
                      alert_state="open").next is Next.UNDELIVERED
    closed = after_send(failed("timeout"), tries=0, channel=0, channels=2, retry=retry,
                        alert_state="acknowledged")
    assert closed.next is Next.CANCELLED and closed.note == "alert acknowledged"
    summary = after_send(failed("timeout"), tries=0, channel=0, channels=1, retry=retry,
                         alert_state=None)
    assert summary.next is Next.RETRY


def test_an_unreached_step_tells_operators_and_runs_the_next_step_if_it_is_waiting() -> None:
    """Others of the step still reachable: nothing; nobody: operators, and the next step now
    only when the chain is waiting for exactly that step."""
    assert step_unreached(1, (1, 0), (1, 0)) == StepUnreached(False, False)
    assert step_unreached(0, (1, 0), (1, 0)) == StepUnreached(True, True)
    assert step_unreached(0, (1, 0), (2, 0)) == StepUnreached(True, False)
    assert step_unreached(0, None, (0, 1)) == StepUnreached(True, False)


def test_targets_prefer_the_homes_own_property_and_the_workers_on_duty() -> None:
    """Each contact once, in role order; a note when nobody of a role is there or on duty."""
    wed_3am = datetime(2025, 3, 5, 3, tzinfo=SH)

    def cand(i: int, role: str, own: bool = False, shifts: tuple[Shift, ...] = ()) -> Candidate:
        return Candidate(id=i, role=role, name=f"c{i}", urls=("json://x/",), lang="zh-CN",
                         own_home=own, shifts=shifts)

    night = (Shift(2, time(20), time(8)),)
    cands = [cand(1, "family", True), cand(2, "community_worker", shifts=night),
             cand(3, "community_worker", shifts=(Shift(1, time(9), time(17)),)),
             cand(4, "property"), cand(5, "property", own=True)]
    chosen, note = choose(cands, ("family", "community_worker", "property"), wed_3am,
                          "Asia/Shanghai")
    assert [t.id for t in chosen] == [1, 2, 5] and note == ""
    noon = datetime(2025, 3, 5, 12, tzinfo=SH)
    chosen, note = choose(cands[1:3], ("community_worker", "operator"), noon, "Asia/Shanghai")
    assert [t.id for t in chosen] == [2, 3]
    assert note == "no community worker on duty: all of them told; no operator contact"
    assert step_label(("family", "property")) == "family+property"
