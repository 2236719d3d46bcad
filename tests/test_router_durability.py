"""`anju route` processes killed with SIGKILL, and two of them at once, on the real stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from alerts import manage
from alerts.send import IDEMPOTENCY_HEADER
from anju.embedded import Stack
from devtools.sinks import HttpSink
from tests.router_support import community_of, contact, path
from tests.support import open_alert

FAST = {"steps": [{"after_s": 0, "notify": ["family"]},
                  {"after_s": 1, "notify": ["community_worker"]},
                  {"after_s": 1, "notify": ["property"]}], "repeat_s": 0}


class RouterProcess:
    def __init__(self, stack: Stack, community: str, worker: str, log: Path) -> None:
        self.env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            self.env.pop(k, None)
        self.args = [sys.executable, "-m", "anju.cli", "route", "--community", community,
                     "--worker", worker, "--no-watchdog", "--poll", "0.2",
                     "--send-timeout", "2"]          # a killed router's lease runs out in 7 s
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "RouterProcess":
        start = self.log.read_text().count("running") if self.log.exists() else 0
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("ab"))
        deadline = time.monotonic() + 20
        while self.log.read_text(errors="replace").count("running") <= start:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("router did not start:\n" + self.log.read_text()[-2000:])
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    s = HttpSink().start()
    yield s
    s.stop()


def _home(conn: psycopg.Connection, home_factory, sink: HttpSink, community: str | None = None
          ) -> tuple[str, str, tuple[str, str, str]]:
    home, _ = home_factory([("button", "bedroom")], community=community)
    _, ccode = community_of(conn, home)
    paths = (path(), path(), path())
    contact(conn, "family", "家属", [sink.url(paths[0])], home=home)
    contact(conn, "property", "物业", [sink.url(paths[2])], home=home)
    manage.set_policy(conn, severity="critical", home=home, raw=FAST)
    return home, ccode, paths


def test_router_killed_mid_send_resumes_and_completes_the_chain(
        conn, stack: Stack, home_factory, sink: HttpSink, tmp_path: Path) -> None:
    """SIGKILL while the first message is in flight: a new router sends it again with the
    same idempotency key (at most once more, when the dead router's lease has run out) and
    runs the remaining steps; none is lost."""
    home, ccode, (pf, pw, pp) = _home(conn, home_factory, sink)
    contact(conn, "community_worker", "社工", [sink.url(pw)], community=ccode)
    sink.delay = 2.0                    # the receiver holds the first answer back
    log = tmp_path / "router.log"
    a = RouterProcess(stack, ccode, "killed", log).start()
    try:
        alert = open_alert(conn, home)
        sink.wait_for(pf, 1, timeout=10)
        a.kill()                        # mid-send: the message arrived, success not recorded
        sink.delay = 0
        b = RouterProcess(stack, ccode, "restarted", log).start()
        try:
            sink.wait_for(pp, 1, timeout=15)
            sink.wait_for(pf, 2, timeout=20)
            time.sleep(0.5)
        finally:
            b.stop()
    finally:
        a.stop()
    fam, worker, prop = sink.at(pf), sink.at(pw), sink.at(pp)
    assert 1 <= len(fam) <= 2 and len(worker) == 1 and len(prop) == 1
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in fam}) == 1
    rows = conn.execute(
        "SELECT d.step, d.status, t.worker, t.ok, t.error FROM deliveries d"
        " JOIN delivery_attempts t ON t.delivery_id = d.id WHERE d.alert_id = %s"
        " ORDER BY d.step, t.id", (alert,)).fetchall()
    assert [r[0] for r in rows] == [0, 0, 1, 2]
    assert rows[0][2] == "killed" and rows[0][3] is None and "interrupted" in rows[0][4]
    assert all(r[1] == "delivered" for r in rows) and rows[1][2] == "restarted"
    assert conn.execute("SELECT state FROM alert_escalations WHERE alert_id = %s",
                        (alert,)).fetchone() == ("finished",)


def test_two_routers_never_send_a_step_twice(conn, stack: Stack, home_factory, unique: str,
                                             sink: HttpSink, tmp_path: Path) -> None:
    """Two routers on the same alerts: every step's message arrives exactly once."""
    community = f"c2-{unique}"
    homes = [_home(conn, home_factory, sink, community) for _ in range(8)]
    ccode = homes[0][1]
    pw = path()
    contact(conn, "community_worker", "社工", [sink.url(pw)], community=ccode)
    routers = [RouterProcess(stack, ccode, f"r{i}", tmp_path / f"r{i}.log").start()
               for i in range(2)]
    try:
        alerts = [open_alert(conn, h) for h, _, _ in homes]
        sink.wait_for(pw, len(alerts), timeout=20)
        for _, _, (pf, _, pp) in homes:
            sink.wait_for(pf, 1, timeout=10)
            sink.wait_for(pp, 1, timeout=10)
        time.sleep(1.0)                 # anything sent twice would arrive by now
    finally:
        for r in routers:
            r.stop()
    keys = Counter(r.headers[IDEMPOTENCY_HEADER] for r in sink.received)
    assert len(keys) == 3 * len(alerts) and set(keys.values()) == {1}, keys
    per = conn.execute(
        "SELECT count(*), count(DISTINCT t.delivery_id), count(DISTINCT t.worker)"
        " FROM delivery_attempts t JOIN deliveries d ON d.id = t.delivery_id"
        " WHERE d.alert_id = ANY(%s)", (alerts,)).fetchone()
    assert per[0] == per[1] == 3 * len(alerts)
    print(json.dumps({"attempts": per[0], "routers_that_sent": per[2]}))
