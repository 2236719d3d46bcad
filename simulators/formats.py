"""Recorded sensor logs: parsers and the sensor mapping, as plain pure functions.

Every parser takes the lines of a log (and a source name for messages) and
returns `Event`s in the order of the log, with aware timestamps. Nothing here
speaks MQTT: the detectors' evaluation harness reads recordings with the same
functions the replayer uses.

Formats:
- generic: anju's event CSV (docs/event-csv.md), header ts,home,device,kind,value[,room]
- casas:   `2010-11-04 00:03:50.209589 M003 ON` (local time; the reader gives the zone)
- kasteren: van Kasteren `start_epoch<TAB>duration<TAB>id` lines plus a names file
  (`id<TAB>name`); the epoch is local wall-clock time stored as if it were UTC.

A malformed line raises FormatError naming the file, the line and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anju.contract import DEVICE_UID_RE, KIND_BY_LABEL, ROOMS

KINDS = frozenset(KIND_BY_LABEL) | {"heartbeat"}
IGNORE = "ignore"


class FormatError(ValueError):
    """A recorded log or mapping file is malformed; the message names file, line and expectation."""


@dataclass(frozen=True, slots=True)
class Event:
    ts: datetime            # aware
    device: str             # recorded sensor name (or anju device uid after mapping)
    kind: str | None        # anju kind label or "heartbeat"; None until mapped
    value: float
    room: str | None = None
    home: str | None = None
    line: int = 0           # line number in the source (1-based)


def zone(tz: str | None, what: str = "--tz") -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormatError(f"{what} {tz!r}: expected an IANA time zone such as Asia/Shanghai") from None


# -- generic event CSV ----------------------------------------------------------------

_EPOCH_RE = re.compile(r"^\d{9,11}(\.\d+)?$")


def parse_ts(text: str, tz: ZoneInfo | None, where: str) -> datetime:
    """ISO 8601 with an offset; ISO without one when tz is given; or epoch seconds."""
    text = text.strip()
    if _EPOCH_RE.match(text):
        return datetime.fromtimestamp(float(text), timezone.utc)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise FormatError(f"{where}: ts {text!r}: expected ISO 8601 such as "
                          "2024-03-04T07:15:00+08:00, or epoch seconds") from None
    if dt.tzinfo is None:
        if tz is None:
            raise FormatError(f"{where}: ts {text!r} has no UTC offset: give the log's zone "
                              "with --tz (e.g. --tz Asia/Shanghai) or write the offset")
        dt = dt.replace(tzinfo=tz)
    return dt


def parse_generic(lines: Iterable[str], source: str = "<events>", tz: str | None = None,
                  ) -> list[Event]:
    """anju's generic event CSV -> Events (kind may be empty: then the mapping gives it)."""
    z = zone(tz)
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FormatError(f"{source}: empty file: expected the header ts,home,device,kind,value,room")
    need = ("ts", "device", "kind", "value")
    missing = [c for c in need if c not in header]
    if missing:
        raise FormatError(f"{source}:1: header {','.join(header)!r} lacks {', '.join(missing)}; "
                          "expected ts,home,device,kind,value[,room]")
    i_ts, i_dev, i_kind, i_val = (header.index(c) for c in need)
    i_home = header.index("home") if "home" in header else None
    i_room = header.index("room") if "room" in header else None
    width = len(header)
    out = []
    for row in reader:
        n = reader.line_num
        where = f"{source}:{n}"
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < width - (1 if i_room == width - 1 else 0):
            raise FormatError(f"{where}: {len(row)} fields: expected {width} "
                              f"({','.join(header)})")
        kind = row[i_kind].strip().lower() or None
        if kind is not None and kind not in KINDS:
            raise FormatError(f"{where}: kind {row[i_kind]!r}: expected one of "
                              f"{', '.join(sorted(KINDS))}")
        try:
            value = float(row[i_val])
        except ValueError:
            raise FormatError(f"{where}: value {row[i_val]!r}: expected a number") from None
        device = row[i_dev].strip()
        if not device:
            raise FormatError(f"{where}: empty device: expected the device id")
        room = row[i_room].strip() if i_room is not None and i_room < len(row) else ""
        out.append(Event(parse_ts(row[i_ts], z, where), device, kind, value, room or None,
                         (row[i_home].strip() or None) if i_home is not None else None, n))
    return out


def format_generic(events: Iterable[Event]) -> str:
    """Events -> generic CSV text (header included); ts keep their offsets."""
    buf = io.StringIO()
    buf.write("ts,home,device,kind,value,room\n")
    for e in events:
        v = int(e.value) if float(e.value).is_integer() else e.value
        buf.write(f"{e.ts.isoformat()},{e.home or ''},{e.device},{e.kind or ''},{v},{e.room or ''}\n")
    return buf.getvalue()


# -- CASAS ---------------------------------------------------------------------------

_CASAS_VALUES = {"ON": 1.0, "OPEN": 1.0, "PRESENT": 1.0, "OFF": 0.0, "CLOSE": 0.0,
                 "CLOSED": 0.0, "ABSENT": 0.0}


