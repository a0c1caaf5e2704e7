"""Cold leaderboard of N sites in a fresh process, next to a bare read of the same hours.

Shared by ``bench.influx --only leaderboard`` and ``bench.scoring`` (SQLite). The data: N sites
of one meter each, an hourly register reading per meter over one baseline year plus three
competition months (``previous-year`` baseline, competition 2011-03-01 to 2011-05-31,
Europe/Stockholm). The seeded store is kept under ``/tmp`` keyed by N and the store's schema,
so a second run measures without seeding again.

``python -m bench.cold_leaderboard STORE_URL SITES CACHE_DIR`` is the fresh process: it builds
the competition and a ``Scoreboard`` on the store keeping its fits in ``CACHE_DIR`` as ``serve``
does (``api.fit_cache``), asks for the leaderboard once (cold), writes one new reading through
the store and asks again (after one new write), and prints one JSON line with those times, the
time from the interpreter's start and its peak RSS.

``measure`` runs it twice on a new cache folder: the first start of a competition (nothing
kept: the history is read and fitted) and a restart (the fits kept by the first). The cold
figure is the restart's: it is what every restart of ``serve`` costs.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

STARTED = time.perf_counter()  # about the interpreter's start (only stdlib imported so far)
START = date(2011, 3, 1)
END = date(2011, 5, 31)
TZ = ZoneInfo("Europe/Stockholm")
# the data: from a year (and a day, for the previous-year window's edges) before the start
FIRST_S = int(datetime.combine(START - timedelta(days=366), dtime(0), TZ).timestamp())
LAST_S = int(datetime.combine(END + timedelta(days=1), dtime(0), TZ).timestamp())
HOURS = (LAST_S - FIRST_S) // 3600
NOW_S = LAST_S  # the clock of the scoreboard: the competition has ended
SAVING = 0.07  # each site uses this much less in the competition than a year before

COMPETITION_TOML = """
[competition]
id = "bench"
name = "Leaderboard benchmark"
timezone = "Europe/Stockholm"
start = {start}
end = {end}
baseline = {{ method = "previous-year" }}
"""
SITE_TOML = """
[[site]]
id = "s{i:05d}"
municipality = "Kommun {i}"
name = "Kommunhus {i}"
area_m2 = {area}
  [[site.meter]]
  id = "{meter}"
"""


def read_spans_s() -> list[tuple[int, int]]:
    """The UTC spans [s) whose hours the leaderboard reads: the previous-year history window
    and the competition period. The bare reads read exactly these (the seeded data covers a
    whole year before the start; the rest of it is never read)."""
    from scoring.baselines.previous_year import previous_year_history_days

    first, last = previous_year_history_days(START, END, "SE")

    def midnight_s(day: date) -> int:
        return int(datetime.combine(day, dtime(0), TZ).timestamp())

    return [
        (midnight_s(first), midnight_s(last + timedelta(days=1))),
        (midnight_s(START), midnight_s(END + timedelta(days=1))),
    ]


def meter_name(i: int) -> str:
    return f"meter-{i:05d}"


def competition_toml(sites: int) -> str:
    toml = COMPETITION_TOML.format(start=START.isoformat(), end=END.isoformat())
    return toml + "".join(
        SITE_TOML.format(i=i, area=500 + 10 * (i % 100), meter=meter_name(i)) for i in range(sites)
    )


def register_kwh(i: int, hours):
    """The register [kWh] of meter ``i`` at each of ``hours`` (numpy ints) after FIRST_S."""
    import numpy as np

    kw = 5.0 + (i % 17) + 2.0 * np.sin(np.asarray(hours) * 2 * np.pi / 24)
    start_h = (int(datetime.combine(START, dtime(0), TZ).timestamp()) - FIRST_S) // 3600
    kw = np.where(np.asarray(hours) >= start_h, kw * (1 - SAVING), kw)
    return 100.0 + np.concatenate([[0.0], np.cumsum(kw)[:-1]])


def measure(store_url: str, sites: int) -> dict:
    """The figures of a restart (``run_fresh`` with the fits a first start kept), with the
    first start's cold time and peak RSS as ``first_cold_s`` and ``first_peak_rss_mb``."""
    with tempfile.TemporaryDirectory(prefix="wattleague-bench-fits-") as cache_dir:
        first = run_fresh(store_url, sites, cache_dir)
        figures = run_fresh(store_url, sites, cache_dir)
    figures["first_cold_s"] = first["cold_s"]
    figures["first_peak_rss_mb"] = first["peak_rss_mb"]
    return figures


