"""Operations benchmarks: what an operator's processes cost to start.

Usage (from the repository root):

    python -m bench.operations [--only serve_start] [--repeat 5]

``serve_start``: ``wattleague serve`` with the example competition
(``deploy/examples/kommunhus-2011.toml``, baseline ``previous-year``) and the same competition
with ``method = "regression"`` (plus a weather station, which it needs), each on an empty
SQLite store in a temporary folder. The clock runs from just before the process is started
to the first 200 answer of ``GET /healthz`` (polled every 10 ms); the resident memory is the
process's ``VmRSS`` right after that answer. Whether numba was loaded is read off the
process's memory map (llvmlite's library). Prints the median of ``--repeat`` starts and the
regression competition's figures as ratios to the other's. Run it on another checkout (copy
this file into its ``bench/``) to compare commits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "examples" / "kommunhus-2011.toml"
WEATHER = '\n[[weather]]\nid = "smhi"\n'


def _competition_files(folder: Path) -> dict[str, Path]:
    """The example competition as shipped (previous-year) and with a regression baseline."""
    text = EXAMPLE.read_text(encoding="utf-8")
    shipped = 'baseline = { method = "previous-year" }'
    if shipped not in text:
        raise SystemExit(f"{EXAMPLE} no longer has {shipped!r}: update bench/operations.py")
    regression = text.replace(shipped, 'baseline = { method = "regression" }') + WEATHER
    files = {"previous-year": EXAMPLE, "regression": folder / "regression.toml"}
    files["regression"].write_text(regression, encoding="utf-8")
    return files


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def _loaded_numba(pid: int) -> bool:
    return "libllvmlite" in Path(f"/proc/{pid}/maps").read_text()


def _healthz_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def _start_once(config: Path, folder: Path, timeout_s: float = 120.0) -> tuple[float, float, bool]:
    """(seconds to the first /healthz answer, RSS then [MiB], numba loaded) of one serve."""
    port = free_port()
    store = folder / f"store-{port}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTLEAGUE_")}
    env["WATTLEAGUE_LOG_FORMAT"] = "text"
    cmd = [sys.executable, "-m", "wattleague", "serve", "--config", str(config)]
    cmd += ["--store", f"sqlite:///{store}", "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not _healthz_answers(port):
            if proc.poll() is not None:
                raise SystemExit(f"serve exited {proc.returncode}: {proc.stderr.read().decode()}")
            if time.perf_counter() - t0 > timeout_s:
                raise SystemExit(f"serve did not answer /healthz within {timeout_s:.0f} s")
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        return seconds, _rss_mib(proc.pid), _loaded_numba(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def serve_start(repeat: int) -> None:
    """Start time and memory of ``serve``, without and with a regression competition."""
    print(f"serve start: process start to first /healthz answer, median of {repeat}")
    print(f"{'competition':<15} {'start s':>8} {'RSS MiB':>8}  numba")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="wattleague-bench-") as tmp:
        folder = Path(tmp)
        for kind, config in _competition_files(folder).items():
            runs = [_start_once(config, folder) for _ in range(repeat)]
            seconds = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            numba = {r[2] for r in runs}
            figures[kind] = (seconds, rss)
            loaded = "yes" if numba == {True} else "no" if numba == {False} else "sometimes"
            print(f"{kind:<15} {seconds:8.2f} {rss:8.1f}  {loaded}")
    (s_plain, m_plain), (s_regr, m_regr) = figures["previous-year"], figures["regression"]
    print(f"regression / previous-year: start {s_regr / s_plain:.2f}x, RSS {m_regr / m_plain:.2f}x")


PARTS = {"serve_start": serve_start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"of {', '.join(PARTS)}")
    parser.add_argument("--repeat", type=int, default=5, help="starts per figure (median)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        parser.error(f"--only: unknown {', '.join(unknown) or '(none)'}; known: {', '.join(PARTS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for part in parts:
        PARTS[part](args.repeat)


if __name__ == "__main__":
    main()
