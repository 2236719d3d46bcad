"""The MQTT packet codec, checked without a network."""

from __future__ import annotations

import asyncio

from anju import mqtt


def test_remaining_length_varint():
    assert mqtt._varint(0) == b"\x00"
    assert mqtt._varint(127) == b"\x7f"
    assert mqtt._varint(128) == b"\x80\x01"
    assert mqtt._varint(16_383) == b"\xff\x7f"
    assert mqtt._varint(2_097_152) == b"\x80\x80\x80\x01"


def test_connect_packet_flags():
    p = mqtt.connect_packet("c1", username="u", password="p", clean_session=False, keepalive=30,
                            will=mqtt.Will("t", b"x", qos=1))
    assert p[0] == 0x10
    flags = p[2 + 6 + 1]
    assert flags == 0x80 | 0x40 | 0x08 | 0x04  # user, password, will QoS 1, will; no clean


async def test_parser_handles_split_and_coalesced_packets():
    got: list[mqtt.Message] = []
    conn = mqtt.Connection(got.extend, keepalive=0)
    big = b"y" * 300
    stream = (mqtt.publish_packet(b"a/b", b"one", 1, 7)
              + mqtt.publish_packet(b"a/c", big, 0)
              + mqtt.publish_packet(b"a/d", b"three", 1, 9, dup=True, retain=True))
    for i in range(0, len(stream), 5):   # arrives five bytes at a time
        conn.data_received(stream[i:i + 5])
    assert [(m.topic, m.payload, m.qos, m.packet_id, m.dup, m.retain) for m in got] == [
        ("a/b", b"one", 1, 7, False, False), ("a/c", big, 0, 0, False, False),
        ("a/d", b"three", 1, 9, True, True)]
    conn.data_received(stream)           # and all at once
    assert len(got) == 6
    await asyncio.sleep(0)
