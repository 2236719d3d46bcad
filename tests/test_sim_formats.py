"""Reproducible output, and parsing of recorded logs (van Kasteren houses A and B, CASAS, generic)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simulators import formats
from simulators.generate import FleetSpec, write_fleet

DATA = Path("/work/shared/data/kasteren")
MAPS = Path(__file__).resolve().parent.parent / "simulators" / "maps"


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    spec = FleetSpec(homes=10, days=3, seed=42, incidents_per_home_week=3,
                     inject=("collapse@2024-03-05T10:00+08:00~3h/sim-00002",))
    write_fleet(spec, tmp_path / "a", workers=1, progress=False)
    write_fleet(spec, tmp_path / "b", workers=2, progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    write_fleet(FleetSpec(homes=10, days=3, seed=43), tmp_path / "c", workers=1, progress=False)
    assert _digest(tmp_path / "a")["events.csv"] != _digest(tmp_path / "c")["events.csv"]


def test_generated_csv_is_readable_by_the_generic_parser(tmp_path):
    write_fleet(FleetSpec(homes=2, days=1, seed=1), tmp_path, workers=1, progress=False)
    with open(tmp_path / "events.csv") as f:
        events = formats.parse_generic(f, "events.csv")
    assert events and all(e.ts.utcoffset() == timedelta(hours=8) for e in events)
    assert {e.kind for e in events} >= {"motion", "power", "energy", "heartbeat", "door"}
    assert all(e.home and e.room for e in events)


@pytest.mark.skipif(not DATA.exists(), reason="recorded data not present")
@pytest.mark.parametrize("house", ["A", "B"])
def test_kasteren_replay_preserves_order_and_timing(house):
    path = DATA / f"house{house}.sensors"
    lines = [l.split() for l in path.read_text().splitlines() if l.strip()]
    events = formats.read_log(path, "kasteren")
    onsets = [e for e in events if e.value == 1.0]
    assert len(onsets) == len(lines) and len(events) == 2 * len(lines)
    ams = ZoneInfo("Europe/Amsterdam")
    for e, (start, dur, sid) in zip(onsets, lines):
        wall = datetime(1970, 1, 1) + timedelta(seconds=int(start))   # local wall clock
        assert e.ts == wall.replace(tzinfo=ams)
        assert e.ts.replace(tzinfo=None) == wall
    # the offset of each line is start + duration later
    off = {e.line: e for e in events if e.value == 0.0}
    for e in onsets[:200]:
        dur = int(lines[e.line - 1][1])
        assert (off[e.line].ts.replace(tzinfo=None) - e.ts.replace(tzinfo=None)).total_seconds() == dur
    assert [e.ts.timestamp() for e in events] == sorted(e.ts.timestamp() for e in events)
    mapped, unmapped = formats.apply_map(events, formats.read_map(MAPS / f"kasteren-house{house}.json"))
    assert not unmapped and mapped
    assert [e.line for e in mapped if e.value == 1.0] == sorted(e.line for e in mapped if e.value == 1.0)
    kinds = {e.kind for e in mapped}
    # both have a front door (house B's is the unnamed id 4; its named id 7 never fires)
    assert "door" in kinds and ("motion" in kinds) == (house == "B")


def test_kasteren_malformed_line_names_file_and_line():
    with pytest.raises(formats.FormatError, match=r"x.sensors:2: .*expected 'START_EPOCH"):
        formats.parse_kasteren(["1203898814\t163\t24", "1203932021\tabc\t24"], {}, "x.sensors")


def test_unmapped_sensor_is_reported_and_skipped_only_when_asked():
    events = formats.parse_casas(["2010-11-04 00:03:50.209589 M003 ON",
                                  "2010-11-04 00:03:57.399391 M004 ON",
                                  "2010-11-04 00:15:08.984841 T002 21.5"], "c.txt", "America/Los_Angeles")
    m = formats.parse_map("sensor,kind,room\nM003,motion,bedroom\nT002,temperature,bedroom\n", "m.csv")
    with pytest.raises(formats.UnmappedSensors, match="'M004' \\(1 events\\).*--skip-unmapped"):
        formats.apply_map(events, m, source="c.txt")
    out, unmapped = formats.apply_map(events, m, skip_unmapped=True)
    assert unmapped == {"M004": 1}
    assert [(e.device, e.kind, e.room, e.value) for e in out] == [
        ("m003", "motion", "bedroom", 1.0), ("t002", "temperature", "bedroom", 21.5)]
    assert out[0].ts.isoformat() == "2010-11-04T00:03:50.209589-07:00"


def test_casas_malformed_line():
    with pytest.raises(formats.FormatError, match=r"c.txt:2: value 'MAYBE'"):
        formats.parse_casas(["2010-11-04 00:03:50.209589 M003 ON",
                             "2010-11-04 00:03:51 M003 MAYBE"], "c.txt", "UTC")
    with pytest.raises(formats.FormatError, match=r"c.txt:1: .*expected a date and time"):
        formats.parse_casas(["2010-13-04 00:03:50 M003 ON"], "c.txt", "UTC")


def test_generic_timestamps_offset_tz_and_epoch():
    text = ["ts,home,device,kind,value,room",
            "2024-03-04T07:15:00+08:00,h1,d1,motion,1,bedroom",
            "2024-03-04 07:16:00,h1,d1,motion,0,bedroom",
            "1709507820,h1,d2,water,12.5,kitchen"]
    with pytest.raises(formats.FormatError, match=r"e.csv:3: .*no UTC offset.*--tz"):
        formats.parse_generic(text, "e.csv")
    ev = formats.parse_generic(text, "e.csv", tz="Asia/Shanghai")
    assert [e.ts.timestamp() for e in ev] == [1709507700, 1709507760, 1709507820]
    assert ev[2].value == 12.5 and ev[2].kind == "water"
    with pytest.raises(formats.FormatError, match=r"e.csv:2: kind 'wobble'"):
        formats.parse_generic(["ts,home,device,kind,value", "1709507820,h,d,wobble,1"], "e.csv")
    with pytest.raises(formats.FormatError, match=r"e.csv:1: header .* lacks value"):
        formats.parse_generic(["ts,home,device,kind"], "e.csv")


def test_map_errors_name_the_problem():
    with pytest.raises(formats.FormatError, match="kind 'lamp'"):
        formats.parse_map('{"sensors": {"M1": {"kind": "lamp", "room": "kitchen"}}}', "m.json")
    with pytest.raises(formats.FormatError, match="room 'attic'"):
        formats.parse_map("sensor,kind,room\nM1,motion,attic\n", "m.csv")


def test_cli_replay_check_reports_unmapped(tmp_path):
    log = tmp_path / "c.txt"
    log.write_text("2010-11-04 00:03:50.209589 M003 ON\n2010-11-04 00:03:57 M004 OFF\n")
    m = tmp_path / "m.json"
    m.write_text('{"sensors": {"M003": {"kind": "motion", "room": "kitchen"}}}')
    anju = [sys.executable, "-m", "anju.cli", "sim", "replay", str(log), "--format", "casas",
            "--map", str(m), "--tz", "America/Los_Angeles", "--check"]
    r = subprocess.run(anju, capture_output=True, text=True)
    assert r.returncode == 2 and "M004" in r.stderr and "--skip-unmapped" in r.stderr
    r = subprocess.run(anju + ["--skip-unmapped"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 events of unmapped sensor 'M004'" in r.stderr and "1 events" in r.stdout
