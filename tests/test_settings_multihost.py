"""database_url and database_read_url take libpq's host lists (a replicated PostgreSQL);
a bad one is refused naming the key and the form expected, its password never shown."""

from __future__ import annotations

import pytest

from anju.settings import SettingsError, load, redact

MQTT = "mqtt://anju-ingest:pw@127.0.0.1:1883"
TWO = "postgresql://anju:s3cret@127.0.0.1:5432,127.0.0.1:5433/anju"


def _load(**env: str):
    return load(env={"ANJU_MQTT_URL": MQTT, **env})


@pytest.mark.parametrize("url", [
    "postgresql://anju:pw@db1.example:5432/anju",
    f"{TWO}?target_session_attrs=read-write",
    f"{TWO}?target_session_attrs=read-write&connect_timeout=3",
    "postgres://anju:pw@[::1]:5432,10.0.0.2:5432,db3/anju?target_session_attrs=primary",
    "postgresql://anju:pw@h1,h2/anju",                      # one default port for both
    "postgresql://anju:pw@h1,h2:6432/anju",                  # libpq: a port per host, some default
])
def test_multi_host_urls_are_accepted(url):
    s = _load(ANJU_DATABASE_URL=url)
    assert s.database_url == url and not s.embedded
    assert s.read_url == url                                  # no read URL: reads go there too


def test_read_url_is_used_for_lagging_reads():
    s = _load(ANJU_DATABASE_URL=f"{TWO}?target_session_attrs=read-write",
              ANJU_DATABASE_READ_URL=f"{TWO}?target_session_attrs=prefer-standby")
    assert s.read_url.endswith("prefer-standby") and s.database_url.endswith("read-write")


@pytest.mark.parametrize("env, words", [
    ({"ANJU_DATABASE_URL": f"{TWO}?target_session_attrs=writable"},
     ["database_url=", "ANJU_DATABASE_URL", "'writable'", "read-write", "prefer-standby"]),
    ({"ANJU_DATABASE_URL": "postgresql://anju:s3cret@127.0.0.1:5432,127.0.0.1:x/anju"},
     ["database_url=", "port 'x'", "host1:port1,host2:port2"]),
    ({"ANJU_DATABASE_URL": "postgresql://anju:s3cret@127.0.0.1:5432,,127.0.0.1:5433/anju"},
     ["database_url=", "host is missing"]),
    ({"ANJU_DATABASE_URL": "postgresql://anju:s3cret@a:1,b:2,c:3/anju?port=1,2"},
     ["3 hosts but 2 ports"]),
    ({"ANJU_DATABASE_URL": f"{TWO}?target_sesion_attrs=read-write"},
     ["database_url=", "target_sesion_attrs"]),                 # libpq names the misspelling
    ({"ANJU_DATABASE_URL": "postgresql://anju:s3cret@127.0.0.1:99999/anju"},
     ["port '99999'", "1 to 65535"]),
    ({"ANJU_DATABASE_URL": TWO, "ANJU_DATABASE_READ_URL": f"{TWO}?target_session_attrs=slave"},
     ["database_read_url=", "ANJU_DATABASE_READ_URL", "'slave'"]),
    ({"ANJU_DATABASE_URL": TWO, "ANJU_DATABASE_READ_URL": "mysql://anju:s3cret@h/anju"},
     ["database_read_url=", "not a postgresql:// URL"]),
])
def test_bad_multi_host_urls_name_key_and_fix(env, words):
    with pytest.raises(SettingsError) as e:
        _load(**env)
    for w in words:
        assert w in str(e.value), str(e.value)
    assert "s3cret" not in str(e.value)


def test_read_url_alone_is_refused():
    with pytest.raises(SettingsError, match=r"database_read_url \(ANJU_DATABASE_READ_URL\) is "
                                            r"set without database_url"):
        load(env={"ANJU_DATABASE_READ_URL": TWO})


@pytest.mark.parametrize("url, shown", [
    (f"{TWO}?target_session_attrs=any", "postgresql://anju:***@127.0.0.1:5432,127.0.0.1:5433/anju"
                                        "?target_session_attrs=any"),
    ("postgresql://anju:pa/ss@rd@h1,h2/anju", "postgresql://anju:***@h1,h2/anju"),
    ("postgresql://h1,h2/anju?user=anju&password=s3cret",
     "postgresql://h1,h2/anju?user=anju&password=***"),
    ("postgresql://anju@h1/anju", "postgresql://anju@h1/anju"),
])
def test_redact_hides_passwords_of_host_lists(url, shown):
    assert redact(url) == shown
