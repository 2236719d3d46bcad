"""A device's conformance report: what it sent, how the ingest read it, and one verdict per
requirement of the device contract. Pure: no I/O.

The input is what was observed for one device — each message's topic, payload, arrival time
and retained flag — and the device as registered. Every message is read by the ingest's own
decoder (ingest.decode.decode with a registry holding only this device and the ingest's
Limits), so the report says exactly what the ingest stored or quarantined and why. On top of
that the payloads are looked at raw, for what the decoder cannot tell: a `seq` left out (it
defaults to 0), a `ts` in seconds or microseconds (told apart from milliseconds by its
magnitude against the arrival time).

`anju device check` (ingest.conformance_live) feeds it live messages; the console feeds it
what the database holds (readings rebuilt as messages, rejected messages as they came).
Verdict sentences are catalog keys (`conformance.*`) with their fields, worded per reader.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Literal

import msgspec

from anju.contract import DEVICE_KINDS, KIND_BY_LABEL, SPECS, Kind
from anju.i18n import label, text
from ingest.decode import decode
from ingest.message import DeviceRef, Limits, device_ref

Level = Literal["pass", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("pass", "warn", "fail")
REQUIREMENTS = ("payloads", "units", "timestamps", "seq", "heartbeat", "last_will",
                "report_offset")

CLOCK_WARN_S = 30
CLOCK_FAIL_S = 300
METER_KINDS = frozenset({Kind.WATER, Kind.POWER, Kind.ENERGY})
METER_DEVICES = frozenset({"water", "power", "energy"})
# Within this many seconds of :00 a meter joins the herd that reports on the minute.
HERD_S = 1.0
# A seq that falls back to this or less is a device that restarted, not a fault in order.
RESTART_SEQ = 1


@dataclass(frozen=True)
class Observed:
    """One message as it arrived (at_us: anju's clock, epoch µs). `reason` is set when the
    ingest's own reason is known already (a stored rejection): it is kept as it was."""

    topic: str
    payload: bytes
    at_us: int
    retained: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    uid: str
    kind: str
    heartbeat_s: int = 900
    vendor: str = ""
    model: str = ""
    id: int = 0
    home_id: int = 0
    gateway: str | None = None            # the gateway's uid, for a device behind one
    external_name: str | None = None
    firmware: str | None = None

    def ref(self) -> DeviceRef:
        return device_ref(self.id, self.uid, self.home_id, self.kind)


@dataclass
class Item:
    """One thing a message said: a reading, or the device's status."""

    kind: str                     # a kind label, or "status"
    value: float | str            # a reading's value; a status' "online" / "offline"
    unit: str
    device_us: int | None         # the device's time, as the ingest read it
    offset_s: float | None        # device time minus arrival
    seq: int | None = None
    has_seq: bool = True          # the payload named its seq (else the ingest used 0)


@dataclass
class Line:
    """One message: when it came, where, and how anju read it (or why it refused it)."""

    at_us: int
    topic: str
    leaf: str
    payload: str
    retained: bool = False
    reject: str | None = None
    ignored: bool = False
    items: list[Item] = field(default_factory=list)
    ts_scales: list[str] = field(default_factory=list)   # "ms" / "s" / "us" per integer ts
    firmware: str | None = None                          # a status' fw

    def read_as(self, lang: str) -> str:
        """How anju read it, in one phrase."""
        if self.reject is not None:
            return text(lang, "conformance.line.rejected", reason=self.reject)
        if self.ignored:
            return text(lang, "conformance.line.ignored")
        parts = []
        for it in self.items:
            if it.kind == "status":
                parts.append(text(lang, "conformance.line.status", status=it.value))
                continue
            off = "" if it.offset_s is None else text(lang, "conformance.line.offset",
                                                      offset=f"{it.offset_s:+.1f}")
            seq = f" #{it.seq}" if it.has_seq else \
                " " + text(lang, "conformance.line.no_seq", field="seq")
            parts.append(f"{it.kind}={_num(it.value)} {it.unit}{seq}{off}")
        return "; ".join(parts)


@dataclass
class Verdict:
    requirement: str
    level: Level
    code: str                                 # the finding, machine-readable (seconds, herd …)
    key: str                                  # catalog key of the sentence
    fields: dict[str, Any] = field(default_factory=dict)

    def sentence(self, lang: str) -> str:
        shown = dict(self.fields)
        if "kind" in shown:                   # a device kind reads as words (人体感应)
            shown["kind"] = label(lang, "device", str(shown["kind"]))
        return text(lang, self.key, **shown)


@dataclass
class Report:
    device: DeviceInfo
    since_us: int
    until_us: int
    source: str                               # "live" or "stored"
    lines: list[Line] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(v.level == "fail" for v in self.verdicts)

    @property
    def worst(self) -> Level:
        return max((v.level for v in self.verdicts), key=LEVELS.index, default="pass")

    def verdict(self, requirement: str) -> Verdict:
        return next(v for v in self.verdicts if v.requirement == requirement)

    def counts(self) -> dict[str, int]:
        items = [it for ln in self.lines for it in ln.items]
        return {"messages": len(self.lines),
                "readings": sum(it.kind != "status" for it in items),
                "statuses": sum(it.kind == "status" for it in items),
                "rejected": sum(ln.reject is not None for ln in self.lines),
                "retained": sum(ln.retained for ln in self.lines),
                "ignored": sum(ln.ignored for ln in self.lines)}

    def summary(self, lang: str, tz: str = "Asia/Shanghai") -> str:
        """Plain text a vendor attaches to a certification request."""
        d = self.device
        c = self.counts()
        lines = [text(lang, "conformance.summary.title", device=d.uid),
                 text(lang, "conformance.summary.device", kind=label(lang, "device", d.kind),
                      vendor=d.vendor or "—",
                      model=d.model or "—", firmware=d.firmware or "—",
                      heartbeat=d.heartbeat_s),
                 text(lang, "conformance.summary.window", since=_stamp(self.since_us, tz),
                      until=_stamp(self.until_us, tz),
                      minutes=f"{(self.until_us - self.since_us) / 60e6:.1f}",
                      source=text(lang, f"conformance.source.{self.source}")),
                 text(lang, "conformance.summary.counts", **c), ""]
        for v in self.verdicts:
            lines.append(f"[{text(lang, f'conformance.level.{v.level}')}] "
                         f"{text(lang, f'conformance.req.{v.requirement}')}: {v.sentence(lang)}")
        lines += ["", text(lang, "conformance.summary.fail" if self.failed else
                           "conformance.summary.warn" if self.worst == "warn" else
                           "conformance.summary.pass")]
        return "\n".join(lines)

    def as_json(self, lang: str = "en") -> dict[str, Any]:
        d = self.device
        return {
            "device": {"uid": d.uid, "kind": d.kind, "vendor": d.vendor, "model": d.model,
                       "firmware": d.firmware, "heartbeat_s": d.heartbeat_s},
            "since": _iso(self.since_us), "until": _iso(self.until_us), "source": self.source,
            "counts": self.counts(), "passed": not self.failed, "worst": self.worst,
            "verdicts": [{"requirement": v.requirement, "level": v.level, "code": v.code,
                          "sentence": v.sentence(lang), "fields": v.fields}
                         for v in self.verdicts],
            "messages": [{"at": _iso(ln.at_us), "topic": ln.topic, "payload": ln.payload,
                          "retained": ln.retained, "rejected": ln.reject,
                          "ignored": ln.ignored, "ts_scales": ln.ts_scales,
                          "read": [{"kind": it.kind, "value": it.value, "unit": it.unit,
                                    "device_time": _iso(it.device_us) if it.device_us else None,
                                    "offset_s": it.offset_s, "seq": it.seq,
                                    "seq_present": it.has_seq} for it in ln.items]}
                         for ln in self.lines],
        }


# -- reading messages ----------------------------------------------------------------------


class OneDevice:
    """The ingest's Registry, holding only the device under check."""

    def __init__(self, dev: DeviceInfo) -> None:
        self.ref = dev.ref()
        self.gateway, self.name = dev.gateway, dev.external_name or dev.uid

    def device(self, uid: str) -> DeviceRef | None:
        return self.ref if uid == self.ref.uid else None

    def behind_gateway(self, gateway_uid: str, name: str) -> DeviceRef | None:
        return self.ref if self.gateway and (gateway_uid, name) == (self.gateway, self.name) \
            else None


def _num(v: float | str) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat(timespec="milliseconds")


def _stamp(us: int, tz: str) -> str:
    from zoneinfo import ZoneInfo
    return datetime.fromtimestamp(us / 1e6, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %z")


def shown(payload: bytes, limit: int = 160) -> str:
    t = payload[:limit].decode("utf-8", "backslashreplace")
    t = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in t)
    return t + ("…" if len(payload) > limit else "")


def ts_scale(ts: object, at_us: int) -> str | None:
    """Which unit an integer `ts` is in, judged by which reading of it lands nearest the
    arrival time: "ms" (the contract), "s" or "us". None for a text or a missing ts."""
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        return None
    at_ms = at_us / 1000
    guesses = {"ms": ts, "s": ts * 1000, "us": ts / 1000}
    return min(guesses, key=lambda k: abs(guesses[k] - at_ms))


def _raw_readings(payload: bytes, leaf: str) -> list[dict[str, Any]]:
    """The payload's reading objects as sent (the decoder's defaults not applied)."""
    try:
        doc = msgspec.json.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return []
    if leaf == "batch" and isinstance(doc, dict) and isinstance(doc.get("readings"), list):
        return [r if isinstance(r, dict) else {} for r in doc["readings"]]
    return [doc] if isinstance(doc, dict) else []


def read(msg: Observed, registry: OneDevice, limits: Limits) -> Line:
    """One message as the ingest reads it, with what the raw payload adds."""
    leaf = msg.topic.rsplit("/", 1)[-1]
    line = Line(msg.at_us, msg.topic, leaf, shown(msg.payload), retained=msg.retained)
    raw = _raw_readings(msg.payload, leaf)
    line.ts_scales = [s for s in (ts_scale(r.get("ts"), msg.at_us) for r in raw) if s]
    out = decode(msg.topic, msg.payload, registry, msg.at_us, limits)
    if msg.reason is not None:
        line.reject = msg.reason
        return line
    if out.reject is not None:
        line.reject = out.reject
        return line
    if out.ignored:
        line.ignored = True
        return line
    if out.status is not None and not out.rows:
        status = raw[0].get("status") if raw else None
        value = status if status in ("online", "offline") else "online"
        fw = raw[0].get("fw") if raw else None
        line.firmware = fw if isinstance(fw, str) else None
        ts_us = out.status.ts_us
        # A will is fixed when the device connects: its ts is as old as the connection.
        off = None if ts_us is None or value == "offline" else (ts_us - msg.at_us) / 1e6
        line.items.append(Item("status", value, "", ts_us, off))
    for k, (ts_us, seq, value, _dev, kind) in enumerate(out.rows):
        has_seq = "seq" in raw[k] if k < len(raw) else True
        line.items.append(Item(Kind(kind).label, value, SPECS[Kind(kind)].unit, ts_us,
                               (ts_us - msg.at_us) / 1e6, seq, has_seq))
    return line


# -- the verdicts --------------------------------------------------------------------------


# The field a requirement is about, named in its sentences (kept out of the translations).
_FIELD = {"seq": "seq", "timestamps": "ts"}
CHECK_COMMAND = "anju device check"


# A sentence reworded later gets a key of its own (the catalog is only appended to).
_WORDING = {("last_will", "seen"): "seen_n"}


def _v(req: str, level: Level, code: str, **fields: Any) -> Verdict:
    if req in _FIELD:
        fields.setdefault("field", _FIELD[req])
    key = f"conformance.{req}.{_WORDING.get((req, code), code)}"
    return Verdict(req, level, code, key, fields)


def judge_payloads(lines: list[Line]) -> Verdict:
    if not lines:
        return _v("payloads", "fail", "nothing")
    rejected = [ln for ln in lines if ln.reject is not None]
    if rejected:
        reasons = Counter(ln.reject for ln in rejected)
        top, n = reasons.most_common(1)[0]
        return _v("payloads", "fail", "rejected", n=len(rejected), total=len(lines),
                  reason=top, kinds=len(reasons))
    retained = sum(ln.retained for ln in lines)
    if retained:
        return _v("payloads", "warn", "retained", n=retained, flag="retain")
    return _v("payloads", "pass", "ok", total=len(lines))


_RANGE_WORDS = ("must be 0 or 1", "out of range", "is not a number", "cannot report")


def judge_units(lines: list[Line], dev: DeviceInfo) -> Verdict:
    for ln in lines:
        if ln.reject and any(w in ln.reject for w in _RANGE_WORDS):
            return _v("units", "fail", "refused", reason=ln.reject)
    series: dict[str, list[tuple[int, float]]] = {}
    for ln in lines:
        for it in ln.items:
            if it.kind != "status" and isinstance(it.value, float):
                series.setdefault(it.kind, []).append((ln.at_us, it.value))
    for kind, pts in series.items():
        spec = SPECS[KIND_BY_LABEL[kind]]
        if spec.cumulative:
            for (_, a), (_, b) in zip(pts, pts[1:]):
                if b < a:
                    return _v("units", "fail", "went_down", kind=kind, prev=_num(a),
                              got=_num(b), unit=spec.unit.split(" ")[0])
    power = [v for _, v in series.get("power", [])]
    energy = series.get("energy", [])
    nonzero = [v for v in power if v > 0]
    # Watts from a plug are rarely all below 10 with decimals; kilowatts nearly always are.
    if len(nonzero) >= 3 and max(nonzero) < 10 and sum(v != int(v) for v in nonzero) >= 2:
        return _v("units", "warn", "kw", max=_num(max(nonzero)), got="kW", want="W")
    if len(energy) >= 2 and len(power) >= 2:
        hours = (energy[-1][0] - energy[0][0]) / 3.6e9
        expect_wh = statistics.fmean(power) * hours
        got_wh = energy[-1][1] - energy[0][1]
        if expect_wh >= 1 and got_wh < expect_wh / 100:
            return _v("units", "warn", "kwh", expect=f"{expect_wh:.1f}", got=_num(got_wh),
                      unit="Wh", wrong="kWh")
    water = series.get("water", [])
    steps = [b - a for (_, a), (_, b) in zip(water, water[1:]) if b > a]
    if steps and max(steps) < 0.05 and any(v != int(v) for _, v in water):
        return _v("units", "warn", "m3", step=_num(max(steps)), wrong="m³", unit="L")
    temps = [v for _, v in series.get("temperature", [])]
    if temps and (max(temps) > 50 or min(temps) < -20):
        return _v("units", "warn", "temperature", value=_num(max(temps, key=abs)), unit="°C")
    if not series:
        return _v("units", "warn", "no_readings")
    return _v("units", "pass", "ok", kinds=", ".join(sorted(series)))


def judge_timestamps(lines: list[Line]) -> Verdict:
    scales = Counter(s for ln in lines for s in ln.ts_scales)
    if scales["s"]:
        return _v("timestamps", "fail", "seconds", n=scales["s"])
    if scales["us"]:
        return _v("timestamps", "fail", "micro", n=scales["us"])
    offsets = [it.offset_s for ln in lines for it in ln.items if it.offset_s is not None]
    if not offsets:
        return _v("timestamps", "warn", "none")
    # The median: a batch sent after an outage is late on purpose, the clock is not.
    mid = statistics.median(offsets)
    worst = max(offsets, key=abs)
    fields = {"offset": f"{mid:+.1f}", "worst": f"{worst:+.1f}", "warn": CLOCK_WARN_S,
              "fail": CLOCK_FAIL_S}
    if abs(mid) > CLOCK_FAIL_S:
        return _v("timestamps", "fail", "clock", **fields)
    if abs(mid) > CLOCK_WARN_S:
        return _v("timestamps", "warn", "clock", **fields)
    return _v("timestamps", "pass", "ok", **fields)


def judge_seq(lines: list[Line]) -> Verdict:
    readings = [it for ln in lines for it in ln.items if it.kind != "status"]
    if not readings:
        return _v("seq", "warn", "no_readings")
    missing = sum(not it.has_seq for it in readings)
    if missing:
        return _v("seq", "fail", "missing", n=missing, total=len(readings))
    if len(readings) > 1 and all(it.seq == 0 for it in readings):
        return _v("seq", "fail", "zero", total=len(readings))
    last: dict[str, Item] = {}
    dups = backs = restarts = resent = 0
    first_back = ""
    for it in readings:
        prev = last.get(it.kind)
        if prev is not None and prev.seq is not None and it.seq is not None:
            if it.seq == prev.seq:
                if (it.device_us, it.value) == (prev.device_us, prev.value):
                    resent += 1            # a QoS 1 resend: stored once, no fault
                else:
                    dups += 1
            elif it.seq < prev.seq:
                if it.seq <= RESTART_SEQ:
                    restarts += 1
                else:
                    backs += 1
                    first_back = first_back or f"{it.kind} {prev.seq} → {it.seq}"
        last[it.kind] = it
    if dups:
        return _v("seq", "fail", "duplicates", n=dups)
    if backs:
        return _v("seq", "fail", "backwards", n=backs, example=first_back)
    # Gaps over the device's whole sequence (one seq per message; a batch's readings share it).
    order: list[int] = []
    for it in readings:
        if it.seq is not None and (not order or it.seq != order[-1]):
            order.append(it.seq)
    gaps = sum(b - a - 1 for a, b in zip(order, order[1:]) if b > a + 1)
    if gaps:
        return _v("seq", "warn", "gaps", n=gaps)
    if restarts:
        return _v("seq", "warn", "restarted", n=restarts)
    return _v("seq", "pass", "ok", first=order[0], last=order[-1], resent=resent)


def judge_heartbeat(lines: list[Line], dev: DeviceInfo, since_us: int, until_us: int,
                    stored: bool) -> Verdict:
    hb = dev.heartbeat_s
    window_s = (until_us - since_us) / 1e6
    if stored:
        return _v("heartbeat", "warn", "not_stored", heartbeat=hb, command=CHECK_COMMAND)
    beats = [ln.at_us for ln in lines if not ln.retained
             for it in ln.items if it.kind == "status" and it.value == "online"]
    if not beats:
        if window_s >= 1.5 * hb:
            return _v("heartbeat", "fail", "none", heartbeat=hb,
                      minutes=f"{window_s / 60:.1f}")
        return _v("heartbeat", "warn", "short", heartbeat=hb, minutes=f"{window_s / 60:.1f}")
    gaps = [(b - a) / 1e6 for a, b in zip([since_us] + beats, beats + [until_us])]
    if max(gaps) > 3 * hb:
        return _v("heartbeat", "fail", "missed", heartbeat=hb, gap=f"{max(gaps):.0f}")
    intervals = [(b - a) / 1e6 for a, b in zip(beats, beats[1:])]
    if not intervals:
        return _v("heartbeat", "warn", "one", heartbeat=hb, minutes=f"{window_s / 60:.1f}")
    mid = statistics.median(intervals)
    jitter = statistics.pstdev(intervals)
    fields = {"heartbeat": hb, "n": len(beats), "median": f"{mid:.0f}",
              "min": f"{min(intervals):.0f}", "max": f"{max(intervals):.0f}",
              "jitter": f"{jitter:.1f}"}
    if mid > 1.5 * hb:
        return _v("heartbeat", "warn", "slow", **fields)
    if jitter > 0.25 * hb:
        return _v("heartbeat", "warn", "irregular", **fields)
    return _v("heartbeat", "pass", "ok", **fields)


def judge_last_will(lines: list[Line], dev: DeviceInfo, stored_offline_at: int | None = None,
                    stored: bool = False) -> Verdict:
    offline = [ln for ln in lines for it in ln.items
               if it.kind == "status" and it.value == "offline"]
    live = [ln for ln in offline if not ln.retained]
    if live:
        return _v("last_will", "pass", "seen", n=len(live))
    if offline:
        return _v("last_will", "warn", "retained")
    if stored:
        if stored_offline_at is not None:
            return _v("last_will", "pass", "stored_offline",
                      at=_iso(stored_offline_at)[:19].replace("T", " "))
        return _v("last_will", "warn", "not_stored", command=CHECK_COMMAND)
    topic = (f"anju/v1/gateways/{dev.gateway}/{dev.external_name or dev.uid}/status"
             if dev.gateway else f"anju/v1/devices/{dev.uid}/status")
    return _v("last_will", "warn", "not_observed", topic=topic, payload='{"status":"offline"}')


def circular_second(seconds: Iterable[float]) -> float | None:
    """The typical second of the minute of a set of moments (a circular mean: 59.8 and 0.3
    average to :00, not :30)."""
    s = list(seconds)
    if not s:
        return None
    x = sum(math.cos(2 * math.pi * v / 60) for v in s)
    y = sum(math.sin(2 * math.pi * v / 60) for v in s)
    if abs(x) < 1e-9 and abs(y) < 1e-9:
        return None
    return (math.atan2(y, x) * 60 / (2 * math.pi)) % 60


def second_distance(a: float, b: float) -> float:
    d = abs(a - b) % 60
    return min(d, 60 - d)


def judge_report_offset(lines: list[Line], dev: DeviceInfo,
                        fleet: list[float] | None = None) -> Verdict:
    """A meter's periodic reports: at which second of the minute they arrive (anju's clock,
    where the herd hits). `fleet`: the other meters' typical seconds."""
    if dev.kind not in METER_DEVICES:
        return _v("report_offset", "pass", "not_meter", kind=dev.kind)
    moments = sorted({ln.at_us for ln in lines if not ln.retained
                      for it in ln.items if it.kind != "status"
                      and KIND_BY_LABEL[it.kind] in METER_KINDS})
    if len(moments) < 2:
        return _v("report_offset", "warn", "few", n=len(moments))
    secs = [(us / 1e6) % 60 for us in moments]
    sec = circular_second(secs)
    if sec is None:
        return _v("report_offset", "pass", "spread", n=len(moments))
    herd = [s for s in secs if second_distance(s, 0) <= HERD_S]
    # Most reports on the minute is the fault, whatever a stray report does to the mean.
    if len(herd) * 2 > len(secs):
        at = circular_second(herd)
        return _v("report_offset", "fail", "herd", second=f"{at or 0:04.1f}", n=len(herd),
                  total=len(secs))
    others = fleet or []
    if len(others) >= 2 and all(second_distance(o, sec) <= HERD_S for o in others):
        return _v("report_offset", "warn", "fleet", second=f"{sec:04.1f}", n=len(others))
    return _v("report_offset", "pass", "ok", second=f"{sec:04.1f}", n=len(moments),
              fleet=len(others))


# -- the report ----------------------------------------------------------------------------


def check(dev: DeviceInfo, messages: Iterable[Observed], *, since_us: int, until_us: int,
          limits: Limits = Limits(), fleet: list[float] | None = None,
          source: str = "live", stored_offline_at: int | None = None) -> Report:
    """The report on `messages` (one device's, in arrival order) seen from since to until."""
    registry = OneDevice(dev)
    lines = [read(m, registry, limits) for m in sorted(messages, key=lambda m: m.at_us)]
    stored = source == "stored"
    firmware = [ln.firmware for ln in lines if ln.firmware]
    if firmware:    # what the device says now, over what was stored before
        dev = replace(dev, firmware=firmware[-1])
    report = Report(dev, since_us, until_us, source, lines)
    report.verdicts = [
        judge_payloads(lines),
        judge_units(lines, dev),
        judge_timestamps(lines),
        judge_seq(lines),
        judge_heartbeat(lines, dev, since_us, until_us, stored),
        judge_last_will(lines, dev, stored_offline_at, stored),
        judge_report_offset(lines, dev, fleet),
    ]
    return report


def reading_message(uid: str, kind: int, ts_us: int, seq: int, value: float,
                    received_us: int) -> Observed:
    """A stored reading as the message that carried it (for the report on stored data)."""
    payload = msgspec.json.encode({"ts": ts_us // 1000, "seq": seq, "value": value})
    return Observed(f"anju/v1/devices/{uid}/{Kind(kind).label}", payload, received_us)


def known_kind(kind: str) -> bool:
    return kind in DEVICE_KINDS


# -- what both the live check and the console read from the database -----------------------
# The statements are data here; each side runs them on its own connection.

DEVICE_SQL = """
SELECT d.id, d.uid, d.home_id, d.kind, d.heartbeat_s, d.vendor, d.model, g.uid,
       d.external_name, d.firmware, d.online, d.status_at, h.tz
FROM devices d JOIN homes h ON h.id = d.home_id LEFT JOIN devices g ON g.id = d.gateway_id
WHERE {where}
"""
DEVICE_BY_UID = DEVICE_SQL.format(where="d.uid = %s")
DEVICE_BY_ID = DEVICE_SQL.format(where="d.id = %s")

# Readings that arrived in the window (a late one up to the ingest's 7 days old).
STORED_READINGS = """
SELECT ts, seq, value, kind, coalesce(received_at, ts) AS received_at
FROM readings
WHERE device_id = %(device)s AND ts >= %(since)s - interval '7 days'
  AND coalesce(received_at, ts) >= %(since)s
ORDER BY 5, ts, seq LIMIT %(limit)s
"""
STORED_REJECTED = """
SELECT received_at, topic, payload, reason FROM rejected_messages
WHERE device_uid = %(uid)s AND received_at >= %(since)s
ORDER BY id LIMIT %(limit)s
"""
# Other meters' readings lately: when each arrives within the minute.
FLEET_ARRIVALS = """
SELECT device_id, extract(epoch FROM received_at)::float8
FROM readings
WHERE kind = ANY(%(kinds)s) AND device_id <> %(device)s
  AND ts >= now() - interval '1 hour' AND received_at >= now() - interval '1 hour'
LIMIT 20000
"""
FLEET_KINDS = sorted(int(k) for k in METER_KINDS)


def device_info(row: tuple[Any, ...]) -> tuple[DeviceInfo, dict[str, Any]]:
    """A DEVICE_SQL row: the device, and what the stored report adds (online, tz)."""
    (id_, uid, home_id, kind, hb, vendor, model, gw, ext, fw, online, status_at, tz) = row
    dev = DeviceInfo(uid=uid, kind=kind, heartbeat_s=hb, vendor=vendor, model=model, id=id_,
                     home_id=home_id, gateway=gw, external_name=ext, firmware=fw)
    return dev, {"online": online, "status_at": status_at, "tz": tz}


def fleet_seconds(rows: Iterable[tuple[int, float]]) -> list[float]:
    """Each other meter's typical second of the minute, from FLEET_ARRIVALS rows."""
    by_device: dict[int, list[float]] = {}
    for device, epoch in rows:
        by_device.setdefault(device, []).append(epoch % 60)
    out = []
    for secs in by_device.values():
        if len(secs) >= 2:
            s = circular_second(secs)
            if s is not None:
                out.append(s)
    return out


def stored_report(dev: DeviceInfo, extra: dict[str, Any], readings: Iterable[tuple[Any, ...]],
                  rejected: Iterable[tuple[Any, ...]], *, since_us: int, until_us: int,
                  fleet: list[float], limits: Limits = Limits()) -> Report:
    """The report on what the database holds: readings (STORED_READINGS rows) rebuilt as the
    messages that carried them, rejected messages (STORED_REJECTED rows) as they came."""
    msgs = [reading_message(dev.uid, kind, _us(ts), seq, value, _us(received))
            for ts, seq, value, kind, received in readings]
    msgs += [Observed(topic, bytes(payload), _us(at), reason=reason)
             for at, topic, payload, reason in rejected]
    offline_at = _us(extra["status_at"]) if extra.get("online") is False and \
        extra.get("status_at") else None
    return check(dev, msgs, since_us=since_us, until_us=until_us, limits=limits, fleet=fleet,
                 source="stored", stored_offline_at=offline_at)


def _us(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond
