"""Every user-facing word of the soak report, table and timeline, in simple Chinese ("zh")
and English ("en"): one catalog, so the two languages cannot drift apart."""

from __future__ import annotations

from typing import Any

LANGS = ("zh", "en")

CATALOG: dict[str, dict[str, str]] = {
    # punctuation and units
    "colon": {"zh": "：", "en": ": "},
    "list_sep": {"zh": "、", "en": ", "},
    "unit.homes": {"zh": "{} 户", "en": "{}"},
    "unit.minutes": {"zh": "{} 分钟", "en": "{} min"},
    "unit.speed": {"zh": "{} 倍速", "en": "{}×"},
    "unit.faults": {"zh": "{n} 次（{kinds}）", "en": "{n} ({kinds})"},
    "met": {"zh": "达到", "en": "met"},
    "not_met": {"zh": "未达到", "en": "not met"},
    "at_least": {"zh": "≥ {}", "en": "≥ {}"},
    "instant": {"zh": "瞬时", "en": "instant"},
    # report
    "title": {"zh": "anju 故障注入稳定性测试报告", "en": "anju soak test report (fault injection)"},
    "headline": {"zh": "丢失 {lost} · 紧急事件送达 {delivered}/{injected} · p99 {p99} s",
                 "en": "lost {lost} · emergencies delivered {delivered}/{injected} · p99 {p99} s"},
    "sec.run": {"zh": "测试内容", "en": "What was run"},
    "sec.results": {"zh": "结果", "en": "Results"},
    "sec.faults": {"zh": "注入的故障", "en": "Injected faults"},
    "sec.resources": {"zh": "资源占用", "en": "Resource use"},
    "run.homes": {"zh": "模拟住户", "en": "Simulated homes"},
    "run.minutes": {"zh": "计划时长", "en": "Planned length"},
    "run.duration": {"zh": "实际运行时间（分:秒）", "en": "Wall-clock run time (mm:ss)"},
    "run.speed": {"zh": "模拟速度", "en": "Simulation speed"},
    "run.seed": {"zh": "随机种子", "en": "Random seed"},
    "run.plan": {"zh": "故障计划", "en": "Fault plan"},
    "run.faults": {"zh": "注入故障", "en": "Faults injected"},
    "run.started": {"zh": "开始时间", "en": "Started at"},
    "col.figure": {"zh": "指标", "en": "Figure"},
    "col.value": {"zh": "结果", "en": "Result"},
    "col.benchmark": {"zh": "基准", "en": "Benchmark"},
    "col.verdict": {"zh": "结论", "en": "Verdict"},
    "r.published": {"zh": "发出的读数", "en": "Readings published"},
    "r.stored": {"zh": "入库的读数", "en": "Readings stored"},
    "r.lost": {"zh": "丢失的读数", "en": "Readings lost"},
    "r.duplicates": {"zh": "重复入库的读数", "en": "Duplicate readings stored"},
    "r.duplicates_sent": {"zh": "故意重复发送的读数", "en": "Duplicates sent on purpose"},
    "r.malformed_sent": {"zh": "故意发送的畸形消息", "en": "Malformed messages sent on purpose"},
    "r.quarantined": {"zh": "被隔离的消息", "en": "Messages quarantined"},
    "r.emergencies_injected": {"zh": "发生的紧急事件", "en": "Emergencies injected"},
    "r.emergencies_delivered": {"zh": "送达的紧急事件", "en": "Emergencies delivered"},
    "r.deliver_p50_s": {"zh": "送达时间 p50（秒）", "en": "Delivery time p50 (s)"},
    "r.deliver_p99_s": {"zh": "送达时间 p99（秒）", "en": "Delivery time p99 (s)"},
    "r.deliver_max_s": {"zh": "最长送达时间（秒）", "en": "Delivery time max (s)"},
    "r.delivered_within_60s": {"zh": "60 秒内送达的比例", "en": "Delivered within 60 s"},
    "r.delivered_within_180s": {"zh": "180 秒内送达的比例", "en": "Delivered within 180 s"},
    "r.emergencies_in_outage": {"zh": "故障期间发生的紧急事件",
                                "en": "Emergencies during an outage"},
    "r.in_outage_delivered": {"zh": "其中送达", "en": "of which delivered"},
    "r.in_outage_max_s_after_recovery": {"zh": "恢复后最长送达时间（秒）",
                                         "en": "Longest delivery after recovery (s)"},
    "r.acknowledged": {"zh": "已确认的紧急事件", "en": "Emergencies acknowledged"},
    "r.escalations_stopped_on_ack": {"zh": "确认后停止升级", "en": "Escalations stopped on ack"},
    "r.escalations_after_ack": {"zh": "确认后仍继续升级", "en": "Escalations after ack"},
    "r.outage_family_pages": {"zh": "因系统故障发给家属的通知",
                              "en": "Family pages caused by outages"},
    "r.false_alarms": {"zh": "误报", "en": "False alarms"},
    "r.false_alarms_per_home_day": {"zh": "每户每天误报", "en": "False alarms per home-day"},
    "r.collapses_injected": {"zh": "模拟的倒地事件", "en": "Collapses injected"},
    "r.collapses_detected": {"zh": "检出的倒地事件", "en": "Collapses detected"},
    "note.benchmark": {
        "zh": "基准：远程照护（telecare）行业基准，97.5% 的报警在 60 秒内、99% 在 180 秒内"
              "得到应答。这里的时间是从紧急事件发生到送达人员为止。",
        "en": "Benchmark: the telecare benchmark, 97.5% of alarms answered within 60 s and 99% "
              "within 180 s. Times here run from the emergency until it reached a person."},
    "note.missing": {"zh": "“—” 表示未测量。", "en": "“—” means not measured."},
    "col.fault": {"zh": "故障", "en": "Fault"},
    "col.at": {"zh": "开始（分:秒）", "en": "At (mm:ss)"},
    "col.duration": {"zh": "持续（秒）", "en": "Duration (s)"},
    "col.recovery": {"zh": "{} 恢复时间（秒）", "en": "{} recovery (s)"},
    "col.detail": {"zh": "操作", "en": "Detail"},
    "no_faults": {"zh": "本次没有注入故障。", "en": "No faults were injected."},
    "col.service": {"zh": "服务", "en": "Service"},
    "col.peak_rss_mb": {"zh": "内存峰值（MB）", "en": "Peak RSS (MB)"},
    "col.cpu_s": {"zh": "CPU 时间（秒）", "en": "CPU time (s)"},
    "col.peak_cpu_pct": {"zh": "CPU 峰值（%）", "en": "Peak CPU (%)"},
    "col.restarts": {"zh": "重启次数", "en": "Restarts"},
    "no_services": {"zh": "没有资源数据。", "en": "No resource figures."},
    # fault and emergency kinds
    "fault.kill": {"zh": "杀死 {}", "en": "kill {}"},
    "fault.broker_restart": {"zh": "代理重启", "en": "broker restart"},
    "fault.postgres_stop": {"zh": "数据库停止", "en": "database stopped"},
    "fault.network_cut": {"zh": "网络中断", "en": "network cut"},
    "fault.poison": {"zh": "恶意消息", "en": "poison messages"},
    "fault.hijack": {"zh": "冒用设备", "en": "device hijack"},
    "kind.button": {"zh": "紧急按钮", "en": "button"},
    "kind.smoke": {"zh": "烟雾报警", "en": "smoke alarm"},
    # SVG
    "svg.title": {"zh": "anju 稳定性测试 · {homes} 户 · {minutes} 分钟",
                  "en": "anju soak test · {homes} homes · {minutes} min"},
    "svg.faults": {"zh": "故障", "en": "Faults"},
    "svg.throughput": {"zh": "入库读数/秒", "en": "stored readings/s"},
    "svg.latency": {"zh": "送达时间（秒，对数）", "en": "delivery time (s, log)"},
    "svg.minutes": {"zh": "开始后的分钟数", "en": "minutes since start"},
    "svg.line60": {"zh": "60 秒", "en": "60 s"},
    "svg.within": {"zh": "60 秒内送达", "en": "delivered within 60 s"},
    "svg.late": {"zh": "超过 60 秒", "en": "later than 60 s"},
    "svg.undelivered": {"zh": "未送达", "en": "not delivered"},
    "svg.no_data": {"zh": "无数据", "en": "no data"},
    "svg.dot": {"zh": "{kind}，{at} 发生，{latency} 秒后送达",
                "en": "{kind} at {at}, delivered after {latency} s"},
    "svg.cross": {"zh": "{kind}，{at} 发生，未送达", "en": "{kind} at {at}, not delivered"},
}


def tr(lang: str, key: str, *args: Any, **kwargs: Any) -> str:
    return CATALOG[key][lang].format(*args, **kwargs)


def check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")


def fault_label(kind: Any, lang: str = "zh") -> str:
    """A fault kind in words: kill_ingest -> 杀死 ingest; an unknown kind stays as it is."""
    kind = str(kind or "")
    if kind.startswith("kill_"):
        return tr(lang, "fault.kill", kind[len("kill_"):])
    key = f"fault.{kind}"
    return tr(lang, key) if key in CATALOG else kind


def emergency_label(kind: Any, lang: str) -> str:
    key = f"kind.{kind}"
    return tr(lang, key) if key in CATALOG else str(kind or "")
