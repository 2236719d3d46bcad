"""Activity decline: the last days' activity at home well under the learned usual."""

from __future__ import annotations

from detectors.events import Finding
from detectors.rules.base import Rule
from detectors.state import HomeState


class Decline(Rule):
    """At midnight: the mean of the last `decline.days` days' signs of life (per day at
    home) under `decline.fraction` of the usual opens; back to 80 % of it clears."""

    kinds = ("activity_decline",)

    def midnight(self, s: HomeState, t: float) -> list[Finding]:
        usual = s.base.daily_acts
        n = s.cfg.decline.days
        recent = s.day.recent
        if usual < 20 or len(recent) < n:
            return []
        mean = sum(recent[-n:]) / n
        if mean < s.cfg.decline.fraction * usual:
            return s.raise_finding("activity_decline", t, "low", None, days=n,
                                   mean_per_day=round(mean), usual_per_day=usual)
        if mean >= 0.8 * usual:
            return s.clear_finding("activity_decline", t, "recovered", mean_per_day=round(mean),
                                   usual_per_day=usual)
        return []
