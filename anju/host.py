"""What the embedded servers need of this machine: free loopback ports, enough file
descriptors, the system user they run as when anju runs as root, and a place for their
data that user can reach (see anju.embedded)."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import resource
import socket
import stat
import time
from pathlib import Path

SERVER_DATA_ROOT = Path(os.environ.get("ANJU_SERVER_DATA_ROOT", "/var/lib/anju/stacks"))


class StackError(RuntimeError):
    """The embedded servers could not be started or stopped; the message says why."""


def free_port(preferred: int = 0) -> int:
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise StackError("no free loopback port")


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (none bound yet, so checked against each other)."""
    out: list[int] = []
    while len(out) < n:
        p = free_port()
        if p not in out:
            out.append(p)
    return out


def raise_fd_limit(want: int = 65536) -> int:
    """Raise this process's open-file limit (inherited by the servers it starts).

    A broker holding a district's connections, or a simulator opening them,
    needs more descriptors than the usual default; root may raise the hard
    limit too. Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for new_hard in (max(hard, want), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, new_hard), new_hard))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def service_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("anju", "postgres"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise StackError("running as root needs a system user 'anju' to run PostgreSQL "
                     "(deploy/install.sh creates it)")


def can_traverse(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether a user (uid, its groups) may pass through every existing directory
    above `path` (execute permission on each, as the kernel checks it)."""
    for parent in Path(path).absolute().parents:
        try:
            st = parent.stat()
        except FileNotFoundError:
            continue  # made later by mkdir, with the usual 0755
        if uid == 0:
            continue
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def user_ids(name: str) -> tuple[int, set[int]]:
    pw = pwd.getpwnam(name)
    return pw.pw_uid, {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}


def fallback_server_dir(state_dir: Path) -> Path:
    """Where the servers of a state directory the service user cannot reach keep
    their data: named after that directory, so one checkout always finds its own."""
    absolute = str(Path(state_dir).absolute())
    words = (re.sub(r"[^A-Za-z0-9_]+", "", p) for p in Path(absolute).parts[-2:])
    slug = "-".join(w for w in words if w)
    digest = hashlib.sha256(absolute.encode()).hexdigest()[:10]
    return SERVER_DATA_ROOT / f"{slug or 'state'}-{digest}"


def wait_port(port: int, *, what: str, log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    tail = log.read_text()[-2000:] if log.exists() else ""
    raise StackError(f"{what} is not listening on 127.0.0.1:{port} after {timeout:.0f} s\n{tail}")
