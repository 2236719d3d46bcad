"""The embedded stack works wherever its state directory is, even out of the service user's reach."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from anju import db, registry
from anju.embedded import Stack
from anju.host import can_traverse
from anju.endpoints import Endpoints, MqttEndpoint
from tests.support import as_device, now_ms, reading, running_worker, stored, wait_until


def test_can_traverse_reads_each_parent_as_the_kernel_does() -> None:
    base = Path(tempfile.mkdtemp(prefix="anju-traverse-"))  # below /tmp, which anyone passes
    os.chmod(base, 0o755)
    locked = base / "home"
    (locked / "checkout").mkdir(parents=True)
    os.chmod(locked, 0o700)
    st = locked.stat()
    stranger = st.st_uid + 4242
    assert not can_traverse(locked / "checkout" / ".anju", stranger, {stranger})
    assert can_traverse(locked / "checkout" / ".anju", st.st_uid, set())
    os.chmod(locked, 0o710)  # the group may pass, others may not
    assert can_traverse(locked / "checkout" / ".anju", stranger, {st.st_gid})
    assert not can_traverse(locked / "checkout" / ".anju", stranger, {stranger})
    os.chmod(locked, 0o701)
    assert can_traverse(locked / "checkout" / ".anju", stranger, {stranger})
    shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="the service user exists only when run as root")
async def test_state_dir_under_a_private_home_directory() -> None:
    """As CI runs (root), a state directory below a mode-0700 root-owned directory, like a
    checkout under /root: the servers come up with their data where the service user can
    reach it, the home directory keeps its mode, and a reading is stored."""
    home = Path(tempfile.mkdtemp(prefix="anju-home-"))  # root-owned, 0700, like /root
    os.chmod(home, 0o700)
    stack = Stack(home / "anju" / ".anju")
    assert stack.relocated, "the service user cannot reach a 0700 root directory"
    try:
        stack.up()
        assert stack.postgres_running() and stack.mosquitto_running()
        assert stack.server_dir.is_relative_to(stack.server_dir.parent)
        assert not stack.server_dir.is_relative_to(home)
        assert (home.stat().st_mode & 0o777) == 0o700, "the home directory was loosened"
        status = stack.status()
        assert status["server_data"] == str(stack.server_dir) and "server_data_why" in status

        # A second Stack on the same state directory finds the same servers.
        again = Stack(home / "anju" / ".anju")
        assert again.server_dir == stack.server_dir and again.postgres_running()

        db.migrate(stack.database_url())
        with psycopg.connect(stack.database_url(), autocommit=True) as conn:
            registry.add_home(conn, code="loc-1", community="loc", resident="测试")
            dev = registry.add_device(conn, home="loc-1", kind="motion", room="bedroom")
            stack.write_broker_files(registry.broker_user_hashes(conn))
            stack.reload_broker()
            ep = Endpoints(stack.database_url(), MqttEndpoint.from_url(stack.mqtt_url()), stack)
            async with running_worker(ep) as w:
                await wait_until(lambda: stack.mosquitto_running())
                c = await as_device(stack, dev)
                c.publish(f"anju/v1/devices/{dev.uid}/motion", reading(1, 1, now_ms()), qos=1)
                await c.wait_inflight_below(0)
                await wait_until(lambda: w.committed_messages >= 1)
                await c.disconnect()
            assert stored(conn, [dev.id]) == (1, 1)
    finally:
        stack.down()
        shutil.rmtree(stack.server_dir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