def run_fresh(store_url: str, sites: int, cache_dir: str = "off") -> dict:
    """Run ``main`` in a fresh interpreter; its figures, plus the wall time from the spawn."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cold_leaderboard", store_url, str(sites), cache_dir],
        capture_output=True,
        text=True,
        check=False,
    )
    wall_s = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the fresh leaderboard process failed:\n{proc.stderr[-3000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_wall_s"] = wall_s
    return figures


def print_figures(figures: dict, bare_s: float, label: str) -> None:
    """The lines the issue asks for, each on its own line."""
    cold_s = figures["cold_s"]
    print(
        f"cold leaderboard: {cold_s:.2f} s; bare hourly read: {bare_s:.2f} s; "
        f"ratio: {cold_s / bare_s:.2f} x"
    )
    print(f"after one new write: {figures['after_write_s']:.3f} s")
    print(f"peak RSS: {figures['peak_rss_mb']:.0f} MB")
    if "first_cold_s" in figures:
        print(
            f"first start (no kept fits): {figures['first_cold_s']:.2f} s; ratio: "
            f"{figures['first_cold_s'] / bare_s:.2f} x; peak RSS "
            f"{figures['first_peak_rss_mb']:.0f} MB"
        )
    print(
        f"    ({label}; cold = a restarted process's Scoreboard (fits kept by the first start) "
        "from its construction to the first "
        f"leaderboard of {figures['ranked']} ranked sites; from the interpreter's start "
        f"{figures['from_start_s']:.2f} s, imports {figures['import_s']:.2f} s; "
        f"the cached answer {figures['cached_ms']:.1f} ms)"
    )


def main() -> None:
    import numpy as np

    from api.fit_cache import FitCache
    from api.scoreboard import RECHECK_S, Scoreboard
    from ingest.store import open_store
    from ingest.store.base import Message, StoredReading
    from scoring.competition_file import parse_competition

    import_s = time.perf_counter() - STARTED
    store_url, sites, cache_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = open_store(store_url)
    t0 = time.perf_counter()
    competition = parse_competition(competition_toml(sites), "bench.toml")
    fit_cache = None if cache_dir == "off" else FitCache(Path(cache_dir))
    board = Scoreboard(competition, store, clock=lambda: NOW_S, fit_cache=fit_cache)
    result = board.leaderboard()
    cold_s = time.perf_counter() - t0
    from_start_s = time.perf_counter() - STARTED
    t1 = time.perf_counter()
    board.leaderboard()
    cached_s = time.perf_counter() - t1
    # one new reading in the last hour, as a live meter would send it (a time not used by an
    # earlier run on the same cached store, on the same line as those: never a conflict)
    offset_s = 1 + time.time_ns() // 1000 % 3500
    value = float(register_kwh(0, np.arange(HOURS))[-1]) + 5.0 * offset_s / 3600
    reading = StoredReading(meter_name(0), (NOW_S - 3600 + offset_s) * 1000, value, None)
    store.write([Message("live", int(time.time() * 1000), "mqtt", [reading])])
    time.sleep(RECHECK_S + 0.1)  # past the scoreboard's recheck interval: it asks the store
    t2 = time.perf_counter()
    board.leaderboard()
    after_write_s = time.perf_counter() - t2
    ranked = sum(1 for e in result["entries"] if e["rank"])
    store.close()
    print(
        json.dumps(
            {
                "cold_s": cold_s,
                "cached_ms": cached_s * 1000,
                "after_write_s": after_write_s,
                "from_start_s": from_start_s,
                "import_s": import_s,
                "ranked": ranked,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
