"""Driving homes over MQTT: provisioning simulated homes and publishing their events.

Every message follows the device contract and is sent with the publishing
device's own credentials: in device mode one connection per device (user =
device uid, topic anju/v1/devices/{uid}/{leaf}); in gateway mode one
connection per home gateway (user = gateway uid, topic
anju/v1/gateways/{gw}/{name}/{leaf}), which is what lets one process drive
tens of thousands of homes. Device timestamps are simulated time.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from anju import registry
from anju.contract import device_topic, gateway_topic
from anju.mqtt_async import Client, Will
from simulators import incidents as inc_mod
from simulators.generate import home_events
from simulators.homes import DeviceSpec, HomeProfile
from simulators.names import building, resident_name


@dataclass
class ProvisionedHome:
    profile: HomeProfile
    gateway: str | None                   # gateway uid (gateway mode)
    passwords: dict[str, str]             # uid -> password (devices, or the gateway)

    def to_json(self) -> dict:
        return {"profile": self.profile.to_json(), "gateway": self.gateway,
                "passwords": self.passwords}

    @classmethod
    def from_json(cls, d: dict) -> "ProvisionedHome":
        return cls(HomeProfile.from_json(d["profile"]), d.get("gateway"), dict(d["passwords"]))


# -- credentials file ---------------------------------------------------------------

def load_credentials(path: Path) -> dict[str, ProvisionedHome]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {code: ProvisionedHome.from_json(d) for code, d in data.get("homes", {}).items()}


def save_credentials(path: Path, homes: dict[str, ProvisionedHome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"format": "anju-sim-credentials/1",
                   "homes": {c: h.to_json() for c, h in sorted(homes.items())}}, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def provision(conn, homes: list[HomeProfile], *, credentials: Path, gateway_mode: bool,
              community: str = "sim") -> list[ProvisionedHome]:
    """Register the homes and their devices (or reuse those provisioned before).

    Credentials are kept in `credentials` (mode 0600): passwords are shown only
    once by the registry. A home already in the file keeps its devices and mode.
    The caller must then give the broker the new credentials (`anju broker sync`,
    or Stack.write_broker_files + reload_broker for the embedded servers).
    """
    known = load_credentials(credentials)
    out = []
    dirty = False
    for h in homes:
        if h.code in known:
            out.append(known[h.code])
            continue
        registry.add_home(conn, code=h.code, community=community, resident=resident_name(h.code),
                          building=building(h.code), tz=h.tz)
        passwords: dict[str, str] = {}
        gw = None
        if gateway_mode:
            gw = f"{h.code}-gw"
            g = registry.add_device(conn, home=h.code, kind="gateway", room="other", uid=gw,
                                    vendor="anju-sim", model="gateway")
            passwords[gw] = g.password or ""
        for d in h.devices:
            nd = registry.add_device(conn, home=h.code, kind=d.kind, room=d.room, uid=d.uid,
                                     vendor="anju-sim", model=d.kind, heartbeat_s=900,
                                     gateway=gw, external_name=d.name if gw else None)
            if nd.password:
                passwords[nd.uid] = nd.password
        ph = ProvisionedHome(h, gw, passwords)
        known[h.code] = ph
        out.append(ph)
        dirty = True
        if len(known) % 500 == 0:
            # Commit as we go: one transaction with hundreds of thousands of
            # savepoints slows PostgreSQL down, and the file must not name
            # homes a crash would roll back.
            conn.commit()
            save_credentials(credentials, known)
    if dirty:
        save_credentials(credentials, known)
    return out


# -- publishing ----------------------------------------------------------------------

@dataclass
class Stream:
    """One home's events to publish: chunks of (ts seconds, device index, kind, value text)."""
    home: str
    devices: list[DeviceSpec]
    gateway: str | None
    passwords: dict[str, str]
    chunks: Iterator[list[tuple]]
    # filled while publishing
    conns: list = field(default_factory=list)   # per device index (same object for a gateway)
    buf: list = field(default_factory=list)
    pos: int = 0
    topics: dict = field(default_factory=dict)
    seq: list = field(default_factory=list)
    clock_offset: float = 0.0   # seconds this home's clocks are off (device time = true + offset)


@dataclass
class Stats:
    homes: int = 0
    connections: int = 0
    messages: int = 0
    readings: int = 0
    statuses: int = 0
    seconds: float = 0.0
    sim_seconds: float = 0.0
    by_leaf: dict = field(default_factory=dict)
    by_device: dict | None = None   # uid -> readings published, when asked for (soak)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"homes": self.homes, "connections": self.connections, "messages": self.messages,
                "readings": self.readings, "statuses": self.statuses,
                "seconds": round(self.seconds, 3), "messages_per_s": round(self.rate, 1),
                "sim_seconds": self.sim_seconds}


