"""What a step's delivery says: its messages with a signed acknowledgement link.

Links point at the console (`<base>/ack/<token>`), which serves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from alerts.followups import Followup, Recipient, followup_key, followup_messages
from alerts.messages import AlertView, alert_messages
from alerts.targeting import Candidate
from alerts.tokens import new_nonce, sign_ack_token


@dataclass(frozen=True)
class Links:
    secret: bytes
    base: str                  # e.g. https://anju.example.org
    ttl_s: int = 24 * 3600

    def link(self, token: str) -> str:
        return f"{self.base.rstrip('/')}/ack/{token}"


@dataclass(frozen=True)
class NewDelivery:
    key: str                   # the idempotency key every send of it carries
    target: Candidate
    messages: dict[str, Any]


def alert_key(alert_id: int, cycle: int, step: int, contact_id: int) -> str:
    return f"a{alert_id}-r{cycle}-s{step}-c{contact_id}"


def summary_key(contact_id: int, day: date) -> str:
    return f"summary-{contact_id}-{day}"


def alert_delivery(view: AlertView, target: Candidate, *, cycle: int, step: int, now: datetime,
                   links: Links) -> NewDelivery:
    """One contact's messages for one step, with a link of its own (single use)."""
    expires = now + timedelta(seconds=links.ttl_s)
    token = sign_ack_token(links.secret, alert_id=view.alert_id, contact_id=target.id,
                           expires_at=expires, nonce=new_nonce())
    msgs = alert_messages(view, target.lang, links.link(token), expires_at=expires,
                          cycle=cycle, step=step)
    return NewDelivery(alert_key(view.alert_id, cycle, step, target.id), target, msgs)


@dataclass(frozen=True)
class NewFollowup:
    key: str                   # followup_key: one of each kind per contact, ever
    to: Recipient
    messages: dict[str, Any]


def followup_deliveries(f: Followup, told: Sequence[Recipient],
                        now: datetime) -> list[NewFollowup]:
    """One follow-up per person, in their own language (no link: nothing to acknowledge)."""
    return [NewFollowup(followup_key(f.view.alert_id, f.kind, r.id), r,
                        followup_messages(f, r.lang, now)) for r in told]
