"""The services under soak: started as in production, killed on purpose, and measured.

Each service is `anju <command>` in a child process with its own log, exactly as `anju demo`
and a systemd unit start it. A service killed by the plan is restarted a second later (as
systemd's Restart=always would); one that dies on its own is restarted too, and counted as a
crash, which a run reports as a finding. A sampler thread reads each process tree's memory and
CPU once a second (psutil), the servers' too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from anju.embedded import Stack

RESTART_AFTER_S = 1.0


@dataclass
class Usage:
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0          # summed over the service's lives
    peak_cpu_pct: float = 0.0   # over one sampling interval; 100 = one core
    restarts: int = 0
    crashes: int = 0            # exits nobody asked for
    _base: float = 0.0          # cpu of earlier lives
    _last: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        return {"peak_rss_mb": round(self.peak_rss_mb, 1), "cpu_s": round(self.cpu_s, 1),
                "peak_cpu_pct": round(self.peak_cpu_pct, 1), "restarts": self.restarts,
                "crashes": self.crashes}


def _tree_usage(pid: int) -> tuple[float, float] | None:
    """(rss MB, cpu seconds) of a process and its children, None if it is gone."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return None
    rss = cpu = 0.0
    for q in procs:
        try:
            with q.oneshot():
                rss += q.memory_info().rss
                t = q.cpu_times()
                cpu += t.user + t.system
        except psutil.Error:
            continue
    return rss / 2**20, cpu


def _own_usage(pid: int) -> tuple[float, float] | None:
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            t = p.cpu_times()
            return p.memory_info().rss / 2**20, t.user + t.system
    except psutil.Error:
        return None


class Services:
    """`anju ingest/detect/route/console/watchdog` as child processes of the soak."""

    # figure name -> anju command line (without the program)
    def __init__(self, stack: Stack, log_dir: Path, *, console_port: int,
                 env: dict[str, str], group: str, community: str) -> None:
        self.stack, self.log_dir = stack, log_dir
        self.env = env
        self.commands: dict[str, list[str]] = {
            "ingest": ["ingest", "--worker", group, "--metrics-port", "0"],
            "detectors": ["detect"],
            # this run's community only: alerts left open by earlier runs on the same stack
            # (their receivers long gone) are not this run's to deliver or report unreached
            "router": ["route", "--worker", group, "--poll", "0.5",
                       "--no-watchdog", "--community", community],
            "console": ["console", "--port", str(console_port)],
            "watchdog": ["watchdog", "--interval", "5"],
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.usage: dict[str, Usage] = {n: Usage() for n in
                                        [*self.commands, "postgres", "mosquitto", "load"]}
        self.events: list[tuple[float, str, str]] = []   # (time, service, what)
        self._expected_down: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def _spawn(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "anju.cli", *self.commands[name]], env=self.env,
            stdout=subprocess.DEVNULL, stderr=(self.log_dir / f"{name}.log").open("ab"),
            start_new_session=True)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.commands:
            self._spawn(name)
        self._thread = threading.Thread(target=self._watch, name="soak-services", daemon=True)
        self._thread.start()

    def log(self, name: str) -> str:
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self, name: str) -> float:
        """kill -9, then a restart a second later; returns when the new process was started."""
        with self._lock:
            self._expected_down.add(name)
            p = self.procs[name]
            p.send_signal(signal.SIGKILL)
            p.wait()
            self._retire(name, p)
            self.events.append((time.time(), name, "killed"))
        time.sleep(RESTART_AFTER_S)
        with self._lock:
            self._spawn(name)
            self.usage[name].restarts += 1
            self._expected_down.discard(name)
            at = time.time()
            self.events.append((at, name, "restarted"))
        return at

    def _retire(self, name: str, p: subprocess.Popen[bytes]) -> None:
        u = self.usage[name]
        if u._last is not None:
            u._base += u._last[1]
            u._last = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                self.events.append((time.time(), name, "did not stop in 30 s: killed"))
                p.kill()
                p.wait()

    # -- watching -------------------------------------------------------------------------
    def _server_pids(self) -> dict[str, int | None]:
        pg = None
        try:
            pg = int((self.stack.pg_data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return {"postgres": pg, "mosquitto": self.stack._mqtt_pid(), "load": os.getpid()}

    def sample(self, interval: float) -> None:
        with self._lock:
            pids = {n: p.pid for n, p in self.procs.items() if p.poll() is None}
        pids.update(self._server_pids())
        for name, pid in pids.items():
            if pid is None:
                continue
            # the soak's own process (load, receivers, responder) without its children,
            # which are the services counted apart
            got = _own_usage(pid) if name == "load" else _tree_usage(pid)
            if got is None:
                continue
            rss, cpu = got
            u = self.usage[name]
            u.peak_rss_mb = max(u.peak_rss_mb, rss)
            if u._last is not None and cpu >= u._last[1]:
                u.peak_cpu_pct = max(u.peak_cpu_pct, (cpu - u._last[1]) / interval * 100)
            elif u._last is not None:    # a server restarted: its earlier life's cpu is kept
                u._base += u._last[1]
            u._last = (time.time(), cpu)
            u.cpu_s = u._base + cpu

    def _watch(self) -> None:
        interval = 1.0
        while not self._stop.wait(interval):
            self.sample(interval)
            with self._lock:
                for name, p in list(self.procs.items()):
                    if p.poll() is not None and name not in self._expected_down \
                            and not self._stop.is_set():
                        self.events.append((time.time(), name, f"exited {p.returncode}"))
                        self._retire(name, p)
                        self.usage[name].crashes += 1
                        self.usage[name].restarts += 1
                        self._spawn(name)

    def figures(self) -> dict[str, dict]:
        return {n: u.as_dict() for n, u in self.usage.items()}

