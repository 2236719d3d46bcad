"""The homes' traffic during a soak, with what real installations do besides living.

The residents' days come from the simulators (personas, incidents with ground truth), sent by
each home's gateway as a vendor's firmware would (anju.mqtt_async: QoS 1, persistent session,
last will, resend after reconnect). On top, what the field sees:

- clocks: most devices are within a second, some seconds off, a few minutes off;
- duplicates: a gateway that did not see the acknowledgement sends a message again;
- malformed messages: a firmware bug now and then (a truncated payload);
- gateways dropping off (power or Wi-Fi) for a minute or so, buffering, then flushing;
- batteries draining (battery_low incidents).

Counts of what was sent are kept per device, so that nothing stored can be miscounted.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from simulators import fleet
from simulators import incidents as inc_mod
from simulators.fleet import ProvisionedHome, Stream

DUPLICATE_SHARE = 0.004      # of messages sent twice
MALFORMED_SHARE = 0.0005     # of messages followed by a malformed one from the same device
DROPS_PER_HOME_HOUR = 0.05   # gateways losing their connection


@dataclass
class Realism:
    rng: random.Random
    duplicates_sent: int = 0
    malformed_sent: int = 0
    gateway_drops: int = 0

    def hook(self, s: Stream, conn, topic: bytes, payload: bytes) -> None:
        r = self.rng.random()
        if r < DUPLICATE_SHARE:
            conn.publish(topic, payload, qos=1)
            self.duplicates_sent += 1
        elif r < DUPLICATE_SHARE + MALFORMED_SHARE and payload.startswith(b'{"ts"'):
            conn.publish(topic, payload[: len(payload) // 2], qos=1)
            self.malformed_sent += 1


def clock_offset(rng: random.Random) -> float:
    """Seconds a home's devices are off: mostly synchronised, some drift, a few set by hand.
    Fast clocks stay within what the ingest accepts as the present (300 s ahead)."""
    r = rng.random()
    if r < 0.85:
        return round(rng.uniform(-1, 1), 3)
    if r < 0.97:
        return round(rng.uniform(-30, 30), 3)
    return round(rng.choice((-1, 1)) * rng.uniform(60, 240), 3)


def streams(homes: list[ProvisionedHome], start: int, end: int,
            incidents: dict[str, list[inc_mod.Incident]], rng: random.Random) -> list[Stream]:
    out = fleet.home_streams(homes, start, end, incidents)
    for s in out:
        s.clock_offset = clock_offset(rng)
    return out


async def drop_gateways(streams_: list[Stream], minutes: float, rng: random.Random,
                        realism: Realism, stop: asyncio.Event) -> None:
    """Now and then a gateway loses its connection for 20-90 s (its will says offline)."""
    n = int(round(len(streams_) * minutes / 60 * DROPS_PER_HOME_HOUR))
    if not n:
        return
    times = sorted(rng.uniform(30, minutes * 60 - 120) for _ in range(n))
    t0 = asyncio.get_running_loop().time()
    for at in times:
        delay = t0 + at - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, delay))
            return
        except asyncio.TimeoutError:
            pass
        s = rng.choice(streams_)
        if s.conns:
            s.conns[0].abort(offline_for=rng.uniform(20, 90))
            realism.gateway_drops += 1
