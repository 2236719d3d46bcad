"""A local etcd cluster (Debian's etcd-server 3.4) on loopback ports under a state directory.

Patroni keeps its leader lock in it. Three members, so one may die and the
lock still has a quorum behind it. Each member is a process of its own,
started in a session of its own so it outlives the command that started it;
`down()` stops them by the pids written at start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from anju.cluster.procs import pid_alive, stop_pid
from anju.host import StackError, free_port

ETCD = os.environ.get("ANJU_ETCD", shutil.which("etcd") or "/usr/bin/etcd")


@dataclass(frozen=True)
class EtcdMember:
    name: str
    client_port: int
    peer_port: int

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"


class EtcdCluster:
    """Three (or `size`) etcd members under state_dir/etcd; ports chosen once and kept."""

    def __init__(self, state_dir: Path, size: int = 3) -> None:
        self.dir = Path(state_dir).absolute() / "etcd"
        self.size = size
        self.layout_file = self.dir / "layout.json"

    # -- layout ------------------------------------------------------------
    def members(self) -> list[EtcdMember]:
        if self.layout_file.exists():
            return [EtcdMember(**m) for m in json.loads(self.layout_file.read_text())]
        taken: set[int] = set()
        members = []
        for i in range(self.size):
            ports = []
            while len(ports) < 2:  # free_port only probes: keep this cluster's picks apart
                p = free_port()
                if p not in taken:
                    taken.add(p)
                    ports.append(p)
            members.append(EtcdMember(f"etcd{i}", *ports))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.layout_file.write_text(json.dumps([asdict(m) for m in members], indent=2))
        return members

    def hosts(self) -> list[str]:
        """host:port of every member's client listener (what Patroni's etcd3 section takes)."""
        return [f"127.0.0.1:{m.client_port}" for m in self.members()]

    def _pid_file(self, m: EtcdMember) -> Path:
        return self.dir / f"{m.name}.pid"

    def pid(self, m: EtcdMember) -> int | None:
        try:
            pid = int(self._pid_file(m).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    # -- start / stop ------------------------------------------------------
    def start_member(self, m: EtcdMember, members: list[EtcdMember]) -> None:
        if self.pid(m):
            return
        data = self.dir / m.name
        state = "existing" if (data / "member").exists() else "new"
        peers = ",".join(f"{o.name}={o.peer_url}" for o in members)
        args = [ETCD, "--name", m.name, "--data-dir", str(data),
                "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", peers, "--initial-cluster-state", state,
                "--initial-cluster-token", f"anju-{self.dir}",
                "--logger", "zap", "--log-level", "warn"]
        with (self.dir / f"{m.name}.log").open("ab") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.dir)
        self._pid_file(m).write_text(f"{proc.pid}\n")

    def up(self, timeout: float = 30.0) -> None:
        members = self.members()
        for m in members:
            self.start_member(m, members)
        self.wait_healthy(timeout)

    def down(self) -> None:
        for m in self.members() if self.layout_file.exists() else []:
            pid = self.pid(m)
            if pid:
                stop_pid(pid)
            self._pid_file(m).unlink(missing_ok=True)

    def kill_member(self, name: str, sig: int = signal.SIGKILL) -> None:
        m = next(m for m in self.members() if m.name == name)
        pid = self.pid(m)
        if pid:
            stop_pid(pid, sig)

    # -- health ------------------------------------------------------------
    def healthy(self, m: EtcdMember) -> bool:
        """The member answers and sees a quorum (etcd's /health)."""
        try:
            with urllib.request.urlopen(f"{m.client_url}/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        members = self.members()
        while time.monotonic() < deadline:
            if all(self.healthy(m) for m in members):
                return
            time.sleep(0.2)
        logs = "".join((self.dir / f"{m.name}.log").read_text()[-800:] for m in members
                       if (self.dir / f"{m.name}.log").exists())
        raise StackError(f"etcd cluster in {self.dir} not healthy after {timeout:.0f} s\n{logs}")

    def status(self) -> dict[str, object]:
        return {m.name: {"address": f"127.0.0.1:{m.client_port}", "running": bool(self.pid(m)),
                         "healthy": self.healthy(m)} for m in self.members()}