def parse_casas(lines: Iterable[str], source: str = "<casas>", tz: str = "UTC") -> list[Event]:
    """CASAS `date time sensor value [annotation]` lines (local time in zone tz)."""
    z = zone(tz)
    out = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        where = f"{source}:{n}"
        if len(parts) < 4:
            raise FormatError(f"{where}: {len(parts)} fields: expected "
                              "'YYYY-MM-DD HH:MM:SS[.ffffff] SENSOR VALUE'")
        try:
            ts = datetime.fromisoformat(f"{parts[0]} {parts[1]}")
        except ValueError:
            raise FormatError(f"{where}: {parts[0]} {parts[1]!r}: expected a date and time "
                              "such as 2010-11-04 00:03:50.209589") from None
        raw = parts[3].upper()
        if raw in _CASAS_VALUES:
            value = _CASAS_VALUES[raw]
        else:
            try:
                value = float(parts[3])
            except ValueError:
                raise FormatError(f"{where}: value {parts[3]!r}: expected ON, OFF, OPEN, CLOSE, "
                                  "PRESENT, ABSENT or a number") from None
        out.append(Event(ts.replace(tzinfo=z) if ts.tzinfo is None else ts, parts[2], None,
                         value, None, None, n))
    return out


# -- van Kasteren ---------------------------------------------------------------------

def parse_kasteren_names(lines: Iterable[str], source: str = "<names>") -> dict[str, str]:
    names = {}
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        sid, sep, name = text.partition("\t")
        if not sep:
            sid, _, name = text.partition(" ")
        if not sid.strip().isdigit() or not name.strip():
            raise FormatError(f"{source}:{n}: {text!r}: expected 'ID<TAB>name'")
        names[sid.strip()] = name.strip()
    return names


def parse_kasteren(lines: Iterable[str], names: dict[str, str] | None = None,
                   source: str = "<kasteren>", tz: str = "Europe/Amsterdam") -> list[Event]:
    """van Kasteren `start duration id` lines -> on (1) at start and off (0) at start+duration.

    The epoch is local wall-clock time stored as UTC, so it is read as wall-clock
    time in `tz`. Events come out in time order; onsets keep the file's order.
    A sensor id without a name is called by its id.
    """
    z = zone(tz)
    names = names or {}
    out: list[tuple[datetime, int, Event]] = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        parts = text.split()
        where = f"{source}:{n}"
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise FormatError(f"{where}: {text!r}: expected 'START_EPOCH<TAB>DURATION_S<TAB>ID' "
                              "(three whole numbers)")
        start, dur, sid = int(parts[0]), int(parts[1]), parts[2]
        wall = datetime(1970, 1, 1) + timedelta(seconds=start)
        ts = wall.replace(tzinfo=z)
        name = names.get(sid, sid)
        out.append((ts, 0, Event(ts, name, None, 1.0, None, None, n)))
        end = (wall + timedelta(seconds=dur)).replace(tzinfo=z)
        out.append((end, 1, Event(end, name, None, 0.0, None, None, n)))
    # stable: same instant -> file order, onset before the offset of a later line
    out.sort(key=lambda x: x[0].timestamp())
    return [e for _, _, e in out]


# -- mapping --------------------------------------------------------------------------

@dataclass(frozen=True)
class MapEntry:
    kind: str           # an anju kind label, or "ignore"
    room: str = "other"
    device: str = ""    # name of the device in anju (default: from the sensor name)
    invert: bool = False


@dataclass(frozen=True)
class SensorMap:
    sensors: dict[str, MapEntry]
    tz: str | None = None
    home: str | None = None
    source: str = ""


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-_.").lower()
    return s or "sensor"


def _entry(sensor: str, d: dict, where: str) -> MapEntry:
    kind = str(d.get("kind", "")).strip().lower()
    if kind != IGNORE and kind not in KIND_BY_LABEL:
        raise FormatError(f"{where}: sensor {sensor!r}: kind {kind!r}: expected one of "
                          f"{', '.join(sorted(KIND_BY_LABEL))} or 'ignore'")
    room = str(d.get("room") or "other").strip()
    if room not in ROOMS:
        raise FormatError(f"{where}: sensor {sensor!r}: room {room!r}: expected one of "
                          f"{', '.join(ROOMS)}")
    device = str(d.get("device") or "").strip() or slug(sensor)
    if kind != IGNORE and not DEVICE_UID_RE.match(device):
        raise FormatError(f"{where}: sensor {sensor!r}: device {device!r}: expected letters, "
                          "digits, '_', '.', '-'")
    invert = str(d.get("invert", "")).strip().lower() in ("1", "true", "yes")
    return MapEntry(kind, room, device, invert)


