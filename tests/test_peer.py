"""The published peer (Wilhelm & Wahl 2024) on constructed days, the dominance check, the
AMPds2 reader, and `anju eval --baseline wilhelm2024` end to end on a short simulated run."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from anju.cli import CommandLine
from detectors import peer, peer_eval
from detectors.events import Event
from devtools.cli import register_eval
from simulators.formats import FormatError, parse_ampds2

TZ = "Asia/Shanghai"
Z = ZoneInfo(TZ)
H = 3600.0


def midnight(y: int, m: int, d: int) -> float:
    return datetime(y, m, d, tzinfo=Z).timestamp()


# 2026-03-02 is a Monday
MON = midnight(2026, 3, 2)


def test_binary_activation_resets_the_score():
    acts = [peer.Activation(MON + 100, "a"), peer.Activation(MON + 700, "b"),
            peer.Activation(MON + 1000, "a")]
    t, after, before = peer.score_after(acts)
    assert list(after) == [0.0, 0.0, 0.0]
    assert list(before) == [0.0, 600.0, 300.0]
    s = peer.score_at(t, after, np.array([MON + 50, MON + 400, MON + 1600]))
    assert np.isnan(s[0]) and s[1] == 300.0 and s[2] == 600.0


def test_uncertain_activation_scales_the_score():
    # c = 0.5: R = 3 h. The same sensor again 1.5 h later: w = 0.5, S *= 1 - 0.25
    acts = [peer.Activation(MON, "x", 1.0), peer.Activation(MON + H, "w", 0.5),
            peer.Activation(MON + 2.5 * H, "w", 0.5), peer.Activation(MON + 10 * H, "w", 0.5)]
    _, after, before = peer.score_after(acts)
    assert after[1] == pytest.approx(0.5 * H)               # first time: w = 1, S *= 0.5
    assert before[2] == pytest.approx(0.5 * H + 1.5 * H)
    assert after[2] == pytest.approx(2 * H * 0.75)
    # 7.5 h later, beyond R: w = 1 again
    assert after[3] == pytest.approx((1.5 * H + 7.5 * H) * 0.5)


def test_threshold_from_reference_days_is_the_formula():
    # eight weekdays; on each, the resident is still from 02:00 for a different span,
    # otherwise active every 10 minutes. v_d at 03:00 is that day's stillness reached in
    # 02:00 .. 04:00.
    still_h = [1.0, 1.2, 1.5, 1.1, 1.3, 1.4, 3.9, 1.25]   # day 7 is one unlike the others
    days = [midnight(2026, 3, 2 + i) for i in (0, 1, 2, 3, 4, 7, 8, 9)]   # Mon..Fri, Mon..Wed
    acts = []
    for d, s in zip(days, still_h):
        for m in range(0, 24 * 60, 10):
            t = d + m * 60
            if d + 2 * H < t <= d + 2 * H + s * H:
                continue
            acts.append(peer.Activation(t, "pir"))
    grid = peer.Grid(TZ, MON, 12)
    t, after, before = peer.score_after(acts)
    m_all = peer.minute_max(grid, t, after, before)
    full = peer.windowed(m_all).reshape(12, peer.DAY_MIN)
    # Thursday 2026-03-12, learned at its midnight from the eight weekdays before
    base = peer.learn_day(grid, 10, m_all, full)
    # the largest S within 02:00..04:00 of each day: the stillness's length, rounded up
    # by the 10-minute activation grid to the next activation
    v = np.array([full[int(round((d - MON) / 86400)), 180] for d in days])
    q1, q3 = np.percentile(v, [25, 75])
    want = min(v.max(), q3 + 1.5 * (q3 - q1))
    assert base[180] == pytest.approx(want)
    assert want < v.max()                                   # the outlier day was capped
    # v itself: the stillness from 02:00, to the minute (the next activation on the grid)
    assert v[0] == pytest.approx(1.0 * H + 600, abs=60)
    # the weekend days are not references for a weekday: a weekend with a long stillness
    # at 03:00 changes nothing
    assert peer.reference_days(grid, 10, full[:10]).tolist() == [0, 1, 2, 3, 4, 7, 8, 9]


def test_alarm_opens_once_per_stillness_and_k_moves_it():
    # seven days active every 10 min from 06:00 to 22:00 and a night's sleep; on day 8 the
    # resident stops at 10:00
    acts = []
    for i in range(9):
        d = MON + i * 86400
        last = 24 * 60 if i < 8 else 10 * 60
        for m in range(6 * 60, min(22 * 60, last) + 1, 10):
            acts.append(peer.Activation(d + m * 60, "pir"))
    day8 = MON + 8 * 86400
    out = peer.run(acts, TZ, MON, day8, day8 + 86400, (1.1, 3.0))
    assert len(out[1.1]) == 1 and len(out[3.0]) == 1
    a, b = out[1.1][0], out[3.0][0]
    # 10-minute gaps by day: the threshold is 1.1 x 10 min (x 3 for k = 3); nights are long
    assert a == pytest.approx(day8 + 10 * H + 11 * 60, abs=60)
    assert b == pytest.approx(day8 + 10 * H + 30 * 60, abs=60)


def test_dominance():
    P = peer_eval.Point
    d = P(1.0, 0.05, 120.0, 1.0)
    assert peer_eval.dominates(P(1.1, 0.05, 100.0, 0.9), d)
    assert peer_eval.dominates(P(1.1, 0.01, 120.0, 0.9), d)
    assert not peer_eval.dominates(P(1.1, 0.05, 120.0, 0.9), d)     # equal: not strictly
    assert not peer_eval.dominates(P(1.1, 0.10, 60.0, 1.0), d)      # more false alarms
    assert not peer_eval.dominates(P(1.1, 0.0, None, 0.0), d)       # found nothing
    assert [q.setting for q in peer_eval.dominated_by(
        d, [P(0.8, 0.2, 50.0, 1.0), P(2.0, 0.0, 119.0, 0.8)])] == [2.0]


def test_ampds2_reader():
    lines = ["unix_ts,counter,avg_rate,inst_rate\n", "1333263600,45287.526,0.0,0.0\n",
             "1333263660,45291.311,3.785,0.0\n", "\n"]
    evs = parse_ampds2(lines, "w.csv")
    assert [(e.ts.timestamp(), e.kind, e.value, e.line) for e in evs] == [
        (1333263600.0, "water", 45287.526, 2), (1333263660.0, "water", 45291.311, 3)]
    with pytest.raises(FormatError, match="w.csv:2"):
        parse_ampds2(["unix_ts,counter,avg_rate,inst_rate", "12:00,4.5,0,0"], "w.csv")
    with pytest.raises(FormatError, match="header"):
        parse_ampds2(["unix_ts,total"], "w.csv")


def test_water_rules_on_a_meter_stream(tmp_path: Path):
    # nine days of a meter a minute: water at 07:00 and 19:00 every day, then on day 8 none
    # after 07:00 and on day 9 a tap running for 45 min from 12:00
    start = midnight(2026, 3, 2)
    rows, total = ["unix_ts,counter,avg_rate,inst_rate"], 1000.0
    for m in range(10 * 1440):
        t = start + m * 60
        day, mm = divmod(m, 1440)
        use = mm in (7 * 60, 7 * 60 + 1) or (mm in (19 * 60, 19 * 60 + 1) and day != 8)
        use = use or (day == 9 and 12 * 60 <= mm < 12 * 60 + 45)
        total += 3.785 if use else 0.0
        rows.append(f"{int(t)},{total:.3f},0,0")
    f = tmp_path / "w.csv"
    f.write_text("\n".join(rows) + "\n")
    info, evs = peer_eval.load_ampds2(str(f))
    info = type(info)(info.home, TZ, info.devices)
    rep = peer_eval.evaluate_water(info, evs)
    assert rep["count"]["water_running"] == 1
    assert rep["count"]["no_water"] >= 1


def test_activations_from_events():
    evs = [Event(MON, "pir", "motion", 1.0), Event(MON + 5, "pir", "motion", 0.0),
           Event(MON + 9, "door", "door", 1.0), Event(MON + 20, "m", "water", 10.0),
           Event(MON + 80, "m", "water", 15.0), Event(MON + 90, "hb", "heartbeat", 0.0)]
    acts = peer.activations(evs)
    assert [(a.ts - MON, a.sensor) for a in acts] == [(0, "pir"), (9, "door"), (80, "m")]


def test_cli_baseline_sweep_on_a_short_simulated_run(capsys, tmp_path: Path):
    parser = argparse.ArgumentParser(prog="anju")
    sub = parser.add_subparsers(dest="command")
    register_eval(CommandLine(parser, sub, sub))
    plot = tmp_path / "curves.svg"
    args = parser.parse_args(["eval", "--simulate", "--homes", "1", "--days", "10",
                              "--incident-kinds", "collapse", "--incidents-per-home-week", "2",
                              "--baseline", "wilhelm2024", "--sweep", "--k", "1.1,2",
                              "--plot", str(plot), "--json"])
    assert args.handler(args, None) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["sensitivity"] for r in out["wilhelm2024"]] == [1.1, 2.0]
    assert len(out["anju"]) == 5
    assert isinstance(out["default_dominated_by"], list)
    svg = plot.read_text()
    assert svg.startswith("<svg") and "wilhelm2024" in svg


def test_a_plot_without_both_curves_is_refused(capsys) -> None:  # noqa: ANN001
    from anju.cli import main
    assert main(["eval", "--simulate", "--homes", "1", "--plot", "x.svg"]) == 2
    assert "--baseline wilhelm2024 and --sweep" in capsys.readouterr().err
