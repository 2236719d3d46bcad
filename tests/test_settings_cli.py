"""Settings, the command line and provisioning refuse bad input with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from anju import db, registry
from anju.settings import SettingsError, load


def test_defaults_are_embedded():
    s = load(env={})
    assert s.embedded and s.default_tz == "Asia/Shanghai" and s.retention_days == 90


@pytest.mark.parametrize("env, words", [
    ({"ANJU_RETENTION_DAYS": "ninety"}, ["retention_days", "'ninety'", "whole number"]),
    ({"ANJU_DEFAULT_TZ": "Mars/Olympus"}, ["default_tz", "IANA"]),
    ({"ANJU_DATABASE_URL": "postgresql://u:p@h/db"}, ["mqtt_url", "ANJU_MQTT_URL"]),
    ({"ANJU_DATABASE_URL": "mysql://u:secret@h/db", "ANJU_MQTT_URL": "mqtt://h"},
     ["database_url", "postgresql://"]),
    ({"ANJU_INGEST_BATCH_SIZE": "0"}, ["ingest.batch_size=0", "1..100000"]),
    ({"ANJU_INGEST_COLOUR": "red"}, ["unknown setting", "colour", "batch_size"]),
    ({"ANJU_INGEST_QUEUE_MAX": "5"}, ["ingest.queue_max=5: expected 100..10000000"]),
    ({"ANJU_RETENTION_DAYS": "0"}, ["retention_days=0: expected at least 1 (days)"]),
    ({"ANJU_CONSOLE_SECURE_COOKIES": "maybe"}, ["console.secure_cookies='maybe'", "true or false"]),
])
def test_bad_settings_name_key_and_fix(env, words):
    with pytest.raises(SettingsError) as e:
        load(env=env)
    for w in words:
        assert w in str(e.value)
    assert "secret" not in str(e.value)  # passwords are never echoed


def test_environment_values_are_read_as_people_write_them():
    """Numbers and yes/no/on/off from text, an empty URL for none."""
    s = load(env={"ANJU_INGEST_BATCH_SIZE": " 500 ", "ANJU_CONSOLE_SECURE_COOKIES": "on",
                  "ANJU_DATABASE_URL": "", "ANJU_MQTT_URL": ""})
    assert s.ingest.batch_size == 500 and s.console.secure_cookies is True and s.embedded


def test_config_file(tmp_path):
    f = tmp_path / "anju.toml"
    f.write_text('retention_days = 30\n[ingest]\nbatch_size = 500\n')
    s = load(f, env={"ANJU_RETENTION_DAYS": "45"})
    assert s.retention_days == 45 and s.ingest.batch_size == 500  # environment wins
    f.write_text("ingest = 5\n")
    with pytest.raises(SettingsError, match=r"ingest must be a table \(\[ingest\]\)"):
        load(f, env={})
    f.write_text("retention_days = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(f, env={})


def _anju(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anju.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_cli_bad_argument_says_what_was_expected():
    r = _anju("bench", "ingest", "--messages", "lots")
    assert r.returncode == 2 and "expected a whole number, got 'lots'" in r.stderr
    r = _anju("device", "add", "--home", "h", "--kind", "toaster")
    assert r.returncode == 2 and "invalid choice: 'toaster'" in r.stderr


def test_bench_midnight_prints_the_cpu_of_a_homes_midnight():
    r = _anju("bench", "midnight", "--sample", "1", "--repeat", "2", "--homes", "1000", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["midnights_timed"] == 2 and got["cpu_per_home_midnight_ms_p50"] > 0
    # a millisecond a home is a second at a thousand homes
    assert abs(got["cpu_at_1000_homes_s"] - got["cpu_per_home_midnight_ms_p50"]) <= 0.051


def test_cli_bad_setting_exits_cleanly():
    r = _anju("status", env={"ANJU_DEFAULT_TZ": "Nowhere/Land"})
    assert r.returncode == 2 and r.stderr.startswith("anju: default_tz='Nowhere/Land'")


def test_external_servers_start_nothing(stack, tmp_path):
    env = {"ANJU_DATABASE_URL": stack.database_url(), "ANJU_MQTT_URL": stack.mqtt_url(),
           "ANJU_STATE_DIR": str(tmp_path / "unused")}
    r = _anju("up", env=env)
    assert r.returncode == 0, r.stderr
    assert "nothing to start" in r.stdout and "schema: up to date" in r.stdout
    assert not (tmp_path / "unused").exists()
    r = _anju("status", "--json", env=env)
    info = json.loads(r.stdout)
    assert info["mode"] == "external" and stack.credentials().db_password not in r.stdout


def test_status_of_the_embedded_stack(stack):
    r = _anju("status", "--json", env={"ANJU_STATE_DIR": str(stack.state_dir)})
    info = json.loads(r.stdout)
    assert info["postgres"]["running"] and info["mosquitto"]["running"]
    assert info["schema_version"] == max(m.version for m in db.migrations())


def test_migrate_twice_is_a_no_op(db_url):
    assert db.migrate(db_url) == []


def test_provisioning_refuses_bad_input(conn, unique, tmp_path):
    with pytest.raises(registry.ProvisioningError, match="tz='Mars/Olympus'"):
        registry.add_home(conn, code=f"x-{unique}", community="c", resident="r", tz="Mars/Olympus")
    registry.add_home(conn, code=f"x-{unique}", community="c", resident="r")
    with pytest.raises(registry.ProvisioningError, match="already exists"):
        registry.add_home(conn, code=f"x-{unique}", community="c", resident="r")
    with pytest.raises(registry.ProvisioningError, match="uid='bad uid'"):
        registry.add_device(conn, home=f"x-{unique}", kind="motion", room="bedroom",
                            uid="bad uid")
    with pytest.raises(registry.ProvisioningError, match="reserved"):
        registry.add_device(conn, home=f"x-{unique}", kind="motion", room="bedroom",
                            uid="anju-ingest")
    with pytest.raises(registry.ProvisioningError, match="does not exist"):
        registry.add_device(conn, home="nowhere", kind="motion", room="bedroom")
    csv = tmp_path / "homes.csv"
    csv.write_text(f"code,community,resident,tz\ni1-{unique},c,甲,\ni2-{unique},c,,Asia/Shanghai\n")
    with pytest.raises(registry.ProvisioningError, match=r"homes.csv:3: resident"):
        registry.import_homes(conn, csv)
    assert conn.execute("SELECT count(*) FROM homes WHERE code = %s",
                        (f"i1-{unique}",)).fetchone() == (0,)  # all or nothing
    csv.write_text(f"code,community,resident\ni1-{unique},c,甲\ni2-{unique},c,乙\n")
    assert registry.import_homes(conn, csv) == 2
    # the resident's number: a number to dial or nothing
    with pytest.raises(registry.ProvisioningError, match="phone 'call me'.*13800138000"):
        registry.add_home(conn, code=f"p-{unique}", community="c", resident="r", phone="call me")
    csv.write_text(f"code,community,resident,phone\ni3-{unique},c,丙,023-6388-1234\n"
                   f"i4-{unique},c,丁,12\n")
    with pytest.raises(registry.ProvisioningError, match=r"homes.csv:3: phone '12'"):
        registry.import_homes(conn, csv)
    csv.write_text(f"code,community,resident,phone\ni3-{unique},c,丙,023-6388-1234\n"
                   f"i4-{unique},c,丁,\n")
    assert registry.import_homes(conn, csv) == 2
    assert conn.execute("SELECT code, phone FROM homes WHERE code IN (%s, %s) ORDER BY code",
                        (f"i3-{unique}", f"i4-{unique}")).fetchall() == [
        (f"i3-{unique}", "023-6388-1234"), (f"i4-{unique}", None)]


def test_phones_from_the_command_line(stack, unique):
    env = {"ANJU_STATE_DIR": str(stack.state_dir)}
    code = f"ph-{unique}"
    assert _anju("home", "add", code, "--community", f"c-{unique}", "--resident", "王秀英",
                 "--phone", "023 6388 1234", env=env).returncode == 0
    r = _anju("contact", "add", "--role", "family", "--home", code, "--name", "王小明",
              "--url", "json://127.0.0.1:9/x", "--phone", "139-0000-0101", "--has-key", env=env)
    assert r.returncode == 0, r.stderr
    r = _anju("contact", "add", "--role", "family", "--home", code, "--name", "李芳",
              "--url", "json://127.0.0.1:9/y", "--phone", "ring twice", env=env)
    assert r.returncode == 2 and "phone 'ring twice': expected a number to dial" in r.stderr
    assert _anju("home", "phone", code, "023-6288-0000", env=env).returncode == 0
    with psycopg.connect(stack.database_url()) as conn:
        assert conn.execute("SELECT phone FROM homes WHERE code = %s", (code,)).fetchone() == (
            "023-6288-0000",)
        assert conn.execute(
            "SELECT c.name, c.phone, c.has_key FROM contacts c JOIN homes h ON h.id = c.home_id"
            " WHERE h.code = %s ORDER BY c.id", (code,)).fetchall() == [
            ("王小明", "139-0000-0101", True)]
    assert _anju("home", "phone", code, "", env=env).returncode == 0
    r = _anju("home", "phone", f"none-{unique}", "023-6288-0000", env=env)
    assert r.returncode != 0 and "does not exist" in r.stderr


def test_device_password_is_hashed_for_the_broker(conn, unique):
    from anju import broker

    registry.add_home(conn, code=f"p-{unique}", community="c", resident="r")
    d = registry.add_device(conn, home=f"p-{unique}", kind="water", room="kitchen")
    (h,) = conn.execute("SELECT password_hash FROM broker_users WHERE username = %s",
                        (d.uid,)).fetchone()
    assert d.password not in h and h.startswith("$7$101$")
    assert broker.verify_password(d.password, h) and not broker.verify_password("x", h)
