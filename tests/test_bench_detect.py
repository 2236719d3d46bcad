"""`anju bench detect --midnight`: the detector service closes every home's day across its
midnight while stillness deadlines keep falling due, and the bench says how late each was."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_detect_across_midnight_closes_every_homes_day():
    r = subprocess.run([sys.executable, "-m", "anju.cli", "bench", "detect", "--homes", "300",
                        "--midnight", "--sample", "2", "--spread", "5", "--seconds", "1",
                        "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    # every home's stillness deadline was handled and its alert opened, and every home's
    # day was closed with its learned routine: at its own point of the spread or, where a
    # stillness deadline came after midnight but before that point, by that deadline
    assert got["deadlines_missed"] == 0 and got["alerts_opened"] == 300
    assert got["days_closed"] == 300
    assert 0 < got["midnights"] <= 300
    assert 0 <= got["midnight_lag_p50_s"] <= got["midnight_lag_max_s"]
    assert got["spread_s"] == 5
