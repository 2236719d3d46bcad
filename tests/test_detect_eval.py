"""The evaluation harness: output shape and sane figures on simulated homes and house A."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from anju.cli import CommandLine
from detectors import evaluate
from detectors.config import DetectorConfig
from detectors.events import Event
from devtools import evaluation
from devtools.cli import register_eval

DATA = Path("/work/shared/data/kasteren")
MAPS = Path(__file__).resolve().parent.parent / "simulators" / "maps"
needs_data = pytest.mark.skipif(not (DATA / "houseA.sensors").exists(),
                                reason="van Kasteren data not present")


def _check_shape(rep: dict) -> None:
    assert set(rep) >= {"home_days", "false_alarms_per_home_day", "incidents", "runtime_s"}
    for v in rep["incidents"].values():
        assert set(v) == {"n", "detected", "recall", "median_delay_min", "p90_delay_min"}
        assert 0 <= v["detected"] <= v["n"]


def test_simulated_homes_shape_and_figures():
    """Three homes, two weeks: immediate kinds found at once, few false alarms."""
    rep = evaluation.evaluate_simulated(3, 14, seed=3, per_week=3.0,
                                        kinds=["collapse", "smoke", "button", "water_running"]).as_dict()
    _check_shape(rep)
    assert rep["home_days"] == pytest.approx(21.0)
    assert rep["false_alarms_per_home_day"] <= 0.2
    inc = rep["incidents"]
    assert sum(v["n"] for v in inc.values()) >= 5
    for k in ("smoke", "button"):
        if k in inc:
            assert inc[k]["recall"] == 1.0 and inc[k]["median_delay_min"] == 0.0
    if "water_running" in inc and inc["water_running"]["detected"]:
        assert inc["water_running"]["p90_delay_min"] <= 45


def test_collapses_are_injected_only_where_the_resident_is_at_home():
    """Two devices showing life in the hour before T, none before the last front door."""
    evs = [Event(100.0, "pir-k", "motion", 1, "kitchen"), Event(200.0, "fridge", "contact", 1,
           "kitchen"), Event(300.0, "door", "door", 1, "entrance"),
           Event(900.0, "pir-k", "motion", 1, "kitchen"), Event(5000.0, "pir-k", "motion", 1,
           "kitchen"), Event(5100.0, "pir-b", "motion", 1, "bedroom")]
    signs = [e for e in evs if evaluate._is_sign(e)]
    acts = [e.ts for e in signs]
    doors = [e.ts for e in evs if e.kind == "door"]
    assert evaluate._at_home(250.0, signs, acts, doors)          # kitchen PIR and fridge
    assert not evaluate._at_home(320.0, signs, acts, doors)      # just went out
    assert not evaluate._at_home(1000.0, signs, acts, doors)     # one PIR alone since the door
    assert evaluate._at_home(5200.0, signs, acts, doors)         # two rooms: back home
    assert not evaluate._at_home(5100.0 + 3700, signs, acts, doors)   # nothing for an hour


@needs_data
def test_house_b_front_door_is_mapped_and_keeps_absences_quiet():
    """House B's unnamed id 4 is its front door: its long absences are not inactivity."""
    info, events = evaluation.load_log(str(DATA / "houseB.sensors"), "kasteren",
                                       map_path=str(MAPS / "kasteren-houseB.json"))
    assert sum(1 for e in events if e.kind == "door") > 100
    rep = evaluate.evaluate_log(info, events, incidents=6, seed=2).as_dict()
    assert rep["false_alarms_per_home_day"] <= 0.15          # the anchor: 0.75
    assert rep["incidents"]["collapse"]["recall"] >= 0.8


@needs_data
def test_house_a_with_injected_collapses():
    info, events = evaluation.load_log(str(DATA / "houseA.sensors"), "kasteren",
                                       map_path=str(MAPS / "kasteren-houseA.json"))
    rep = evaluate.evaluate_log(info, events, incidents=12, seed=1).as_dict()
    _check_shape(rep)
    assert 15 < rep["home_days"] < 25
    c = rep["incidents"]["collapse"]
    assert c["n"] == 12 and c["recall"] >= 0.8
    assert rep["false_alarms_per_home_day"] < 0.2          # the anchor: 0.40 on house A
    # a harsher setting finds collapses sooner
    fast = evaluate.evaluate_log(info, events, incidents=12, seed=1,
                                 cfg=DetectorConfig(sensitivity=3.0)).as_dict()
    assert fast["incidents"]["collapse"]["median_delay_min"] <= c["median_delay_min"]


@needs_data
def test_cli_json(capsys):
    """`anju eval --events ... --json` prints one JSON object."""
    parser = argparse.ArgumentParser(prog="anju")
    sub = parser.add_subparsers(dest="command")
    cli = CommandLine(parser, sub, sub)
    register_eval(cli)
    args = parser.parse_args(["eval", "--events", str(DATA / "houseA.sensors"), "--format",
                              "kasteren", "--map", str(MAPS / "kasteren-houseA.json"),
                              "--incidents", "3", "--json"])
    assert args.handler(args, None) == 0
    rep = json.loads(capsys.readouterr().out)
    _check_shape(rep)
    assert rep["incidents"]["collapse"]["n"] == 3


def test_cli_refuses_a_bad_setting(capsys):
    parser = argparse.ArgumentParser(prog="anju")
    sub = parser.add_subparsers(dest="command")
    cli = CommandLine(parser, sub, sub)
    register_eval(cli)
    args = parser.parse_args(["eval", "--simulate", "--config", '{"inactivity.floor_min": 5}'])
    assert args.handler(args, None) == 2
    assert "inactivity.floor_min=5: expected 30..720 minutes" in capsys.readouterr().err


def test_a_routine_incident_begun_within_48_h_of_the_end_is_not_scored_within_48_h():
    from detectors.events import Finding
    day = 86400.0
    truths = [evaluate.Truth("illness", 10 * day, 13 * day),
              evaluate.Truth("illness", 20 * day, 23 * day),
              evaluate.Truth("illness", 26.5 * day, 29 * day)]    # 36 h before the end
    found = [Finding("routine_activity", "open", 11 * day)]      # the first, 24 h in
    run = evaluate.HomeRun("h", "p", 21.0)
    evaluate.score(found, truths, 7 * day, run, end=28 * day)
    rep = evaluate.Report("t", [run], 0.0, 1.0).as_dict()["incidents"]["illness"]
    # found while it lasts counts all three; within 48 h only the two whose 48 h were seen
    assert (rep["n"], rep["detected"], rep["n_48h"], rep["recall_48h"]) == (3, 1, 2, 0.5)
    run = evaluate.HomeRun("h", "p", 21.0)
    evaluate.score(found, truths, 7 * day, run)                  # no end given: all scored
    rep = evaluate.Report("t", [run], 0.0, 1.0).as_dict()["incidents"]["illness"]
    assert (rep["n_48h"], rep["recall_48h"]) == (3, 0.333)
