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

from dataclasses import asdict, dataclass
from typing import Any, Mapping

ROLES = ("family", "community_worker", "property", "operator")
SEVERITIES = ("critical", "high", "medium", "low")


class PolicyError(ValueError):
    """A policy document is not valid; the message says which part and why."""


@dataclass(frozen=True)
class Step:
    after_s: int
    notify: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]
    repeat_s: int = 900
    max_cycles: int = 0          # 0: repeat until acknowledged
    summary: bool = True         # also listed in the family's daily summary

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = [{"after_s": s.after_s, "notify": list(s.notify)} for s in self.steps]
        return d

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


def _step(i: int, raw: Any) -> Step:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"steps[{i}]: expected an object with after_s and notify")
    after = raw.get("after_s", 0)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= 7 * 86400:
        raise PolicyError(f"steps[{i}].after_s={after!r}: expected whole seconds, 0..604800")
    notify = raw.get("notify")
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not notify:
        raise PolicyError(f"steps[{i}].notify: expected a list of roles ({', '.join(ROLES)})")
    for role in notify:
        if role not in ROLES:
            raise PolicyError(f"steps[{i}].notify: unknown role {role!r}; "
                              f"expected one of {', '.join(ROLES)}")
    unknown = set(raw) - {"after_s", "notify"}
    if unknown:
        raise PolicyError(f"steps[{i}]: unknown keys {', '.join(sorted(unknown))}")
    return Step(after, tuple(notify))


def parse(raw: Any) -> Policy:
    """A Policy from its JSON form, or PolicyError naming what is wrong."""
    if not isinstance(raw, Mapping):
        raise PolicyError("a policy is an object: {\"steps\": [...], \"repeat_s\": 900}")
    unknown = set(raw) - {"steps", "repeat_s", "max_cycles", "summary"}
    if unknown:
        raise PolicyError(f"unknown keys {', '.join(sorted(unknown))}; "
                          "expected steps, repeat_s, max_cycles, summary")
    steps = raw.get("steps", [])
    if not isinstance(steps, list):
        raise PolicyError("steps: expected a list")
    repeat = raw.get("repeat_s", 900)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 0 <= repeat <= 7 * 86400:
        raise PolicyError(f"repeat_s={repeat!r}: expected whole seconds, 0 (never) ..604800")
    if steps and 0 < repeat < 10:
        raise PolicyError(f"repeat_s={repeat}: repeating faster than every 10 s floods people")
    cycles = raw.get("max_cycles", 0)
    if not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 0:
        raise PolicyError(f"max_cycles={cycles!r}: expected 0 (until acknowledged) or more")
    summary = raw.get("summary", True)
    if not isinstance(summary, bool):
        raise PolicyError(f"summary={summary!r}: expected true or false")
    return Policy(tuple(_step(i, s) for i, s in enumerate(steps)), repeat, cycles, summary)


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