def _next_chunk(s: Stream) -> bool:
    for chunk in s.chunks:
        if chunk:
            s.buf, s.pos = chunk, 0
            return True
    s.buf, s.pos = [], 0
    return False


async def _connect_all(endpoint, streams: list[Stream], concurrency: int, stats: Stats,
                       keepalive: int = 120, announce: bool = False) -> list:
    sem = asyncio.Semaphore(concurrency)
    opened = []

    async def one(user: str, password: str):
        async with sem:
            # A device's client id is its user name (the device contract; the
            # broker refuses any other); its last will says it went offline.
            c = Client(endpoint.host, endpoint.port, client_id=user, username=user,
                       password=password, keepalive=keepalive,
                       will=Will(device_topic(user, "status"), b'{"status":"offline"}'),
                       tls=getattr(endpoint, "tls", False))
            await c.start()
            if announce:
                # The contract's status at connect: without it a device that has
                # nothing to report yet stays "never seen" (offline) until its
                # first heartbeat, up to 15 minutes later.
                c.publish(device_topic(user, "status"), b'{"status":"online"}', qos=1)
                stats.statuses += 1
                stats.messages += 1
            opened.append(c)
            return c

    async def home(s: Stream):
        if s.gateway:
            c = await one(s.gateway, s.passwords[s.gateway])
            s.conns = [c] * len(s.devices)
        else:
            s.conns = list(await asyncio.gather(*(one(d.uid, s.passwords[d.uid])
                                                  for d in s.devices)))
    await asyncio.gather(*(home(s) for s in streams))
    stats.connections = len(opened)
    return opened


def _payloads(s: Stream, due: list[tuple], shift: float, stats: Stats):
    """Group due events per device: (connection, topic, payload) for each message."""
    shift += s.clock_offset
    per_dev: dict[int, list[tuple]] = {}
    for e in due:
        per_dev.setdefault(e[1], []).append(e)
    for dev, evs in per_dev.items():
        readings = []
        seqs = s.seq
        for ts, _, kind, value in evs:
            ms = int(round((ts + shift) * 1000))
            if kind == "heartbeat":
                d = s.devices[dev]
                bat = f',"battery":{value}' if not d.mains else ""
                yield dev, "status", (f'{{"ts":{ms},"status":"online"{bat},'
                                      f'"rssi":{d.rssi}}}').encode()
                stats.statuses += 1
                continue
            sq = ms if ms > seqs[dev] else seqs[dev] + 1
            seqs[dev] = sq
            readings.append((kind, ms, sq, value))
        stats.readings += len(readings)
        if stats.by_device is not None and readings:
            uid = s.devices[dev].uid
            stats.by_device[uid] = stats.by_device.get(uid, 0) + len(readings)
        if len(readings) == 1:
            kind, ms, sq, value = readings[0]
            yield dev, kind, f'{{"ts":{ms},"seq":{sq},"value":{value}}}'.encode()
        elif readings:
            for i in range(0, len(readings), 500):
                part = readings[i:i + 500]
                yield dev, "batch", ('{"readings":[' + ",".join(
                    f'{{"kind":"{k}","ts":{ms},"seq":{sq},"value":{v}}}'
                    for k, ms, sq, v in part) + "]}").encode()


def _topic(s: Stream, dev: int, leaf: str) -> bytes:
    key = (dev, leaf)
    t = s.topics.get(key)
    if t is None:
        d = s.devices[dev]
        t = (gateway_topic(s.gateway, d.name, leaf) if s.gateway else device_topic(d.uid, leaf)).encode()
        s.topics[key] = t
    return t


