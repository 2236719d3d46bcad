"""What becomes of a delivery before and after a send: pure decisions, no database.

A claimed delivery first passes a gate: cancelled when its alert is no
longer open, held until morning when a low-severity message meets the
contact's quiet hours, else sent. The send's result then decides the next
state: delivered; the same channel again after a wait; the next channel;
or undelivered (every channel failed), which tells the operators when
nobody of the step was reached and brings the escalation's next step
forward. The router applies these decisions to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import Enum
from typing import Any

from alerts.contacts import message_format, quiet_until
from alerts.send import SendResult


@dataclass(frozen=True)
class Retry:
    """Tries per channel and the waits between them; then the next channel."""

    tries_per_channel: int = 3
    backoff_s: tuple[float, ...] = (5, 20, 60)

    def wait(self, failed_tries: int) -> float:
        return self.backoff_s[min(failed_tries - 1, len(self.backoff_s) - 1)]


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A due delivery as its router claimed it."""

    id: int
    key: str
    purpose: str                       # alert | summary
    alert_id: int | None
    alert_state: str | None            # None for a summary
    cycle: int | None
    step: int | None
    contact_id: int
    contact_name: str
    severity: str | None
    urls: tuple[str, ...]
    messages: dict[str, Any]           # {"sms"|"email"|"chat": {"title", "body"}}
    channel: int
    tries: int                         # failed tries on this channel
    quiet: tuple[time, time] | None
    tz: str
    interrupted: int                   # attempts left unfinished by a router that died

    @property
    def url(self) -> str:
        return self.urls[self.channel]

    def text(self) -> dict[str, str]:
        """The message in the shape the current channel takes."""
        return self.messages[message_format(self.url)]  # type: ignore[no-any-return]


# -- before the send ---------------------------------------------------------------------
@dataclass(frozen=True)
class Cancel:
    note: str


@dataclass(frozen=True)
class Hold:
    until: datetime


@dataclass(frozen=True)
class Send:
    pass


Gate = Cancel | Hold | Send


def gate(d: Claimed, now: datetime) -> Gate:
    if d.purpose == "alert" and d.alert_state != "open":
        return Cancel(f"alert {d.alert_state}")
    if d.severity == "low" and d.quiet is not None:
        until = quiet_until(now, d.tz, *d.quiet)
        if until is not None:
            return Hold(until)
    return Send()


# -- after the send ----------------------------------------------------------------------
class Next(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"                    # the same channel, after a wait
    NEXT_CHANNEL = "next channel"
    UNDELIVERED = "undelivered"        # every channel failed
    CANCELLED = "cancelled"            # failed, and the alert is no longer open


@dataclass(frozen=True)
class AfterSend:
    next: Next
    tries: int = 0
    channel: int = 0
    wait_s: float = 0
    note: str | None = None


def after_send(result: SendResult, *, tries: int, channel: int, channels: int,
               retry: Retry, alert_state: str | None) -> AfterSend:
    """The next state of a delivery whose send on `channel` (after `tries` failed
    tries there) ended with `result`, while its alert is in `alert_state`."""
    if result.ok:
        return AfterSend(Next.DELIVERED, tries=tries, channel=channel)
    if alert_state is not None and alert_state != "open":
        # acknowledged or resolved while this send was in flight: no retry, no next channel
        return AfterSend(Next.CANCELLED, tries=tries + 1, channel=channel,
                         note=f"alert {alert_state}")
    failed = tries + 1
    if result.retryable and failed < retry.tries_per_channel:
        return AfterSend(Next.RETRY, tries=failed, channel=channel, wait_s=retry.wait(failed))
    if channel + 1 < channels:
        return AfterSend(Next.NEXT_CHANNEL, tries=0, channel=channel + 1)
    return AfterSend(Next.UNDELIVERED, tries=failed, channel=channel,
                     note=f"all {channels} channel(s) failed: {result.error}")


@dataclass(frozen=True)
class StepUnreached:
    tell_operators: bool               # nobody of the step was reached
    run_next_step_now: bool            # instead of waiting for its delay


def step_unreached(others: int, after_step: tuple[int, int] | None,
                   chain_at: tuple[int, int]) -> StepUnreached:
    """A delivery of an escalation step ended undelivered.

    `others`: the step's other deliveries still pending or delivered;
    `after_step`: the (step, cycle) the policy runs after this one (None: the
    chain ends); `chain_at`: the (step, cycle) the escalation waits for now.
    The next step is brought forward only while it is the one waiting.
    """
    nobody = others == 0
    return StepUnreached(nobody, nobody and after_step is not None and after_step == chain_at)
