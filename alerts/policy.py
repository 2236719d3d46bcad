"""Escalation policies: data, validated, resolved per home; pure code.

A policy is a list of steps and a repeat interval. Each step waits `after_s`
seconds after the previous step ran (the first step after the alert opened)
and notifies every contact of the listed roles. After the last step the
chain starts again after `repeat_s` seconds, until the alert is acknowledged
or resolved (`max_cycles` bounds the repeats; 0 means no bound). A policy
with no steps sends nothing at once: low severity goes to the family's daily
summary only.

Policies are stored per community and per home for each severity; the home's
wins over the community's, which wins over the built-in defaults. The chosen
policy is frozen onto the alert when the router first sees it.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Mapping

import msgspec
from msgspec import Meta

from anju.typed_config import Reason, Refused, convert

Role = Literal["family", "community_worker", "property", "operator"]
ROLES: tuple[str, ...] = typing.get_args(Role)
SEVERITIES = ("critical", "high", "medium", "low")
WEEK_S = 7 * 86400


class PolicyError(ValueError):
    """A policy document is not valid; the message says which part and why."""


class Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    after_s: Annotated[int, Meta(ge=0, le=WEEK_S, extra={"expected": "whole seconds, {ge}..{le}"})]
    notify: Annotated[tuple[Role, ...], Meta(min_length=1)]


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    steps: tuple[Step, ...] = ()
    repeat_s: Annotated[int, Meta(ge=0, le=WEEK_S,
                                  extra={"expected": "whole seconds, {ge} (never) ..{le}"})] = 900
    # 0: repeat until acknowledged
    max_cycles: Annotated[int, Meta(ge=0, extra={"expected": "0 (until acknowledged) or more"})] = 0
    summary: bool = True         # also listed in the family's daily summary

    def to_json(self) -> dict[str, Any]:
        out = msgspec.structs.asdict(self)
        out["steps"] = [{"after_s": s.after_s, "notify": list(s.notify)} for s in self.steps]
        return out

    def delay_before(self, step: int, cycle: int) -> int:
        """Seconds to wait before `step` of `cycle` (after the previous one ran)."""
        if step == 0 and cycle > 0:
            return self.repeat_s
        return self.steps[step].after_s

    def after(self, step: int, cycle: int) -> tuple[int, int] | None:
        """The (step, cycle) that follows, or None when the chain is over."""
        if step + 1 < len(self.steps):
            return step + 1, cycle
        if not self.steps or self.repeat_s <= 0:
            return None
        if self.max_cycles and cycle + 1 >= self.max_cycles:
            return None
        return 0, cycle + 1


def _as_written(step: Any) -> Any:
    """A step as people write it: after_s may be left out (0), one role need not be a list."""
    if not isinstance(step, Mapping):
        return step
    out = {"after_s": 0, **step}
    if isinstance(out.get("notify"), str):
        out["notify"] = [out["notify"]]
    return out


def _message(e: Refused) -> str:
    roles = ", ".join(ROLES)
    if e.reason is Reason.UNKNOWN:
        where = e.key.rpartition(".")[0]
        if where:
            return f"{where}: unknown keys {', '.join(e.unknown)}"
        return f"unknown keys {', '.join(e.unknown)}; expected {', '.join(e.known)}"
    if e.key == "steps":
        return f"{e.at}: expected an object with after_s and notify" if e.at != e.key \
            else "steps: expected a list"
    if e.key.endswith(".notify"):
        if e.at != e.key:
            return f"{e.key}: unknown role {e.item!r}; expected one of {roles}"
        return f"{e.key}: expected a list of roles ({roles})"
    return str(e)


def parse(raw: Any) -> Policy:
    """A Policy from its JSON form, or PolicyError naming what is wrong."""
    if not isinstance(raw, Mapping):
        raise PolicyError("a policy is an object: {\"steps\": [...], \"repeat_s\": 900}")
    steps = raw.get("steps")
    if isinstance(steps, list):
        raw = {**raw, "steps": [_as_written(s) for s in steps]}
    try:
        pol = convert(raw, Policy)
    except Refused as e:
        raise PolicyError(_message(e)) from None
    if pol.steps and 0 < pol.repeat_s < 10:
        raise PolicyError(
            f"repeat_s={pol.repeat_s}: repeating faster than every 10 s floods people")
    return pol


def parse_steps(text: str) -> list[dict[str, Any]]:
    """The command line's short form: "0:family,community_worker;600:property"."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        after, sep, roles = part.partition(":")
        if not sep:
            raise PolicyError(f"step {part!r}: expected SECONDS:role[,role...]")
        try:
            after_s = int(after)
        except ValueError:
            raise PolicyError(f"step {part!r}: {after!r} is not whole seconds") from None
        out.append({"after_s": after_s, "notify": [r.strip() for r in roles.split(",")]})
    return out


DEFAULTS: dict[str, Policy] = {
    # smoke, gas, the button, a suspected collapse: family and the worker on
    # duty at once, property management (who hold the keys) after 10 minutes.
    "critical": Policy((Step(0, ("family", "community_worker")), Step(600, ("property",))),
                       repeat_s=600),
    "high": Policy((Step(0, ("family",)), Step(900, ("community_worker",)),
                    Step(900, ("property",))), repeat_s=900),
    "medium": Policy((Step(0, ("family",)), Step(1800, ("community_worker",))), repeat_s=3600),
    "low": Policy((), repeat_s=0),
}


def choose(severity: str, *, home: Mapping[str, Any] | None, community: Mapping[str, Any] | None,
           home_id: int | None = None, community_id: int | None = None) -> tuple[Policy, str]:
    """The policy for an alert of this severity and where it came from (home > community > default)."""
    if severity not in SEVERITIES:
        raise PolicyError(f"severity {severity!r}: expected one of {', '.join(SEVERITIES)}")
    if home is not None:
        return parse(home), f"home:{home_id}"
    if community is not None:
        return parse(community), f"community:{community_id}"
    return DEFAULTS[severity], "default"
