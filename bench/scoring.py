"""Scoring benchmark: a full rescoring of N sites next to one numpy pass over the same data.

Usage (from the repository root): python -m bench.scoring [--sites 10000]

Prints the time of the full rescoring (previous-year baseline, metrics, both leagues' ranks)
for N sites x (one baseline year + three competition months) of hourly data, the time of one
``sum()`` over the same array in the same run, and their ratio; the time of one new hour; then
the regression baselines of N sites fitted per second against eemeter's per-meter rate on a
sample (``bench.regression``: daily data of N town halls; ``--eemeter-sample 0`` skips it).
The rescoring above reads nothing from a store. ``--store-sites N`` (0: skip) adds the SQLite
path (``bench.cold_leaderboard``): N sites' hourly readings and hourly table written once into
a file kept in /tmp, then the cold leaderboard of a fresh process on that file next to a bare
``SELECT`` of the same hourly rows into arrays (same run), the leaderboard after one new write
and the fresh process's peak RSS (``bench.influx --only leaderboard`` does the same on
InfluxDB).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from bench import cold_leaderboard as cold
from bench import regression
from ingest.rollup import chain_pieces
from ingest.store.sqlite import SQLiteStore
from scoring.baselines.previous_year import previous_year
from scoring.calendar import hour_grid, local_hours
from scoring.competition import CompetitionInfo
from scoring.metrics import add_hour, metrics_from_totals, period_totals, site_metrics
from scoring.ranking import league_ranks


def _best_of(n: int, func) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


SQLITE_SEED_VERSION = "1"  # the schema the cached SQLite file was seeded in


def sqlite_path(sites: int) -> Path:
    """Where the seeded SQLite store of ``sites`` sites is kept between runs."""
    name = f"wattleague-bench-sqlite-{sites}-v{SQLITE_SEED_VERSION}.db"
    return Path(tempfile.gettempdir()) / name


def seed_sqlite(path: Path, sites: int) -> None:
    """The readings, meter states and hourly rows the store keeps for the sites' hourly
    readings (``cold_leaderboard.register_kwh``), inserted in bulk."""
    t0 = time.perf_counter()
    SQLiteStore(path).close()  # the schema
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    hours = np.arange(cold.HOURS)
    ts_ms = (cold.FIRST_S + 3600 * hours) * 1000
    with conn:
        conn.execute(
            "INSERT INTO messages (id, received_ms, source, topic) VALUES (1, 0, ?, ?)",
            ("import", "import"),
        )
        for i in range(sites):
            meter = cold.meter_name(i)
            values = cold.register_kwh(i, hours)
            conn.executemany(
                "INSERT INTO readings (ts_ms, meter_id, energy_kwh, power_w, message_id) "
                "VALUES (?, ?, ?, NULL, 1)",
                zip(ts_ms.tolist(), [meter] * hours.size, values.tolist(), strict=True),
            )
            pieces = chain_pieces(
                np.full(hours.size, meter, dtype=object), ts_ms / 1000.0, values, "reg"
            )
            conn.executemany(
                "INSERT INTO hourly (meter_id, hour_s, reg_kwh, reg_s, pow_kwh, pow_s) "
                "VALUES (?, ?, ?, ?, 0, 0)",
                zip(
                    [meter] * pieces.hour_s.size,
                    pieces.hour_s.astype(np.int64).tolist(),
                    pieces.energy_kwh.tolist(),
                    pieces.measured_s.tolist(),
                    strict=True,
                ),
            )
            conn.execute(
                "INSERT INTO meter_state (meter_id, last_ts_ms, received_ms, power_w, "
                "energy_kwh, reg_ts_ms, reg_kwh, pow_ts_ms, pow_w) "
                "VALUES (?, ?, 0, NULL, ?, ?, ?, NULL, NULL)",
                (meter, int(ts_ms[-1]), float(values[-1]), int(ts_ms[-1]), float(values[-1])),
            )
    conn.close()
    print(
        f"seeded {sites} sites x {cold.HOURS:,} hourly readings into {path} in "
        f"{time.perf_counter() - t0:.1f} s"
    )


def bare_sqlite_read_s(path: Path) -> float:
    """Seconds a plain ``SELECT`` of the hourly table over the hours the leaderboard reads
    (``cold_leaderboard.read_spans_s``) takes, into arrays."""
    conn = sqlite3.connect(path)
    t0 = time.perf_counter()
    for start_s, end_s in cold.read_spans_s():
        rows = conn.execute(
            "SELECT meter_id, hour_s, reg_kwh, reg_s, pow_kwh, pow_s FROM hourly "
            "WHERE hour_s >= ? AND hour_s < ?",
            (start_s, end_s),
        ).fetchall()
        np.array([r[1:] for r in rows], dtype=float)
        del rows
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def run_store(sites: int) -> None:
    """The SQLite store: cold leaderboard of a fresh process against a bare SELECT."""
    path = sqlite_path(sites)
    if not path.exists():
        seed_sqlite(path, sites)
    else:
        print(f"{sites} sites x {cold.HOURS:,} hours seeded before, in {path}")
    # bare, store, bare: the faster bare read is the floor (load from elsewhere only slows)
    bare_s = bare_sqlite_read_s(path)  # the first also warms the page cache
    figures = cold.measure(f"sqlite:///{path}", sites)  # the first start warms up too
    bare_s = min(bare_s, bare_sqlite_read_s(path))
    cold.print_figures(figures, bare_s, f"SQLite {sqlite3.sqlite_version}, {sites} sites")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument(
        "--eemeter-sample", type=int, default=5, help="meters fitted by eemeter (0: skip)"
    )
    parser.add_argument(
        "--store-sites", type=int, default=250, help="sites of the SQLite leaderboard (0: skip)"
    )
    parser.add_argument(
        "--only-store", action="store_true", help="only the SQLite leaderboard (--store-sites)"
    )
    args = parser.parse_args()
    if args.store_sites > 0:
        run_store(args.store_sites)
    if args.only_store:
        return
    info = CompetitionInfo(id="bench", name="bench", start=date(2011, 3, 1), end=date(2011, 5, 31))
    tz = info.tz
    comp = local_hours(hour_grid(info.start, info.end, tz), tz)
    hist = local_hours(hour_grid(date(2010, 2, 28), date(2011, 2, 28), tz), tz)
    rng = np.random.default_rng(1)
    n = args.sites
    hist_kwh = rng.uniform(5, 50, (n, hist.hour_start_s.size))
    comp_kwh = hist_kwh[:, : comp.hour_start_s.size] * 0.93
    hist_ok = np.ones_like(hist_kwh, dtype=bool)
    measured = np.full_like(comp_kwh, 3600.0)
    elapsed = np.ones(comp.hour_start_s.size, dtype=bool)
    area = rng.uniform(1500, 12000, n)
    target = np.full(n, 10.0)
    ids = [f"site-{i:05d}" for i in range(n)]
    data = np.concatenate([hist_kwh, comp_kwh], axis=1)

    def rescore() -> None:
        base, ok = previous_year(hist_kwh, hist_ok, hist, comp)
        m = site_metrics(comp_kwh, measured, base, ok, elapsed, area, target)
        league_ranks(m.reduction_pct, m.kwh_per_m2, m.completeness, ids, m.eligible)

    base, ok = previous_year(hist_kwh, hist_ok, hist, comp)
    totals = period_totals(
        comp_kwh[:, :-1], measured[:, :-1], base[:, :-1], ok[:, :-1], elapsed[:-1]
    )

    def one_new_hour() -> None:
        t = add_hour(totals, comp_kwh[:, -1], measured[:, -1], base[:, -1], ok[:, -1])
        m = metrics_from_totals(t, area, target)
        league_ranks(m.reduction_pct, m.kwh_per_m2, m.completeness, ids, m.eligible)

    t_pass = _best_of(5, data.sum)
    t_full = _best_of(3, rescore)
    t_hour = _best_of(5, one_new_hour)
    print(f"sites: {n:,}; hours per site: {data.shape[1]:,} ({data.nbytes / 1e6:,.0f} MB float64)")
    print(f"numpy pass (sum):   {t_pass * 1000:8.1f} ms")
    print(f"full rescoring:     {t_full * 1000:8.1f} ms")
    print(f"ratio:              {t_full / t_pass:8.1f} x one numpy pass  [goal <= 5]")
    print(
        f"one new hour:       {t_hour * 1000:8.1f} ms (running totals, metrics, both leagues' "
        "ranks)  [goal < 50 ms]"
    )
    if args.eemeter_sample > 0:
        print("\nregression baselines (python -m bench.regression):")
        regression.compare(args.sites, args.eemeter_sample)


if __name__ == "__main__":
    main()
