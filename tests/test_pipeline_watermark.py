"""The pipeline watermark: up to when readings are known stored (pure, no database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alerts.messages import watchdog_message
from anju.pipeline import WorkerBeat, from_row, ingest_info, interrupted, watermark

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=timezone.utc)


def ago(s: float) -> datetime:
    return NOW - timedelta(seconds=s)


def test_connected_workers_are_complete_to_their_beat() -> None:
    beats = [WorkerBeat("a", ago(5), True), WorkerBeat("b", ago(12), True)]
    assert watermark(beats, NOW) == ago(12)
    assert not interrupted(watermark(beats, NOW), NOW)


def test_a_worker_without_the_broker_holds_the_mark_where_it_lost_it() -> None:
    beats = [WorkerBeat("a", ago(5), True), WorkerBeat("b", ago(3), False, since=ago(600))]
    assert watermark(beats, NOW) == ago(600)
    assert interrupted(watermark(beats, NOW), NOW)


def test_a_dead_worker_holds_the_mark_at_its_last_beat_and_all_dead_is_still_down() -> None:
    assert watermark([WorkerBeat("a", ago(5), True), WorkerBeat("b", ago(400), True)],
                     NOW) == ago(400)
    # every worker gone for hours: the newest beat is where the data ends
    everyone_gone = [WorkerBeat("a", ago(7200), True), WorkerBeat("b", ago(5000), True)]
    assert watermark(everyone_gone, NOW) == ago(5000)
    assert interrupted(watermark(everyone_gone, NOW), NOW)


def test_stopped_workers_and_no_ingest_at_all_hold_nothing() -> None:
    assert watermark([], NOW) is None
    assert not interrupted(None, NOW)
    stopped = from_row("x", ago(900), ingest_info(True, None, stopped=True))
    assert watermark([stopped, WorkerBeat("a", ago(2), True)], NOW) == ago(2)


def test_heartbeat_info_round_trip() -> None:
    b = from_row("w", ago(1), ingest_info(False, ago(300)))
    assert not b.mqtt_up and b.since == ago(300) and b.complete_to == ago(300)
    assert from_row("old", ago(1), {}).mqtt_up, "beats of before the info field count as up"


def test_operators_read_since_when_in_the_homes_time() -> None:
    title, body = watchdog_message([("pipeline", NOW - timedelta(hours=2))], [], NOW)
    assert "数据通道中断" in title and "自 00:00 起" in body    # 16:00 UTC is 00:00 in Chongqing
