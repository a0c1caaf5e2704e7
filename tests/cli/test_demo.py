"""`wattleague demo` as a user runs it: 24 town halls on the leaderboard, live, clean exit."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.services import free_port, wait_until


def test_demo_serves_a_live_leaderboard_and_exits_by_itself(tmp_path):
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wattleague",
            "demo",
            "--duration",
            "25",
            "--port",
            str(port),
            "--mqtt-port",
            "0",
            "--speed",
            "600",
            "--store",
            f"sqlite:///{tmp_path}/demo.db",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def board():
            try:
                r = httpx.get(f"{base}/api/competitions/demo-kommunhus/leaderboard", timeout=5)
            except httpx.HTTPError:
                return None
            return r.json() if r.status_code == 200 else None

        first = wait_until(board, timeout_s=60, interval_s=0.5)
        assert len(first["entries"]) == 24 and first["synthetic"] is True
        ranked = [e for e in first["entries"] if e["rank"]]
        assert len(ranked) == 24
        top3 = [e["site"] for e in first["entries"][:3]]
        assert "soderhamn" in top3 and "pitea" in top3
        reductions = sorted(e["reduction_pct"] for e in ranked)
        assert reductions[0] > 2 and reductions[-1] < 30
        assert all(0.1 < e["kwh_per_m2"] < 14 for e in ranked)

        # live readings flow through the broker and ingest: the as_of time and meters move on
        def moved():
            b = board()
            return b if b and b["as_of"] != first["as_of"] else None

        later = wait_until(moved, timeout_s=20, interval_s=0.5)
        assert sum(not e["stale"] for e in later["entries"]) == 24
        assert httpx.get(f"{base}/", timeout=5).status_code == 200
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 90
    assert "SYNTHETIC" in err
    assert "┌" + "─" * 32 + "┐" in out  # the LED sign was drawn in the terminal
    assert "published" in err and "readings_stored" in err
