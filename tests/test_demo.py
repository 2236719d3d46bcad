"""`anju demo` (what `make demo` runs) brings everything up on a fresh state directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def test_demo_runs_everything_and_stores_readings():
    """Servers, ingest, detectors, router and console start; the homes' readings are stored."""
    base = Path(tempfile.mkdtemp(prefix="anju-demo-test-"))
    os.chmod(base, 0o711)
    env = {**os.environ, "ANJU_STATE_DIR": str(base / "state")}
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)
    proc = subprocess.Popen([sys.executable, "-m", "anju.cli", "demo", "--duration", "25"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out
        console = re.search(r"Console: (http://127\.0\.0\.1:\d+/)", out)
        assert console, out
        for role in ("operator", "property", "family"):
            assert re.search(rf"^\s+{role}\s+\S+", out, re.M), out
        stored = re.search(r"demo stopped; (\d+) readings stored", out)
        assert stored and int(stored.group(1)) > 0, out
        for service in ("ingest", "detect", "route", "console", "sim"):
            assert (base / "state" / "logs" / f"{service}.log").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run([sys.executable, "-m", "anju.cli", "down"], env=env, capture_output=True)
