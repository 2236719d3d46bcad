"""The embedded default: a local PostgreSQL (with TimescaleDB) and Mosquitto under a
state directory, on loopback, with generated credentials.

Used by `anju up/down/status` and by the test fixtures (each on free ports in
a temporary state directory). PostgreSQL refuses to run as root, so when anju
runs as root both servers run as the `anju` system user that deploy/install.sh
creates.

That user must be able to reach the servers' data. A checkout under a home
directory (/root is mode 0700) is out of its reach, so there the servers keep
their data under anju.host.SERVER_DATA_ROOT instead, in a directory named after the
state directory; the state directory keeps the credentials and a note of where
the data went (`server-dir`). Nobody's home directory is loosened.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

from anju import broker
from anju.host import (StackError, can_traverse, fallback_server_dir, free_port, raise_fd_limit,
                       service_user, user_ids, wait_port)

PG_BIN = Path(os.environ.get("ANJU_PG_BIN", "/usr/lib/postgresql/15/bin"))
MOSQUITTO = os.environ.get("ANJU_MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
DEFAULT_PG_PORT = 54329
DEFAULT_MQTT_PORT = 18830          # devices connect here
DEFAULT_MQTT_SERVICE_PORT = 18831  # the ingest and other service accounts connect here


@dataclass
class Credentials:
    pg_port: int
    mqtt_port: int  # the devices' listener: the address devices are given
    db_password: str
    mqtt_users: dict[str, str] = field(default_factory=dict)  # service user -> password
    # The services' listener; 0 in a state directory made before it existed
    # (`anju up` then picks one).
    mqtt_service_port: int = 0


@dataclass
class Stack:
    """One embedded PostgreSQL + Mosquitto pair under state_dir."""

    state_dir: Path
    pg_port: int = 0
    mqtt_port: int = 0
    mqtt_service_port: int = 0

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).absolute()
        self.creds_file = self.state_dir / "credentials.json"
        self.user = service_user()
        self.server_dir = self._server_dir()
        self.pg_dir = self.server_dir / "pg"
        self.pg_data = self.pg_dir / "data"
        self.mqtt_dir = self.server_dir / "mqtt"

    @property
    def _server_dir_note(self) -> Path:
        return self.state_dir / "server-dir"

    def _server_dir(self) -> Path:
        """The state directory itself, unless the service user cannot reach it.

        A choice once made is kept (servers already there, or the note written
        when the data went elsewhere), so a later change of a parent's mode
        never makes the data seem lost.
        """
        if (self.state_dir / "pg" / "data" / "PG_VERSION").exists():
            return self.state_dir
        try:
            return Path(self._server_dir_note.read_text().strip())
        except FileNotFoundError:
            pass
        if self.user is None or can_traverse(self.state_dir, *user_ids(self.user)):
            return self.state_dir
        return fallback_server_dir(self.state_dir)

    @property
    def relocated(self) -> bool:
        """True when the servers' data lives outside the state directory."""
        return self.server_dir != self.state_dir

    # -- credentials -------------------------------------------------------
    def credentials(self) -> Credentials:
        if not self.creds_file.exists():
            raise StackError(f"no embedded stack in {self.state_dir}: run `anju up` first")
        return Credentials(**json.loads(self.creds_file.read_text()))

    def _create_credentials(self) -> Credentials:
        creds = Credentials(
            pg_port=self.pg_port or free_port(DEFAULT_PG_PORT),
            mqtt_port=self.mqtt_port or free_port(DEFAULT_MQTT_PORT),
            db_password=broker.new_password(),
            mqtt_users={u: broker.new_password() for u in broker.SERVICE_USERS},
        )
        creds.mqtt_service_port = self._pick_service_port(creds)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._save_credentials(creds)
        return creds

    def _pick_service_port(self, creds: Credentials) -> int:
        if self.mqtt_service_port:
            return self.mqtt_service_port
        port = free_port(DEFAULT_MQTT_SERVICE_PORT)
        while port in (creds.mqtt_port, creds.pg_port):  # not yet bound, so still "free"
            port = free_port()
        return port

    def _save_credentials(self, creds: Credentials) -> None:
        self.creds_file.write_text(json.dumps(asdict(creds), indent=2))
        os.chmod(self.creds_file, 0o600)

    def database_url(self) -> str:
        c = self.credentials()
        return f"postgresql://anju:{quote(c.db_password)}@127.0.0.1:{c.pg_port}/anju"

    def mqtt_url(self, user: str = "anju-ingest") -> str:
        """A service account's URL, on the services' listener (devices use device_address)."""
        c = self.credentials()
        port = c.mqtt_service_port or c.mqtt_port
        return f"mqtt://{user}:{quote(c.mqtt_users[user])}@127.0.0.1:{port}"

    def device_address(self) -> tuple[str, int]:
        """Where devices connect: the listener that makes their client id their user name."""
        return "127.0.0.1", self.credentials().mqtt_port

    # -- helpers -----------------------------------------------------------
    def _run(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, user=self.user, text=True, capture_output=True,  # type: ignore[call-overload]
                              cwd="/", **kw)

    def _own(self, path: Path) -> None:
        if self.user:
            shutil.chown(path, self.user, self.user)
            for p in path.rglob("*"):
                shutil.chown(p, self.user, self.user)

    # -- PostgreSQL --------------------------------------------------------
    def _init_postgres(self, creds: Credentials) -> None:
        (self.pg_dir / "run").mkdir(parents=True, exist_ok=True)
        pwfile = self.pg_dir / "pwfile"
        pwfile.write_text(creds.db_password + "\n")
        self._own(self.pg_dir)
        r = self._run([str(PG_BIN / "initdb"), "-D", str(self.pg_data), "-U", "anju",
                       "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                       "--locale=C.UTF-8"])
        pwfile.unlink()
        if r.returncode != 0:
            raise StackError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        conf = self.pg_data / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                "\n# anju embedded settings\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {creds.pg_port}\n"
                f"unix_socket_directories = '{self.pg_dir / 'run'}'\n"
                "shared_preload_libraries = 'timescaledb'\n"
                "timescaledb.telemetry_level = off\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "max_wal_size = 2GB\n"
                "logging_collector = off\n"
            )

    def postgres_running(self) -> bool:
        return (self.pg_data / "postmaster.pid").exists() and self._run(
            [str(PG_BIN / "pg_ctl"), "status", "-D", str(self.pg_data)]).returncode == 0

    def start_postgres(self) -> None:
        if self.postgres_running():
            return
        log = self.pg_dir / "postgres.log"
        r = self._run([str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.pg_data),
                       "-l", str(log)])
        if r.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else r.stderr
            raise StackError(f"PostgreSQL did not start:\n{tail}")

    def stop_postgres(self, mode: str = "fast") -> None:
        if self.postgres_running():
            self._run([str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.pg_data)])

    def _ensure_database(self, creds: Credentials) -> None:
        admin = (f"postgresql://anju:{quote(creds.db_password)}@127.0.0.1:"
                 f"{creds.pg_port}/postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'anju'").fetchone():
                conn.execute("CREATE DATABASE anju")

    # -- Mosquitto ---------------------------------------------------------
    @property
    def mqtt_pid_file(self) -> Path:
        return self.mqtt_dir / "mosquitto.pid"

    def _mqtt_pid(self) -> int | None:
        try:
            pid = int(self.mqtt_pid_file.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        except PermissionError:
            return pid

    def mosquitto_running(self) -> bool:
        return self._mqtt_pid() is not None

    def write_broker_files(self, device_hashes: dict[str, str] | None = None) -> None:
        """(Re)write the password and ACL files; services plus the given devices."""
        creds = self.credentials()
        users = {u: broker.hash_password(p) for u, p in creds.mqtt_users.items()}
        existing = self.mqtt_dir / "passwd"
        if device_hashes is None and existing.exists():
            # Keep the devices already provisioned.
            for line in existing.read_text().splitlines():
                name, _, h = line.partition(":")
                if name and name not in users:
                    users[name] = h
        users.update(device_hashes or {})
        broker.write_password_file(existing, users)
        broker.write_acl_file(self.mqtt_dir / "acl")
        self._own(self.mqtt_dir)

    def _write_mosquitto_conf(self, creds: Credentials) -> Path:
        (self.mqtt_dir / "data").mkdir(parents=True, exist_ok=True)
        conf = self.mqtt_dir / "mosquitto.conf"
        try:
            guard = broker.build_guard(self.mqtt_dir / "plugins")
        except broker.GuardError as e:
            raise StackError(str(e)) from None
        conf.write_text(broker.mosquitto_conf(
            port=creds.mqtt_port, service_port=creds.mqtt_service_port, guard=guard,
            data_dir=self.mqtt_dir / "data",
            password_file=self.mqtt_dir / "passwd", acl_file=self.mqtt_dir / "acl",
            pid_file=self.mqtt_pid_file, log_file=self.mqtt_dir / "mosquitto.log",
            user=self.user))
        return conf

    def start_mosquitto(self) -> None:
        if self.mosquitto_running():
            return
        creds = self.credentials()
        conf = self._write_mosquitto_conf(creds)
        if not (self.mqtt_dir / "passwd").exists():
            self.write_broker_files({})
        self._own(self.mqtt_dir)
        # Started as root, Mosquitto drops to `user` itself after binding.
        raise_fd_limit()
        r = subprocess.run([MOSQUITTO, "-c", str(conf), "-d"], capture_output=True, text=True)
        if r.returncode != 0:
            raise StackError(f"Mosquitto did not start: {r.stderr.strip()}")
        for port in (creds.mqtt_port, creds.mqtt_service_port):
            wait_port(port, what="Mosquitto", log=self.mqtt_dir / "mosquitto.log")
        for _ in range(100):
            if self.mosquitto_running():
                break
            time.sleep(0.05)

    def stop_mosquitto(self, sig: int = signal.SIGTERM) -> None:
        pid = self._mqtt_pid()
        if pid is None:
            return
        os.kill(pid, sig)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.mqtt_pid_file.unlink(missing_ok=True)

    def reload_broker(self) -> bool:
        """Make Mosquitto re-read passwords and ACLs (no restart, no disconnects)."""
        pid = self._mqtt_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGHUP)
        return True

    # -- whole stack -------------------------------------------------------
    def _prepare_server_dir(self, fresh: bool) -> None:
        if not self.relocated:
            if self.user:
                os.chmod(self.state_dir, 0o711)  # the service user must reach pg/ and mqtt/
            return
        if fresh and self.server_dir.exists():
            # Left by a state directory of the same name that was deleted: its
            # servers' passwords went with it, so its data cannot be used.
            self.down()
            shutil.rmtree(self.server_dir)
        missing = [p for p in (*reversed(self.server_dir.parents), self.server_dir)
                   if not p.exists()]
        for p in missing:  # whatever the umask, the service user passes through
            p.mkdir()
            os.chmod(p, 0o755)
        os.chmod(self.server_dir, 0o700)
        self._own(self.server_dir)
        self._server_dir_note.write_text(f"{self.server_dir}\n")

    def up(self) -> Credentials:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fresh = not self.creds_file.exists()
        creds = self._create_credentials() if fresh else self.credentials()
        if not creds.mqtt_service_port:
            creds.mqtt_service_port = self._pick_service_port(creds)
            self._save_credentials(creds)
            # A broker started before the services' listener existed has only
            # the devices' one: restart it with both (sessions persist).
            self.stop_mosquitto()
        self._prepare_server_dir(fresh)
        if not (self.pg_data / "PG_VERSION").exists():
            self._init_postgres(creds)
        self.start_postgres()
        self._ensure_database(creds)
        self.start_mosquitto()
        return creds

    def down(self) -> None:
        self.stop_mosquitto()
        self.stop_postgres()

    def status(self) -> dict[str, object]:
        where = {"state_dir": str(self.state_dir), "server_data": str(self.server_dir)}
        if self.relocated:
            where["server_data_why"] = (f"user {self.user} cannot reach {self.state_dir}, "
                                        "so the servers keep their data here")
        if not self.creds_file.exists():
            return {**where, "initialised": False}
        c = self.credentials()
        return {
            **where,
            "initialised": True,
            "postgres": {"running": self.postgres_running(), "address": f"127.0.0.1:{c.pg_port}"},
            "mosquitto": {"running": self.mosquitto_running(),
                          "address": f"127.0.0.1:{c.mqtt_port}",
                          "services_address": f"127.0.0.1:{c.mqtt_service_port}"},
        }
