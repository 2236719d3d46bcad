"""Detector settings: defaults, community and home overrides, refusals that say why."""

from __future__ import annotations

import pytest

from detectors.config import DETECTORS, ConfigError, DetectorConfig, from_dict, merge


def test_defaults_run_every_detector():
    c = DetectorConfig()
    assert all(c.on(k) for k in DETECTORS) and c.sensitivity == 1.0


@pytest.mark.parametrize("settings, message", [
    ({"inactivity": {"floor_min": 5}}, "inactivity.floor_min=5: expected 30..720 minutes"),
    ({"inactivity.floor_min": 90.5}, "inactivity.floor_min=90.5: expected a whole number 30..720"),
    ({"sensitivity": "high"}, "sensitivity='high': expected a number 0.25..4"),
    ({"water.running_min": 1000}, "water.running_min=1000: expected 5..240 minutes"),
    ({"water.low_litres": 1000}, "water.low_litres=1000: expected 0.5..200 litres"),
    ({"inactivity": 5}, "inactivity=5: expected a known setting"),
    ({"sensitivity": {"x": 1}}, "sensitivity={'x': 1}: expected a setting; sections are inactivity"),
    ({"inactivity": {"flor_min": 60}}, "inactivity.flor_min=60: expected a known setting"),
    ({"enabled": ["inactivity", "teleport"]}, "enabled=['inactivity', 'teleport']: expected a list "
                                             "of detectors from: inactivity"),
    ({"inactivity": {"floor_min": 600, "cap_min": 300}},
     "inactivity.floor_min=600: expected at most inactivity.cap_min (300) minutes"),
])
def test_bad_settings_name_key_value_and_what_is_allowed(settings, message):
    with pytest.raises(ConfigError) as e:
        from_dict(settings)
    assert str(e.value).startswith(message)


def test_home_overrides_community_overrides_defaults():
    c = merge({"inactivity": {"floor_min": 120, "slack_min": 30}, "disabled": ["power_flat"]},
              {"inactivity.floor_min": 150})
    assert c.inactivity.floor_min == 150 and c.inactivity.slack_min == 30
    assert not c.on("power_flat") and c.on("inactivity")
    assert c.to_dict()["inactivity"]["floor_min"] == 150


def test_a_bad_home_setting_is_refused_even_over_a_good_community():
    with pytest.raises(ConfigError, match="prealarm.minutes=45"):
        merge({"prealarm": {"minutes": 3}}, {"prealarm": {"minutes": 45}})


def test_lists_may_be_comma_separated_and_whole_numbers_written_with_a_point():
    c = from_dict({"disabled": "power_flat, gas", "inactivity.floor_min": 120.0})
    assert not c.on("gas") and not c.on("power_flat") and c.on("smoke")
    assert c.inactivity.floor_min == 120 and isinstance(c.inactivity.floor_min, int)