async def publish_streams(endpoint, streams: list[Stream], *, t_first: float, speed: float,
                          end: float | None = None, shift: float = 0.0, max_inflight: int = 2000,
                          connect_concurrency: int = 200, progress=None, keepalive: int = 120,
                          stop: asyncio.Event | None = None, stats: Stats | None = None,
                          on_message=None, announce: bool = False) -> Stats:
    """Publish every stream's events at real time t0 + (ts - t_first) / speed.

    speed <= 0 publishes as fast as the broker acknowledges. Payload timestamps
    are ts + shift (+ each stream's clock_offset). Returns when everything is
    acknowledged (QoS 1). on_message(stream, connection, topic, payload) is
    called after each message is handed to its connection (the soak's hook).
    announce: each connection first sends an "online" status, as the device
    contract asks of a device at connect (count_events does not count these).
    """
    stats = stats if stats is not None else Stats()
    stats.homes = len(streams)
    conns = await _connect_all(endpoint, streams, connect_concurrency, stats, keepalive,
                               announce)
    loop = asyncio.get_running_loop()
    heap: list[tuple[float, int]] = []
    for i, s in enumerate(streams):
        s.seq = [0] * len(s.devices)
        if _next_chunk(s):
            heap.append((s.buf[0][0], i))
    heapq.heapify(heap)
    t0 = loop.time()
    wall0 = time.perf_counter()
    last_sim = t_first
    try:
        while heap:
            if stop is not None and stop.is_set():
                break
            if speed > 0:
                sim_now = t_first + (loop.time() - t0) * speed
                nxt = heap[0][0]
                if nxt > sim_now:
                    await asyncio.sleep(min(0.5, (nxt - sim_now) / speed))
                    continue
            else:
                sim_now = heap[0][0] + 60
            if end is not None and heap[0][0] >= end:
                break
            handled = 0
            while heap and heap[0][0] <= sim_now and (end is None or heap[0][0] < end):
                _, i = heapq.heappop(heap)
                s = streams[i]
                due = []
                limit = sim_now if end is None else min(sim_now, end - 1e-9)
                while True:
                    buf, pos = s.buf, s.pos
                    n = len(buf)
                    j = pos
                    while j < n and buf[j][0] <= limit:
                        j += 1
                    due.extend(buf[pos:j])
                    s.pos = j
                    if j < n or not _next_chunk(s):
                        break
                used = None
                for dev, leaf, payload in _payloads(s, due, shift, stats):
                    c = s.conns[dev]
                    topic = _topic(s, dev, leaf)
                    c.publish(topic, payload, qos=1)
                    if on_message is not None:
                        on_message(s, c, topic, payload)
                    stats.messages += 1
                    stats.by_leaf[leaf] = stats.by_leaf.get(leaf, 0) + 1
                    if c.inflight > max_inflight:
                        used = c
                if due:
                    last_sim = max(last_sim, due[-1][0])
                if s.pos < len(s.buf):
                    heapq.heappush(heap, (s.buf[s.pos][0], i))
                if used is not None:
                    await used.wait_inflight_below(max_inflight // 2)
                handled += 1
                if handled % 200 == 0:
                    await asyncio.sleep(0)
            if progress is not None:
                progress(stats, last_sim)
            await asyncio.sleep(0)
        for c in conns:
            await c.wait_inflight_below(0)
    finally:
        stats.seconds = time.perf_counter() - wall0
        stats.sim_seconds = last_sim - t_first
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    return stats


def home_streams(homes: list[ProvisionedHome], start: int, end: int,
                 incidents: dict[str, list[inc_mod.Incident]] | None = None) -> list[Stream]:
    incidents = incidents or {}
    return [Stream(h.profile.code, list(h.profile.devices), h.gateway, h.passwords,
                   home_events(h.profile, start, end, incidents.get(h.profile.code, [])))
            for h in homes]


async def publish_fleet(endpoint, homes: list[ProvisionedHome], start: int, end: int,
                        speed: float, *, incidents: dict[str, list[inc_mod.Incident]] | None = None,
                        shift: float = 0.0, max_inflight: int = 2000, progress=None,
                        stop: asyncio.Event | None = None, announce: bool = False) -> Stats:
    """Publish the simulated events of `homes` in [start, end) (epoch seconds).

    speed: simulated seconds per real second (1 = real time; 0 = as fast as
    possible). endpoint: anything with host, port (and tls), e.g.
    anju.endpoints.MqttEndpoint. Returns Stats (messages, readings, rate).
    """
    streams = home_streams(homes, start, end, incidents)
    return await publish_streams(endpoint, streams, t_first=start, speed=speed, end=end,
                                 shift=shift, max_inflight=max_inflight, progress=progress,
                                 stop=stop, announce=announce)


def count_events(homes: Iterable[ProvisionedHome], start: int, end: int,
                 incidents: dict[str, list[inc_mod.Incident]] | None = None) -> dict[str, int]:
    """How many readings and statuses publish_fleet will send (for checks against the database)."""
    incidents = incidents or {}
    readings = statuses = 0
    for h in homes:
        for chunk in home_events(h.profile, start, end, incidents.get(h.profile.code, [])):
            for e in chunk:
                if e[2] == "heartbeat":
                    statuses += 1
                else:
                    readings += 1
    return {"readings": readings, "statuses": statuses}
