"""soak.report, soak.timeline and soak.texts: the terminal table, the zh/en Markdown report
and the SVG timeline, from a figures dict built here (no servers)."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from soak import report, texts, timeline

CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
SVG = "{http://www.w3.org/2000/svg}"


def _service(rss: float, cpu: float, pct: float, restarts: int = 0) -> dict[str, Any]:
    return {"peak_rss_mb": rss, "cpu_s": cpu, "peak_cpu_pct": pct, "restarts": restarts}


def passing() -> dict[str, Any]:
    """A 1000-home, 10-minute run that met everything; 3 faults, 5 emergencies."""
    return {
        "homes": 1000, "minutes": 10.0, "speed": 1.0, "seed": 1, "faults_plan": "default",
        "started_at": "2026-12-04T12:00:00+08:00", "duration_s": 660.0,
        "published": 123456, "stored": 123456, "lost": 0, "duplicates": 0,
        "duplicates_sent": 120, "malformed_sent": 14, "quarantined": 14,
        "emergencies_injected": 5, "emergencies_delivered": 5,
        "deliver_p50_s": 2.1, "deliver_p99_s": 14.0, "deliver_max_s": 15.2,
        "delivered_within_60s": 1.0, "delivered_within_180s": 1.0,
        "emergencies_in_outage": 1, "in_outage_delivered": 1,
        "in_outage_max_s_after_recovery": 12.0,
        "acknowledged": 4, "escalations_stopped_on_ack": 4, "escalations_after_ack": 0,
        "outage_family_pages": 0, "false_alarms": 1, "false_alarms_per_home_day": 0.14,
        "collapses_injected": 4, "collapses_detected": 3,
        "faults": [
            {"kind": "kill_ingest", "at_s": 60.0, "end_s": 60.0, "detail": "kill -9 pid 1234",
             "recovery_s": {"ingest": 3.2, "detectors": None, "router": None}},
            {"kind": "postgres_stop", "at_s": 240.0, "end_s": 360.0,
             "detail": "pg_ctl stop -m fast",
             "recovery_s": {"ingest": 4.0, "detectors": 6.1, "router": 3.3}},
            {"kind": "network_cut", "at_s": 420.0, "end_s": 450.0, "detail": "iptables DROP",
             "recovery_s": {"ingest": 2.5, "detectors": 2.0, "router": 1.9}},
        ],
        "services": {
            "ingest": _service(80.5, 40.2, 55.0, 1), "detectors": _service(120.0, 61.3, 70.5),
            "router": _service(64.2, 12.0, 20.0), "console": _service(90.1, 5.5, 9.0),
            "watchdog": _service(30.0, 1.2, 2.0), "postgres": _service(410.7, 88.8, 95.0),
            "mosquitto": _service(12.3, 9.9, 15.0), "load": _service(300.0, 200.0, 99.0),
        },
        "timeline": {
            "throughput": [[float(s), 0.0 if 240 <= s < 360 else 205.0] for s in range(0, 661, 10)],
            "emergencies": [[35.0, 2.3, "button"], [80.0, 1.1, "smoke"], [250.0, 14.0, "button"],
                            [400.0, 15.2, "smoke"], [600.0, 0.4, "button"]],
        },
    }


def failing() -> dict[str, Any]:
    """The same run with slow deliveries: p99 75 s, 95 % within 60 s, all within 180 s."""
    f = passing()
    f.update(deliver_p99_s=75.0, deliver_max_s=80.0, delivered_within_60s=0.95,
             delivered_within_180s=1.0)
    f["timeline"]["emergencies"][2][1] = 75.0
    return f


def row(markdown: str, label: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is `label`."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in\n{markdown}")


def with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


# ---------------------------------------------------------------- table

def test_table_shows_every_figure_under_its_json_key() -> None:
    f = passing()
    text = report.render_table(f)
    for key, value in [("homes", "1000"), ("published", "123456"), ("stored", "123456"),
                       ("lost", "0"), ("duplicates", "0"), ("emergencies_delivered", "5"),
                       ("deliver_p99_s", "14.0"), ("delivered_within_60s", "1.0"),
                       ("false_alarms_per_home_day", "0.14"),
                       ("started_at", "2026-12-04T12:00:00+08:00")]:
        assert re.search(rf"(^|\s){key}\s+{re.escape(value)}(\s|$)", text, re.M), key
    assert re.search(r"^postgres_stop\s+240\.0\s+360\.0\s+4\.0\s+6\.1\s+3\.3$", text, re.M)
    assert re.search(r"^kill_ingest\s+60\.0\s+60\.0\s+3\.2\s+—\s+—$", text, re.M)
    assert re.search(r"^postgres\s+410\.7\s+88\.8\s+95\.0\s+0$", text, re.M)
    assert "recovery_s.detectors" in text and "peak_rss_mb" in text


def test_table_columns_line_up() -> None:
    lines = report.render_table(passing()).split("\n\n")[0].splitlines()
    second = lines[0].index("deliver_p50_s")
    assert all(len(line) <= 100 for line in lines)
    assert all(line[second - 1] == " " and line[second] != " " for line in lines)


# ---------------------------------------------------------------- report

def test_zh_report_in_chinese_and_met_when_the_benchmark_is_met() -> None:
    md = report.render_report(passing())
    for label in ("丢失", "重复", "紧急事件", "送达", "故障", "恢复时间", "内存峰值",
                  "杀死 ingest", "数据库停止", "网络中断"):
        assert label in md, label
    assert "1,000 户" in md and "10 分钟" in md and "11:00" in md and "default" in md
    assert "丢失 0 · 紧急事件送达 5/5 · p99 14.0 s" in md
    assert row(md, "丢失的读数")[1] == "0"
    assert row(md, "送达的紧急事件")[1] == "5"
    assert row(md, "60 秒内送达的比例")[1:] == ["100.0%", "≥ 97.5%", "达到"]
    assert row(md, "180 秒内送达的比例")[1:] == ["100.0%", "≥ 99.0%", "达到"]
    assert "未达到" not in md
    assert row(md, "数据库停止")[1:5] == ["04:00", "120.0", "4.0", "6.1"]
    assert row(md, "杀死 ingest")[1:3] == ["01:00", "瞬时"]
    assert row(md, "postgres")[1:4] == ["410.7", "88.8", "95.0"]


def test_slow_deliveries_do_not_meet_the_60s_benchmark() -> None:
    md = report.render_report(failing())
    assert row(md, "送达时间 p99（秒）")[1] == "75.0"
    assert row(md, "60 秒内送达的比例")[1:] == ["95.0%", "≥ 97.5%", "**未达到**"]
    assert row(md, "180 秒内送达的比例")[3] == "达到"
    en = report.render_report(failing(), "en")
    assert row(en, "Delivered within 60 s")[3] == "**not met**"
    assert row(en, "Delivered within 180 s")[3] == "met"


@pytest.mark.parametrize("share, shown, verdict", [
    (0.975, "97.5%", "达到"), (0.97499, "97.4%", "**未达到**"), (0.0, "0.0%", "**未达到**")])
def test_a_share_just_short_of_the_target_is_neither_met_nor_printed_as_the_target(
        share: float, shown: str, verdict: str) -> None:
    f = passing()
    f["delivered_within_60s"] = share
    assert row(report.render_report(f), "60 秒内送达的比例")[1::2] == [shown, verdict]


def test_en_report_has_no_chinese_and_the_same_rows() -> None:
    zh, en = report.render_report(passing()), report.render_report(passing(), "en")
    assert not CJK.findall(en)
    assert "lost 0 · emergencies delivered 5/5 · p99 14.0 s" in en
    assert "kill ingest" in en and "database stopped" in en and "Peak RSS (MB)" in en
    assert row(en, "Delivered within 60 s")[1:] == ["100.0%", "≥ 97.5%", "met"]
    assert "not met" not in en
    # Same layout, line for line: only the words differ.
    assert [bool(line) for line in zh.splitlines()] == [bool(line) for line in en.splitlines()]


def test_data_stays_as_it_is_in_the_en_report() -> None:
    f = passing()
    f["faults"][0]["detail"] = "停止 ingest"
    assert CJK.findall(report.render_report(f, "en")) == list("停止")


def test_every_catalog_entry_has_both_languages() -> None:
    for key, entry in texts.CATALOG.items():
        assert set(entry) == {"zh", "en"} and all(entry.values()), key
        assert not CJK.findall(entry["en"]), key


def test_unmeasured_figures_print_a_dash_and_are_never_met() -> None:
    f = passing()
    for key, value in list(f.items()):
        if isinstance(value, (int, float)):
            f[key] = None
    f["faults"][1]["recovery_s"]["detectors"] = None
    f["services"]["load"] = {"peak_rss_mb": None, "cpu_s": None, "peak_cpu_pct": None,
                             "restarts": None}
    f["timeline"] = {"throughput": [], "emergencies": []}

    text = report.render_table(f)
    assert re.search(r"(^|\s)lost\s+—(\s|$)", text, re.M)
    assert re.search(r"(^|\s)deliver_p99_s\s+—(\s|$)", text, re.M)
    assert re.search(r"^load\s+—\s+—\s+—\s+—$", text, re.M)

    md = report.render_report(f)
    assert "达到" not in md
    assert row(md, "丢失的读数")[1] == "—"
    assert row(md, "60 秒内送达的比例")[1:] == ["—", "≥ 97.5%", "—"]
    assert row(md, "数据库停止")[4] == "—"
    assert row(md, "load")[1:] == ["—"] * 4
    assert "模拟住户：—" in md and "丢失 — · 紧急事件送达 —/— · p99 — s" in md
    en = report.render_report(f, "en")
    assert row(en, "Delivered within 180 s")[3] == "—" and row(en, "Readings lost")[1] == "—"

    root = ET.fromstring(timeline.render_svg(f))
    assert not with_class(root, "emergency") and not with_class(root, "throughput")
    assert len(with_class(root, "fault")) == 3


def test_nan_from_a_percentile_of_nothing_is_not_measured() -> None:
    f = passing()
    f["deliver_p99_s"] = float("nan")
    f["delivered_within_60s"] = float("nan")
    md = report.render_report(f)
    assert row(md, "送达时间 p99（秒）")[1] == "—" and row(md, "60 秒内送达的比例")[3] == "—"


def test_a_pipe_in_a_detail_does_not_break_the_faults_table() -> None:
    f = passing()
    f["faults"][0]["detail"] = "a | b\nc <&>"
    lines = report.render_report(f).splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("| 杀死 ingest"))
    assert lines[i].endswith("| a \\| b c <&> |")
    assert lines[i].replace("\\|", "").count("|") == lines[i - 2].count("|")
    f["faults"][0]["detail_zh"] = "进程被强制终止"
    assert "| 进程被强制终止 |" in report.render_report(f)
    assert "| a \\| b c <&> |" in report.render_report(f, "en")


def test_no_faults_and_no_services() -> None:
    f = passing()
    f["faults"], f["services"] = [], {}
    md = report.render_report(f)
    assert "本次没有注入故障。" in md and "没有资源数据。" in md
    assert "faults" not in report.render_table(f).split()
    ET.fromstring(timeline.render_svg(f))


def test_fault_kinds_in_words() -> None:
    assert [texts.fault_label(k) for k in (
        "kill_ingest", "broker_restart", "postgres_stop", "network_cut", "poison", "hijack",
        "disk_full")] == ["杀死 ingest", "代理重启", "数据库停止", "网络中断", "恶意消息",
                          "冒用设备", "disk_full"]
    assert texts.fault_label("kill_router", "en") == "kill router"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError):
        report.render_report(passing(), "fr")
    with pytest.raises(ValueError):
        timeline.render_svg(passing(), "de")


# ---------------------------------------------------------------- SVG

def test_svg_is_valid_xml_with_one_mark_per_fault_and_emergency() -> None:
    f = copy.deepcopy(passing())
    f["timeline"]["emergencies"] += [[500.0, None, "smoke"], [510.0, 300.0, "button"]]
    svg = timeline.render_svg(f)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and (root.get("width"), root.get("height")) == ("1000", "520")
    assert "Noto Sans CJK SC" in root.get("font-family") and "sans-serif" in root.get("font-family")

    faults = with_class(root, "fault")
    assert [g.get("data-kind") for g in faults] == ["kill_ingest", "postgres_stop", "network_cut"]
    texts = ["".join(g.itertext()) for g in faults]
    assert "杀死 ingest" in texts[0] and "数据库停止" in texts[1] and "网络中断" in texts[2]
    # An instant fault is a line, one with a length is a shaded span.
    assert faults[0].find(f"{SVG}line") is not None and faults[0].find(f"{SVG}rect") is None
    assert faults[1].find(f"{SVG}rect") is not None

    marks = with_class(root, "emergency")
    assert len(marks) == len(f["timeline"]["emergencies"]) == 7
    crosses = with_class(root, "undelivered")
    assert len(crosses) == 1 and crosses[0].tag == f"{SVG}path"
    assert sum(m.tag == f"{SVG}circle" for m in marks) == 6
    # The 300 s delivery stands above the 60 s line, the 0.4 s one at the bottom.
    ys = {m.findtext(f"{SVG}title"): float(m.get("cy")) for m in marks if m.get("cy")}
    slow = next(y for t, y in ys.items() if "300.0" in t)
    fast = next(y for t, y in ys.items() if "0.4" in t)
    assert slow < fast
    assert len(with_class(root, "throughput")) == 1
    assert "丢失 0 · 紧急事件送达 5/5 · p99 14.0 s" in "".join(root.itertext())
    assert "1,000 户" in "".join(root.itertext())


def test_svg_escapes_text() -> None:
    f = passing()
    f["faults"][1]["detail"] = 'pg_ctl stop <&> "x"'
    f["faults"][1]["kind"] = "odd<&>kind"
    svg = timeline.render_svg(f)
    assert "&lt;&amp;&gt;" in svg and "<&>" not in svg
    root = ET.fromstring(svg)
    fault = with_class(root, "fault")[1]
    assert fault.get("data-kind") == "odd<&>kind"
    assert 'pg_ctl stop <&> "x"' in fault.findtext(f"{SVG}title")


def test_svg_in_english_and_without_a_duration() -> None:
    f = passing()
    f["duration_s"] = None
    svg = timeline.render_svg(f, "en")
    root = ET.fromstring(svg)
    text = "".join(root.itertext())
    assert not CJK.findall(text)
    assert "lost 0 · emergencies delivered 5/5 · p99 14.0 s" in text and "kill ingest" in text
    xs = [float(m.get("cx")) for m in with_class(root, "emergency")]
    assert xs == sorted(xs) and 80 <= min(xs) and max(xs) <= 970