def parse_map(text: str, source: str = "<map>") -> SensorMap:
    """A mapping file: JSON {"tz", "home", "sensors": {name: {kind, room, device}}} or
    CSV with header sensor,kind,room[,device[,invert]]."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise FormatError(f"{source}:{e.lineno}: not valid JSON: {e.msg}") from None
        sensors = data.get("sensors")
        if not isinstance(sensors, dict):
            raise FormatError(f"{source}: expected an object with a 'sensors' object "
                              '({"sensors": {"M003": {"kind": "motion", "room": "kitchen"}}})')
        out = {}
        for name, d in sensors.items():
            if not isinstance(d, dict):
                raise FormatError(f"{source}: sensor {name!r}: expected an object with kind and room")
            out[str(name)] = _entry(str(name), d, source)
        return SensorMap(out, data.get("tz"), data.get("home"), source)
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "sensor" not in fields or "kind" not in fields:
        raise FormatError(f"{source}:1: expected a JSON object or a CSV header "
                          "sensor,kind,room[,device[,invert]]")
    reader.fieldnames = fields
    out = {}
    for row in reader:
        name = (row.get("sensor") or "").strip()
        if not name:
            raise FormatError(f"{source}:{reader.line_num}: empty sensor name")
        out[name] = _entry(name, row, f"{source}:{reader.line_num}")
    return SensorMap(out, None, None, source)


def read_map(path: str | Path) -> SensorMap:
    p = Path(path)
    try:
        return parse_map(p.read_text(encoding="utf-8-sig"), str(p))
    except FileNotFoundError:
        raise FormatError(f"mapping file {p} does not exist") from None


class UnmappedSensors(FormatError):
    def __init__(self, counts: dict[str, int], source: str) -> None:
        self.counts = counts
        listing = ", ".join(f"{k!r} ({v} events)" for k, v in sorted(counts.items()))
        super().__init__(f"{source}: {len(counts)} recorded sensor(s) missing from the mapping "
                         f"file: {listing}; add them (kind 'ignore' to drop them) or pass "
                         "--skip-unmapped")


def apply_map(events: Iterable[Event], mapping: SensorMap | None, *, skip_unmapped: bool = False,
              source: str = "<log>") -> tuple[list[Event], dict[str, int]]:
    """Give each event its anju kind, room and device; returns (events, unmapped counts).

    Without a mapping, events must already carry a kind (the generic CSV).
    Raises UnmappedSensors when a sensor is missing and skip_unmapped is False.
    """
    out, unmapped = [], {}
    sensors = mapping.sensors if mapping else {}
    for e in events:
        m = sensors.get(e.device)
        if m is None:
            if e.kind is not None and mapping is None:
                out.append(e)
                continue
            unmapped[e.device] = unmapped.get(e.device, 0) + 1
            continue
        if m.kind == IGNORE:
            continue
        value = 1.0 - e.value if m.invert else e.value
        out.append(replace(e, device=m.device, kind=m.kind, room=m.room, value=value))
    if unmapped and not skip_unmapped:
        raise UnmappedSensors(unmapped, source)
    return out, unmapped


def read_log(path: str | Path, fmt: str, *, tz: str | None = None,
             names: str | Path | None = None) -> list[Event]:
    """Read a recorded log file in `fmt` (generic, casas, kasteren)."""
    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p} does not exist")
    with open(p, encoding="utf-8-sig", newline="") as f:
        if fmt == "generic":
            return parse_generic(f, str(p), tz)
        if fmt == "casas":
            if tz is None:
                raise FormatError(f"{p}: CASAS logs are in local time: give the zone with --tz")
            return parse_casas(f, str(p), tz)
        if fmt == "kasteren":
            if names is None:
                guess = p.with_name(p.name.replace(".sensors", ".sensor_names"))
                if guess == p or not guess.exists():
                    raise FormatError(f"{p}: the van Kasteren format needs the sensor names "
                                      "file (--names houseX.sensor_names)")
                names = guess
            with open(names, encoding="utf-8") as g:
                nm = parse_kasteren_names(g, str(names))
            return parse_kasteren(f, nm, str(p), tz or "Europe/Amsterdam")
    raise FormatError(f"format {fmt!r}: expected generic, casas or kasteren")


# -- AMPds2 water meter ----------------------------------------------------------------

AMPDS2_HEADER = ("unix_ts", "counter")


def parse_ampds2(lines: Iterable[str], source: str = "<ampds2>",
                 device: str = "water-meter") -> list[Event]:
    """AMPds2 water CSV (`unix_ts,counter,avg_rate,inst_rate`, one row a minute; S. Makonin
    et al., Scientific Data 3:160037, 2016) -> the meter's cumulative total in litres at each
    row, as a water meter publishes it (kind "water"). The counter steps by one US gallon
    (3.785 L), so a trickle shows as a step now and then, as on a real pulse meter."""
    out = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        parts = text.split(",")
        if n == 1 and parts[0] == AMPDS2_HEADER[0]:
            if tuple(parts[:2]) != AMPDS2_HEADER:
                raise FormatError(f"{source}:1: header {text!r}: expected "
                                  "'unix_ts,counter,avg_rate,inst_rate'")
            continue
        try:
            ts, total = int(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise FormatError(f"{source}:{n}: {text!r}: expected 'UNIX_TS,COUNTER,...' "
                              "(whole seconds, litres)") from None
        if total < 0:
            raise FormatError(f"{source}:{n}: counter {total}: expected a total >= 0")
        out.append(Event(datetime.fromtimestamp(ts, timezone.utc), device, "water", total,
                         None, None, n))
    return out
