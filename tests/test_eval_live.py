"""The evaluation end to end through the real broker, ingest, database and detector service."""

from __future__ import annotations

from detectors.config import DetectorConfig
from detectors.evaluate import evaluate_simulated
from detectors.evaluate_live import evaluate_live


def test_live_evaluation_agrees_with_the_in_process_one():
    """Same homes, same incidents: the live path finds what the in-process harness finds."""
    live = evaluate_live(3, 12, 0, DetectorConfig(), personas=[], per_week=1.5, kinds=[],
                         say=lambda *a: None).as_dict()
    offline = evaluate_simulated(3, 12, 0, DetectorConfig(), per_week=1.5).as_dict()
    assert live["home_days"] == offline["home_days"] > 0
    assert live["incidents"] and set(live["incidents"]) == set(offline["incidents"])
    for kind, figures in offline["incidents"].items():
        assert live["incidents"][kind]["n"] == figures["n"]
        assert abs(live["incidents"][kind]["detected"] - figures["detected"]) <= 1, kind
    assert abs(live["false_alarms_per_home_day"] - offline["false_alarms_per_home_day"]) <= 0.1
